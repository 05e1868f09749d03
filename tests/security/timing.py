"""The timing half of the anti-enumeration tests: two kinds of call, same median time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

TIMING_ROUNDS = 31  # the issues ask for at least 30 calls each way
TIMING_LOW, TIMING_HIGH = 0.67, 1.5  # generous: the machine is shared, the difference is not small

Call = Callable[[], Awaitable[httpx.Response]]


async def median_seconds(
    first: Call,
    second: Call,
    *,
    expected_status: int,
    quiet: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float, float]:
    """Median duration of each call, `TIMING_ROUNDS` times each, interleaved (order alternating).

    `quiet`, if given, runs before every timed call, off the clock: work a call leaves
    behind (a lookup, an email) would otherwise slow whichever call comes next.
    """
    durations: dict[int, list[float]] = {0: [], 1: []}
    calls = (first, second)
    for _ in range(3):  # warm-up: connection pools, caches
        for call in calls:
            assert (await call()).status_code == expected_status
    for round_number in range(TIMING_ROUNDS):
        order = (0, 1) if round_number % 2 == 0 else (1, 0)
        for index in order:
            if quiet is not None:
                await quiet()
            started = time.perf_counter()
            response = await calls[index]()
            durations[index].append(time.perf_counter() - started)
            assert response.status_code == expected_status, response.text
    return statistics.median(durations[0]), statistics.median(durations[1])


def assert_same_time(first_median: float, second_median: float) -> None:
    ratio = first_median / second_median
    assert TIMING_LOW < ratio < TIMING_HIGH, (first_median, second_median)

"""Work that runs after the response: emails, and lookups whose timing must not show.

Tasks are kept referenced until they finish (asyncio keeps only weak references),
their failures are logged without detail that could hold a secret, and shutdown
waits a bounded time for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("authapi.background")


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except Exception as exc:
            log.error("background task %s failed: %s", name, type(exc).__name__)

    async def drain(self, wait_seconds: float = 5.0) -> None:
        """Wait a little for running tasks (at shutdown, and in tests)."""
        while self._tasks:
            done, _ = await asyncio.wait(set(self._tasks), timeout=wait_seconds)
            if not done:
                return

    async def close(self) -> None:
        await self.drain()
        for task in list(self._tasks):
            task.cancel()

"""`pytest --requirements-report=PATH`: which requirements each marked test proves, and how
each of its cases ended; read by tools/compliance.py (the compliance matrix).

A test names what it proves with `@pytest.mark.requirement("ASVS-6.2.1", ...)`; the ids
are those of docs/requirements.toml. Ids are per test function: the cases of a
parametrised test all prove the same requirement, so all of them must pass.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest


def test_id(nodeid: str) -> str:
    """The test function's id: the node id without its parameters."""
    return nodeid.split("[", 1)[0]


class RequirementsReport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.markers: dict[str, set[str]] = defaultdict(set)
        self.case_outcomes: dict[str, str] = {}
        self.ran = False

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            for marker in item.iter_markers("requirement"):
                self.markers[test_id(item.nodeid)].update(str(arg) for arg in marker.args)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.ran = True
        if test_id(report.nodeid) not in self.markers:
            return
        earlier = self.case_outcomes.get(report.nodeid)
        if report.failed:
            self.case_outcomes[report.nodeid] = "failed"
        elif report.skipped and earlier != "failed":
            self.case_outcomes[report.nodeid] = "skipped"
        elif report.when == "call" and earlier is None:
            self.case_outcomes[report.nodeid] = "passed"

    def pytest_sessionfinish(self) -> None:
        outcomes: dict[str, list[str]] = defaultdict(list)
        for nodeid, outcome in sorted(self.case_outcomes.items()):
            outcomes[test_id(nodeid)].append(outcome)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            json.dumps(
                {
                    "ran": self.ran,
                    "markers": {test: sorted(ids) for test, ids in sorted(self.markers.items())},
                    "outcomes": outcomes,
                },
                indent=1,
            ),
            encoding="utf-8",
        )

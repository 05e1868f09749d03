"""tools/compliance.py refuses a matrix that disagrees with the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "compliance.py"


@pytest.fixture(scope="module")
def compliance() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compliance_tool", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def requirement(compliance: ModuleType, rid: str, status: str = "met", reason: str = "") -> object:
    return compliance.Requirement(
        id=rid, source="RFC 0", level=0, text="t", status=status, reason=reason
    )


def check(compliance: ModuleType, entries: list[object], report: object) -> list[str]:
    for entry in entries:
        entry.tests = sorted(t for t, ids in report.markers.items() if entry.id in ids)
    found: list[str] = compliance.problems(entries, report, minimum_proven=1)
    return found


def test_agreeing_tests_and_catalogue_pass(compliance: ModuleType) -> None:
    report = compliance.Report(
        markers={"t.py::a": ["R-1"]}, outcomes={"t.py::a": ["passed"]}, ran=True
    )
    assert check(compliance, [requirement(compliance, "R-1")], report) == []


@pytest.mark.parametrize(
    ("markers", "outcomes", "status", "expected"),
    [
        (
            {"t.py::a": ["R-2"]},
            {"t.py::a": ["passed"]},
            "met",
            "which docs/requirements.toml lacks",
        ),
        ({}, {}, "met", "no test carries its marker"),
        ({"t.py::a": ["R-1"]}, {"t.py::a": ["passed", "failed"]}, "met", "did not pass"),
        ({"t.py::a": ["R-1"]}, {}, "met", "did not pass (not run)"),
        ({"t.py::a": ["R-1"]}, {"t.py::a": ["passed"]}, "not met", "is it met?"),
        ({}, {}, "not met", "says no reason"),
        ({}, {}, "partly", "the status must be one of"),
    ],
)
def test_each_disagreement_is_named(
    compliance: ModuleType,
    markers: dict[str, list[str]],
    outcomes: dict[str, list[str]],
    status: str,
    expected: str,
) -> None:
    report = compliance.Report(markers=markers, outcomes=outcomes, ran=True)
    found = check(compliance, [requirement(compliance, "R-1", status)], report)
    assert any(expected in problem for problem in found), found

"""The error tree drawn in authapi.errors' docstring is the classes' own: every subclass
of AuthError, under its base, with its status and code, in order of status (then of
definition). The tree is drawn here from the classes, as httpx checks its exports."""

from __future__ import annotations

import inspect
import re

from authapi import errors
from authapi.errors import AuthError

NOTE = re.compile(r"\s+\(.*\)$")  # a drawn line's remark, e.g. "(bearer routes)"
TREE_LINE = re.compile(r"^    [ │├└─]*[A-Z]\w+ +\d{3} [a-z_]+")


def error_classes() -> list[type[AuthError]]:
    return [
        member
        for _, member in inspect.getmembers(errors, inspect.isclass)
        if issubclass(member, AuthError)
    ]


def drawn(error: type[AuthError], prefix: str = "", last: bool = True) -> list[str]:
    """The tree under `error`, as the docstring draws it (names padded to 32 columns)."""
    children = sorted(
        (child for child in error_classes() if child.__base__ is error),
        key=lambda child: (child.status, inspect.getsourcelines(child)[1]),
    )
    branch = "" if error is AuthError else prefix + ("└── " if last else "├── ")
    lines = [f"    {branch + error.__name__:<32}{error.status} {error.code}"]
    inner = "" if error is AuthError else prefix + ("    " if last else "│   ")
    for index, child in enumerate(children):
        lines += drawn(child, inner, index == len(children) - 1)
    return lines


def test_the_docstring_draws_every_error_class_under_its_base() -> None:
    assert errors.__doc__ is not None
    in_docstring = [
        NOTE.sub("", line) for line in errors.__doc__.splitlines() if TREE_LINE.match(line)
    ]
    assert in_docstring == drawn(AuthError)


def test_every_error_class_is_in_the_tree() -> None:
    names = {line.split()[-3] for line in drawn(AuthError)}
    assert names == {error.__name__ for error in error_classes()}

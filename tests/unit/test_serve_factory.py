"""`authapi serve`'s app factory (authapi.app.app_from_environment)."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from fastapi import FastAPI

import authapi.app
from authapi.app import app_from_environment


def test_the_serve_factory_freezes_what_it_built_out_of_the_garbage_collector(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the server leaves cyclic garbage behind on every request; a full collection that
    # walked the modules, routes and schemas too paused a worker for ~130 ms (README)
    for name in [name for name in os.environ if name.startswith("AUTHAPI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AUTHAPI_DATA_DIR", str(tmp_path))
    # the process-wide logging set-up is `authapi serve`'s, not this test process's
    monkeypatch.setattr(authapi.app, "configure_logging", lambda level, fmt: None)
    gc.unfreeze()
    try:
        app = app_from_environment()
        assert isinstance(app, FastAPI)
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the whole heap of a built app, not a handful of objects
    finally:
        gc.unfreeze()  # this test process goes on collecting as before

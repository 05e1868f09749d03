"""The suite's own hygiene: an app does not outlive its test (tests.conftest)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from authapi.app import create_app
from authapi.settings import Settings
from tests.conftest import release_finished_apps


def test_an_app_is_released_once_its_test_is_over(tmp_path: Path) -> None:
    app = weakref.ref(create_app(Settings(data_dir=tmp_path)))
    release_finished_apps()
    gc.collect()
    assert app() is None, "something global still holds a finished test's app"

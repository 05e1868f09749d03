"""The OpenAPI document, as committed in openapi.json (a test keeps them equal)."""

from __future__ import annotations

from typing import Any

from authapi.app import create_app
from authapi.settings import Settings


def openapi_document() -> dict[str, Any]:
    # The document does not depend on configuration; defaults build it.
    return create_app(Settings()).openapi()

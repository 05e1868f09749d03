"""Logging setup: readable lines on stderr. (Structured JSON logs come with the operations work.)"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    logging.getLogger("authapi").setLevel(level.upper())
    # Alembic narrates its set-up at INFO; `authapi migrate` reports the outcome itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)

"""The billing engine (DESIGN rules 3 and 7): ``steps`` runs everything due up to ``now``,
``runs`` records every run (``models.EngineRun``), ``status`` says what it did and will do.

``from billcore.engine import run, STEPS, run_for`` keeps working: the names are looked up
in ``steps`` on first use. Not at import: this package is also the Django app of the run
records, and Django imports an app's package before any model may be loaded, while
``steps`` imports the models of every domain app."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from billcore.engine.steps import (
        STEPS,
        EngineReport,
        close_step,
        due_customer_ids,
        engine_clock,
        run,
        run_for,
    )

__all__ = [
    "STEPS",
    "EngineReport",
    "close_step",
    "due_customer_ids",
    "engine_clock",
    "run",
    "run_for",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("billcore.engine.steps"), name)
    raise AttributeError(f"module 'billcore.engine' has no attribute {name!r}")

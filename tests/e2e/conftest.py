"""Fixtures every /rest/ test module shares (``tests/e2e/porta_support.py``)."""

from tests.e2e.porta_support import clock, porta, porta_a, style

__all__ = ["clock", "porta", "porta_a", "style"]

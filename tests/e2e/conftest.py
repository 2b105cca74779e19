"""Fixtures shared by the modules of this folder: the /rest/ client's
(``tests/e2e/porta_support.py``) and Debian's Chromium (``browser``, from
``test_browser.py``; each browser module brings its own ``data``)."""

from tests.e2e.porta_support import clock, porta, porta_a, style
from tests.e2e.test_browser import browser

__all__ = ["browser", "clock", "porta", "porta_a", "style"]

"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from billcore import __version__
from billcore.installation.services import get_settings


def seller_missing() -> list[str]:
    """The seller's details invoice e-mails wait for (issue 17 §6), in words."""
    return get_settings().missing_seller_details()


SECTIONS = {
    "customers": "customers",
    "classes": "classes",
    "business-models": "business-models",
    "settings": "settings",
    "audit": "audit",
    "engine": "engine",
    "my-account": "my-account",
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    is_admin = bool(user and user.is_authenticated and getattr(user, "reseller_id", 1) is None)
    first = request.path.strip("/").split("/", 1)[0]
    return {
        "nav_is_admin": is_admin,
        # Called only by a page that shows the banner (base.html, administrators).
        "seller_missing": seller_missing,
        "nav_section": SECTIONS.get(first, ""),
        "billcore_version": __version__,
    }

"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    is_admin = bool(user and user.is_authenticated and getattr(user, "reseller_id", 1) is None)
    return {"nav_is_admin": is_admin, "billcore_version": __import__("billcore").__version__}

"""Errors that services raise and every interface (API, pages, CLI) turns into a clear
message naming the field and the reason."""

from __future__ import annotations


class BillcoreError(Exception):
    """Base: ``code`` is a stable machine-readable reason, ``field`` the offending input."""

    status = 400
    default_code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class ValidationFailed(BillcoreError):
    status = 400
    default_code = "invalid"


class NotFound(BillcoreError):
    """Also what a reseller's user gets for another reseller's objects (never a 403)."""

    status = 404
    default_code = "not_found"


class Conflict(BillcoreError):
    status = 409
    default_code = "conflict"


class NotAllowed(BillcoreError):
    """The actor may see the object but not do this to it."""

    status = 403
    default_code = "forbidden"

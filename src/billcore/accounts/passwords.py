"""Every password a user is given goes through Django's validators
(``AUTH_PASSWORD_VALIDATORS``: at least 8 characters, not a common password)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from billcore.errors import ValidationFailed


def check_password(password: Any, *, user: Any, field: str = "password") -> None:
    """Raise ``ValidationFailed`` naming ``field`` and every reason the password is refused."""
    if not isinstance(password, str) or not password:
        raise ValidationFailed(f"{field} is required", field=field)
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field=field) from None


def set_password(user: Any, password: Any, *, field: str = "password") -> None:
    """Validate, then set (not save) the user's password."""
    check_password(password, user=user, field=field)
    user.set_password(password)

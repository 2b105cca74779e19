"""Every password a user is given goes through here: Django's validators
(``AUTH_PASSWORD_VALIDATORS``: at least 8 characters, not a common password) and the bounds
they leave out (text, no NUL, at most ``PASSWORD_MAX_LENGTH`` characters). Used by
``accounts.services`` (pages, ``/api/v1/users``, ``billcore user``, ``/rest/``
``Session/change_password``) and ``billcore createadmin``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from billcore.errors import ValidationFailed

PASSWORD_MAX_LENGTH = 1024


def check_password(password: Any, *, user: Any, field: str = "password") -> str:
    """``password`` if the validators accept it; otherwise ``ValidationFailed`` naming
    ``field`` and every reason it is refused."""
    if password is None or password == "":
        raise ValidationFailed(f"{field} is required", field=field, code="required")
    if not isinstance(password, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    if "\x00" in password:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    if any("\ud800" <= ch <= "\udfff" for ch in password):
        raise ValidationFailed(
            f"{field} contains a lone surrogate (not a Unicode character)", field=field
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationFailed(
            f"{field} is longer than {PASSWORD_MAX_LENGTH} characters",
            field=field,
            code="too_long",
        )
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field=field, code="weak_password") from None
    return password


def set_password(user: Any, password: Any, *, field: str = "password") -> None:
    """Validate, then set (not save) the user's password."""
    user.set_password(check_password(password, user=user, field=field))

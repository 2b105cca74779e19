"""Users of the admin pages and API: administrators, and resellers' users (CC-07)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models

from billcore.core.text import name_key


def username_key(username: str) -> str:
    """The form two usernames are compared in: the one name key of every unique name
    (``core.text.name_key``: NFKC, then full Unicode case folding, so ``"ÄDMIN"`` and
    ``"ädmin"`` are the same name; SQLite's ``lower()`` is ASCII-only, so the comparison is
    made here and kept in a unique column)."""
    return name_key(username)


class User(AbstractUser):
    """``reseller`` empty: an administrator. Set: a user of that reseller, who sees and
    changes only the reseller's own classes and sub-customers."""

    # A reseller is a customer of type "reseller" (customers.CustomerType.RESELLER; the
    # customers app is above this one, so its value is spelled here, once).
    reseller = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        limit_choices_to={"customer_type": "reseller"},
    )
    # username_key(username), kept by save(): usernames are unique regardless of letter case.
    username_key = models.CharField(max_length=300, unique=True, editable=False)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.username_key = username_key(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_key"}
        super().save(*args, **kwargs)


class ApiToken(models.Model):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

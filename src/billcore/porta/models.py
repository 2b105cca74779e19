"""Sessions of the PortaBilling-compatible API (the login lockout is the shared one of
``billcore.accounts.lockout``).

Only SHA-256 digests of the session id, access token and refresh token are stored."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PortaSession(models.Model):
    """One ``Session/login``. ``access_expires_at`` bounds the access token;
    ``refresh_expires_at`` bounds the refresh token and the session id (the session)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="porta_sessions"
    )
    session_digest = models.CharField(max_length=64, unique=True)
    access_digest = models.CharField(max_length=64, unique=True)
    refresh_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["refresh_expires_at"])]

    def __str__(self) -> str:
        return f"session {self.pk} of user {self.user_id}"


class CustomerTimeZoneId(models.Model):
    """A numeric PortaBilling ``i_time_zone`` given for a customer (e.g. 367 in an exported
    record). The original's ids are not public, so billcore cannot translate one: it is kept
    and returned as given while the customer bills in the installation's default zone."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="porta_time_zone"
    )
    i_time_zone = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.i_time_zone}"

"""Usage records (xDRs) and reservations: the real-time charging side of the ledger."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from billcore.db import DecimalUnitsField, MoneyField
from billcore.features.models import Direction


class Service(models.TextChoices):
    """The four standard services (``rating.models.Service`` seeds them); an xDR may carry any
    catalogue service code."""

    VOICE = "voice", "Voice"
    DATA = "data", "Data"
    MESSAGING = "messaging", "Messaging"
    OTHER = "other", "Other"


def service_label(code: str) -> str:
    """A standard service's label ("Voice"), else the catalogue code as it is."""
    return str(Service(code).label) if code in Service.values else code


class XdrStatus(models.TextChoices):
    CHARGED = "charged", "Charged"
    DENIED = "denied", "Denied"


class Xdr(models.Model):
    """One usage record. ``external_id`` is its idempotency key within its ``owner``: the
    same id twice charges once. A denied charge is kept with its reason.

    ``owner`` is whose id space the key belongs to: 0 for the installation (the
    administrator's customers, resellers included), else the reseller (its customer id) whose
    sub-customer was charged. Two resellers may send the same ``external_id`` without meeting
    (a 409 would tell one what the other sends, and let one block the other's ids)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="xdrs"
    )
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="xdrs",
    )
    service = models.CharField(max_length=32)  # a catalogue service code (rating.Service)
    quantity = DecimalUnitsField(default=Decimal(0))
    unit = models.CharField(max_length=20, blank=True, default="")
    amount = MoneyField()  # sent by the client (pre-rated) or the rated amount
    started_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)
    # Rating (issue 12 §2): the called number and access code as sent; for usage rated by
    # billcore, the tariff and rate its price came from, the price set, the quantity in whole
    # base units and the charged quantity; for a reseller's customer, the reseller's amount
    # (in the reseller's currency) and the reseller's ledger row.
    cld = models.CharField(max_length=64, null=True, blank=True)
    access_code = models.CharField(max_length=8, null=True, blank=True)
    tariff = models.ForeignKey(
        "rating.Tariff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rate = models.ForeignKey(
        "rating.Rate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rate_prefix = models.CharField(max_length=32, null=True, blank=True)
    price_set = models.CharField(max_length=10, null=True, blank=True)
    base_quantity = models.BigIntegerField(null=True, blank=True)
    charged_quantity = models.BigIntegerField(null=True, blank=True)
    reseller_amount = MoneyField(null=True, blank=True)
    reseller_transaction = models.OneToOneField(
        "ledger.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reseller_xdr",
    )
    external_id = models.CharField(max_length=200, null=True, blank=True)
    owner = models.BigIntegerField(default=0, db_default=0)
    status = models.CharField(max_length=8, choices=XdrStatus.choices)
    deny_reason = models.CharField(max_length=40, blank=True, default="")
    transaction = models.OneToOneField(
        "ledger.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="xdr",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "started_at"]),
            models.Index(fields=["account", "started_at"]),
        ]
        constraints = [
            # external_id first: the index also serves look-ups by the key alone.
            models.UniqueConstraint(
                fields=["external_id", "owner"], name="xdr_external_id_once_per_owner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.amount} ({self.status})"

    def get_service_display(self) -> str:
        """The service's label (the field has no choices: any catalogue code is allowed)."""
        return service_label(self.service)


class ReservationStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMMITTED = "committed", "Committed"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"


class Reservation(models.Model):
    """An amount held for a session: counted against available funds until committed,
    released or expired."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="reservations"
    )
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reservations",
    )
    service = models.CharField(max_length=10, choices=Service.choices)
    amount = MoneyField()
    status = models.CharField(
        max_length=9, choices=ReservationStatus.choices, default=ReservationStatus.OPEN
    )
    # Which way the session goes: the simultaneous-call limits count by it (issue 14).
    direction = models.CharField(
        max_length=9, choices=Direction.choices, default=Direction.OUTGOING, db_default="outgoing"
    )
    # Like an xDR's (``Xdr.owner``): the key is unique per owner, 0 for the installation,
    # else the reseller whose sub-customer holds the reservation.
    external_id = models.CharField(max_length=200, null=True, blank=True)
    owner = models.BigIntegerField(default=0, db_default=0)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    xdr = models.OneToOneField(
        Xdr, null=True, blank=True, on_delete=models.PROTECT, related_name="reservation"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["customer", "status", "expires_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id", "owner"], name="reservation_external_id_once_per_owner"
            )
        ]

    def __str__(self) -> str:
        return f"reservation {self.pk} {self.amount} ({self.status})"


class FraudAlert(models.Model):
    """A customer passed its daily spending limit with the "notify" action: one alert per
    customer and local day, for the operator (and, with notifications, an e-mail)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="fraud_alerts"
    )
    day = models.DateField()
    daily_limit = MoneyField()
    spent = MoneyField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="fraud_alert_once_a_day")
        ]

    def __str__(self) -> str:
        return f"fraud alert {self.customer_id} {self.day}"


class SessionStatus(models.TextChoices):
    """A network session's life (``charging.sessions``): authorised (Access-Accept or CCR-I
    answered, funds held), live (accounting Start seen), closed (Stop/CCR-T rated and charged,
    the rest of the hold released)."""

    AUTHORIZED = "authorized", "Authorised"
    LIVE = "live", "Live"
    CLOSED = "closed", "Closed"


class NetworkSession(models.Model):
    """One session a network element (a RADIUS NAS, a Diameter peer) asked about, keyed by
    (``nas``, ``session_key``): the NAS's address or the peer's Origin-Host, and its session id
    (Acct-Session-Id, Diameter Session-Id). It holds ``reservation`` for the whole granted
    quantity; ``used`` is the cumulative quantity charged so far (seconds for voice, the
    service's base units otherwise) and ``charged`` what it cost in all."""

    nas = models.CharField(max_length=128)
    session_key = models.CharField(max_length=200)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="network_sessions"
    )
    account = models.ForeignKey(
        "subscribers.Account", on_delete=models.PROTECT, related_name="network_sessions"
    )
    service = models.CharField(max_length=32)
    cld = models.CharField(max_length=64, blank=True, default="")
    access_code = models.CharField(max_length=8, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.AUTHORIZED
    )
    granted = models.BigIntegerField(default=0)
    announced = models.BigIntegerField(default=0)
    used = models.BigIntegerField(default=0)
    charged = MoneyField(default=Decimal(0))
    reseller_charged = MoneyField(default=Decimal(0))
    reservation = models.OneToOneField(
        Reservation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="network_session",
    )
    # The last xDR the session wrote (Interim-Update / CCR-U / Stop / CCR-T).
    xdr = models.ForeignKey(Xdr, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    close_reason = models.CharField(max_length=40, blank=True, default="")
    authorized_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "customer"]),
            models.Index(fields=["account", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["nas", "session_key"], name="network_session_once")
        ]

    def __str__(self) -> str:
        return f"session {self.nas}/{self.session_key} ({self.status})"


class NasClient(models.Model):
    """A network element allowed to ask (RADIUS client): its address and the RADIUS shared
    secret. The secret is stored as given because the server needs it to check and sign
    packets (it is not a password hash); pages and the API show it masked only."""

    name = models.CharField(max_length=100, unique=True)
    address = models.GenericIPAddressField(unique=True)
    secret = models.CharField(max_length=128)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


class NetworkCounter(models.Model):
    """A running count the network servers keep (packets dropped from an unknown address,
    with a bad authenticator, malformed, …), flushed by the server process so pages and the
    API can show it. ``name`` e.g. ``radius.dropped.unknown_client``."""

    name = models.CharField(max_length=80, unique=True)
    value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"

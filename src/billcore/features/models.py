"""Abbreviated dialing (rating-and-tabs.md §3.2) and service features (§3.3).

* ``DialingPlan``: a customer's maximum abbreviated number length, saved before any entry.
* ``AbbreviatedNumber``: what a user of the customer dials (``abbreviated``) and what is
  dialled instead: an account of the same customer (``account``, ``number`` its identifier),
  an E.164 number (``number``, digits without ``+``), or nothing ("dial as is", both empty).
* ``FeatureSet``: typed service features of exactly one owner (a customer, an account or a
  product). A column left empty (NULL) inherits: account → customer → add-on products (higher
  precedence first) → main product (``features.services.effective_features``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

# Abbreviated numbers and extensions are short codes: at most this many digits. A called
# number longer than this is never looked up (the charging hot path skips the query).
MAX_SHORT_LENGTH = 8


class Direction(models.TextChoices):
    """Which way a call goes, for the simultaneous-call limits (§3.3)."""

    OUTGOING = "outgoing", "Outgoing"
    INCOMING = "incoming", "Incoming"
    FORWARDED = "forwarded", "Forwarded"


class DialingPlan(models.Model):
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="dialing_plan"
    )
    max_length = models.PositiveSmallIntegerField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"dialing plan of customer {self.customer_id} (max {self.max_length})"


class AbbreviatedNumber(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="abbreviated_numbers"
    )
    abbreviated = models.CharField(max_length=MAX_SHORT_LENGTH)
    # An account of the same customer (``number`` is then its identifier), an E.164 number
    # (digits, no ``+``), or both empty: dial as is.
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="abbreviated_targets",
    )
    number = models.CharField(max_length=100, blank=True, default="")
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["customer", "abbreviated"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "abbreviated"], name="features_abbreviated_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.abbreviated} → {self.number or '(as dialled)'}"

    @property
    def dials_as_is(self) -> bool:
        return not self.number


class AcceptCallerIdentity(models.TextChoices):
    FAVOR_FORWARDER = "favor_forwarder", "Favor forwarder"
    CALLER_ONLY = "caller_only", "Caller only"
    NONE = "none", "None"


class CliPresentation(models.TextChoices):
    ALLOWED = "allowed", "Allowed (show the caller's number)"
    RESTRICTED = "restricted", "Restricted (hide the caller's number)"


class FeatureSet(models.Model):
    """One owner's service features; NULL inherits (see the module's docstring)."""

    customer = models.OneToOneField(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="service_features",
    )
    account = models.OneToOneField(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="service_features",
    )
    product = models.OneToOneField(
        "rating.Product",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="service_features",
    )
    # Limit simultaneous calls (any direction, then by direction).
    max_calls = models.PositiveIntegerField(null=True, blank=True)
    max_incoming_calls = models.PositiveIntegerField(null=True, blank=True)
    max_outgoing_calls = models.PositiveIntegerField(null=True, blank=True)
    max_forwarded_calls = models.PositiveIntegerField(null=True, blank=True)
    # Caller identity.
    accept_caller_identity = models.CharField(
        max_length=15, null=True, blank=True, choices=AcceptCallerIdentity.choices
    )
    supply_caller_identity = models.BooleanField(null=True, blank=True)
    cli_presentation = models.CharField(
        max_length=10, null=True, blank=True, choices=CliPresentation.choices
    )
    display_name = models.CharField(max_length=64, null=True, blank=True)
    override_identity = models.CharField(max_length=15, null=True, blank=True)
    # Flags.
    music_on_hold = models.BooleanField(null=True, blank=True)
    call_parking = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(customer__isnull=False, account__isnull=True, product__isnull=True)
                    | Q(customer__isnull=True, account__isnull=False, product__isnull=True)
                    | Q(customer__isnull=True, account__isnull=True, product__isnull=False)
                ),
                name="features_featureset_one_owner",
            )
        ]

    def __str__(self) -> str:
        if self.customer_id:
            return f"service features of customer {self.customer_id}"
        if self.account_id:
            return f"service features of account {self.account_id}"
        return f"service features of product {self.product_id}"

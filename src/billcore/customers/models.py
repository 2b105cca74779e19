"""Customers (CU-01 … CU-18): prepaid or postpaid, currency fixed for life, a balance that
only the ledger moves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models

from billcore.db import MoneyField, NameKeyed


class BalanceControl(models.TextChoices):
    """CU-04."""

    PREPAID = "prepaid", "Prepaid"
    POSTPAID = "postpaid", "Postpaid"


class CustomerType(models.TextChoices):
    RETAIL = "retail", "Retail customer"
    RESELLER = "reseller", "Reseller"


class BillingPeriod(models.IntegerChoices):
    """The six billing periods of portabilling.md, with the original API ids."""

    DAILY = 1, "Daily"
    WEEKLY = 2, "Weekly"
    SEMI_MONTHLY = 3, "Semi-monthly"
    MONTHLY = 4, "Monthly"
    MONTHLY_ANNIVERSARY = 5, "Monthly (anniversary)"
    THIRTY_DAYS = 6, "30 days"


class Status(models.TextChoices):
    """``bill_status`` of the original API; ``blocked`` is a separate flag (CU-14)."""

    OPEN = "open", "Open"
    SUSPENDED = "suspended", "Suspended"
    PROVISIONALLY_TERMINATED = "provisionally_terminated", "Provisionally terminated"
    CLOSED = "closed", "Permanently terminated"
    EXPORTED = "exported", "Exported"


class Customer(NameKeyed):
    # --- top of the form ---
    name = models.CharField(max_length=100)  # CU-01
    customer_type = models.CharField(
        max_length=8, choices=CustomerType.choices, default=CustomerType.RETAIL
    )
    reseller = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_customers",
        limit_choices_to={"customer_type": CustomerType.RESELLER},
    )
    blocked = models.BooleanField(default=False)  # CU-02
    balance_control = models.CharField(max_length=8, choices=BalanceControl.choices)  # CU-04
    currency = models.ForeignKey("installation.Currency", on_delete=models.PROTECT)  # CU-06
    # What the customer owes (portabilling.md sign convention). Moved only by the ledger.
    balance = MoneyField(default=Decimal(0))
    credit_limit = MoneyField(null=True, blank=True)  # CU-07, postpaid only; None = no limit
    # A temporary credit limit that applies until ``credit_limit_until``, then reverts.
    temp_credit_limit = MoneyField(null=True, blank=True)
    credit_limit_until = models.DateTimeField(null=True, blank=True)
    # Sum of open reservations: counted against the limit / available funds.
    reserved = MoneyField(default=Decimal(0))
    customer_class = models.ForeignKey(
        "classes.CustomerClass", on_delete=models.PROTECT, related_name="customers"
    )  # CU-09
    billing_period = models.PositiveSmallIntegerField(
        choices=BillingPeriod.choices, default=BillingPeriod.MONTHLY
    )  # CU-10
    time_zone = models.CharField(max_length=64, default="UTC")
    # The open billing period: [billed_to, next_billed_to) (portabilling.md names). The engine
    # closes it once ``next_billed_to`` has passed.
    billed_to = models.DateTimeField(null=True, blank=True)
    next_billed_to = models.DateTimeField(null=True, blank=True, db_index=True)
    # Invoices & Taxation tab: the invoice template, overriding the class's (None = class).
    invoice_template = models.CharField(max_length=20, null=True, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN)
    # Why the customer is suspended: "overdue" (set by the engine, lifts when paid; CU-15)
    # or "manual" (suspend_customer of the API).
    suspension_reason = models.CharField(max_length=20, blank=True, default="")
    # "Lift the suspension until": service continues until this date (CU-15).
    suspension_delay_until = models.DateTimeField(null=True, blank=True)
    # Provisional termination: when it happened and when it becomes permanent (CU-16, CC-20).
    provisionally_terminated_at = models.DateTimeField(null=True, blank=True)
    terminate_on = models.DateTimeField(null=True, blank=True)
    # CU-17: a permanent termination scheduled for ``terminate_on`` (the customer stays as it
    # is until then), and whether the open period is invoiced first (a midterm invoice).
    termination_pending = models.BooleanField(default=False)
    midterm_invoice = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)  # CU-11
    # Per-customer overrides (None = use the class's value)
    send_statistics = models.CharField(max_length=8, null=True, blank=True)
    fraud_daily_limit = MoneyField(null=True, blank=True)
    fraud_action = models.CharField(max_length=8, null=True, blank=True)
    # Spending of the current day in the customer's time zone (fraud protection).
    fraud_day = models.DateField(null=True, blank=True)
    fraud_day_spent = MoneyField(default=Decimal(0))

    # --- Address Info ---
    company_name = models.CharField(max_length=200, blank=True, default="")
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    address_line1 = models.CharField(max_length=200, blank=True, default="")
    address_line2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=100, blank=True, default="")
    zip_code = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")  # ISO 3166-1 alpha-2
    phone = models.CharField(max_length=40, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    # --- Additional Info ---
    note = models.TextField(blank=True, default="")

    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="customer_name_key_unique"),
            models.CheckConstraint(
                condition=models.Q(balance_control="postpaid")
                | models.Q(credit_limit__isnull=True),
                name="customer_credit_limit_postpaid_only",
            ),
        ]
        indexes = [
            models.Index(fields=["name", "id"]),
            models.Index(fields=["customer_class", "name"]),
            # Counting a filtered list page (class + currency, closed ones left out).
            models.Index(fields=["customer_class", "currency", "status"]),
            models.Index(fields=["reseller", "name"]),
            models.Index(fields=["currency", "name"]),
            models.Index(fields=["status", "name"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_prepaid(self) -> bool:
        return self.balance_control == BalanceControl.PREPAID

    @property
    def available_funds(self) -> Decimal | None:
        """CU-08: prepaid funds, shown positive (credit limit 0 - balance)."""
        return -self.balance if self.is_prepaid else None

    def effective_credit_limit(self, *, now: dt.datetime) -> Decimal | None:
        """The postpaid limit in force at ``now``: the temporary one until its date."""
        if (
            self.temp_credit_limit is not None
            and self.credit_limit_until is not None
            and now < self.credit_limit_until
        ):
            temporary: Decimal = self.temp_credit_limit
            return temporary
        permanent: Decimal | None = self.credit_limit
        return permanent


class StatusChange(models.Model):
    """The status history of a customer (one row per change, with who and why)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="status_changes")
    at = models.DateTimeField()
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True, default="")
    from_status = models.CharField(max_length=24)
    to_status = models.CharField(max_length=24)
    blocked = models.BooleanField()
    reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "-at"])]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"


class ResellerBranding(models.Model):
    """How a reseller presents itself to its own customers (issue 16 §2): the seller named on
    their invoices and credit notes, and the name and logo on their self-care pages. Without
    a row (or with an empty field) the installation's seller details apply."""

    reseller = models.OneToOneField(
        Customer,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="branding",
        limit_choices_to={"customer_type": CustomerType.RESELLER},
    )
    display_name = models.CharField(max_length=100, blank=True, default="")
    legal_name = models.CharField(max_length=200, blank=True, default="")
    address_line1 = models.CharField(max_length=200, blank=True, default="")
    address_line2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")  # ISO 3166-1 alpha-2
    tax_number = models.CharField(max_length=50, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    payment_instructions = models.TextField(blank=True, default="")
    # The logo: a PNG or JPEG image (checked with Pillow when uploaded), at most 256 KB.
    logo = models.BinaryField(null=True, blank=True, editable=True)
    logo_type = models.CharField(max_length=20, blank=True, default="")
    logo_sha256 = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "reseller branding"
        verbose_name_plural = "reseller brandings"

    def __str__(self) -> str:
        return f"Branding of {self.reseller_id}"


class CustomerLogin(models.Model):
    """The customer's own sign-in to its self-care (issue 16, CU-13 Web Self-Care tab): not an
    administrators' user. ``login`` is unique regardless of letter case (``login_key``); the
    password is kept as a Django password hash; ``totp_secret`` (base32) is set while
    two-factor authentication is on."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="selfcare_login"
    )
    login = models.CharField(max_length=64)
    login_key = models.CharField(max_length=100, unique=True, editable=False)
    password = models.CharField(max_length=128, blank=True, default="")
    enabled = models.BooleanField(default=True)
    totp_secret = models.CharField(max_length=64, blank=True, default="")
    totp_enabled = models.BooleanField(default=False)
    time_zone = models.CharField(max_length=64, default="UTC")
    language = models.CharField(max_length=8, default="en")
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    # Whole-login credentials' version: raised by a password change, so sessions and tokens
    # made before it stop working.
    credentials_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["login"]

    def __str__(self) -> str:
        return self.login


class CustomerTokenKind(models.TextChoices):
    API = "api", "App token (/api/v1/me)"
    PORTA = "porta", "/rest/ session"


class CustomerToken(models.Model):
    """A bearer secret of a customer's self-care login (only its SHA-256 digest is kept): an
    app's token for ``/api/v1/me`` or a ``/rest/`` session. A table of its own, apart from the
    administrators' ``accounts.ApiToken``: neither kind can stand for the other."""

    login = models.ForeignKey(CustomerLogin, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=8, choices=CustomerTokenKind.choices)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.kind} token of {self.login_id}"

"""The ledger: every balance change is one row (CU-12). Sum of ``amount`` = balance."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from billcore.db import MoneyField


class Action(models.TextChoices):
    """Transaction types of portabilling.md (the API's own strings as labels)."""

    OPENING_BALANCE = "opening_balance", "Opening balance"
    MANUAL_CHARGE = "manual_charge", "Manual charge"
    MANUAL_CREDIT = "manual_credit", "Manual credit"
    PROMOTIONAL_CREDIT = "promotional_credit", "Promotional credit"
    MANUAL_PAYMENT = "manual_payment", "Manual payment"
    ECOMMERCE_PAYMENT = "ecommerce_payment", "E-commerce payment"
    REFUND = "refund", "Refund"
    ECOMMERCE_REFUND = "ecommerce_refund", "E-commerce refund"
    AUTHORIZATION_ONLY = "authorization_only", "Authorization only"
    CAPTURE_PAYMENT = "capture_payment", "Capture payment"
    VOID = "void", "Void"
    USAGE = "usage", "Usage charge"
    TRANSFER = "transfer", "Subscriber-to-subscriber transfer"
    SUBSCRIPTION = "subscription", "Subscription fee"
    TAX = "tax", "Tax"
    INVOICE_ROUNDING = "invoice_rounding", "Invoice rounding"
    # Issue 17: the reversal of a void invoice's charges, taxes and roundings (linked to the
    # invoice, never billed again).
    INVOICE_VOID = "invoice_void", "Void invoice reversal"
    # Issue 12: the difference re-rating made to a usage charge of the open period (linked to
    # the usage row it corrects by ``reference``).
    RERATING = "rerating", "Usage re-rating"
    # Issue 14: a measured service's charge at period close (``measured.MeasuredCharge``).
    MEASURED_SERVICE = "measured_service", "Measured service"


class Transaction(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="transactions"
    )
    action = models.CharField(max_length=24, choices=Action.choices)
    # Signed effect on the balance (what the customer owes): charges +, payments/credits -.
    amount = MoneyField()
    balance_after = MoneyField()
    # The account the entry concerns, and its effect on that account's balance (a transfer
    # between two accounts of one customer moves account balances, not the customer's).
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    account_amount = MoneyField(default=Decimal(0))
    # Card steps: the amount authorised / captured / voided, and the authorisation they follow.
    card_amount = MoneyField(null=True, blank=True)
    reference = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="followups"
    )
    visible_comment = models.CharField(max_length=500, blank=True, default="")
    internal_comment = models.CharField(max_length=500, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    # Billing: the closed period the row belongs to and the invoice that billed it (a row is
    # billed at most once). ``hidden``: not shown to the end user (a balance reset, CC-12).
    period = models.ForeignKey(
        "invoicing.ClosedPeriod",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    hidden = models.BooleanField(default=False)
    balance_reset = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"], name="transaction_idempotency_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-id"]),
            models.Index(fields=["customer", "period", "invoice"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.amount}"


class WalletMeasure(models.TextChoices):
    MONEY = "money", "Money"
    UNITS = "units", "Units"


class Wallet(models.Model):
    """A service wallet (issue 13, rating-and-tabs §2.4): a sub-balance of a customer (or of
    one of its accounts) earmarked for one service and destination group. ``balance`` is what
    it holds (money in the customer's currency, or units), always the sum of its entries'
    ``amount`` (positive: what it can still pay). ``rule_id`` is the plan rule it comes from
    (``plans.PlanRule``; a plain id: the ledger sits below the plans)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="wallets"
    )
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallets",
    )
    rule_id = models.BigIntegerField()
    name = models.CharField(max_length=200)
    measure = models.CharField(
        max_length=5, choices=WalletMeasure.choices, default=WalletMeasure.MONEY
    )
    balance = MoneyField(default=Decimal(0))
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["customer", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_id", "account"],
                condition=models.Q(account__isnull=False),
                name="ledger_wallet_rule_account",
            ),
            models.UniqueConstraint(
                fields=["rule_id", "customer"],
                condition=models.Q(account__isnull=True),
                name="ledger_wallet_rule_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.balance}"


class WalletEntryKind(models.TextChoices):
    INITIAL = "initial", "Initial volume"
    CREDIT = "credit", "Credit (promotional)"
    CARD = "card", "Payment by card"
    TRANSFER = "transfer", "Transfer from the balance"
    USAGE = "usage", "Usage"
    RERATING = "rerating", "Usage re-rating"


class WalletEntry(models.Model):
    """One change of a wallet's balance: ``amount`` added (negative: taken), the balance
    after it. A top-up from the main balance also writes the main ledger's transfer row
    (``transaction``) in the same database transaction."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=8, choices=WalletEntryKind.choices)
    amount = MoneyField()
    balance_after = MoneyField()
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    price = MoneyField(null=True, blank=True)  # what a card top-up charged
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    comment = models.CharField(max_length=500, blank=True, default="")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["wallet", "idempotency_key"], name="ledger_wallet_entry_idempotency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"

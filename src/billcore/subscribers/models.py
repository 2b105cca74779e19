"""Accounts: the end users under a customer (a phone line, a login).

Sign convention as for customers: ``balance`` is what the account has consumed (owes).
* A credit account draws on its customer's balance; an optional individual ``credit_limit``
  caps what the account itself may consume.
* A debit account holds prepaid funds of its own: its available funds are ``-balance``.
Every charge on an account moves both the account's and its customer's balance, so the
customer's limits always apply too. ``reserved`` is the sum of open reservations.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from billcore.db import MoneyField


class AccountType(models.TextChoices):
    DEBIT = "debit", "Debit (prepaid funds of its own)"
    CREDIT = "credit", "Credit (draws on the customer's balance)"


class Account(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="accounts"
    )
    identifier = models.CharField(max_length=100, unique=True)  # a phone number, a login
    account_type = models.CharField(
        max_length=6, choices=AccountType.choices, default=AccountType.CREDIT
    )
    blocked = models.BooleanField(default=False)
    # Optional password a NAS may check over RADIUS (PAP), hashed with Django's hashers
    # (``subscribers.radius``); empty: none set.
    radius_password = models.CharField(max_length=128, blank=True, default="")
    credit_limit = MoneyField(null=True, blank=True)
    balance = MoneyField(default=Decimal(0))
    reserved = MoneyField(default=Decimal(0))
    # Terminated (closed for good): blocked, no more changes; the row and its history stay.
    terminated_at = models.DateTimeField(null=True, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)  # values of defined CustomFields
    # A short number (digits) the customer's other users dial to reach it (IP Centrex);
    # unique within the customer (issue 14).
    extension = models.CharField(max_length=8, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["identifier"]
        indexes = [models.Index(fields=["customer", "identifier"])]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "extension"], name="subscribers_account_extension_unique"
            )
        ]

    def __str__(self) -> str:
        return self.identifier

    @property
    def available_funds(self) -> Decimal | None:
        used: Decimal = self.balance + self.reserved
        if self.account_type == AccountType.DEBIT:
            return -used
        limit: Decimal | None = self.credit_limit
        return None if limit is None else limit - used

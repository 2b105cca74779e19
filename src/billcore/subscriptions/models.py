"""Subscriptions (CU-13 Subscriptions tab, CC-19; issue 5 §3): periodic fees charged by the
engine, in advance or in arrears, prorated when a subscription starts or ends mid-period."""

from __future__ import annotations

from django.db import models

from billcore.db import MoneyField, NameKeyed


class SubscriptionPlan(NameKeyed):
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    currency = models.ForeignKey("installation.Currency", on_delete=models.PROTECT)
    # Empty: the administrator's plan; otherwise the reseller that owns it (CC-07 style).
    managed_by = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subscription_plans",
    )
    # The fee for one whole billing period of the customer.
    fee = MoneyField()
    in_advance = models.BooleanField(default=True)  # else in arrears (at the period's end)
    prorate = models.BooleanField(default=True)  # part of a period: part of the fee
    charge_while_suspended = models.BooleanField(default=False)  # CU-15
    charge_while_blocked = models.BooleanField(default=True)  # CU-02
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="subscription_plan_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    # CC-19: a prepaid customer's funds could not cover a due fee; charged once funds arrive.
    WAITING_FOR_FUNDS = "waiting_for_funds", "Waiting for funds"
    ENDED = "ended", "Ended"


class Subscription(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="subscriptions"
    )
    plan = models.ForeignKey(
        SubscriptionPlan, on_delete=models.PROTECT, related_name="subscriptions"
    )
    # The customer's account the subscription was taken for (None: the customer's own); the
    # fees are the customer's either way.
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subscriptions",
    )
    start_at = models.DateTimeField()
    end_at = models.DateTimeField(null=True, blank=True)  # exclusive; None = open-ended
    status = models.CharField(
        max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    # Everything before this instant is charged (fees are charged period by period).
    charged_to = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["customer_id", "start_at", "id"]
        indexes = [models.Index(fields=["status", "customer"])]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.plan_id}"


class SkipReason(models.TextChoices):
    """Why a due fee was not charged (and never will be: a skipped part is not charged later)."""

    SUSPENDED = "suspended", "Suspended"  # CU-15, the plan does not charge while suspended
    BLOCKED = "blocked", "Blocked"  # CU-02, the plan does not charge while blocked
    PROVISIONALLY_TERMINATED = "provisionally_terminated", "Provisionally terminated"  # CU-16
    EXPORTED = "exported", "Exported"  # CU-18


class SubscriptionCharge(models.Model):
    """One fee charged (or skipped) for one (part of a) billing period: at most once per
    subscription and start. ``period_start`` / ``period_end`` are the part of the customer's
    billing period the fee covers: the billing period itself, cut to the subscription's start
    and end. A skipped part has ``skipped`` set, amount 0 and no ledger row."""

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="charges")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    amount = MoneyField()
    transaction = models.OneToOneField(
        "ledger.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subscription_charge",
    )
    skipped = models.CharField(max_length=24, choices=SkipReason.choices, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["subscription_id", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start"], name="subscription_charge_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.period_start:%Y-%m-%d} {self.amount}"

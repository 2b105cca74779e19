"""DIDs (CU-13 DIDs tab; issue 14; rating-and-tabs.md §3.1): the operator's inventory of
numbers, their vendor batches and groups, the pricing batches that set what a customer pays,
the assignments of numbers to customers (and optionally one of their accounts) and the
charges those assignments made."""

from __future__ import annotations

from django.db import models

from billcore.db import MoneyField, NameKeyed


class DidStatus(models.TextChoices):
    """The inventory's quick filters: in use (assigned), not in use, frozen (kept aside)."""

    IN_USE = "in_use", "In use"
    NOT_IN_USE = "not_in_use", "Not in use"
    FROZEN = "frozen", "Frozen"


class VendorBatch(NameKeyed):
    """The supplier's batch a number came from (mandatory on upload)."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="did_vendor_batch_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class DidGroup(NameKeyed):
    """A category of numbers (e.g. a city)."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="did_group_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class PricingBatch(NameKeyed):
    """What a customer pays for a number: free of charge (a grouping only) or fee-paying with
    the additional activation fee, the additional recurring fee and the recurring markup (a
    percentage of the supplier's periodic cost)."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    free_of_charge = models.BooleanField(default=False)
    # Fee-paying batches charge in this currency (the numbers' and the customers' currency).
    currency = models.ForeignKey(
        "installation.Currency", null=True, blank=True, on_delete=models.PROTECT
    )
    additional_activation_fee = MoneyField(default=0)
    additional_recurring_fee = MoneyField(default=0)
    recurring_markup_percent = MoneyField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="did_pricing_batch_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Did(models.Model):
    """One number of the inventory."""

    number = models.CharField(max_length=32, unique=True)  # digits only (E.164 without "+")
    description = models.CharField(max_length=500, blank=True, default="")
    country = models.CharField(max_length=2, default="--")  # ISO alpha-2, "--" = n/a
    area = models.CharField(max_length=100, blank=True, default="")
    vendor_batch = models.ForeignKey(VendorBatch, on_delete=models.PROTECT, related_name="dids")
    # The supplier's costs: once at activation, and per month.
    activation_cost = MoneyField(default=0)
    periodic_cost = MoneyField(default=0)
    currency = models.ForeignKey("installation.Currency", on_delete=models.PROTECT)
    free_of_charge = models.BooleanField(default=False)  # no charges when assigned
    status = models.CharField(
        max_length=12, choices=DidStatus.choices, default=DidStatus.NOT_IN_USE
    )
    group = models.ForeignKey(
        DidGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="dids"
    )
    pricing_batch = models.ForeignKey(
        PricingBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="dids"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="dids"
    )
    account = models.ForeignKey(
        "subscribers.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="dids"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)  # when last freed
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        indexes = [
            models.Index(fields=["status", "number"]),
            models.Index(fields=["customer", "number"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(status="in_use", customer__isnull=False)
                    | (~models.Q(status="in_use") & models.Q(customer__isnull=True))
                ),
                name="did_in_use_has_customer",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class DidAssignment(models.Model):
    """A number held by a customer over ``[assigned_at, released_at)``, with the prices in
    force when it was assigned (the pricing batch's later changes apply to later
    assignments)."""

    did = models.ForeignKey(Did, on_delete=models.PROTECT, related_name="assignments")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="did_assignments"
    )
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="did_assignments",
    )
    pricing_batch = models.ForeignKey(
        PricingBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments"
    )
    assigned_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    activation_price = MoneyField(default=0)
    recurring_price = MoneyField(default=0)  # per whole billing period
    # Everything before this instant is charged (recurring fees, period by period).
    charged_to = models.DateTimeField(null=True, blank=True)
    ended = models.BooleanField(default=False)  # released and charged up to the release
    # When the engine next has something to charge: the end of the part after ``charged_to``
    # (the customer's billing period cut to the release); None once ended.
    next_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-assigned_at", "-id"]
        indexes = [
            models.Index(fields=["ended", "customer"]),
            models.Index(fields=["next_due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.did_id} -> {self.customer_id}"


class ChargeKind(models.TextChoices):
    ACTIVATION = "activation", "Activation fee"
    RECURRING = "recurring", "Recurring fee"


class DidCharge(models.Model):
    """One fee of an assignment: its activation fee (once) or the recurring fee of one part of
    a billing period. ``covered`` is the time of the part the customer was charged for (the
    part less the time it was provisionally terminated or exported)."""

    assignment = models.ForeignKey(DidAssignment, on_delete=models.PROTECT, related_name="charges")
    kind = models.CharField(max_length=12, choices=ChargeKind.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    covered_seconds = models.BigIntegerField(default=0)
    amount = MoneyField()
    transaction = models.OneToOneField(
        "ledger.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="did_charge",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["assignment_id", "period_start", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "kind", "period_start"], name="did_charge_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment_id} {self.kind} {self.amount}"

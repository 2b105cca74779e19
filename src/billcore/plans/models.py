"""Volume discount plans (rating-and-tabs §2): a plan holds rules of three kinds — discount
bands, quotas and service wallets — and is assigned to products (main or add-on), accounts or
customers. Thin tables and constraints; the rules are in ``plans.services``; the counters and
their consumption while rating are ``plans.counters`` / ``plans.applying``.

Volumes and thresholds are in the rule's measure: money (the plan's currency) or units of the
rule's service's base unit (seconds for time, the service's data unit, messages, units)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billcore.db import DecimalUnitsField, NameKeyed


class RuleKind(models.TextChoices):
    DISCOUNT = "discount", "Discount"
    QUOTA = "quota", "Quota"
    WALLET = "wallet", "Service wallet"


class PeakScope(models.TextChoices):
    """Which usage a rule counts: any time, or a separate counter for peak or off-peak."""

    ANY = "any", "Any time"
    PEAK = "peak", "Peak"
    OFFPEAK = "offpeak", "Off-peak"


class Measure(models.TextChoices):
    """What a rule's counter, thresholds and volumes measure (read-only once created)."""

    MONEY = "money", "Money spent"
    UNITS = "units", "Service used (units)"


class Reset(models.TextChoices):
    """How often counters return to zero (a quota's renewal period uses the same choices)."""

    BILLING_PERIOD = "billing_period", "Every billing period"
    DAILY = "daily", "Daily"
    MONTHLY = "monthly", "Monthly"
    ONE_TIME = "one_time", "One time (never)"


class OnExhausted(models.TextChoices):
    """What happens once a quota is used up."""

    CHARGE = "charge", "Charge as usual"
    BLOCK = "block", "Block the service"
    LIMIT_SPEED = "limit_speed", "Limit the speed (data)"


MAX_ROLLOVERS = 3


class DiscountPlan(NameKeyed):
    """A volume discount plan. ``destination_groups`` is its destination group set: every
    rule's group is one of them. A draft plan cannot be assigned."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True, default="")
    currency = models.ForeignKey("installation.Currency", on_delete=models.PROTECT)
    managed_by = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="discount_plans",
    )
    destination_groups = models.ManyToManyField(
        "rating.DestinationGroup", related_name="discount_plans", blank=True
    )
    draft = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            # Unique per owner regardless of case: the administrator's (no owner) and each
            # reseller's plans are separate name spaces.
            models.UniqueConstraint(
                fields=["name_key"],
                condition=Q(managed_by__isnull=True),
                name="plans_plan_admin_name_unique",
            ),
            models.UniqueConstraint(
                fields=["managed_by", "name_key"],
                condition=Q(managed_by__isnull=False),
                name="plans_plan_owner_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PlanRule(models.Model):
    """One rule of a plan: a discount (its ``bands``), a quota (``volume`` free per renewal
    period) or a service wallet (a sub-balance starting at ``initial_volume``), for one
    service and one destination group (none: every destination of the service)."""

    plan = models.ForeignKey(DiscountPlan, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=8, choices=RuleKind.choices)
    # ``service_id`` is the service's code (what usage carries).
    service = models.ForeignKey(
        "rating.Service",
        to_field="code",
        db_column="service_code",
        on_delete=models.PROTECT,
        related_name="+",
    )
    destination_group = models.ForeignKey(
        "rating.DestinationGroup",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="plan_rules",
    )
    peak_scope = models.CharField(max_length=8, choices=PeakScope.choices, default=PeakScope.ANY)
    measure = models.CharField(max_length=5, choices=Measure.choices, default=Measure.UNITS)
    reset = models.CharField(max_length=14, choices=Reset.choices, default=Reset.BILLING_PERIOD)
    # Quota: the free volume per renewal period (null: unlimited), renewed on its own calendar
    # from ``renewal_anchor_date`` (null: from the assignment's start), 0 to 3 rollovers.
    volume = DecimalUnitsField(null=True, blank=True)
    renewal_period = models.CharField(max_length=14, choices=Reset.choices, default=Reset.MONTHLY)
    renewal_anchor_date = models.DateField(null=True, blank=True)
    rollovers = models.PositiveSmallIntegerField(default=0)
    on_exhausted = models.CharField(
        max_length=11, choices=OnExhausted.choices, default=OnExhausted.CHARGE
    )
    speed_policy = models.CharField(max_length=64, blank=True, default="")  # e.g. Filter-Id
    # Discount (and quota): advanced options.
    prorate_first_period = models.BooleanField(default=False)
    split_xdrs = models.BooleanField(default=False)
    # Wallet: initial volume (money or units per ``measure``), expiry, top-up options.
    initial_volume = DecimalUnitsField(default=0)
    expiry_days = models.PositiveIntegerField(null=True, blank=True)  # null: never
    expiry_date = models.DateField(null=True, blank=True)
    topup_credit = models.BooleanField(default=True)
    topup_card = models.BooleanField(default=False)
    topup_balance = models.BooleanField(default=False)
    topup_extend_days = models.PositiveIntegerField(default=0)  # lifetime added per top-up
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in RuleKind]), name="plans_rule_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(rollovers__gte=0) & Q(rollovers__lte=MAX_ROLLOVERS),
                name="plans_rule_rollovers_0_3",
            ),
            models.CheckConstraint(
                condition=Q(volume__isnull=True) | Q(volume__gte=0),
                name="plans_rule_volume_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(initial_volume__gte=0), name="plans_rule_initial_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}: {self.kind} {self.service_id}"


class PlanBand(models.Model):
    """A discount band: from ``threshold`` (counter value, ≥ 0) up to the next band's
    threshold (the last: unlimited), ``percent`` off (0: standard price, 100: free)."""

    rule = models.ForeignKey(PlanRule, on_delete=models.CASCADE, related_name="bands")
    threshold = DecimalUnitsField()
    percent = DecimalUnitsField()

    class Meta:
        ordering = ["rule", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "threshold"], name="plans_band_threshold"),
            models.CheckConstraint(
                condition=Q(threshold__gte=0), name="plans_band_threshold_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100),
                name="plans_band_percent_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}: from {self.threshold} {self.percent} %"


class PlanAssignment(models.Model):
    """A plan given to exactly one of: a product (its default plan; add-on products carry
    their ``precedence``), an account, a customer; in force over ``[valid_from, valid_to)``."""

    plan = models.ForeignKey(DiscountPlan, on_delete=models.PROTECT, related_name="assignments")
    product = models.ForeignKey(
        "rating.Product",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="plan_assignments",
    )
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="plan_assignments",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="plan_assignments",
    )
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)  # null: open-ended
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(product__isnull=False, account__isnull=True, customer__isnull=True)
                    | Q(product__isnull=True, account__isnull=False, customer__isnull=True)
                    | Q(product__isnull=True, account__isnull=True, customer__isnull=False)
                ),
                name="plans_assignment_one_target",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="plans_assignment_period_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "valid_from"]),
            models.Index(fields=["customer", "valid_from"]),
            models.Index(fields=["product", "valid_from"]),
        ]

    def __str__(self) -> str:
        target = (
            f"product {self.product_id}"
            if self.product_id
            else f"account {self.account_id}"
            if self.account_id
            else f"customer {self.customer_id}"
        )
        return f"{self.plan_id} → {target}"


# --- counters and what each session took (the rating side of issue 13: plans.applying) -------


class PlanCounter(models.Model):
    """One rule's counter for one holder (an account, or the customer for a plan assigned to
    the customer) in one period of the rule's reset (a quota: its renewal period).

    ``used`` counts charged units, or the undiscounted money spent (§7.4, §2.2). A quota's
    ``volume`` is this period's free volume (prorated for a partial first period; null:
    unlimited) and ``expires_at`` the end of the period ``rollovers`` periods later: the
    unused rest of an earlier period is its row still valid (used earliest-expiring first).
    ``scale`` is the proration factor of a discount's thresholds (1 for a whole period).
    """

    rule = models.ForeignKey(PlanRule, on_delete=models.CASCADE, related_name="counters")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="plan_counters"
    )
    account = models.ForeignKey(
        "subscribers.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="plan_counters",
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(null=True, blank=True)  # null: one time, never reset
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never
    volume = DecimalUnitsField(null=True, blank=True)
    used = DecimalUnitsField(default=0)
    scale = DecimalUnitsField(default=1)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["rule", "period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "account", "period_start"],
                condition=Q(account__isnull=False),
                name="plans_counter_account_period",
            ),
            models.UniqueConstraint(
                fields=["rule", "customer", "period_start"],
                condition=Q(account__isnull=True),
                name="plans_counter_customer_period",
            ),
            models.CheckConstraint(condition=Q(used__gte=0), name="plans_counter_used_positive"),
        ]
        indexes = [models.Index(fields=["customer", "rule", "period_start"])]

    def __str__(self) -> str:
        return f"rule {self.rule_id}: {self.used} / {self.volume}"

    @property
    def left(self) -> object:
        """A quota's volume still free in this row (None: unlimited)."""
        return None if self.volume is None else max(self.volume - self.used, 0)


class PartKind(models.TextChoices):
    QUOTA = "quota", "Quota"
    WALLET = "wallet", "Service wallet"
    MAIN = "main", "Main balance"
    COUNT = "count", "Discount counter"  # what a discount's counter advanced (no money)


class XdrPart(models.Model):
    """What one part of a rated session took (§2.2 "split xDRs"): a quota's units, a
    wallet's money, or the main balance's discounted price. A session crossing a boundary of
    a rule that splits has one row per part, each with its own rounded ``amount`` (the split
    layout); otherwise its rows say what each took and the xDR's amount is their exact sum
    rounded once (§7.3). ``money`` is the part's undiscounted price."""

    xdr = models.ForeignKey("charging.Xdr", on_delete=models.CASCADE, related_name="plan_parts")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=6, choices=PartKind.choices)
    split = models.BooleanField(default=False)
    rule = models.ForeignKey(
        PlanRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    counter = models.ForeignKey(
        PlanCounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    wallet = models.ForeignKey(
        "ledger.Wallet", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    units = DecimalUnitsField(default=0)
    money = DecimalUnitsField(default=0)
    percent = DecimalUnitsField(default=0)
    amount = DecimalUnitsField(default=0)

    class Meta:
        ordering = ["xdr", "position"]
        indexes = [models.Index(fields=["xdr", "position"])]

    def __str__(self) -> str:
        return f"xdr {self.xdr_id} part {self.position}: {self.kind} {self.amount}"

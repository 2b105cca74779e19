"""Measured services (CC-22 Measured Service tab, CU-13 Measured Services tab;
rating-and-tabs.md §3.4).

* ``MeasuredService``: how one metric is charged, either a class's default (``customer_class``)
  or one customer's override (``customer``); each metric at most once per class and per
  customer. A customer without an override inherits its class's definition.
* ``MeasuredSample``: one reading of a metric for a customer, at its slot (every 5 minutes for
  active calls, each UTC day for the others). A missed slot has no row: never invented.
* ``MeasuredCharge``: what a closed period charged for a metric (its "xDR"): the samples'
  statistic, the free items, the charged quantity and amount, the rate code and service, and
  the ledger row that carried it onto the invoice.
"""

from __future__ import annotations

from django.db import models

from billcore.db import DecimalUnitsField, MoneyField


class Metric(models.TextChoices):
    ACTIVE_CALLS = "active_calls", "Active calls"
    CONCURRENT_CALLS = "concurrent_calls", "Concurrent calls"
    PBX_EXTENSIONS = "pbx_extensions", "PBX extensions"


class ChargeBasis(models.TextChoices):
    AVERAGE = "average", "Average"
    MAXIMUM = "maximum", "Maximum"
    MINIMUM = "minimum", "Minimum"


class MeasuredService(models.Model):
    customer_class = models.ForeignKey(
        "classes.CustomerClass",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="measured_services",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="measured_services",
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    # False: statistics only (sampled and shown, never charged).
    apply_charge = models.BooleanField(default=True)
    charge_basis = models.CharField(
        max_length=8, choices=ChargeBasis.choices, default=ChargeBasis.MAXIMUM
    )
    price = MoneyField(default=0)  # per item, in the customer's currency
    free_items = DecimalUnitsField(default=0)
    rate_code = models.CharField(max_length=32, blank=True, default="")
    service = models.CharField(max_length=32, blank=True, default="")  # billing service code
    # Concurrent calls: the configured simultaneous-call limit that is sampled daily (until
    # service features carry it).
    configured_limit = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["metric"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(customer_class__isnull=False, customer__isnull=True)
                    | models.Q(customer_class__isnull=True, customer__isnull=False)
                ),
                name="measured_service_class_xor_customer",
            ),
            models.UniqueConstraint(
                fields=["customer_class", "metric"],
                condition=models.Q(customer_class__isnull=False),
                name="measured_service_class_metric_unique",
            ),
            models.UniqueConstraint(
                fields=["customer", "metric"],
                condition=models.Q(customer__isnull=False),
                name="measured_service_customer_metric_unique",
            ),
        ]

    def __str__(self) -> str:
        return Metric(self.metric).label


class MeasuredSample(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="measured_samples"
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    taken_at = models.DateTimeField()  # the slot's start
    value = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["taken_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "metric", "taken_at"], name="measured_sample_slot_unique"
            )
        ]


class MeasuredCharge(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="measured_charges"
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    charge_basis = models.CharField(max_length=8, choices=ChargeBasis.choices)
    samples = models.PositiveIntegerField()
    statistic = DecimalUnitsField()
    free_items = DecimalUnitsField()
    quantity = DecimalUnitsField()
    price = MoneyField()
    amount = MoneyField()
    rate_code = models.CharField(max_length=32, blank=True, default="")
    service = models.CharField(max_length=32, blank=True, default="")
    transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, related_name="measured_charge"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["period_start", "metric"]

"""Customer classes: the template a whole category of customers shares (CC-01 … CC-22)."""

from __future__ import annotations

from django.db import models

from billcore.db import DecimalUnitsField, MoneyField, NameKeyed


class TaxationMethod(models.TextChoices):
    """CC-10."""

    NONE = "none", "No taxation"
    EZTAX = "eztax", "EZTax (US, Canada)"
    SURETAX = "suretax", "SureTax (US, Canada)"
    FIXED_VAT = "fixed_vat", "Fixed VAT rate"
    CUSTOM = "custom", "Custom taxation"
    GST_MY = "gst_my", "GST (Malaysia)"


class SendStatistics(models.TextChoices):
    """CC-11."""

    FULL = "full", "Full statistics (CSV of all xDRs)"
    SUMMARY = "summary", "Summary only"
    NONE = "none", "Do not send"


class RoundingMode(models.TextChoices):
    """CC-17."""

    CURRENCY_DEFAULT = "currency_default", "Currency default"
    CUSTOM = "custom", "Custom"


class PeriodCloseMode(models.TextChoices):
    """CC-18."""

    AUTOMATIC = "automatic", "Automatically"
    APPROVAL = "approval", "Upon administrator's approval"


class FraudAction(models.TextChoices):
    NOTIFY = "notify", "Notify only"
    BLOCK = "block", "Block new charges until the next day"


class Notification(models.TextChoices):
    """The notifications a class may send (class tab Notifications)."""

    INVOICE_ISSUED = "invoice_issued", "Invoice issued"
    PAYMENT_DUE_SOON = "payment_due_soon", "Payment due soon"
    INVOICE_OVERDUE = "invoice_overdue", "Invoice is overdue"
    LATE_FEE_WARNING = "late_fee_warning", "Late-payment fee warning"
    SUSPENSION_WARNING = "suspension_warning", "Suspension warning"
    TERMINATION_WARNING = "termination_warning", "Termination warning"
    SUSPENDED = "suspended", "Service suspended"
    SERVICE_RESTORED = "service_restored", "Service restored"
    PROVISIONALLY_TERMINATED = "provisionally_terminated", "Provisionally terminated"
    PERMANENTLY_TERMINATED = "permanently_terminated", "Permanently terminated"
    LOW_FUNDS = "low_funds", "Low available funds / credit limit near"
    CARD_EXPIRING = "card_expiring", "Saved card expiring"


class InvoiceTemplate(models.TextChoices):
    STANDARD = "standard", "Standard"
    DETAILED = "detailed", "Detailed (with xDR summary)"
    COMPACT = "compact", "Compact"


class CustomerClass(NameKeyed):
    # --- top of the page (CC-04 … CC-09) ---
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False, editable=False)
    business_model = models.ForeignKey(
        "installation.BusinessModel", null=True, blank=True, on_delete=models.PROTECT
    )
    currency = models.ForeignKey(
        "installation.Currency", null=True, blank=True, on_delete=models.PROTECT
    )
    managed_by = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="managed_classes",
        # Only a reseller manages classes (customers.models.CustomerType.RESELLER; customers
        # sit above classes, so the value is written here rather than imported).
        limit_choices_to={"customer_type": "reseller"},
        help_text="Empty: Administrator only. Otherwise the reseller that owns the class.",
    )
    description = models.CharField(max_length=500, blank=True, default="")
    notification_from_override = models.BooleanField(default=False)
    notification_from_name = models.CharField(max_length=200, blank=True, default="")
    notification_from_address = models.EmailField(blank=True, default="")

    # --- General Info: taxation (CC-10) ---
    taxation_method = models.CharField(
        max_length=12, choices=TaxationMethod.choices, default=TaxationMethod.NONE
    )
    # --- General Info: statistics (CC-11) ---
    generate_statistics = models.BooleanField(default=True)
    send_statistics = models.CharField(
        max_length=8, choices=SendStatistics.choices, default=SendStatistics.NONE
    )
    # --- General Info: external billing (CC-12), only with AllowExternalBilling ---
    postpaid_billed_externally = models.BooleanField(default=False)
    reset_balance_every_period = models.BooleanField(default=False)
    hide_balance_reset_xdr = models.BooleanField(default=False)
    # --- General Info: invoices (CC-13 … CC-17) ---
    generate_regular_invoices = models.BooleanField(default=True)
    separate_recurring_fee_invoice = models.BooleanField(default=False)
    allow_out_of_turn_invoices = models.BooleanField(default=False)
    generate_financial_documentation = models.BooleanField(default=False)
    invoice_rounding = models.CharField(
        max_length=16, choices=RoundingMode.choices, default=RoundingMode.CURRENCY_DEFAULT
    )
    invoice_rounding_pattern = models.CharField(max_length=11, blank=True, default="")
    # --- General Info: other (CC-18 … CC-21) ---
    period_close = models.CharField(
        max_length=10, choices=PeriodCloseMode.choices, default=PeriodCloseMode.AUTOMATIC
    )
    approval_max_days = models.PositiveSmallIntegerField(null=True, blank=True)
    suspend_on_insufficient_funds = models.BooleanField(default=False)
    termination_delay_days = models.PositiveSmallIntegerField(default=30)
    s2s_transfers_allowed = models.BooleanField(default=False)

    # --- Fraud protection (CC-06: only for a class with a currency) ---
    fraud_daily_limit = MoneyField(null=True, blank=True)
    fraud_action = models.CharField(
        max_length=8, choices=FraudAction.choices, default=FraudAction.NOTIFY
    )

    # --- Regular Invoices tab ---
    grace_period_days = models.PositiveSmallIntegerField(default=10)
    invoice_template = models.CharField(
        max_length=20, choices=InvoiceTemplate.choices, default=InvoiceTemplate.STANDARD
    )
    send_invoices_by_email = models.BooleanField(default=True)
    auto_charge_invoices = models.BooleanField(default=False)
    # --- Out-of-Turn Invoices tab ---
    out_of_turn_grace_period_days = models.PositiveSmallIntegerField(default=10)
    out_of_turn_invoice_template = models.CharField(
        max_length=20, choices=InvoiceTemplate.choices, default=InvoiceTemplate.STANDARD
    )
    # --- Collections (Regular / Out-of-Turn Invoices tabs; issue 5) ---
    # Each step is off when its "after days" is empty; N days after the due date, announced
    # by an advance notice M days before it (never taken before the notice had M days).
    reminder_days_before_due = models.PositiveSmallIntegerField(null=True, blank=True)
    late_fee_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    late_fee_amount = MoneyField(null=True, blank=True)
    late_fee_notice_days = models.PositiveSmallIntegerField(default=0)
    suspend_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    suspend_notice_days = models.PositiveSmallIntegerField(default=0)
    terminate_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    terminate_notice_days = models.PositiveSmallIntegerField(default=0)
    oot_reminder_days_before_due = models.PositiveSmallIntegerField(null=True, blank=True)
    oot_late_fee_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    oot_late_fee_amount = MoneyField(null=True, blank=True)
    oot_late_fee_notice_days = models.PositiveSmallIntegerField(default=0)
    oot_suspend_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    oot_suspend_notice_days = models.PositiveSmallIntegerField(default=0)
    oot_terminate_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    oot_terminate_notice_days = models.PositiveSmallIntegerField(default=0)
    # Charged when service comes back after a suspension for an overdue invoice.
    reactivation_fee = MoneyField(null=True, blank=True)
    # --- Notifications tab ---
    notifications = models.JSONField(default=list, blank=True)
    # "Low available funds / credit limit near": sent when available funds (prepaid) or the
    # room left under the credit limit (postpaid) falls below this amount.
    low_funds_threshold = MoneyField(null=True, blank=True)
    # --- Custom Fields tab ---
    mandatory_custom_fields = models.ManyToManyField(
        "installation.CustomField", blank=True, related_name="mandatory_in_classes"
    )
    # --- Taxation tab ---
    vat_rate = DecimalUnitsField(null=True, blank=True)
    vat_inclusive = models.BooleanField(default=False)
    taxes = models.JSONField(default=list, blank=True)  # [{"name": str, "rate": "6.25000"}]
    tax_prepaid_at_payment = models.BooleanField(default=False)
    # --- Measured Service tab: the class's defaults live in ``measured.MeasuredService`` ---

    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "customer classes"
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="customer_class_name_key_unique"),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="customer_class_single_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name

"""Installation-wide settings and catalogues: legal info, options, currencies in use,
business models (CC-05) and custom-field definitions (CU-11, CC-22)."""

from __future__ import annotations

from django.db import models

from billcore.db import NameKeyed

#: The default longest session authorised (3 hours) and the range an administrator may set.
DEFAULT_MAX_SESSION_SECONDS = 10_800
MAX_SESSION_SECONDS_RANGE = (1, 86_400)


class InstallationSettings(models.Model):
    """One row (pk=1): what PortaBilling keeps on its Configuration server and Legal info panel."""

    legal_name = models.CharField(max_length=200, default="", blank=True)
    notification_from_name = models.CharField(max_length=200, default="", blank=True)
    notification_from_address = models.EmailField(default="", blank=True)
    # The seller on invoices and credit notes (issue 17 §6): address, tax number, and how to pay.
    seller_address_line1 = models.CharField(max_length=200, default="", blank=True)
    seller_address_line2 = models.CharField(max_length=200, default="", blank=True)
    seller_city = models.CharField(max_length=100, default="", blank=True)
    seller_postal_code = models.CharField(max_length=20, default="", blank=True)
    seller_country = models.CharField(max_length=2, default="", blank=True)  # ISO 3166-1
    seller_tax_number = models.CharField(max_length=50, default="", blank=True)
    payment_instructions = models.TextField(default="", blank=True)
    allow_external_billing = models.BooleanField(default=False)
    show_financial_documents_page = models.BooleanField(default=False)
    # Tax engines (CC-10): EZTax and SureTax are selectable only with an endpoint.
    eztax_endpoint = models.URLField(default="", blank=True)
    suretax_endpoint = models.URLField(default="", blank=True)
    # Fixed VAT tax amounts round up by default; half-up is the installation option.
    tax_rounding_half_up = models.BooleanField(default=False)
    # Test mode: the engine's clock can be moved through the API (tests and demos only).
    test_mode = models.BooleanField(default=False)
    # The longest session /authorize grants (issue 12 §2): the cap of the maximum duration,
    # and the answer for a postpaid customer without a credit limit or a zero-priced call.
    max_session_seconds = models.PositiveIntegerField(default=DEFAULT_MAX_SESSION_SECONDS)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "installation settings"
        verbose_name_plural = "installation settings"

    def __str__(self) -> str:
        return "Installation settings"

    def missing_seller_details(self) -> list[str]:
        """What an invoice e-mail needs and the settings lack, in words (issue 17 §6): the
        seller's legal name and the installation's "From" address."""
        missing = []
        if not self.legal_name.strip():
            missing.append("legal name")
        if not self.notification_from_address:
            missing.append("From address")
        return missing


class Currency(models.Model):
    """A currency in use on this installation (ISO 4217 code and its decimal places)."""

    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=100)
    decimals = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self) -> str:
        return self.code


class BusinessModel(NameKeyed):
    """An entry of the business-model catalogue (CC-05): Cloud PBX, Internet access, ..."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="business_model_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    """A custom field that customer classes may make mandatory (CC-22, CU-11)."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        LIST = "list", "List of values"

    name = models.SlugField(max_length=60, unique=True)
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.label

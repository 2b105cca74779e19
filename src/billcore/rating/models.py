"""The rating catalogue (issue 12 §1): services, destinations and their groups, off-peak
periods, tariffs and their rates, products with their rating table, the products of an
account, and a customer's override tariffs. Thin tables and constraints; the rules are in
``rating.services``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billcore.db import DecimalUnitsField, MoneyField, NameKeyed


class RatingBase(models.TextChoices):
    """What a service measures."""

    TIME = "time", "Session time"
    DATA = "data", "Data transferred"
    MESSAGES = "messages", "Number of messages"
    OTHER = "other", "Other (units)"


class BaseUnit(models.TextChoices):
    """The unit usage is converted to (and rounded up to whole units of) before rating.
    Data units are decimal unless they say otherwise: 1 MB = 10⁶ bytes (``BYTES_PER_UNIT``)."""

    SECOND = "second", "Second"
    BYTE = "byte", "Byte"
    KB = "kb", "Kilobyte (10³ bytes)"
    MB = "mb", "Megabyte (10⁶ bytes)"
    GB = "gb", "Gigabyte (10⁹ bytes)"
    KIB = "kib", "Kibibyte (2¹⁰ bytes)"
    MIB = "mib", "Mebibyte (2²⁰ bytes)"
    GIB = "gib", "Gibibyte (2³⁰ bytes)"
    MESSAGE = "message", "Message"
    UNIT = "unit", "Unit"


BYTES_PER_UNIT: dict[str, int] = {
    BaseUnit.BYTE: 1,
    BaseUnit.KB: 10**3,
    BaseUnit.MB: 10**6,
    BaseUnit.GB: 10**9,
    BaseUnit.KIB: 2**10,
    BaseUnit.MIB: 2**20,
    BaseUnit.GIB: 2**30,
}

# The base units each rating base allows; the first is the default.
UNITS_OF_BASE: dict[str, tuple[str, ...]] = {
    RatingBase.TIME: (BaseUnit.SECOND,),
    RatingBase.DATA: (
        BaseUnit.MB,
        BaseUnit.BYTE,
        BaseUnit.KB,
        BaseUnit.GB,
        BaseUnit.KIB,
        BaseUnit.MIB,
        BaseUnit.GIB,
    ),
    RatingBase.MESSAGES: (BaseUnit.MESSAGE,),
    RatingBase.OTHER: (BaseUnit.UNIT,),
}


class Service(NameKeyed):
    """A business service with its rating base and unit. The four standard ones (``voice``,
    ``data``, ``messaging``, ``other``: the codes usage carries today) are seeded by a
    migration and read-only; operators add their own."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    rating_base = models.CharField(max_length=8, choices=RatingBase.choices)
    base_unit = models.CharField(max_length=8, choices=BaseUnit.choices)
    standard = models.BooleanField(default=False)  # seeded, read-only
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="rating_service_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.code


class Destination(models.Model):
    """A number prefix (digits) or ``|``, the catch-all that matches any number."""

    prefix = models.CharField(max_length=32, unique=True)
    country = models.CharField(max_length=2, blank=True, default="")  # ISO 3166-1 alpha-2
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["prefix"]

    def __str__(self) -> str:
        return self.prefix


class DestinationGroup(NameKeyed):
    """A named set of destinations (e.g. "CZ-Mobile" = 420601, 420602, …)."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    destinations = models.ManyToManyField(Destination, related_name="groups", blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name_key"], name="rating_destination_group_name_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OffpeakPeriod(NameKeyed):
    """An off-peak period: a ``Time::Period``-style expression over time of day, weekday, day
    of month and month (``core.offpeak`` parses it), evaluated in the customer's billing time
    zone at the session's start. Stored as text here."""

    name = models.CharField(max_length=100)
    expression = models.TextField()
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="rating_offpeak_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Tariff(NameKeyed):
    """A price list: the rates of one service in one currency, the administrator's
    (``managed_by`` empty) or one reseller's."""

    name = models.CharField(max_length=100)
    currency = models.ForeignKey("installation.Currency", on_delete=models.PROTECT)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="tariffs")
    managed_by = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tariffs",
    )
    connection_fee = MoneyField(default=0)
    free_seconds = models.PositiveIntegerField(default=0)
    grace_period = models.PositiveIntegerField(default=0)  # seconds
    post_call_surcharge = DecimalUnitsField(default=0)  # percent of the call's cost
    offpeak_period = models.ForeignKey(
        OffpeakPeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Selects the second off-peak price set of the rates (the first wins where both hold).
    second_offpeak_period = models.ForeignKey(
        OffpeakPeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="rating_tariff_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Rate(models.Model):
    """One version of one destination's prices in a tariff, in force from ``effective_from``
    until the next version of the same prefix. Three price sets on the row: peak (always),
    off-peak 1 and off-peak 2 (all four values, or none; intervals in seconds for time, in
    base units otherwise; prices per minute for time, per base unit otherwise)."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="rates")
    prefix = models.CharField(max_length=32)
    effective_from = models.DateTimeField()
    interval_first = models.PositiveIntegerField()
    interval_next = models.PositiveIntegerField()
    price_first = DecimalUnitsField()
    price_next = DecimalUnitsField()
    offpeak_interval_first = models.PositiveIntegerField(null=True, blank=True)
    offpeak_interval_next = models.PositiveIntegerField(null=True, blank=True)
    offpeak_price_first = DecimalUnitsField(null=True, blank=True)
    offpeak_price_next = DecimalUnitsField(null=True, blank=True)
    offpeak2_interval_first = models.PositiveIntegerField(null=True, blank=True)
    offpeak2_interval_next = models.PositiveIntegerField(null=True, blank=True)
    offpeak2_price_first = DecimalUnitsField(null=True, blank=True)
    offpeak2_price_next = DecimalUnitsField(null=True, blank=True)
    forbidden = models.BooleanField(default=False)
    discontinued = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)

    class Meta:
        ordering = ["prefix", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["tariff", "prefix", "effective_from"], name="rating_rate_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(interval_first__gte=1) & Q(interval_next__gte=1),
                name="rating_rate_intervals_positive",
            ),
            models.CheckConstraint(
                condition=Q(price_first__gte=0) & Q(price_next__gte=0),
                name="rating_rate_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} from {self.effective_from:%Y-%m-%d %H:%M}"


class ProductKind(models.TextChoices):
    MAIN = "main", "Main product"
    ADDON = "addon", "Add-on product"


class Product(NameKeyed):
    """What an account subscribes to: a rating table (service and access code → tariff)."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=5, choices=ProductKind.choices, default=ProductKind.MAIN)
    precedence = models.PositiveSmallIntegerField(default=0)  # add-ons: higher wins
    currency = models.ForeignKey("installation.Currency", on_delete=models.PROTECT)
    managed_by = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
    )
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_key"], name="rating_product_name_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class AccessCode(models.TextChoices):
    OUTGOING_DEFAULT = "", "(empty: outgoing)"
    OUTGOING = "OUTGOING", "OUTGOING"
    INCOMING = "INCOMING", "INCOMING"
    FOLLOWME = "FOLLOWME", "FOLLOWME"
    TRANSFER = "TRANSFER", "TRANSFER"


class RatingEntry(models.Model):
    """A row of a product's rating table. ``reseller_tariff`` (optional): the administrator's
    wholesale tariff the same usage is rated on for the customer's reseller."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="entries")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    access_code = models.CharField(max_length=8, choices=AccessCode.choices, blank=True, default="")
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="entries")
    reseller_tariff = models.ForeignKey(
        Tariff, null=True, blank=True, on_delete=models.PROTECT, related_name="reseller_entries"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["product", "service", "access_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "service", "access_code"], name="rating_entry_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.service_id}/{self.access_code or '-'}"


class AccountProduct(models.Model):
    """A product given to an account: its one main product (``is_main``) or an add-on."""

    account = models.ForeignKey(
        "subscribers.Account", on_delete=models.CASCADE, related_name="products"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="assignments")
    is_main = models.BooleanField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "-is_main", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "product"], name="rating_account_product"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_main=True), name="rating_one_main_product"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.product_id}"


class OverrideTariff(models.Model):
    """A customer's negotiated prices (CU-13 Override Tariffs): rating looks a number up in
    both tariffs; the longer matching prefix wins, the override a tie."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="override_tariffs"
    )
    master_tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="+")
    override_tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["customer", "master_tariff"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "master_tariff"], name="rating_override_once_per_master"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.master_tariff_id} → {self.override_tariff_id}"

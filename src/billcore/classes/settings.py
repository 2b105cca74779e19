"""A customer class's settings, declared once (CC-03 … CC-22).

Each setting says its name, its type and bounds, its label and help, where the class page
shows it (tab and section), and the rule it depends on ("available only when …"). Everything
else is derived from this list:

* ``classes.services``: how a value is parsed (``SIMPLE_FIELDS``) and the dependency rules
  (a setting whose rule does not hold is reset to its off value; giving it another value is
  an error naming the rule);
* ``billcore.api.classes``: the request and reply schemas (and ``billcore.api.base``'s money
  fields);
* ``billcore.web.forms``: the class page's inputs, labels, tabs, sections and show-if
  conditions (``billcore.js`` hides and disables an input while its condition is false);
* ``billcore.porta.mapping``: the settings of ``customer_class_info``.

The order of ``SETTINGS`` is the order the service parses in and porta's
``customer_class_info`` lists them; the page groups them by tab (``TABS``) and section, in
the order of their first setting (``page_order`` moves one within its section).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models

from billcore.classes.models import (
    FraudAction,
    InvoiceTemplate,
    Notification,
    PeriodCloseMode,
    RoundingMode,
    SendStatistics,
    TaxationMethod,
)
from billcore.errors import ValidationFailed
from billcore.validation import (
    as_bool,
    as_choice,
    as_email,
    as_int,
    as_money,
    as_str,
    as_time_zone,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Kind(enum.Enum):
    TEXT = "text"  # a string (``max_length``; ``single_line``)
    EMAIL = "email"  # an e-mail address or empty
    BOOL = "bool"
    CHOICE = "choice"  # one of ``choices``
    CHOICES = "choices"  # a list of ``choices``, kept in their declared order
    INT = "int"  # a whole number within ``minimum`` … ``maximum``
    MONEY = "money"  # a decimal amount, at least 0 (exact, as a decimal string in the API)
    PERCENT = "percent"  # a decimal rate in percent, 0 … 100
    TAXES = "taxes"  # named taxes: [{"name", "rate"}]
    TIME_ZONE = "time_zone"  # an IANA time zone name
    DATETIME = "datetime"  # an instant (ISO 8601 with a time zone)
    MAPPING = "mapping"  # name -> value (custom field values)
    # Relations, resolved by the service itself (not by a generic parser):
    REF = "ref"  # the id of another row (business model, reseller)
    CODE = "code"  # a currency code
    NAMES = "names"  # names of custom fields


DECIMAL_KINDS = frozenset({Kind.MONEY, Kind.PERCENT})
RELATION_KINDS = frozenset({Kind.REF, Kind.CODE, Kind.NAMES})
SPECIAL_KINDS = RELATION_KINDS | {Kind.DATETIME, Kind.MAPPING}  # no generic parser


@dataclass(frozen=True)
class Rule:
    """A condition that some settings need ("available only when …").

    ``when`` is written as ``billcore.js`` reads a ``data-show-if``: ``name`` (on, or not
    empty) or ``name=a|b`` (one of these values). The service evaluates it on the class being
    saved; an ``installation`` rule reads an installation option instead, and the page does
    not render its settings at all while that option is off. ``why`` ends the message of a
    setting given while its rule does not hold.
    """

    when: str
    why: str
    installation: bool = False

    @property
    def field(self) -> str:
        return self.when.partition("=")[0]

    @property
    def values(self) -> tuple[str, ...]:
        _, eq, values = self.when.partition("=")
        return tuple(values.split("|")) if eq else ()

    def holds(self, obj: models.Model, options: Any) -> bool:
        """Whether the rule holds for ``obj`` (a class) under installation ``options``."""
        if self.installation:
            return bool(getattr(options, self.field))
        value = obj.serializable_value(self.field)  # a relation reads as its key
        if self.values:
            return value in self.values
        return value not in (None, "", False)


STATISTICS = Rule(
    "generate_statistics", "is available only while statistics generation is on (CC-11, CC-13)"
)
EXTERNAL_BILLING = Rule(
    "allow_external_billing",
    "is available only when the installation option AllowExternalBilling is on (CC-12)",
    installation=True,
)
BALANCE_RESET = Rule(
    "reset_balance_every_period",
    "is available only with reset balance every billing period (CC-12)",
)
FINANCIAL_DOCUMENTS = Rule(
    "show_financial_documents_page",
    "is available only when the installation option ShowFinancialDocumentsPage is on (CC-16)",
    installation=True,
)
AUTO_CHARGE = Rule(
    "auto_charge_invoices",
    "requires auto-charging invoices with the saved payment method (CC-14)",
)
CURRENCY = Rule(
    "currency", "(fraud protection) needs a class currency to watch daily spending (CC-06)"
)
FROM_OVERRIDE = Rule(
    "notification_from_override", "is used only with the Override toggle on (CC-08)"
)
FIXED_VAT = Rule(
    "taxation_method=fixed_vat", "applies only to the Fixed VAT rate taxation method (CC-10)"
)
VAT_TAXATION = Rule(
    "taxation_method=fixed_vat|custom", "applies only to Fixed VAT and Custom taxation (CC-10)"
)
CUSTOM_TAXATION = Rule(
    "taxation_method=custom", "applies only to the Custom taxation method (CC-10)"
)
CUSTOM_ROUNDING = Rule("invoice_rounding=custom", "applies only to Custom invoice rounding (CC-17)")
APPROVAL = Rule(
    "period_close=approval",
    "applies only when the period is closed upon administrator's approval (CC-18)",
)

# The order the service checks them in: the first rule that fails names the error.
RULES: tuple[Rule, ...] = (
    STATISTICS,
    EXTERNAL_BILLING,
    BALANCE_RESET,
    FINANCIAL_DOCUMENTS,
    AUTO_CHARGE,
    CURRENCY,
    FROM_OVERRIDE,
    FIXED_VAT,
    VAT_TAXATION,
    CUSTOM_TAXATION,
    CUSTOM_ROUNDING,
    APPROVAL,
)

_UNSET: Any = object()

TOP = ""  # the tab slug of the settings above the tabs


@dataclass(frozen=True)
class Tab:
    slug: str
    title: str


# CC-22's tabs, in the page's order.
TABS: tuple[Tab, ...] = (
    Tab("general", "General Info"),
    Tab("regular-invoices", "Regular Invoices"),
    Tab("out-of-turn-invoices", "Out-of-Turn Invoices"),
    Tab("notifications", "Notifications"),
    Tab("custom-fields", "Custom Fields"),
    Tab("taxation", "Taxation"),
    Tab("measured-service", "Measured Service"),
)


@dataclass(frozen=True)
class Setting:
    """One setting of a customer class (a column of ``CustomerClass`` of the same name)."""

    name: str
    kind: Kind
    label: str
    help: str = ""
    tab: str = TOP
    section: str = ""
    choices: type[models.Choices] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    single_line: bool = True
    optional: bool = False  # may be empty (null)
    requires: tuple[Rule, ...] = ()
    off: Any = _UNSET  # the value while a rule in ``requires`` does not hold
    show_if: Rule | None = None  # on the page only, when it is not the one of ``requires``
    page_attrs: Mapping[str, str] = field(default_factory=dict)  # the page input's attributes
    api_help: str = ""  # the description in the OpenAPI document
    new_only: bool = False  # given only when the row is created (never changed later)
    page_order: int = 0  # within its section the page orders by this, then as declared

    @property
    def simple(self) -> bool:
        """Parsed by the generic parser (relations are resolved by the service)."""
        return self.kind not in SPECIAL_KINDS and self.name != "name"

    @property
    def off_value(self) -> Any:
        if self.off is not _UNSET:
            return self.off
        if self.kind is Kind.BOOL:
            return False
        if self.optional:
            return None
        if self.kind in (Kind.TEXT, Kind.EMAIL):
            return ""
        if self.kind in (Kind.CHOICES, Kind.TAXES):
            return []
        raise TypeError(f"{self.name}: declare its off value")

    @property
    def page_rule(self) -> Rule | None:
        """The condition the page shows it under (``data-show-if``), if any."""
        if self.show_if is not None:
            return self.show_if
        shown = [r for r in self.requires if not r.installation]
        if len(shown) > 1:
            raise TypeError(f"{self.name}: the page shows a setting under one condition")
        return shown[0] if shown else None

    @property
    def installation_options(self) -> tuple[str, ...]:
        """The installation options without which the page does not render it."""
        return tuple(r.field for r in self.requires if r.installation)


def _collections(prefix: str, tab: str) -> list[Setting]:
    """The collection steps of the Regular / Out-of-Turn Invoices tabs (issue 5): each step is
    off while its "after days" is empty; N days after the due date, announced by an advance
    notice M days before it."""
    section = "Collections"

    def days(name: str, label: str, help: str = "", *, maximum: int, optional: bool) -> Setting:
        return Setting(
            f"{prefix}{name}",
            Kind.INT,
            label,
            help,
            tab,
            section,
            minimum=0,
            maximum=maximum,
            optional=optional,
        )

    return [
        days(
            "reminder_days_before_due",
            "Remind (days before the due date)",
            "Empty: no reminder.",
            maximum=365,
            optional=True,
        ),
        days(
            "late_fee_after_days",
            "Late-payment fee (days after the due date)",
            "Empty: none.",
            maximum=3650,
            optional=True,
        ),
        Setting(
            f"{prefix}late_fee_amount",
            Kind.MONEY,
            "Late-payment fee amount",
            tab=tab,
            section=section,
            optional=True,
        ),
        days(
            "late_fee_notice_days",
            "Advance notice of the fee (days)",
            maximum=365,
            optional=False,
        ),
        days(
            "suspend_after_days",
            "Suspend (days after the due date)",
            "Empty: never.",
            maximum=3650,
            optional=True,
        ),
        days(
            "suspend_notice_days",
            "Advance notice of the suspension (days)",
            maximum=365,
            optional=False,
        ),
        days(
            "terminate_after_days",
            "Terminate (days after the due date)",
            "Empty: never.",
            maximum=3650,
            optional=True,
        ),
        days(
            "terminate_notice_days",
            "Advance notice of the termination (days)",
            maximum=365,
            optional=False,
        ),
    ]


_GENERAL = "general"
_REGULAR = "regular-invoices"
_OOT = "out-of-turn-invoices"

SETTINGS: tuple[Setting, ...] = (
    # --- top of the page (CC-04 … CC-09) ---
    Setting(
        "name",
        Kind.TEXT,
        "Name",
        "Unique, regardless of letter case.",
        max_length=100,
        page_attrs={"maxlength": "100"},
    ),
    Setting(
        "managed_by",
        Kind.REF,
        "Managed by",
        "Administrator only: administrators edit and assign it. A reseller: only that "
        "reseller assigns it, to its own customers.",
        optional=True,
        api_help="Reseller id; null = Administrator only",
    ),
    Setting("business_model", Kind.REF, "Business model", optional=True),
    Setting(
        "currency",
        Kind.CODE,
        "Currency",
        "Set at creation only. A class with a currency serves customers of that currency; "
        "without one it serves any currency but has no fraud protection.",
        optional=True,
        api_help="ISO 4217; set at creation only (CC-06)",
    ),
    Setting("description", Kind.TEXT, "Description", max_length=500, single_line=False),
    Setting("notification_from_override", Kind.BOOL, "Override “From” in customer notifications"),
    Setting(
        "notification_from_name",
        Kind.TEXT,
        "“From” name",
        max_length=200,
        requires=(FROM_OVERRIDE,),
    ),
    Setting("notification_from_address", Kind.EMAIL, "“From” address", requires=(FROM_OVERRIDE,)),
    # --- General Info ---
    Setting(
        "taxation_method",
        Kind.CHOICE,
        "Taxation method",
        tab=_GENERAL,
        section="Taxation",
        choices=TaxationMethod,
    ),
    Setting(
        "generate_statistics",
        Kind.BOOL,
        "Generate statistics (archive xDRs)",
        tab=_GENERAL,
        section="Statistics",
    ),
    Setting(
        "send_statistics",
        Kind.CHOICE,
        "Send statistics via e-mail",
        tab=_GENERAL,
        section="Statistics",
        choices=SendStatistics,
        requires=(STATISTICS,),
        off=SendStatistics.NONE,
    ),
    Setting(
        "postpaid_billed_externally",
        Kind.BOOL,
        "Postpaid customers are billed externally",
        "Their period closes automatically; no adjustment lands in the current period.",
        tab=_GENERAL,
        section="External billing",
        requires=(EXTERNAL_BILLING,),
    ),
    Setting(
        "reset_balance_every_period",
        Kind.BOOL,
        "Reset balance every billing period",
        "A manual credit brings the balance to zero at the end of each period.",
        tab=_GENERAL,
        section="External billing",
        requires=(EXTERNAL_BILLING,),
    ),
    Setting(
        "hide_balance_reset_xdr",
        Kind.BOOL,
        "Hide the balance-reset xDR from the end user",
        tab=_GENERAL,
        section="External billing",
        requires=(EXTERNAL_BILLING, BALANCE_RESET),
    ),
    Setting(
        "generate_regular_invoices",
        Kind.BOOL,
        "Generate regular invoices",
        tab=_GENERAL,
        section="Invoices",
        requires=(STATISTICS,),
    ),
    Setting(
        "separate_recurring_fee_invoice",
        Kind.BOOL,
        "Separate invoice for recurring fees",
        "Subscription charges get an invoice of their own, paid by the saved payment method.",
        tab=_GENERAL,
        section="Invoices",
        requires=(AUTO_CHARGE,),
    ),
    Setting(
        "allow_out_of_turn_invoices",
        Kind.BOOL,
        "Allow out-of-turn invoices",
        tab=_GENERAL,
        section="Invoices",
    ),
    Setting(
        "generate_financial_documentation",
        Kind.BOOL,
        "Generate financial documentation",
        tab=_GENERAL,
        section="Invoices",
        requires=(FINANCIAL_DOCUMENTS,),
    ),
    Setting(
        "invoice_rounding",
        Kind.CHOICE,
        "Invoice rounding",
        tab=_GENERAL,
        section="Invoices",
        choices=RoundingMode,
    ),
    Setting(
        "invoice_rounding_pattern",
        Kind.TEXT,
        "Rounding pattern",
        "X keeps a digit, 0 removes it (rounding half up), 5 rounds to 0 or 5, e.g. XXXXX.X5000; "
        "with a class currency, no finer than its minor unit.",
        tab=_GENERAL,
        section="Invoices",
        max_length=11,
        requires=(CUSTOM_ROUNDING,),
        page_attrs={"placeholder": "XXXXX.X5000", "class": "input-short mono", "maxlength": "11"},
    ),
    Setting(
        "period_close",
        Kind.CHOICE,
        "Billing period is closed",
        tab=_GENERAL,
        section="Billing period",
        choices=PeriodCloseMode,
    ),
    Setting(
        "approval_max_days",
        Kind.INT,
        "No later than (days after the period ends)",
        tab=_GENERAL,
        section="Billing period",
        minimum=1,
        maximum=365,
        optional=True,
        requires=(APPROVAL,),
    ),
    Setting(
        "suspend_on_insufficient_funds",
        Kind.BOOL,
        "Suspend on insufficient funds for subscriptions",
        "On: no subscription charges while suspended; service resumes when funds arrive.",
        tab=_GENERAL,
        section="Subscriptions and life cycle",
    ),
    Setting(
        "termination_delay_days",
        Kind.INT,
        "Permanently terminate after (days)",
        "Days after provisional termination.",
        tab=_GENERAL,
        section="Subscriptions and life cycle",
        minimum=1,
        maximum=3650,
    ),
    Setting(
        "s2s_transfers_allowed",
        Kind.BOOL,
        "Subscriber-to-subscriber transfers allowed",
        tab=_GENERAL,
        section="Subscriptions and life cycle",
    ),
    Setting(
        "fraud_daily_limit",
        Kind.MONEY,
        "Daily spending limit",
        "Empty: no limit.",
        tab=_GENERAL,
        section="Fraud protection",
        optional=True,
        requires=(CURRENCY,),
    ),
    Setting(
        "fraud_action",
        Kind.CHOICE,
        "When the limit is reached",
        tab=_GENERAL,
        section="Fraud protection",
        choices=FraudAction,
        show_if=CURRENCY,  # shown with a currency only; kept as it is without one
    ),
    # --- Regular Invoices ---
    Setting(
        "grace_period_days",
        Kind.INT,
        "Payment expected within (days)",
        tab=_REGULAR,
        minimum=0,
        maximum=365,
    ),
    Setting(
        "invoice_template",
        Kind.CHOICE,
        "Invoice template",
        tab=_REGULAR,
        choices=InvoiceTemplate,
    ),
    Setting("send_invoices_by_email", Kind.BOOL, "Send invoices by e-mail", tab=_REGULAR),
    Setting(
        "auto_charge_invoices",
        Kind.BOOL,
        "Charge invoices automatically to the saved payment method",
        tab=_REGULAR,
    ),
    # --- Out-of-Turn Invoices ---
    Setting(
        "out_of_turn_grace_period_days",
        Kind.INT,
        "Payment expected within (days)",
        tab=_OOT,
        minimum=0,
        maximum=365,
    ),
    Setting(
        "out_of_turn_invoice_template",
        Kind.CHOICE,
        "Invoice template",
        tab=_OOT,
        choices=InvoiceTemplate,
    ),
    # --- Notifications ---
    Setting(
        "notifications",
        Kind.CHOICES,
        "Notifications sent to customers of this class",
        tab="notifications",
        choices=Notification,
    ),
    Setting(
        "low_funds_threshold",
        Kind.MONEY,
        "Low funds / credit limit near below",
        "The amount of available funds (or room under the credit limit) that triggers the "
        "notification.",
        tab="notifications",
        optional=True,
        api_help="The low-funds notification below this amount",
    ),
    # --- Collections (Regular / Out-of-Turn Invoices tabs) ---
    Setting(
        "reactivation_fee",
        Kind.MONEY,
        "Reactivation fee",
        "Charged when service comes back after a suspension for an overdue invoice.",
        tab=_REGULAR,
        section="Collections",
        optional=True,
        page_order=1,  # on the page, after the collection steps of its section
        api_help="Charged when an overdue-invoice suspension lifts",
    ),
    *_collections("", _REGULAR),
    *_collections("oot_", _OOT),
    # --- Taxation ---
    Setting(
        "vat_rate",
        Kind.PERCENT,
        "VAT rate (%)",
        tab="taxation",
        optional=True,
        requires=(FIXED_VAT,),
    ),
    Setting(
        "vat_inclusive",
        Kind.BOOL,
        "Prices include VAT",
        tab="taxation",
        requires=(VAT_TAXATION,),
        # The page offers it with Fixed VAT only, although Custom taxation keeps it too.
        show_if=FIXED_VAT,
    ),
    Setting(
        "taxes",
        Kind.TAXES,
        "Named taxes",
        "Each tax with its own rate in percent.",
        tab="taxation",
        requires=(CUSTOM_TAXATION,),
    ),
    Setting(
        "tax_prepaid_at_payment",
        Kind.BOOL,
        "Tax prepaid customers at the time of payment",
        tab="taxation",
    ),
    # --- Custom Fields (a relation, last) ---
    Setting(
        "mandatory_custom_fields",
        Kind.NAMES,
        "Custom fields mandatory for customers of this class",
        tab="custom-fields",
    ),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

# The settings each rule governs, in the order of SETTINGS.
DEPENDENTS: dict[Rule, tuple[Setting, ...]] = {
    rule: tuple(s for s in SETTINGS if rule in s.requires) for rule in RULES
}

# Decimal settings (sent and returned as decimal strings by the API).
DECIMAL_SETTINGS: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.kind in DECIMAL_KINDS)


# --------------------------------------------------------------------------- parsing


def _percent(field: str, value: Any) -> Decimal | None:
    rate = as_money(field, value, minimum=ZERO)
    if rate is not None and rate > HUNDRED:
        raise ValidationFailed(f"{field} must be a percentage between 0 and 100", field=field)
    return rate


def _taxes(field: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        raise ValidationFailed(f"{field} must be a list of {{name, rate}}", field=field)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ValidationFailed(f"{field}[{i}] must have a name and a rate", field=field)
        name = as_str(f"{field}[{i}].name", item.get("name"), max_length=60, required=True)
        rate = _percent(f"{field}[{i}].rate", item.get("rate"))
        if rate is None:
            raise ValidationFailed(f"{field}[{i}].rate is required", field=field)
        if name.lower() in seen:
            raise ValidationFailed(f"{field}: tax {name!r} is listed twice", field=field)
        seen.add(name.lower())
        out.append({"name": name, "rate": str(rate)})
    return out


def _choice_list(setting: Setting) -> Callable[[str, Any], list[str]]:
    assert setting.choices is not None
    values = list(setting.choices.values)
    noun = setting.choices.__name__.lower()  # Notification: "a list of notification names"

    def parse(field: str, value: Any) -> list[str]:
        if not isinstance(value, list | tuple):
            raise ValidationFailed(
                f"{field} must be a list of {noun} names",
                field=field,
            )
        out: list[str] = []
        for item in value:
            name = as_choice(field, item, values)
            if name not in out:
                out.append(name)
        return sorted(out, key=values.index)

    return parse


def parser(setting: Setting) -> Callable[[str, Any], Any]:
    """How the service turns a given value (raw text or typed) into the setting's value; every
    error names the field."""
    kind = setting.kind
    if kind is Kind.TEXT:
        length, single = setting.max_length, setting.single_line
        assert length is not None, setting.name
        return lambda f, v: as_str(f, v, max_length=length, single_line=single)
    if kind is Kind.EMAIL:
        return as_email
    if kind is Kind.BOOL:
        return as_bool
    if kind is Kind.CHOICE:
        assert setting.choices is not None
        values = list(setting.choices.values)
        if setting.optional:  # empty: none (e.g. "as the customer class says")
            return lambda f, v: None if v in (None, "") else as_choice(f, v, values)
        return lambda f, v: as_choice(f, v, values)
    if kind is Kind.CHOICES:
        return _choice_list(setting)
    if kind is Kind.INT:
        low, high = setting.minimum, setting.maximum
        if setting.optional:
            return lambda f, v: (
                None if v in (None, "") else as_int(f, v, minimum=low, maximum=high)
            )
        return lambda f, v: as_int(f, v, minimum=low, maximum=high)
    if kind is Kind.MONEY:
        return lambda f, v: as_money(f, v, minimum=ZERO)
    if kind is Kind.PERCENT:
        return _percent
    if kind is Kind.TAXES:
        return _taxes
    if kind is Kind.TIME_ZONE:
        return as_time_zone
    raise TypeError(f"{setting.name}: resolved by the service itself")

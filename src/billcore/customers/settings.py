"""A customer's settings, declared once (CU-01 … CU-13), in the vocabulary of the class
settings (``billcore.classes.settings``): name, kind and bounds, label and help, the section
of the customer page, and the API's description.

Derived from it: the fields ``customers.services`` accepts and how it parses the plain ones,
the API's request schemas and the settings part of its reply (``billcore.api.customers``),
and the labels of the customer form (``billcore.web.forms``). The rules that join several
settings (the credit limit only for postpaid, the temporary limit with its date, the class
of the customer's currency and owner, mandatory custom fields) stay in the service.
"""

from __future__ import annotations

from billcore.classes.models import FraudAction, InvoiceTemplate, SendStatistics
from billcore.classes.settings import Kind, Rule, Setting
from billcore.customers.models import BalanceControl, BillingPeriod, CustomerType

TOP = "top"  # the customer page's sections
ADDRESS = "address"
ADDITIONAL = "additional"
SHORT = {"class": "input-short"}
# Shown on the page under these conditions; the service applies them (CU-07, CU-08).
POSTPAID = Rule("balance_control=postpaid", "applies only to postpaid customers (CU-07)")
PREPAID = Rule("balance_control=prepaid", "applies only to prepaid customers (CU-08)")
DECIMAL_INPUT = {"inputmode": "decimal", "class": "input-short"}


def _address(name: str, label: str, max_length: int, **attrs: str) -> Setting:
    return Setting(name, Kind.TEXT, label, section=ADDRESS, max_length=max_length, page_attrs=attrs)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "name",
        Kind.TEXT,
        "Customer ID",
        "Unique name of the customer.",
        section=TOP,
        max_length=100,
        page_attrs={"maxlength": "100"},
    ),
    Setting(
        "customer_type",
        Kind.CHOICE,
        "Customer type",
        section=TOP,
        choices=CustomerType,
        new_only=True,  # retail when not given
        api_help="retail | reseller",
    ),
    Setting("reseller", Kind.REF, "Reseller", section=TOP, optional=True, new_only=True),
    Setting(
        "blocked",
        Kind.BOOL,
        "Blocked",
        "All accounts unusable, no self-care; fees and invoices continue.",
        section=TOP,
    ),
    Setting(
        "balance_control",
        Kind.CHOICE,
        "Balance control",
        section=TOP,
        choices=BalanceControl,
        api_help="prepaid | postpaid",
    ),
    Setting(
        "currency",
        Kind.CODE,
        "Currency",
        "Chosen at creation, never changed.",
        section=TOP,
        new_only=True,
    ),
    Setting(
        "credit_limit",
        Kind.MONEY,
        "Permanent credit limit",
        "Empty: no limit.",
        section=TOP,
        optional=True,
        show_if=POSTPAID,
        page_attrs=DECIMAL_INPUT,
        api_help="Postpaid only; null = no limit",
    ),
    Setting(
        "temp_credit_limit",
        Kind.MONEY,
        "Temporary credit limit",
        optional=True,
        api_help="Temporary credit limit (postpaid), in force until credit_limit_until",
    ),
    Setting("credit_limit_until", Kind.DATETIME, "Temporary limit until", optional=True),
    Setting(
        "fraud_daily_limit",
        Kind.MONEY,
        "Daily spending limit",
        optional=True,
        api_help="Overrides the class's; null = class",
    ),
    Setting(
        "fraud_action",
        Kind.CHOICE,
        "When the limit is reached",
        choices=FraudAction,
        optional=True,
        api_help="notify | block; null = class",
    ),
    Setting(
        "available_funds",
        Kind.MONEY,
        "Available funds",
        "The initial payment.",
        section=TOP,
        optional=True,
        new_only=True,
        show_if=PREPAID,
        page_attrs=DECIMAL_INPUT,
        api_help="Prepaid only: the opening funds",
    ),
    Setting("customer_class", Kind.REF, "Customer class", section=TOP),
    Setting(
        "billing_period",
        Kind.INT,
        "Billing period",
        section=TOP,
        choices=BillingPeriod,
        api_help="1 daily … 6 thirty days",
    ),
    Setting("time_zone", Kind.TIME_ZONE, "Billing time zone", section=TOP),
    Setting("custom_fields", Kind.MAPPING, "Custom fields"),
    Setting(
        "send_statistics",
        Kind.CHOICE,
        "Send statistics via e-mail",
        section=ADDITIONAL,
        choices=SendStatistics,
        optional=True,
        api_help="full | summary | none; null = class",
    ),
    Setting(
        "invoice_template",
        Kind.CHOICE,
        "Invoice template",
        choices=InvoiceTemplate,
        optional=True,
        api_help="standard | detailed | compact; null = class",
    ),
    _address("company_name", "Company name", 200),
    _address("first_name", "First name", 100),
    _address("last_name", "Last name", 100),
    _address("address_line1", "Address line 1", 200),
    _address("address_line2", "Address line 2", 200),
    _address("city", "City", 100),
    _address("state", "State / province", 100),
    _address("zip_code", "ZIP / postal code", 20),
    Setting(
        "country",
        Kind.TEXT,
        "Country (ISO code)",
        section=ADDRESS,
        max_length=2,
        page_attrs={"maxlength": "2", **SHORT},
        api_help="ISO 3166-1 alpha-2",
    ),
    _address("phone", "Phone", 40),
    Setting("email", Kind.EMAIL, "E-mail", section=ADDRESS),
    Setting("note", Kind.TEXT, "Note", section=ADDITIONAL, max_length=5000, single_line=False),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
CREATE_FIELDS: tuple[str, ...] = tuple(s.name for s in SETTINGS)
# An update never takes the ones given at creation only (update_customer refuses a change of
# them, and of available_funds, with a message of its own before it checks this list).
UPDATE_FIELDS: tuple[str, ...] = tuple(s.name for s in SETTINGS if not s.new_only)
# Plain texts of the address (the country is checked against ISO 3166-1 on top).
ADDRESS_FIELDS: dict[str, int] = {
    s.name: s.max_length
    for s in SETTINGS
    if s.section == ADDRESS and s.kind is Kind.TEXT and s.max_length and s.name != "country"
}

# Decimal settings (sent and returned as decimal strings by the API).
DECIMAL_SETTINGS: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.kind is Kind.MONEY)

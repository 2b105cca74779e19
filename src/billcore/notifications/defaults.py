"""The notification templates shipped with billcore (used while no edited template exists).

Every template gets (``services.base_context``): ``customer`` (the customer: ``name``,
``email``, ``company_name``, …), ``customer_class`` (its class), ``legal_name`` (the
installation's legal name), ``sender_name`` (who the e-mail is from: the class's From name when
its override is on, else the installation's legal name, CC-08), ``now`` (the moment, in the
customer's time zone) and ``currency``. The kind's own variables
are listed in ``VARIABLES``; the callers pass them (see ``services.invoice_context`` …).
Amounts arrive as text formatted with the currency's decimals, dates as ``YYYY-MM-DD`` on the
customer's wall clock. A variable a template names but the context lacks renders empty.
"""

from __future__ import annotations

from billcore.classes.models import Notification

N = Notification

DEFAULTS: dict[str, tuple[str, str]] = {
    N.INVOICE_ISSUED: (
        "Invoice {{ invoice_number }} from {{ sender_name }}",
        "Dear {{ customer.name }},\n\n"
        "invoice {{ invoice_number }} of {{ total }} {{ currency }} has been issued. "
        "Amount due: {{ amount_due }} {{ currency }}, due on {{ due_date }}.\n\n"
        "{{ sender_name }}\n",
    ),
    N.PAYMENT_DUE_SOON: (
        "Payment due soon: invoice {{ invoice_number }}",
        "Dear {{ customer.name }},\n\n"
        "a reminder that {{ amount_due }} {{ currency }} of invoice {{ invoice_number }} is "
        "due on {{ due_date }}.\n\n"
        "{{ sender_name }}\n",
    ),
    N.INVOICE_OVERDUE: (
        "Invoice {{ invoice_number }} is overdue",
        "Dear {{ customer.name }},\n\n"
        "invoice {{ invoice_number }} was due on {{ due_date }}; {{ amount_due }} "
        "{{ currency }} is still unpaid. Please pay it as soon as possible.\n\n"
        "{{ sender_name }}\n",
    ),
    N.SUSPENSION_WARNING: (
        "Your service will be suspended on {{ suspend_date }}",
        "Dear {{ customer.name }},\n\n"
        "invoice {{ invoice_number }} ({{ amount_due }} {{ currency }} unpaid) is overdue. "
        "Unless it is paid, your service will be suspended on {{ suspend_date }}.\n\n"
        "{{ sender_name }}\n",
    ),
    # The collections' advance notices (issue 5 §2); keyed by value, as the lead adds them.
    "late_fee_warning": (
        "A late-payment fee will be charged on {{ fee_date }}",
        "Dear {{ customer.name }},\n\n"
        "invoice {{ invoice_number }} ({{ amount_due }} {{ currency }} unpaid) is overdue. "
        "Unless it is paid, a late-payment fee{% if fee %} of {{ fee }} {{ currency }}{% endif %} "
        "will be charged on {{ fee_date }}.\n\n"
        "{{ sender_name }}\n",
    ),
    "termination_warning": (
        "Your account will be terminated on {{ terminate_date }}",
        "Dear {{ customer.name }},\n\n"
        "invoice {{ invoice_number }} ({{ amount_due }} {{ currency }} unpaid) is overdue. "
        "Unless it is paid, your account will be terminated on {{ terminate_date }}.\n\n"
        "{{ sender_name }}\n",
    ),
    N.SUSPENDED: (
        "Your service has been suspended",
        "Dear {{ customer.name }},\n\n"
        "your service has been suspended{% if reason %} because of {{ reason }}{% endif %}. "
        "It is restored as soon as the amount due is paid.\n\n"
        "{{ sender_name }}\n",
    ),
    N.SERVICE_RESTORED: (
        "Your service has been restored",
        "Dear {{ customer.name }},\n\nyour service has been restored. Thank you.\n\n"
        "{{ sender_name }}\n",
    ),
    N.PROVISIONALLY_TERMINATED: (
        "Your account has been terminated",
        "Dear {{ customer.name }},\n\n"
        "your account has been terminated; your services have stopped. It can be reactivated "
        "until {{ terminate_date }}, after which the termination becomes permanent.\n\n"
        "{{ sender_name }}\n",
    ),
    N.PERMANENTLY_TERMINATED: (
        "Your account has been closed",
        "Dear {{ customer.name }},\n\n"
        "your account has been permanently terminated on {{ terminate_date }}.\n\n"
        "{{ sender_name }}\n",
    ),
    N.LOW_FUNDS: (
        "Low {{ funds_label }}: {{ funds }} {{ currency }}",
        "Dear {{ customer.name }},\n\n"
        "your {{ funds_label }} ({{ funds }} {{ currency }}) are below {{ threshold }} "
        "{{ currency }}. Please top up to avoid an interruption of service.\n\n"
        "{{ sender_name }}\n",
    ),
    N.CARD_EXPIRING: (
        "Your saved card expires at the end of {{ card_expiry }}",
        "Dear {{ customer.name }},\n\n"
        "your saved card {{ card_brand }} ending in {{ card_last4 }} expires at the end of "
        "{{ card_expiry }}. Please save a new card to keep paying automatically.\n\n"
        "{{ sender_name }}\n",
    ),
}

# The kind's own variables (beside the common ones), for the template page and the preview.
VARIABLES: dict[str, tuple[str, ...]] = {
    N.INVOICE_ISSUED: ("invoice_number", "total", "amount_due", "due_date"),
    N.PAYMENT_DUE_SOON: ("invoice_number", "total", "amount_due", "due_date"),
    N.INVOICE_OVERDUE: ("invoice_number", "total", "amount_due", "due_date"),
    N.SUSPENSION_WARNING: ("invoice_number", "amount_due", "due_date", "suspend_date"),
    "late_fee_warning": ("invoice_number", "amount_due", "due_date", "fee", "fee_date"),
    "termination_warning": ("invoice_number", "amount_due", "due_date", "terminate_date"),
    N.SUSPENDED: ("reason",),
    N.SERVICE_RESTORED: (),
    N.PROVISIONALLY_TERMINATED: ("terminate_date",),
    N.PERMANENTLY_TERMINATED: ("terminate_date",),
    N.LOW_FUNDS: ("funds", "threshold", "funds_label"),
    N.CARD_EXPIRING: ("card_brand", "card_last4", "card_expiry"),
}

COMMON_VARIABLES = ("customer", "customer_class", "legal_name", "sender_name", "now", "currency")

# What the preview and the check at save time render with.
SAMPLE: dict[str, str] = {
    "invoice_number": "INV-0000042",
    "total": "120.00",
    "amount_due": "120.00",
    "due_date": "2026-12-15",
    "suspend_date": "2026-12-22",
    "reason": "an overdue invoice",
    "terminate_date": "2027-01-15",
    "funds": "4.50",
    "threshold": "10.00",
    "funds_label": "available funds",
    "card_brand": "Visa",
    "card_last4": "4242",
    "card_expiry": "12/2026",
    "fee": "5.00",
    "fee_date": "2026-12-20",
}

# For a kind with no default of its own (one added later).
GENERIC: tuple[str, str] = (
    "A message about your account",
    "Dear {{ customer.name }},\n\nplease see your account for details.\n\n{{ sender_name }}\n",
)


def default_for(kind: str) -> tuple[str, str]:
    return DEFAULTS.get(kind, GENERIC)

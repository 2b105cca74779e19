"""Field mapping between PortaBilling's API and billcore, both ways, as pure functions (no
database access): JSON in and out with exact decimals, date-times, Y/N flags, codes, the
customer and customer-class records, SQL LIKE patterns and faults.

Money never passes through a float: request JSON is parsed with ``parse_float=Decimal`` and
replies write each Decimal's exact text as a JSON number (``-10.50000``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billcore.charging.models import Xdr, XdrStatus
from billcore.classes.models import CustomerClass
from billcore.classes.settings import DECIMAL_KINDS, SETTINGS, Kind, Setting
from billcore.core.charging import CustomerState, decide
from billcore.customers.lifecycle import BILL_STATUS
from billcore.customers.models import BalanceControl, Customer, CustomerType, Status
from billcore.errors import BillcoreError, ValidationFailed
from billcore.validation import as_int, as_money

ZERO = Decimal("0.00000")
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Marks "not given" where ``None`` is a meaningful value.
MISSING: Any = object()


class Fault(Exception):
    """A PortaBilling fault: HTTP 500 with ``{"faultcode", "faultstring"}``."""

    def __init__(self, code: str, string: str):
        super().__init__(f"{code}: {string}")
        self.code = code
        self.string = string

    def as_dict(self) -> dict[str, str]:
        return {"faultcode": self.code, "faultstring": self.string}


# --- JSON -----------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse_json(text: str | bytes) -> Any:
    """JSON with every non-integer number as an exact Decimal (0.1 stays 0.1)."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def json_decoder() -> json.JSONDecoder:
    """The decoder of ``parse_json``, for reading one value off a longer text."""
    return json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant)


def encode(value: Any) -> str:
    """JSON text; a Decimal is written as a JSON number with its exact digits."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("money is always finite")
        return format(abs(value) if value.is_zero() else value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}: {encode(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(encode(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("never a float")
    return json.dumps(value)


# --- scalars --------------------------------------------------------------------------------


def fmt_datetime(value: dt.datetime | None) -> str | None:
    """UTC ``YYYY-MM-DD HH:MM:SS``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime(DATETIME_FORMAT)


def parse_datetime(name: str, value: Any) -> dt.datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD`` (midnight), in UTC; null or "" = none."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        text = value.strip()
        for pattern in (DATETIME_FORMAT, "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(text, pattern).replace(tzinfo=dt.UTC)
            except ValueError:
                continue
    raise ValidationFailed(
        f"{name} must be a UTC date-time 'YYYY-MM-DD HH:MM:SS' (got {value!r})", field=name
    )


def yn(value: bool) -> str:
    return "Y" if value else "N"


_TRUE = {"y", "1", "true", "yes"}
_FALSE = {"n", "0", "false", "no"}


def parse_flag(name: str, value: Any) -> bool:
    """'Y'/'N' (any case); 1/0 and true/false are accepted too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationFailed(f"{name} must be 'Y' or 'N' (got {value!r})", field=name)


def parse_optional_flag(name: str, value: Any) -> bool:
    """A request flag such as ``get_total``: absent or null is off."""
    return False if value in (None, "") else parse_flag(name, value)


SEND_STATISTICS = {"full": "F", "summary": "S", "none": "N"}
SEND_STATISTICS_IN = {v: k for k, v in SEND_STATISTICS.items()}


def send_statistics_out(value: str | None) -> str | None:
    return None if value is None else SEND_STATISTICS[value]


def send_statistics_in(name: str, value: Any) -> str | None:
    """F full, S summary, N none; null (or "") = the class's value."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().upper() in SEND_STATISTICS_IN:
        return SEND_STATISTICS_IN[value.strip().upper()]
    raise ValidationFailed(
        f"{name} must be F (full), S (summary), N (none) or null (the class's value); "
        f"got {value!r}",
        field=name,
    )


BALANCE_CONTROL = {BalanceControl.POSTPAID.value: 1, BalanceControl.PREPAID.value: 2}
BALANCE_CONTROL_IN = {v: k for k, v in BALANCE_CONTROL.items()}
CUSTOMER_TYPE = {CustomerType.RETAIL.value: 1, CustomerType.RESELLER.value: 2}
CUSTOMER_TYPE_IN = {v: k for k, v in CUSTOMER_TYPE.items()}
BILL_STATUS_CODES: dict[str, str] = {str(k): v for k, v in BILL_STATUS.items()}
BILL_STATUS_IN = {v: k for k, v in BILL_STATUS_CODES.items()}


def _coded(name: str, value: Any, codes: Mapping[int, str], meaning: str) -> str:
    number = as_int(name, value)
    if number not in codes:
        raise ValidationFailed(f"{name} must be {meaning} (got {value!r})", field=name)
    return codes[number]


def bill_status_in(name: str, value: Any) -> str:
    if isinstance(value, str) and value.strip().upper() in BILL_STATUS_IN:
        return BILL_STATUS_IN[value.strip().upper()]
    raise ValidationFailed(
        f"{name} must be one of O (open), S (suspended), C (closed), E (exported), "
        f"D (deactivated: provisionally terminated); got {value!r}",
        field=name,
    )


def page(params: Mapping[str, Any]) -> tuple[int, int | None]:
    """``offset`` (default 0) and ``limit`` (default: no limit) of a list call."""
    offset, limit = params.get("offset"), params.get("limit")
    return (
        0 if offset in (None, "") else as_int("offset", offset, minimum=0),
        None if limit in (None, "") else as_int("limit", limit, minimum=1),
    )


def like_to_regex(pattern: str) -> str:
    """An SQL LIKE pattern as an anchored regular expression understood alike by Python
    (SQLite) and PostgreSQL: ``%`` any run, ``_`` one character, ``\\`` escapes."""
    out = ["^"]
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            ch = next(chars, "\\")
            out.append(_literal(ch))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(_literal(ch))
    out.append("$")
    return "".join(out)


def _literal(ch: str) -> str:
    # A backslash before an ASCII non-alphanumeric character is literal in both dialects.
    return "\\" + ch if ch.isascii() and not ch.isalnum() else ch


# --- customers ------------------------------------------------------------------------------

# PortaBilling name -> billcore name, values passed through unchanged (the service coerces).
CUSTOMER_PLAIN = {
    "name": "name",
    "companyname": "company_name",
    "firstname": "first_name",
    "lastname": "last_name",
    "baddr1": "address_line1",
    "baddr2": "address_line2",
    "city": "city",
    "state": "state",
    "zip": "zip_code",
    "country": "country",
    "phone1": "phone",
    "email": "email",
    "note": "note",
    "iso_4217": "currency",
    "i_customer_class": "customer_class",
    "i_billing_period": "billing_period",
    "temp_credit_limit": "temp_credit_limit",
}
# billcore field names that errors name -> the PortaBilling name, for faults.
CUSTOMER_FIELDS_OUT = {
    **{b: p for p, b in CUSTOMER_PLAIN.items()},
    "id": "i_customer",
    "customer": "i_customer",
    "reseller": "i_parent",
    "customer_type": "i_customer_type",
    "balance_control": "i_balance_control_type",
    "time_zone": "i_time_zone",
    "available_funds": "opening_balance",
    "status": "bill_status",
    "until": "suspension_delay_date",
    "idempotency_key": "transaction_id",
    "blocked": "blocked",
    "credit_limit": "credit_limit",
    "credit_limit_until": "credit_limit_until",
    "send_statistics": "send_statistics",
}
# Renames whose value changes meaning (sign): messages keep the billcore name, prefixed.
NOT_PLAIN_RENAMES = {"available_funds"}
FIELD_NOTES = {
    "opening_balance": " (opening_balance is the negative of a prepaid customer's opening "
    "funds: -100 means 100 of funds)",
}


def credit_exceeded(customer: Customer, *, now: dt.datetime) -> bool:
    """Whether the balance (with open reservations) is already past the credit limit in
    force (prepaid: funds below zero), by the charging rule itself (a zero amount)."""
    state = CustomerState(
        status=Status.OPEN,
        blocked=False,
        prepaid=customer.is_prepaid,
        balance=customer.balance,
        reserved=customer.reserved,
        credit_limit=customer.effective_credit_limit(now=now),
    )
    return not decide(amount=ZERO, customer=state).allowed


def customer_info(
    customer: Customer,
    *,
    now: dt.datetime,
    opening_balance: Decimal,
    time_zone_id: int | None = None,
) -> dict[str, Any]:
    """The ``customer_info`` record of a customer. ``opening_balance`` is the signed amount
    of its opening-balance ledger row (0 without one); ``time_zone_id`` the numeric
    ``i_time_zone`` a client gave, returned as given (None: the customer's IANA zone)."""
    prepaid = customer.is_prepaid
    delay = customer.suspension_delay_until
    return {
        "i_customer": customer.pk,
        "name": customer.name,
        "iso_4217": customer.currency_id,
        "i_customer_class": customer.customer_class_id,
        "i_parent": customer.reseller_id,
        "i_customer_type": CUSTOMER_TYPE[customer.customer_type],
        "i_balance_control_type": BALANCE_CONTROL[customer.balance_control],
        "balance": customer.balance,
        "opening_balance": opening_balance,
        "credit_limit": ZERO if prepaid else customer.effective_credit_limit(now=now),
        "perm_credit_limit": ZERO if prepaid else customer.credit_limit,
        "temp_credit_limit": customer.temp_credit_limit,
        "credit_limit_until": fmt_datetime(customer.credit_limit_until),
        "credit_exceed": yn(credit_exceeded(customer, now=now)),
        "bill_status": BILL_STATUS_CODES[customer.status],
        "blocked": yn(customer.blocked),
        "bill_suspension_delayed": yn(delay is not None and delay > now),
        "suspension_delay_date": fmt_datetime(delay),
        "terminate_on": fmt_datetime(customer.terminate_on),
        "restore_on": None,
        "i_billing_period": customer.billing_period,
        "billed_to": None,
        "next_billed_to": None,
        "i_time_zone": customer.time_zone if time_zone_id is None else time_zone_id,
        "i_template": None,
        "send_statistics": send_statistics_out(customer.send_statistics),
        "companyname": customer.company_name,
        "firstname": customer.first_name,
        "lastname": customer.last_name,
        "baddr1": customer.address_line1,
        "baddr2": customer.address_line2,
        "city": customer.city,
        "state": customer.state,
        "zip": customer.zip_code,
        "country": customer.country,
        "phone1": customer.phone,
        "email": customer.email,
        "note": customer.note,
        "creation_date": fmt_datetime(customer.created_at),
    }


# Every field of a customer record billcore understands (in input or as read back); the
# others are ignored with a warning naming them.
CUSTOMER_KNOWN = frozenset(
    {
        *CUSTOMER_PLAIN,
        "i_customer",
        "i_parent",
        "i_customer_type",
        "i_balance_control_type",
        "balance",
        "opening_balance",
        "credit_limit",
        "perm_credit_limit",
        "credit_limit_until",
        "credit_exceed",
        "bill_status",
        "blocked",
        "bill_suspension_delayed",
        "suspension_delay_date",
        "terminate_on",
        "restore_on",
        "billed_to",
        "next_billed_to",
        "i_time_zone",
        "i_template",
        "send_statistics",
        "creation_date",
    }
)
DEFAULT_TIME_ZONE: str = Customer._meta.get_field("time_zone").get_default()


def ignored_fields_warning(info: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    """A warning naming the fields of ``info`` billcore does not model (none: no warning)."""
    unknown = sorted(str(k) for k in info if k not in known)
    if not unknown:
        return []
    return [f"ignored fields billcore does not model: {', '.join(unknown)}"]


def _same_value(given: Any, stored: Any) -> bool:
    if isinstance(stored, Decimal) or isinstance(given, Decimal):
        try:
            return Decimal(str(given)) == Decimal(str(stored))
        except ArithmeticError:
            return False
    return str(given).strip() == str(stored)


def unapplied_warning(
    info: Mapping[str, Any], record: Mapping[str, Any], fields: tuple[str, ...]
) -> list[str]:
    """A warning naming the read-only ``fields`` a new record was sent with that it does not
    have (an exported record's balance, status, dates): they were not applied."""
    differing = [
        f"{name} (sent {encode(info[name])}, is {encode(record.get(name))})"
        for name in fields
        if info.get(name) not in (None, "") and not _same_value(info[name], record.get(name))
    ]
    if not differing:
        return []
    return [
        "read-only fields not applied (a new record starts without them; balances move only "
        f"by transactions): {', '.join(differing)}"
    ]


CUSTOMER_READ_ONLY = (
    "balance",
    "bill_status",
    "credit_exceed",
    "terminate_on",
    "restore_on",
    "billed_to",
    "next_billed_to",
    "i_template",
    "creation_date",
)
ACCOUNT_READ_ONLY = ("balance", "bill_status", "terminate_on", "creation_date")


def numeric_time_zone_warning(value: int) -> str:
    return (
        f"i_time_zone {value} is a numeric PortaBilling time zone id, which billcore cannot "
        "translate (the original's ids are not public): it is stored and returned as given, "
        f"and the customer is billed in the installation's default time zone, "
        f"{DEFAULT_TIME_ZONE}. Send an IANA name (e.g. Europe/Prague) to bill in another zone."
    )


POSTPAID_DEFAULT_WARNING = (
    "i_balance_control_type was not given: the customer is postpaid (i_balance_control_type 1)"
)


@dataclass
class CustomerInput:
    """What a ``customer_info`` asks for: ``data`` for the customer services, status changes
    that go through the lifecycle (``blocked`` on update, the suspension delay), a numeric
    ``i_time_zone`` to keep (None: forget a kept one), and warnings for the reply."""

    data: dict[str, Any] = field(default_factory=dict)
    blocked: bool | None = None
    suspension_delay_until: Any = MISSING  # dt.datetime | None when given
    time_zone_id: Any = MISSING  # int | None when given
    warnings: list[str] = field(default_factory=list)


def _money(name: str, value: Any) -> Decimal | None:
    return as_money(name, value)


def _same_money(a: Decimal | None, b: Any) -> bool:
    return a == b if (a is None) == (b is None) else False


def customer_input(info: Mapping[str, Any], *, current: Mapping[str, Any] | None) -> CustomerInput:
    """Translate a ``customer_info`` for ``add_customer`` (``current`` None) or
    ``update_customer`` (``current`` = the record as ``customer_info`` returns it now).
    Unknown fields are ignored; read-only ones are ignored on add and, on update, refused
    only when they differ from the current value."""
    if not isinstance(info, Mapping):
        raise ValidationFailed("customer_info must be an object", field="customer_info")
    out = CustomerInput()
    data = out.data
    for porta, billcore in CUSTOMER_PLAIN.items():
        if porta in info:
            data[billcore] = info[porta]
    if current is None and data.get("customer_class") == "":
        del data["customer_class"]  # an empty class on add is none given: the default class
    if "i_time_zone" in info:
        _time_zone(info["i_time_zone"], current, out)
    if "i_parent" in info:
        parent = info["i_parent"]
        data["reseller"] = None if parent in (None, "", 0) else as_int("i_parent", parent)
    if "i_customer_type" in info and info["i_customer_type"] is not None:
        data["customer_type"] = _coded(
            "i_customer_type",
            info["i_customer_type"],
            CUSTOMER_TYPE_IN,
            "1 (retail) or 2 (reseller)",
        )
    if "i_balance_control_type" in info and info["i_balance_control_type"] is not None:
        data["balance_control"] = _coded(
            "i_balance_control_type",
            info["i_balance_control_type"],
            BALANCE_CONTROL_IN,
            "1 (postpaid) or 2 (prepaid)",
        )
    elif current is None:
        data["balance_control"] = BalanceControl.POSTPAID.value
        out.warnings.append(POSTPAID_DEFAULT_WARNING)
    if "send_statistics" in info:
        data["send_statistics"] = send_statistics_in("send_statistics", info["send_statistics"])
    if "credit_limit_until" in info:
        until = parse_datetime("credit_limit_until", info["credit_limit_until"])
        # Printed in whole seconds: the value read back unchanged is the stored instant.
        if current is None or fmt_datetime(until) != current["credit_limit_until"]:
            data["credit_limit_until"] = until
    blocked = parse_flag("blocked", info["blocked"]) if "blocked" in info else None
    if current is None:
        if blocked is not None:
            data["blocked"] = blocked
        control = data.get("balance_control")
    else:
        if blocked is not None and yn(blocked) != current["blocked"]:
            out.blocked = blocked
        control = data.get("balance_control") or _current_control(current)
    prepaid = control == BalanceControl.PREPAID
    _credit_limit(info, current, prepaid, data)
    _opening_balance(info, current, prepaid, data)
    if current is not None:
        _read_only(info, current, data)
        _suspension_delay(info, current, out)
    out.warnings.extend(ignored_fields_warning(info, CUSTOMER_KNOWN))
    return out


def _time_zone(tz: Any, current: Mapping[str, Any] | None, out: CustomerInput) -> None:
    """An IANA name sets the billing zone; a number (or digit string) is a PortaBilling id,
    kept as given while the customer bills in the installation's default zone."""
    number: int | None = None
    if isinstance(tz, str) and tz.strip().isdigit():
        tz = Decimal(tz.strip())
    if isinstance(tz, int) and not isinstance(tz, bool):
        number = tz
    elif isinstance(tz, Decimal):
        if not tz.is_finite() or tz != tz.to_integral_value():
            raise ValidationFailed(
                f"i_time_zone must be an IANA time zone name or a whole number (got {tz})",
                field="i_time_zone",
            )
        if not 0 <= tz < 2**63:  # compared as a Decimal: never builds a huge int
            raise ValidationFailed(
                "i_time_zone: the number is out of range", field="i_time_zone", code="invalid"
            )
        number = int(tz)
    if number is None:
        out.data["time_zone"] = tz
        if current is not None and isinstance(current.get("i_time_zone"), int):
            out.time_zone_id = None  # a named zone replaces the kept numeric id
        return
    if not 0 <= number < 2**63:
        raise ValidationFailed(
            "i_time_zone: the number is out of range", field="i_time_zone", code="invalid"
        )
    if current is not None and current.get("i_time_zone") == number:
        return  # unchanged
    out.data["time_zone"] = DEFAULT_TIME_ZONE
    out.time_zone_id = number
    out.warnings.append(numeric_time_zone_warning(number))


def _current_control(current: Mapping[str, Any]) -> str:
    return BALANCE_CONTROL_IN[current["i_balance_control_type"]]


def _credit_limit(
    info: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    prepaid: bool,
    data: dict[str, Any],
) -> None:
    """``credit_limit`` and ``perm_credit_limit`` both set the permanent limit. A record read
    back and sent whole carries both: then the one the client changed wins, and
    ``perm_credit_limit`` when neither or both changed."""
    has_limit, has_perm = "credit_limit" in info, "perm_credit_limit" in info
    if not (has_limit or has_perm):
        return
    limit = _money("credit_limit", info["credit_limit"]) if has_limit else MISSING
    perm = _money("perm_credit_limit", info["perm_credit_limit"]) if has_perm else MISSING
    chosen = perm if has_perm else limit
    if (
        has_limit
        and has_perm
        and current is not None
        and _same_money(perm, current["perm_credit_limit"])
        and not _same_money(limit, current["credit_limit"])
    ):
        chosen = limit
    if prepaid and (chosen is None or chosen == ZERO):
        return  # a prepaid customer's credit limit is 0 by definition
    data["credit_limit"] = chosen


def _opening_balance(
    info: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    prepaid: bool,
    data: dict[str, Any],
) -> None:
    """``opening_balance`` follows the balance's sign: a prepaid customer's opening funds
    F are ``opening_balance = -F``; billcore takes F as ``available_funds``."""
    if "opening_balance" not in info:
        return
    value = _money("opening_balance", info["opening_balance"])
    if current is not None:
        if not _same_money(value, current["opening_balance"]) and value is not None:
            data["available_funds"] = -value if value else value  # refused: use a transaction
        return
    if value is None or (not prepaid and value == ZERO):
        return
    data["available_funds"] = -value if value else value


def _read_only(info: Mapping[str, Any], current: Mapping[str, Any], data: dict[str, Any]) -> None:
    if "balance" in info:
        value = _money("balance", info["balance"])
        if value != current["balance"]:
            data["balance"] = value  # the service refuses it: balances move by transactions
    status = info.get("bill_status", MISSING)
    if status is not MISSING and str(status).strip().upper() != current["bill_status"]:
        raise ValidationFailed(
            "bill_status changes only through suspend_customer, unsuspend_customer and "
            "terminate_customer",
            field="bill_status",
            code="read_only",
        )
    if "terminate_on" in info:
        when = parse_datetime("terminate_on", info["terminate_on"])
        if fmt_datetime(when) != current["terminate_on"]:
            raise ValidationFailed(
                "terminate_on is set by terminate_customer", field="terminate_on", code="read_only"
            )


def _suspension_delay(
    info: Mapping[str, Any], current: Mapping[str, Any], out: CustomerInput
) -> None:
    """``bill_suspension_delayed`` Y with ``suspension_delay_date``: lift the suspension
    until that date (CU-15); N (or a null date) removes it."""
    if "bill_suspension_delayed" not in info and "suspension_delay_date" not in info:
        return
    date = parse_datetime("suspension_delay_date", info.get("suspension_delay_date"))
    delayed = (
        parse_flag("bill_suspension_delayed", info["bill_suspension_delayed"])
        if info.get("bill_suspension_delayed") is not None
        else date is not None
    )
    if delayed and date is None:
        raise ValidationFailed(
            "suspension_delay_date is required with bill_suspension_delayed 'Y'",
            field="suspension_delay_date",
            code="required",
        )
    until = date if delayed else None
    now_until = (
        current["suspension_delay_date"] if current["bill_suspension_delayed"] == "Y" else None
    )
    if fmt_datetime(until) != now_until:
        out.suspension_delay_until = until


# --- accounts, subscriptions, xDRs, invoices, currencies -------------------------------------

# ``billing_model``: -1 debit (prepaid funds of its own), 1 credit (draws on the customer).
BILLING_MODEL = {"debit": -1, "credit": 1}
BILLING_MODEL_IN = {v: k for k, v in BILLING_MODEL.items()}
ACCOUNT_KNOWN = frozenset(
    {
        "i_account",
        "id",
        "i_customer",
        "iso_4217",
        "billing_model",
        "blocked",
        "bill_status",
        "balance",
        "credit_limit",
        "i_product",
        "creation_date",
        "terminate_on",
    }
)
ACCOUNT_FIELDS_OUT = {
    "id": "i_account",
    "identifier": "id",
    "customer": "i_customer",
    "customer_id": "i_customer",
    "account_type": "billing_model",
    "account": "i_account",
    "plan": "i_subscription",
    "start_at": "start_date",
    "end_at": "finish_date",
}


def account_info(account: Any) -> dict[str, Any]:
    """The ``account_info`` record of a ``subscribers.Account`` (with its customer)."""
    return {
        "i_account": account.pk,
        "id": account.identifier,
        "i_customer": account.customer_id,
        "iso_4217": account.customer.currency_id,
        "billing_model": BILLING_MODEL[account.account_type],
        "balance": account.balance,
        "credit_limit": account.credit_limit,
        "blocked": yn(account.blocked),
        "bill_status": "C" if account.terminated_at is not None else "O",
        "terminate_on": fmt_datetime(account.terminated_at),
        "i_product": None,
        "creation_date": fmt_datetime(account.created_at),
    }


def billing_model_in(value: Any) -> str:
    return _coded("billing_model", value, BILLING_MODEL_IN, "1 (credit) or -1 (debit)")


def subscription_info(sub: Any) -> dict[str, Any]:
    """An account's (or customer's) subscription record."""
    return {
        "i_account_subscription": sub.pk,
        "i_subscription": sub.plan_id,
        "name": sub.plan.name,
        "i_account": sub.account_id,
        "i_customer": sub.customer_id,
        "fee": sub.plan.fee,
        "start_date": fmt_datetime(sub.start_at),
        "finish_date": fmt_datetime(sub.end_at),
        "status": sub.status,
        "is_finished": yn(sub.status == "ended"),
        "charged_to": fmt_datetime(sub.charged_to),
    }


def xdr_info(xdr: Xdr) -> dict[str, Any]:
    """One usage record; ``charged_amount`` is 0 for a denied one (see ``deny_reason``)."""
    charged = xdr.status == XdrStatus.CHARGED
    return {
        "i_xdr": xdr.pk,
        "i_customer": xdr.customer_id,
        "i_account": xdr.account_id,
        "account_id": xdr.account.identifier if xdr.account is not None else None,
        "connect_time": fmt_datetime(xdr.started_at),
        "bill_time": fmt_datetime(xdr.created_at),
        "service": xdr.service,
        "charged_quantity": xdr.quantity,
        "unit": xdr.unit,
        "charged_amount": xdr.amount if charged else ZERO,
        "status": xdr.status,
        "deny_reason": xdr.deny_reason,
        "external_id": xdr.external_id,
        "details": _no_floats(xdr.details or {}),
    }


def _no_floats(value: Any) -> Any:
    """Stored JSON with its floats as the Decimals of their shortest text (``encode``
    writes no float)."""
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, Mapping):
        return {str(k): _no_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_floats(v) for v in value]
    return value


def invoice_info(invoice: Any) -> dict[str, Any]:
    """The ``invoice_info`` record of an ``invoicing.Invoice``."""
    return {
        "i_invoice": invoice.pk,
        "invoice_number": invoice.number,
        "i_customer": invoice.customer_id,
        "iso_4217": invoice.currency,
        "invoice_type": invoice.kind,
        "issue_date": fmt_datetime(invoice.issued_at),
        "due_date": fmt_datetime(invoice.due_at),
        "period_from": fmt_datetime(invoice.period_start),
        "period_to": fmt_datetime(invoice.period_end),
        "previous_balance": invoice.previous_balance,
        "payments": invoice.payments,
        "amount_net": invoice.net,
        "taxes": invoice.tax_total,
        "rounding": invoice.special_rounding + invoice.rounding,
        "amount_total": invoice.total,
        "amount_paid": invoice.amount_paid,
        "amount_due": invoice.amount_due,
        "balance_after": invoice.balance_after,
        "invoice_status": invoice.status,
        "paid_date": fmt_datetime(invoice.paid_at),
    }


def currency_info(currency: Any) -> dict[str, Any]:
    return {"iso_4217": currency.code, "name": currency.name, "decimal_digits": currency.decimals}


def date_range(params: Mapping[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``from_date`` (inclusive) and ``to_date`` (exclusive) of a list call, UTC; a date
    alone is its midnight."""
    start = parse_datetime("from_date", params.get("from_date"))
    end = parse_datetime("to_date", params.get("to_date"))
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("to_date must be after from_date", field="to_date")
    return start, end


# --- customer classes -----------------------------------------------------------------------


def _class_kind(setting: Setting) -> str:
    if setting.name == "send_statistics":
        return "send_statistics"
    if setting.kind is Kind.BOOL:
        return "flag"
    if setting.kind in DECIMAL_KINDS:
        return "money"
    if setting.kind is Kind.TAXES:
        return "taxes"
    return "plain"


# Settings keep billcore's names (their declaration, classes.settings); booleans become Y/N,
# send_statistics F/S/N. Relations are translated by CLASS_RELATIONS.
CLASS_SETTINGS: dict[str, str] = {s.name: _class_kind(s) for s in SETTINGS if s.simple}
CLASS_RELATIONS = {
    "iso_4217": "currency",
    "i_business_model": "business_model",
    "i_parent": "managed_by",
    "name": "name",
    "mandatory_custom_fields": "mandatory_custom_fields",
}
CLASS_FIELDS_OUT = {
    **{b: p for p, b in CLASS_RELATIONS.items()},
    "id": "i_customer_class",
}


def customer_class_info(cls: CustomerClass, *, mandatory: list[str]) -> dict[str, Any]:
    """The ``customer_class_info`` record; ``mandatory`` = its mandatory custom fields."""
    info: dict[str, Any] = {
        "i_customer_class": cls.pk,
        "name": cls.name,
        "iso_4217": cls.currency_id,
        "i_business_model": cls.business_model_id,
        "i_parent": cls.managed_by_id,
        "is_default": yn(cls.is_default),
    }
    for name, kind in CLASS_SETTINGS.items():
        value = getattr(cls, name)
        if kind == "flag":
            value = yn(value)
        elif kind == "send_statistics":
            value = send_statistics_out(value)
        elif kind == "taxes":
            value = [{"name": t["name"], "rate": Decimal(t["rate"])} for t in value]
        elif kind == "plain" and isinstance(value, list):
            value = list(value)
        info[name] = value
    info["mandatory_custom_fields"] = list(mandatory)
    info["creation_date"] = fmt_datetime(cls.created_at)
    return info


def customer_class_input(info: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a ``customer_class_info``; unknown and read-only fields are ignored."""
    if not isinstance(info, Mapping):
        raise ValidationFailed("customer_class_info must be an object", field="customer_class_info")
    data: dict[str, Any] = {}
    for porta, billcore in CLASS_RELATIONS.items():
        if porta in info:
            data[billcore] = info[porta]
    for name, kind in CLASS_SETTINGS.items():
        if name not in info:
            continue
        value = info[name]
        if kind == "flag":
            value = parse_flag(name, value)
        elif kind == "send_statistics":
            value = send_statistics_in(name, value)
            if value is None:
                raise ValidationFailed(
                    f"{name} must be F (full), S (summary) or N (none)", field=name
                )
        data[name] = value
    return data


# --- faults ---------------------------------------------------------------------------------

_REASON_CHARS = re.compile(r"[^A-Za-z0-9]+")
CODE_ALIASES = {"idempotency_key_reused": "duplicate", "weak_password": "weak"}


def porta_field(field_name: str, renames: Mapping[str, str]) -> str:
    """The PortaBilling name of a billcore field (``custom_fields.x`` keeps its suffix)."""
    head, dot, rest = field_name.partition(".")
    return renames.get(head, head) + dot + rest


def fault_for(service: str, method: str, exc: BillcoreError, renames: Mapping[str, str]) -> Fault:
    """``Client.<Service>.<method>.<reason>``: the reason is the billcore code followed by
    the PortaBilling field name (``invalid_credit_limit``, ``not_found_i_customer``), or the
    code alone when it already names the field or there is none. The faultstring is the
    billcore message, naming the field by its PortaBilling name."""
    code = CODE_ALIASES.get(exc.code, exc.code)
    message = exc.message
    if exc.field is None:
        return Fault(f"Client.{service}.{method}.{_token(code)}", message)
    billcore = exc.field
    porta = porta_field(billcore, renames)
    name = _token(porta)
    mentioned = f"_{code}_".find(f"_{billcore.split('.')[0]}_") >= 0
    reason = code if mentioned or f"_{name}_" in f"_{code}_" else f"{code}_{name}"
    if porta != billcore:
        head = billcore.split(".")[0]
        after = message[len(billcore) : len(billcore) + 1]
        whole_word = message.startswith(billcore) and not (after.isalnum() or after == "_")
        if whole_word and head not in NOT_PLAIN_RENAMES:
            message = porta + message[len(billcore) :]
        else:
            message = f"{porta}: {message}"
    message += FIELD_NOTES.get(porta, "") if porta != billcore else ""
    return Fault(f"Client.{service}.{method}.{_token(reason)}", message)


def _token(text: str) -> str:
    return _REASON_CHARS.sub("_", text).strip("_") or "error"

"""A quote: the price of a hypothetical session, nothing charged nor written (issue 12 §2).

``quote`` resolves the account as the actor may see it (another reseller's is a 404), prices
the session with :class:`billcore.rating.pricing.Pricer` (the same code that prices usage)
and answers what it would cost: the tariff, the rate (id, prefix, master or override), the
price set, the quantity in base units, the charged quantity and the amount in the tariff's
currency, and for a reseller's customer the reseller's own (wholesale) price. A session that
cannot be priced is a :class:`Quote` with ``allowed`` False and the reason (``no_product``,
``no_rate``, ``forbidden_destination``, ``reseller_no_rate``, …); bad input raises
``ValidationFailed`` naming the field.

The account is named by id or by identifier, as usage records name it: an int is an id; a
string is an identifier, or, when no account has that identifier and it is all digits, an
id (``"42"``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billcore.accounts.access import Actor
from billcore.errors import NotFound, ValidationFailed
from billcore.rating.models import AccessCode, Tariff
from billcore.rating.pricing import Priced, Pricer, Pricing, Refusal
from billcore.subscribers.models import Account
from billcore.subscribers.services import visible_accounts
from billcore.validation import as_str, check_instant

#: The most a quote may ask for (quantity in the unit reported): 10^12.
MAX_QUANTITY = Decimal(10) ** 12


@dataclass(frozen=True, slots=True)
class QuotedPrice:
    """One side's price (the customer's, or its reseller's)."""

    allowed: bool
    reason: str
    message: str
    tariff_id: int | None = None
    tariff_name: str = ""
    rate_id: int | None = None
    prefix: str = ""
    source: str = ""
    price_set: str = ""
    charged_quantity: int | None = None
    amount: Decimal | None = None
    currency: str = ""


@dataclass(frozen=True, slots=True)
class Quote:
    allowed: bool
    reason: str
    message: str
    account_id: int
    customer_id: int
    service: str
    cld: str
    started_at: dt.datetime
    access_code: str
    base_quantity: int
    price: QuotedPrice
    reseller_id: int | None
    reseller_price: QuotedPrice | None
    pricing: Pricing  # what authorize inverts (the terms of each side)


def resolve_account(*, actor: Actor, account: Any) -> Account:
    """The account ``account`` names (id or identifier) as the actor may see it; 404 naming
    ``account`` for one it may not see or that does not exist."""
    accounts = visible_accounts(actor=actor)
    if isinstance(account, bool) or account is None or account == "":
        raise ValidationFailed("account is required (an id or an identifier)", field="account")
    found: Account | None = None
    if isinstance(account, int):
        found = accounts.filter(pk=account).first() if 0 < account < 2**63 else None
    elif isinstance(account, str):
        text = as_str("account", account, max_length=100).strip()
        found = accounts.filter(identifier=text).first()
        if found is None and text.isdigit() and len(text) <= 18:
            found = accounts.filter(pk=int(text)).first()
    else:
        raise ValidationFailed("account must be an id or an identifier", field="account")
    if found is None:
        raise NotFound(f"account {account} not found", field="account")
    return found


def check_quantity(quantity: Any, *, field: str = "quantity") -> Decimal:
    """A reported quantity: a number >= 0 (an int, a Decimal or a decimal string)."""
    if isinstance(quantity, bool) or quantity is None or quantity == "":
        raise ValidationFailed(f"{field} is required", field=field, code="required")
    try:
        value = Decimal(str(quantity).strip()) if not isinstance(quantity, Decimal) else quantity
    except ArithmeticError:
        raise ValidationFailed(f"{field} must be a number", field=field) from None
    if not value.is_finite() or value < 0 or value > MAX_QUANTITY:
        raise ValidationFailed(f"{field} must be a number from 0 to 10^12", field=field)
    return value


def _instant(value: Any, now: dt.datetime) -> dt.datetime:
    if value in (None, ""):
        return now
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed(
                "started_at must be an ISO 8601 date-time", field="started_at"
            ) from None
    if not isinstance(value, dt.datetime):
        raise ValidationFailed("started_at must be an ISO 8601 date-time", field="started_at")
    at: dt.datetime = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    check_instant("started_at", at)
    return at


def _side(result: Priced | Refusal, names: dict[int, str]) -> QuotedPrice:
    if isinstance(result, Refusal):
        return QuotedPrice(allowed=False, reason=result.reason, message=result.message)
    return QuotedPrice(
        allowed=True,
        reason="",
        message="",
        tariff_id=result.tariff_id,
        tariff_name=names.get(result.tariff_id, ""),
        rate_id=result.rate_id,
        prefix=result.prefix,
        source=result.source,
        price_set=str(result.price_set.value),
        charged_quantity=result.charged_quantity,
        amount=result.amount,
        currency=result.currency,
    )


def quote(
    *,
    actor: Actor,
    now: dt.datetime,
    account: Any,
    cld: Any,
    quantity: Any = None,
    duration: Any = None,
    service: Any = "voice",
    unit: Any = "",
    started_at: Any = None,
    access_code: Any = "",
    pricer: Pricer | None = None,
) -> Quote:
    """The price of a session of ``account`` to ``cld`` (see the module docstring).

    ``duration`` is ``quantity`` in seconds (voice); give one of them. ``started_at`` is
    ``now`` when not given. Reads only: nothing is charged or written."""
    code = as_str("service", service or "voice", max_length=32)
    if duration not in (None, "") and quantity not in (None, ""):
        raise ValidationFailed("duration: give quantity or duration, not both", field="duration")
    if duration not in (None, ""):
        amount_of = check_quantity(duration, field="duration")
        unit = "second"
    else:
        amount_of = check_quantity(quantity)
    unit_text = as_str("unit", unit or "", max_length=16)
    access = as_str("access_code", access_code or "", max_length=16).upper()
    if access not in AccessCode.values:
        codes = ", ".join(c for c in AccessCode.values if c)
        raise ValidationFailed(
            f"access_code: one of {codes} (or empty: outgoing)", field="access_code"
        )
    at = _instant(started_at, now)
    target = resolve_account(actor=actor, account=account)
    pricer = pricer or Pricer()
    pricing = pricer.price(
        account_id=target.pk,
        service=code,
        cld=cld,
        quantity=amount_of,
        unit=unit_text,
        started_at=at,
        access_code=access,
    )
    ids = [p.tariff_id for p in (pricing.customer, pricing.reseller) if isinstance(p, Priced)]
    names = dict(Tariff.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    price = _side(pricing.customer, names)
    reseller = _side(pricing.reseller, names) if pricing.reseller is not None else None
    refusal = pricing.refusal
    return Quote(
        allowed=refusal is None,
        reason=refusal.reason if refusal else "",
        message=refusal.message if refusal else "",
        account_id=target.pk,
        customer_id=target.customer_id,
        service=code,
        cld="".join(ch for ch in str(cld) if ch.isdigit()),
        started_at=at,
        access_code=access,
        base_quantity=pricing.base_quantity,
        price=price,
        reseller_id=pricing.reseller_id,
        reseller_price=reseller,
        pricing=pricing,
    )

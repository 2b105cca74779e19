"""Real-time charging: charge, authorise, reserve / commit / release, expire.

Every balance-changing call runs in one database transaction that locks the customer row
first and the account row second (always in that order, so concurrent writers never
deadlock), decides with ``billcore.core.charging.decide`` on the locked values, and then
moves the balances by atomic updates and writes the ledger row and the xDR. On PostgreSQL
the lock is ``SELECT … FOR UPDATE``; on SQLite the IMMEDIATE transaction holds the database
write lock from its first statement. Concurrent sessions therefore can never overspend:
available funds count open reservations, and each check sees the previous writer's result.

``external_id`` is the idempotency key of an xDR or a reservation: the same key twice
returns the first result and changes nothing. An xDR's key is unique per owner (``Xdr.owner``:
the installation for the administrator's customers, each reseller for its sub-customers), so
one reseller never meets, nor blocks, another's keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.charging.models import (
    FraudAlert,
    Reservation,
    ReservationStatus,
    Service,
    Xdr,
    XdrStatus,
)
from billcore.classes.models import FraudAction
from billcore.core.charging import (
    REASONS,
    RESELLER_REASONS,
    AccountState,
    CustomerState,
    Decision,
    FraudState,
    decide,
    status_reason,
)
from billcore.core.discounts import max_duration_with_plans
from billcore.core.money import MAX_ABS_AMOUNT
from billcore.core.rating import PriceTerms, rate_usage
from billcore.customers.models import BalanceControl, Customer
from billcore.db import CompiledQuery, money_value
from billcore.errors import BillcoreError, Conflict, NotFound, ValidationFailed
from billcore.features import services as features
from billcore.installation.services import max_session_seconds
from billcore.ledger.batch import datetime_adapter as _datetime_adapter
from billcore.ledger.batch import (
    insert_ledger_rows,
    insert_returning_ids,
    move_usage_balances,
    move_usage_balances_many,
    usage_row,
)
from billcore.ledger.batch import units as _units
from billcore.locks import for_update, lock_row
from billcore.plans.applying import Applied, PlanBook, Session
from billcore.rating.models import AccessCode
from billcore.rating.models import Service as CatalogueService
from billcore.rating.pricing import REFUSALS, Priced, Pricer, Pricing, check_cld
from billcore.subscribers.models import Account, AccountType
from billcore.validation import (
    as_choice,
    as_int,
    as_json_object,
    as_money,
    as_str,
    check_instant,
)

ZERO = Decimal(0)
NOTHING = Decimal("0.00000")  # the amount of a record that cannot be priced
# A usage record's ``details`` (CLI, CLD, …): at most this many bytes of compact JSON.
MAX_DETAILS_BYTES = 4096
# ``started_at`` may run ahead of the server's clock by at most this (clock skew).
MAX_STARTED_AHEAD = dt.timedelta(days=1)
# The standard services: accepted without a query; any other code is looked up in the
# catalogue (``rating.models.Service``).
_STANDARD_SERVICES = frozenset(Service.values)
_ACCESS_CODES = tuple(AccessCode.values)
DEFAULT_RESERVATION_SECONDS = 300


@dataclass(frozen=True)
class ChargeResult:
    """What the switch acts on: allowed or denied, why, and the money after it."""

    allowed: bool
    reason: str
    message: str
    xdr_id: int | None
    amount: Decimal
    balance: Decimal
    available_funds: Decimal | None
    replayed: bool = False
    # Rating (issue 12 §2): what the xDR stores; None for pre-rated usage.
    cld: str | None = None
    tariff_id: int | None = None
    rate_id: int | None = None
    rate_prefix: str | None = None
    price_set: str | None = None
    base_quantity: int | None = None
    charged_quantity: int | None = None
    reseller_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RatingColumns:
    """What rating stores on an xDR (all None for pre-rated usage)."""

    tariff_id: int | None = None
    rate_id: int | None = None
    rate_prefix: str | None = None
    price_set: str | None = None
    base_quantity: int | None = None
    charged_quantity: int | None = None
    reseller_amount: Decimal | None = None


_NOT_RATED = RatingColumns()
RATING_COLUMNS = tuple(RatingColumns.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Rated:
    """A usage record's amount, priced before the transaction (or as sent, pre-rated):
    ``refusal`` the reason it cannot be priced (then it is denied, amount 0); for a
    reseller's customer, the reseller and what it is charged (in its currency)."""

    amount: Decimal
    refusal: str = ""
    columns: RatingColumns = _NOT_RATED
    reseller_id: int | None = None
    # Issue 13: the price terms (plans apply to usage billcore rates), None for pre-rated.
    terms: PriceTerms | None = None

    @property
    def reseller_amount(self) -> Decimal | None:
        return self.columns.reseller_amount

    @property
    def charges_reseller(self) -> bool:
        return (
            not self.refusal
            and self.reseller_id is not None
            and (self.columns.reseller_amount is not None)
        )


def rated_of(pricing: Pricing) -> Rated:
    """A ``rating.pricing.Pricing`` as charging uses it."""
    customer, reseller = pricing.customer, pricing.reseller
    base = pricing.base_quantity
    refusal = pricing.refusal
    if not isinstance(customer, Priced):
        return Rated(NOTHING, refusal.reason if refusal else "", RatingColumns(base_quantity=base))
    columns = RatingColumns(
        tariff_id=customer.tariff_id,
        rate_id=customer.rate_id,
        rate_prefix=customer.prefix,
        price_set=str(customer.price_set),
        base_quantity=base,
        charged_quantity=customer.charged_quantity,
        reseller_amount=reseller.amount if isinstance(reseller, Priced) else None,
    )
    if refusal is not None:
        return Rated(NOTHING, refusal.reason, columns)
    return Rated(customer.amount, "", columns, pricing.reseller_id, customer.terms)


def _columns_of(xdr: Any) -> RatingColumns:
    return RatingColumns(*(getattr(xdr, name) for name in RATING_COLUMNS))


@dataclass(frozen=True)
class ReservationResult:
    allowed: bool
    reason: str
    message: str
    reservation_id: int | None
    status: str
    amount: Decimal
    expires_at: dt.datetime | None
    balance: Decimal
    available_funds: Decimal | None
    xdr_id: int | None = None
    replayed: bool = False


# --------------------------------------------------------------------------- helpers


def _account_target(actor: Actor, aid: int, row: Any, customer_id: Any) -> tuple[int, int]:
    """``row``: (customer id, its reseller id) of account ``aid``, or None."""
    if row is None or (not is_admin(actor) and row[1] != require_user(actor).reseller_id):
        raise NotFound(f"account {aid} not found", field="account")
    if customer_id not in (None, "") and as_int("customer", customer_id) != row[0]:
        raise ValidationFailed("account: the account belongs to another customer", field="account")
    return row[0], aid


def _customer_target(actor: Actor, cid: int, row: Any) -> tuple[int, None]:
    """``row``: (reseller id,) of customer ``cid``, or None."""
    if row is None or (not is_admin(actor) and row[0] != require_user(actor).reseller_id):
        raise NotFound(f"customer {cid} not found", field="customer")
    return cid, None


def _target_id(account_id: Any, customer_id: Any) -> tuple[str, int]:
    """("account", id) or ("customer", id) as given, validated; nothing looked up."""
    if account_id not in (None, ""):
        return "account", as_int("account", account_id, minimum=1)
    if customer_id in (None, ""):
        raise ValidationFailed("account or customer is required", field="account", code="required")
    return "customer", as_int("customer", customer_id, minimum=1)


def _target(*, actor: Actor, account_id: Any, customer_id: Any) -> tuple[int, int | None]:
    """(customer id, account id) the actor may charge; a 404 for anything else."""
    require_user(actor)
    kind, pk = _target_id(account_id, customer_id)
    if kind == "account":
        row = (
            Account.objects.filter(pk=pk)
            .values_list("customer_id", "customer__reseller_id")
            .first()
        )
        return _account_target(actor, pk, row, customer_id)
    return _customer_target(
        actor, pk, Customer.objects.filter(pk=pk).values_list("reseller_id").first()
    )


# What a decision reads: the customer's own fields and its class's fraud settings. Locking and
# reading only these (not the ~100 columns of a customer and its class, nor a model instance
# made of them) keeps the hot path short.
_CUSTOMER_COLUMNS = (
    "pk",
    "status",
    "blocked",
    "suspension_reason",
    "balance_control",
    "balance",
    "reserved",
    "credit_limit",
    "temp_credit_limit",
    "credit_limit_until",
    "time_zone",
    "fraud_daily_limit",
    "fraud_action",
    "fraud_day",
    "fraud_day_spent",
    "customer_class__currency_id",
    "customer_class__fraud_daily_limit",
    "customer_class__fraud_action",
    "reseller_id",
)
_ACCOUNT_COLUMNS = (
    "pk",
    "customer_id",
    "account_type",
    "blocked",
    "credit_limit",
    "balance",
    "reserved",
)


@dataclass(slots=True)
class _Customer:
    """The locked customer row, as far as charging reads and moves it."""

    pk: int
    status: str
    blocked: bool
    suspension_reason: str
    balance_control: str
    balance: Decimal
    reserved: Decimal
    credit_limit: Decimal | None
    temp_credit_limit: Decimal | None
    credit_limit_until: dt.datetime | None
    time_zone: str
    fraud_daily_limit: Decimal | None
    fraud_action: str | None
    fraud_day: dt.date | None
    fraud_day_spent: Decimal
    class_currency_id: str | None
    class_fraud_daily_limit: Decimal | None
    class_fraud_action: str
    reseller_id: int | None

    @property
    def owner(self) -> int:
        """Whose ``external_id`` space its xDRs use (``Xdr.owner``)."""
        return self.reseller_id or 0

    def effective_credit_limit(self, *, now: dt.datetime) -> Decimal | None:
        # The model's own rule, on these fields.
        return Customer.effective_credit_limit(cast(Customer, self), now=now)


@dataclass(slots=True)
class _Account:
    pk: int
    customer_id: int
    account_type: str
    blocked: bool
    credit_limit: Decimal | None
    balance: Decimal
    reserved: Decimal


def _locked_customers(rows: Any) -> Any:
    """The decision's columns of the customers ``rows`` (a filtered queryset), locked in the
    order of ``billcore.locks`` (stage 1: ``ORDER BY id … FOR UPDATE OF`` the customer
    table, whatever the class join)."""
    return for_update(rows).values_list(*_CUSTOMER_COLUMNS)


def _locked_accounts(rows: Any) -> Any:
    """The same for accounts (stage 2), after the customers."""
    return for_update(rows).values_list(*_ACCOUNT_COLUMNS)


_Compiled = CompiledQuery


_SENTINEL_ID = -987_654_321  # never a primary key (they are positive)
_SENTINEL_KEY = "\x00billcore-sentinel-external-id"
_compiled: dict[tuple[str, str], _Compiled] = {}


def _query(name: str) -> _Compiled:
    key = (connection.vendor, name)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = _Compiled(_QUERIES[name]())
    return found


def _seen(key: bool, reseller: str) -> Any:
    """Whether the target's owner already has an xDR with the key (``reseller``: the outer
    query's path to the target customer's reseller)."""
    if not key:
        return Value(False)
    owner = Coalesce(OuterRef(reseller), Value(0))
    return Exists(Xdr.objects.filter(external_id=_SENTINEL_KEY, owner=owner))


_QUERIES: dict[str, Any] = {
    "customer": lambda: _locked_customers(Customer.objects.filter(pk=_SENTINEL_ID)),
    "account": lambda: _locked_accounts(Account.objects.filter(pk=_SENTINEL_ID)),
    "customer-now": lambda: Customer.objects.values_list(*_CUSTOMER_COLUMNS).filter(
        pk=_SENTINEL_ID
    ),
    **{
        f"account-target{'-key' if key else ''}": (
            lambda key=key: Account.objects.filter(pk=_SENTINEL_ID)
            .annotate(seen=_seen(key, "customer__reseller_id"))
            .values_list("customer_id", "customer__reseller_id", "seen")
        )
        for key in (False, True)
    },
    **{
        f"customer-target{'-key' if key else ''}": (
            lambda key=key: Customer.objects.filter(pk=_SENTINEL_ID)
            .annotate(seen=_seen(key, "reseller_id"))
            .values_list("reseller_id", "seen")
        )
        for key in (False, True)
    },
}


def _lock(customer_id: int, account_id: int | None) -> tuple[_Customer, _Account | None]:
    customer, account, _ = lock_with_reseller(customer_id, account_id, None)
    return customer, account


def lock_with_reseller(
    customer_id: int, account_id: int | None, reseller_id: int | None
) -> tuple[_Customer, _Account | None, _Customer | None]:
    """The customer (and, when the usage also charges its reseller, the reseller: both
    customer rows in ascending id order, ``billcore.locks`` stage 1), then the account."""
    locked: dict[int, _Customer] = {}
    for pk in sorted({customer_id} | ({reseller_id} if reseller_id is not None else set())):
        row = _query("customer").row({_SENTINEL_ID: pk})
        if row is None:
            raise Customer.DoesNotExist(f"customer {pk}")
        locked[pk] = _Customer(*row)
    account = lock_account(account_id) if account_id else None
    reseller = locked[reseller_id] if reseller_id is not None else None
    return locked[customer_id], account, reseller


def lock_account(account_id: int) -> _Account:
    """The account row, locked (stage 2 of ``billcore.locks``: after its customer)."""
    row = _query("account").row({_SENTINEL_ID: account_id})
    if row is None:
        raise Account.DoesNotExist(f"account {account_id}")
    return _Account(*row)


def _local_day(customer: _Customer, now: dt.datetime) -> dt.date:
    try:
        zone = zoneinfo.ZoneInfo(customer.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(zone).date()


def _fraud(customer: _Customer, now: dt.datetime) -> FraudState | None:
    """Fraud protection (CC-06, CU-13): the customer's override, else the class's; a class
    without a currency has none."""
    limit = customer.fraud_daily_limit
    action = customer.fraud_action
    if limit is None and customer.class_currency_id is not None:
        limit = customer.class_fraud_daily_limit
    if limit is None:
        return None
    action = action or customer.class_fraud_action
    spent = customer.fraud_day_spent if customer.fraud_day == _local_day(customer, now) else ZERO
    return FraudState(daily_limit=limit, spent_today=spent, blocks=action == FraudAction.BLOCK)


def _customer_state(customer: _Customer, now: dt.datetime) -> CustomerState:
    return CustomerState(
        status=customer.status,
        blocked=customer.blocked,
        suspension_reason=customer.suspension_reason,
        prepaid=customer.balance_control == BalanceControl.PREPAID,
        balance=customer.balance,
        reserved=customer.reserved,
        credit_limit=customer.effective_credit_limit(now=now),
    )


def _decide(
    customer: _Customer, account: _Account | None, amount: Decimal, now: dt.datetime
) -> Decision:
    state = _customer_state(customer, now)
    acc = None
    if account is not None:
        acc = AccountState(
            debit=account.account_type == AccountType.DEBIT,
            blocked=account.blocked,
            balance=account.balance,
            reserved=account.reserved,
            credit_limit=account.credit_limit,
        )
    return decide(amount=amount, customer=state, account=acc, fraud=_fraud(customer, now))


def _decide_reseller(reseller: _Customer, amount: Decimal, now: dt.datetime) -> Decision:
    """May the reseller take its charge for a sub-customer's usage (its status, its funds or
    credit limit; its own fraud limit is not its sub-customers')? A refusal says it is the
    reseller's (``RESELLER_REASONS``)."""
    decision = decide(amount=amount, customer=_customer_state(reseller, now))
    if not decision.allowed and _sweep_expired(reseller, None, now):
        decision = decide(amount=amount, customer=_customer_state(reseller, now))
    if decision.allowed:
        return Decision(True)
    return Decision(False, RESELLER_REASONS.get(decision.reason, "reseller_blocked"))


def decide_rated(
    customer: _Customer,
    account: _Account | None,
    reseller: _Customer | None,
    rated: Rated,
    now: dt.datetime,
) -> Decision:
    """The decision on the locked rows: an unpriceable record is denied with its reason;
    otherwise the customer's (expired holds swept once), then its reseller's."""
    if rated.refusal:
        return Decision(False, rated.refusal)
    decision = _decide(customer, account, rated.amount, now)
    if not decision.allowed and _sweep_expired(customer, account, now):
        decision = _decide(customer, account, rated.amount, now)
    if decision.allowed and reseller is not None and rated.reseller_amount is not None:
        verdict = _decide_reseller(reseller, rated.reseller_amount, now)
        if not verdict.allowed:
            return verdict
    return decision


def _available(
    customer: _Customer, balance: Decimal, reserved: Decimal, now: dt.datetime
) -> Decimal | None:
    if customer.balance_control == BalanceControl.PREPAID:
        return -balance - reserved
    limit = customer.effective_credit_limit(now=now)
    return None if limit is None else limit - balance - reserved


def _sweep_expired(customer: _Customer, account: _Account | None, now: dt.datetime) -> bool:
    """Expire the customer's overdue reservations under the lock already held; True when any
    hold was freed (the caller then decides again on fresh values). The other rows it changes
    (other accounts of the customer, the reservations) are locked by the updates themselves,
    in the order of ``billcore.locks`` (``_close_reservations``); every writer of them holds
    this customer's row first, so none waits for the customer while holding one of them."""
    if customer.reserved <= ZERO:
        return False
    overdue = list(
        Reservation.objects.filter(
            customer_id=customer.pk, status=ReservationStatus.OPEN, expires_at__lte=now
        )
    )
    if not overdue:
        return False
    _close_reservations(overdue, status=ReservationStatus.EXPIRED, now=now)
    _refresh_reserved(customer, account)
    return True


def _refresh_reserved(customer: _Customer, account: _Account | None) -> None:
    reserved: Any = Customer.objects.values_list("reserved", flat=True).get(pk=customer.pk)
    customer.reserved = reserved
    if account is not None:
        reserved = Account.objects.values_list("reserved", flat=True).get(pk=account.pk)
        account.reserved = reserved


def _close_reservations(rows: list[Reservation], *, status: str, now: dt.datetime) -> None:
    freed: dict[int, Decimal] = {}
    freed_accounts: dict[int, Decimal] = {}
    for r in rows:
        freed[r.customer_id] = freed.get(r.customer_id, ZERO) + r.amount
        if r.account_id:
            freed_accounts[r.account_id] = freed_accounts.get(r.account_id, ZERO) + r.amount
    # In the order of billcore.locks (an UPDATE locks its row): customers, accounts, then the
    # reservations, each by ascending id.
    for cid, amount in sorted(freed.items()):
        Customer.objects.filter(pk=cid).update(reserved=F("reserved") - money_value(amount))
    for aid, amount in sorted(freed_accounts.items()):
        Account.objects.filter(pk=aid).update(reserved=F("reserved") - money_value(amount))
    Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=status, closed_at=now)


def _post_usage(
    *,
    actor: Actor,
    now: dt.datetime,
    customer: _Customer,
    account: _Account | None,
    amount: Decimal,
    fraud_alert: bool,
    comment: str = "",
) -> int | None:
    """Move the balances and write the ledger row for a charge already decided; the ledger
    row's id (None for a zero amount, which moves nothing)."""
    if amount == ZERO:
        return None
    day = _local_day(customer, now)
    spent = (customer.fraud_day_spent if customer.fraud_day == day else ZERO) + amount
    units = _units(amount)
    move_usage_balances(
        customer_id=customer.pk,
        amount_units=units,
        fraud_day=day,
        fraud_day_spent_units=_units(spent),
        account_id=account.pk if account is not None else None,
    )
    customer.balance += amount
    customer.fraud_day, customer.fraud_day_spent = day, spent
    if account is not None:
        account.balance += amount
    if fraud_alert:
        fraud = _fraud(customer, now)
        FraudAlert.objects.get_or_create(
            customer_id=customer.pk,
            day=day,
            defaults={
                "daily_limit": fraud.daily_limit if fraud else ZERO,
                "spent": spent,
                "at": now,
            },
        )
    adapt = _datetime_adapter()
    row = _ledger_row(customer, account, units, actor, adapt(now), fraud_alert, comment)
    return insert_ledger_rows([row])[0]


def _ledger_row(
    customer: _Customer,
    account: _Account | None,
    units: int,
    actor: Actor,
    created: Any,
    fraud_alert: bool,
    comment: str = "",
) -> tuple[Any, ...]:
    """The ledger row (``ledger.batch.LEDGER_COLUMNS``) of a usage charge of ``units``, the
    customer's balance already moved."""
    return usage_row(
        customer_id=customer.pk,
        amount_units=units,
        balance_after_units=_units(customer.balance),
        account_id=account.pk if account is not None else None,
        actor_id=actor.pk if getattr(actor, "pk", None) else None,
        created=created,
        internal_comment="fraud protection: daily limit passed (notify)"
        if fraud_alert
        else comment,
    )


def _reseller_comment(customer: _Customer) -> str:
    return f"usage of sub-customer {customer.pk}"


def post_rated_usage(
    *,
    actor: Actor,
    now: dt.datetime,
    customer: _Customer,
    account: _Account | None,
    reseller: _Customer | None,
    rated: Rated,
    fraud_alert: bool,
    comment: str = "",
) -> tuple[int | None, int | None]:
    """Post an allowed usage charge on the locked rows: the customer's ledger row and, when
    the usage also charges the reseller, the reseller's own (its currency), in the same
    transaction. Their ids (None for an amount of 0)."""
    tx_id = _post_usage(
        actor=actor,
        now=now,
        customer=customer,
        account=account,
        amount=rated.amount,
        fraud_alert=fraud_alert,
        comment=comment,
    )
    reseller_tx_id = None
    if reseller is not None and rated.reseller_amount is not None:
        reseller_tx_id = _post_usage(
            actor=actor,
            now=now,
            customer=reseller,
            account=None,
            amount=rated.reseller_amount,
            fraud_alert=False,
            comment=_reseller_comment(customer),
        )
    return tx_id, reseller_tx_id


def _xdr_row(
    customer: _Customer,
    account: _Account | None,
    usage: UsageInput,
    rated: Rated,
    status: str,
    reason: str,
    created: Any,
    adapt: Any,
) -> tuple[Any, ...]:
    """The values of ``_XDR_COLUMNS`` but the last two (the ledger rows' ids)."""
    c = rated.columns
    return (
        customer.pk,
        account.pk if account is not None else None,
        usage.service,
        _units(usage.quantity),
        usage.unit,
        _units(rated.amount),
        adapt(usage.started_at),
        connection.ops.adapt_json_value(usage.details, _DETAILS.encoder),
        usage.external_id,
        customer.owner,
        status,
        reason,
        created,
        usage.cld,
        usage.access_code,
        c.tariff_id,
        c.rate_id,
        c.rate_prefix,
        c.price_set,
        c.base_quantity,
        c.charged_quantity,
        None if c.reseller_amount is None else _units(c.reseller_amount),
    )


def _charge_result(
    xdr: Xdr | _XdrInfo, customer: _Customer, now: dt.datetime, *, replayed: bool
) -> ChargeResult:
    c = xdr.columns if isinstance(xdr, _XdrInfo) else _columns_of(xdr)
    return ChargeResult(
        allowed=xdr.status == XdrStatus.CHARGED,
        reason=xdr.deny_reason,
        message=REASONS.get(xdr.deny_reason, ""),
        xdr_id=xdr.pk,
        amount=xdr.amount,
        balance=customer.balance,
        available_funds=_available(customer, customer.balance, customer.reserved, now),
        replayed=replayed,
        cld=xdr.cld,
        **_result_columns(c),
    )


def _result_columns(c: RatingColumns) -> dict[str, Any]:
    return {name: getattr(c, name) for name in RATING_COLUMNS}


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class UsageInput:
    """One validated usage record. ``amount`` None: billcore rates it (``cld`` is then the
    called number, validated); otherwise it is pre-rated and charged as sent."""

    service: str
    amount: Decimal | None
    quantity: Decimal
    unit: str
    started_at: dt.datetime
    details: dict[str, Any]
    external_id: str | None
    cld: str | None = None
    access_code: str | None = None
    # Whether the sender gave ``started_at`` (else it is the arrival time, which a retry of
    # the same record cannot repeat: a replay then does not compare it).
    started_given: bool = True

    @property
    def rated_here(self) -> bool:
        return self.amount is None


def service_code(service: Any) -> str:
    """A standard service code (no query) or one of the catalogue; an unknown code names
    ``service``."""
    if isinstance(service, str) and service in _STANDARD_SERVICES:
        return service
    code = as_str("service", service, max_length=32).strip()
    if code in _STANDARD_SERVICES:
        return code
    if not code or not CatalogueService.objects.filter(code=code).exists():
        raise ValidationFailed(
            "service must be one of: voice, data, messaging, other, or a service of the "
            f"catalogue (got {code!r})",
            field="service",
            code="invalid_choice",
        )
    return code


def parse_usage(
    *,
    service: Any,
    amount: Any = None,
    quantity: Any = None,
    unit: Any = "",
    started_at: Any = None,
    details: Any = None,
    external_id: Any = None,
    cld: Any = None,
    access_code: Any = None,
    now: dt.datetime,
    allow_unrated: bool = True,
) -> UsageInput:
    """Validate one usage record; every error names its field. Without an ``amount`` (absent
    or empty) the record is to be rated: ``cld`` and ``quantity`` are then required."""
    svc = service_code(service)
    money: Decimal | None = None
    if amount not in (None, "") or not allow_unrated:
        money = as_money("amount", amount, allow_none=False, minimum=ZERO)
    code = None
    if access_code not in (None, ""):
        if access_code not in _ACCESS_CODES:
            raise ValidationFailed(
                "access_code must be empty (outgoing) or one of "
                f"{', '.join(c for c in _ACCESS_CODES if c)} (got {str(access_code)[:40]!r})",
                field="access_code",
                code="invalid_choice",
            )
        code = cast(str, access_code)
    number = None
    if money is None:
        check_cld(cld)
        number = cast(str, cld).strip()
        if quantity in (None, ""):
            raise ValidationFailed(
                "quantity is required to rate usage without an amount",
                field="quantity",
                code="required",
            )
    elif cld not in (None, ""):
        number = as_str("cld", cld, max_length=64).strip() or None
    qty = as_money("quantity", quantity, minimum=ZERO) if quantity not in (None, "") else ZERO
    if started_at in (None, ""):
        start = now
    elif isinstance(started_at, dt.datetime):
        start = started_at
    else:
        try:
            start = dt.datetime.fromisoformat(as_str("started_at", started_at, max_length=40))
        except ValueError:
            raise ValidationFailed(
                "started_at must be an ISO 8601 date-time, e.g. 2026-11-01T10:00:00Z",
                field="started_at",
            ) from None
    if start.tzinfo is None:
        raise ValidationFailed(
            "started_at needs a time zone (e.g. Z or +01:00)", field="started_at"
        )
    check_instant("started_at", start)
    if start > now + MAX_STARTED_AHEAD:
        raise ValidationFailed(
            "started_at is more than a day in the future", field="started_at", code="out_of_range"
        )
    details = as_json_object("details", details, max_bytes=MAX_DETAILS_BYTES)
    key = None
    if external_id not in (None, ""):
        key = as_str("external_id", external_id, max_length=200)
    return UsageInput(
        service=svc,
        amount=money,
        quantity=qty or ZERO,
        unit=as_str("unit", unit, max_length=20),
        started_at=start,
        details=details,
        external_id=key,
        cld=number,
        access_code=code,
        started_given=started_at not in (None, ""),
    )


# --------------------------------------------------------------------------- operations


def charge(
    *,
    actor: Actor,
    now: dt.datetime,
    account_id: Any = None,
    customer_id: Any = None,
    usage: UsageInput,
    pricer: Pricer | None = None,
) -> ChargeResult:
    """Charge one usage record. Denied charges are kept as xDRs with their reason.

    The target and whether its ``external_id`` was seen before are read in one query, before
    the transaction: a replay needs no lock, and a new record is guarded by the unique
    ``external_id`` (a concurrent twin that wins the race makes this insert fail, and the
    result is then replayed under the lock). Usage without an amount is priced before the
    transaction too (``pricer``, default a new per-call ``Pricer``)."""
    cid, aid, owner, seen = _target_seen(actor, account_id, customer_id, usage.external_id)
    usage = _resolved(usage, cid)
    if seen:
        replay = _replay(usage, cid, owner, now)
        if replay is not None:
            return replay
    rated = rate(usage, aid, pricer)
    try:
        with transaction.atomic():
            return _charge_locked(actor=actor, now=now, cid=cid, aid=aid, usage=usage, rated=rated)
    except IntegrityError:
        # A concurrent request with the same external_id won the race: replay its result.
        if usage.external_id is None:
            raise
        with transaction.atomic():
            return _charge_locked(
                actor=actor, now=now, cid=cid, aid=aid, usage=usage, rated=rated, replay=True
            )


def _resolved(usage: UsageInput, customer_id: int) -> UsageInput:
    """Usage to rate with its called number as the customer's abbreviated dialing or an
    extension makes it (rating-and-tabs.md §3.2): the full number is rated and kept on the
    xDR. A number longer than a short code costs no query."""
    if not usage.rated_here or not usage.cld:
        return usage
    number = features.resolve_cld(customer_id=customer_id, cld=usage.cld)
    return usage if number is None else dataclasses.replace(usage, cld=number)


def rate(usage: UsageInput, account_id: int | None, pricer: Pricer | None = None) -> Rated:
    """The amount to charge for ``usage``: as sent (pre-rated), or priced on the account's
    products. Bad rating input raises ``ValidationFailed`` naming the field; a record that
    cannot be priced gives a refusal (it is then kept, denied)."""
    if usage.amount is not None:
        return Rated(usage.amount)
    if account_id is None:
        raise ValidationFailed(
            "account: usage without an amount is rated on an account's products; give the account",
            field="account",
            code="required",
        )
    pricing = (pricer or Pricer()).price(
        account_id=account_id,
        service=usage.service,
        cld=usage.cld or "",
        quantity=usage.quantity,
        unit=usage.unit,
        started_at=usage.started_at,
        access_code=usage.access_code or "",
    )
    for priced in (pricing.customer, pricing.reseller):
        if isinstance(priced, Priced) and priced.amount >= MAX_ABS_AMOUNT:
            raise ValidationFailed(
                f"quantity: the rated amount ({priced.amount:.2E}) is beyond what an amount "
                "can hold",
                field="quantity",
                code="out_of_range",
            )
    return rated_of(pricing)


def _same_usage(usage: UsageInput, cid: int, earlier: Xdr | _XdrInfo) -> bool:
    """Whether an earlier xDR with the same key is this record: for rated usage what the
    client sent (service, called number, quantity, start), never the computed amount; for
    pre-rated usage the amount and service, as before."""
    if usage.amount is None:
        # A retry that leaves ``started_at`` out arrives later: its start is not compared.
        start = usage.started_at if usage.started_given else earlier.started_at
        return (
            earlier.customer_id,
            earlier.service,
            earlier.cld,
            earlier.quantity,
            earlier.started_at,
        ) == (cid, usage.service, usage.cld, usage.quantity, start)
    return (earlier.customer_id, earlier.amount, earlier.service) == (
        cid,
        usage.amount,
        usage.service,
    )


def _target_seen(
    actor: Actor, account_id: Any, customer_id: Any, key: str | None
) -> tuple[int, int | None, int, bool]:
    """``_target``, its owner (``Xdr.owner``) and whether the owner has an xDR with
    ``external_id`` ``key``, in one query."""
    require_user(actor)
    kind, pk = _target_id(account_id, customer_id)
    name = f"{kind}-target{'-key' if key is not None else ''}"
    row = _query(name).row({_SENTINEL_ID: pk, _SENTINEL_KEY: key})
    aid: int | None
    if kind == "account":
        cid, aid = _account_target(actor, pk, row and row[:2], customer_id)
    else:
        cid, aid = _customer_target(actor, pk, row and row[:1])
    assert row is not None
    return cid, aid, row[-2] or 0, bool(row[-1])


def _replay(usage: UsageInput, cid: int, owner: int, now: dt.datetime) -> ChargeResult | None:
    if usage.external_id is None:
        return None
    earlier = Xdr.objects.filter(external_id=usage.external_id, owner=owner).first()
    if earlier is None:
        return None
    if not _same_usage(usage, cid, earlier):
        raise Conflict(
            "external_id was already used for a different usage record",
            field="external_id",
            code="idempotency_key_reused",
        )
    return _charge_result(earlier, _current_customer(cid), now, replayed=True)


def _current_customer(cid: int) -> _Customer:
    """The customer's money as it is now (no lock: what a replay reports)."""
    row = _query("customer-now").row({_SENTINEL_ID: cid})
    if row is None:
        raise Customer.DoesNotExist(f"customer {cid}")
    return _Customer(*row)


def _charge_locked(
    *,
    actor: Actor,
    now: dt.datetime,
    cid: int,
    aid: int | None,
    usage: UsageInput,
    rated: Rated,
    replay: bool = False,
) -> ChargeResult:
    reseller_id = rated.reseller_id if rated.charges_reseller else None
    customer, account, reseller = lock_with_reseller(cid, aid, reseller_id)
    if replay:
        replayed = _replay(usage, cid, customer.owner, now)
        if replayed is not None:
            return replayed
    book = _plan_book(rated, [cid], [aid] if aid is not None else [])
    applied = _apply_plans(book, cid, aid, usage, rated, now)
    if applied is not None:
        rated = replace(rated, amount=applied.amount)
    decision = decide_rated(customer, account, reseller, rated, now)
    tx_id = reseller_tx_id = None
    if decision.allowed:
        if book is not None and applied is not None:
            book.commit(applied, now=now)
        tx_id, reseller_tx_id = post_rated_usage(
            actor=actor,
            now=now,
            customer=customer,
            account=account,
            reseller=reseller,
            rated=rated,
            fraud_alert=decision.fraud_alert,
        )
    status = XdrStatus.CHARGED.value if decision.allowed else XdrStatus.DENIED.value
    adapt = _datetime_adapter()
    row = _xdr_row(customer, account, usage, rated, status, decision.reason, adapt(now), adapt)
    xdr = _XdrInfo(
        customer_id=customer.pk,
        amount=rated.amount,
        service=usage.service,
        status=status,
        deny_reason=decision.reason,
        quantity=usage.quantity,
        started_at=usage.started_at,
        cld=usage.cld,
        columns=rated.columns,
        pk=insert_returning_ids(Xdr, _XDR_COLUMNS, [(*row, tx_id, reseller_tx_id)])[0],
    )
    if book is not None and applied is not None and decision.allowed:
        assert xdr.pk is not None
        book.add_parts(xdr.pk, applied)
        book.write()
    return _charge_result(xdr, customer, now, replayed=False)


def apply_plans_locked(
    book: PlanBook | None,
    cid: int,
    aid: int | None,
    usage: UsageInput | Xdr,
    rated: Rated,
    now: dt.datetime,
) -> tuple[Rated, Applied | None]:
    """``rated`` with the amount the plans leave to the main balance, and what they took
    (re-rating replays sessions through this)."""
    applied = _apply_plans(book, cid, aid, usage, rated, now)
    if applied is not None:
        rated = replace(rated, amount=applied.amount)
    return rated, applied


def plan_book(rated: Rated, customer_ids: Any, account_ids: Any) -> PlanBook | None:
    """Public name of :func:`_plan_book` (re-rating)."""
    return _plan_book(rated, customer_ids, account_ids)


def _plan_book(rated: Rated, customer_ids: Any, account_ids: Any) -> PlanBook | None:
    """Issue 13: the plans of these (locked) customers and accounts when usage rated here
    may use them (``plans.applying``); None otherwise."""
    if rated.terms is None or not account_ids:
        return None
    return PlanBook.load(customer_ids=customer_ids, account_ids=account_ids)


def _apply_plans(
    book: PlanBook | None,
    cid: int,
    aid: int | None,
    usage: UsageInput | Xdr,
    rated: Rated,
    now: dt.datetime,
) -> Applied | None:
    """What the plans take from a rated session (quotas, wallets, discounts), or None.
    ``usage``: the record (or, re-rating, its xDR): its service, called number, start."""
    if book is None or aid is None or rated.terms is None or rated.refusal:
        return None
    c = rated.columns
    return book.apply(
        Session(
            customer_id=cid,
            account_id=aid,
            service=usage.service,
            cld=usage.cld or "",
            price_set=c.price_set or "peak",
            started_at=usage.started_at,
            terms=rated.terms,
            charged_quantity=c.charged_quantity or 0,
        ),
        now=now,
    )


@dataclass(frozen=True)
class ChargeRequest:
    """One usage record to charge with ``charge_many``: what ``charge`` takes per call."""

    usage: UsageInput
    now: dt.datetime
    account_id: Any = None
    customer_id: Any = None


_DETAILS: Any = Xdr._meta.get_field("details")
_IN_CHUNK = 500  # ids per ``IN (…)`` list


def _in_chunks(items: Sequence[Any], sql_type: str = "bigint") -> Iterator[Any]:
    """Right-hand sides of ``__in`` covering ``items``: on PostgreSQL one array parameter (a
    long list of placeholders costs more to compose than to run), elsewhere lists of
    ``_IN_CHUNK``."""
    if connection.vendor == "postgresql":
        if items:
            # sql_type is one of our literals; the values are a parameter.
            yield RawSQL(f"SELECT unnest(%s::{sql_type}[])", [list(items)])  # noqa: S611
        return
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _targets_many(
    actor: Actor, requests: Sequence[ChargeRequest]
) -> list[tuple[int, int | None] | BillcoreError]:
    """``_target`` for many records with one query per kind: the same answers, errors
    included, in the same order of checks."""
    given: list[tuple[str, int] | BillcoreError] = []
    for r in requests:
        try:
            given.append(_target_id(r.account_id, r.customer_id))
        except BillcoreError as exc:
            given.append(exc)
    account_ids = sorted({g[1] for g in given if isinstance(g, tuple) and g[0] == "account"})
    customer_ids = sorted({g[1] for g in given if isinstance(g, tuple) and g[0] == "customer"})
    accounts: dict[int, tuple[int, int | None]] = {}
    for ids in _in_chunks(account_ids):
        for aid, cid, reseller in Account.objects.filter(pk__in=ids).values_list(
            "id", "customer_id", "customer__reseller_id"
        ):
            accounts[aid] = (cid, reseller)
    customers: dict[int, tuple[int | None]] = {}
    for ids in _in_chunks(customer_ids):
        for cid, reseller in Customer.objects.filter(pk__in=ids).values_list("id", "reseller_id"):
            customers[cid] = (reseller,)
    out: list[tuple[int, int | None] | BillcoreError] = []
    for r, g in zip(requests, given, strict=True):
        if isinstance(g, BillcoreError):
            out.append(g)
            continue
        try:
            if g[0] == "account":
                out.append(_account_target(actor, g[1], accounts.get(g[1]), r.customer_id))
            else:
                out.append(_customer_target(actor, g[1], customers.get(g[1])))
        except BillcoreError as exc:
            out.append(exc)
    return out


_XDR_COLUMNS = (
    "customer_id",
    "account_id",
    "service",
    "quantity",
    "unit",
    "amount",
    "started_at",
    "details",
    "external_id",
    "owner",
    "status",
    "deny_reason",
    "created_at",
    "cld",
    "access_code",
    "tariff_id",
    "rate_id",
    "rate_prefix",
    "price_set",
    "base_quantity",
    "charged_quantity",
    "reseller_amount",
    "transaction_id",
    "reseller_transaction_id",
)


@dataclass(slots=True)
class _XdrInfo:
    """An xDR of the batch (or an earlier one its ``external_id`` names): what a replay
    compares and answers; ``row``, ``ledger`` and ``reseller_ledger`` (the indexes of its
    ledger rows) for new ones."""

    customer_id: int
    amount: Decimal
    service: str
    status: str
    deny_reason: str
    quantity: Decimal
    started_at: dt.datetime
    cld: str | None
    columns: RatingColumns = _NOT_RATED
    pk: int | None = None
    row: tuple[Any, ...] = ()
    ledger: int | None = None
    reseller_ledger: int | None = None


def _write_batch(
    ledger: list[tuple[Any, ...]],
    xdrs: list[_XdrInfo],
    customers: list[tuple[_Customer, Decimal]],
    accounts: list[tuple[_Account, Decimal]],
    alerts: list[FraudAlert],
) -> None:
    """The writes of a batch decided in memory: the ledger rows (their ids come back), the
    xDRs pointing at them, one balance update per customer and account touched (by the sum of
    its charges, ``balance = balance + δ``), the fraud alerts."""
    ledger_ids = insert_ledger_rows(ledger)
    xdr_ids = insert_returning_ids(
        Xdr,
        _XDR_COLUMNS,
        [
            (
                *x.row,
                None if x.ledger is None else ledger_ids[x.ledger],
                None if x.reseller_ledger is None else ledger_ids[x.reseller_ledger],
            )
            for x in xdrs
        ],
    )
    for x, pk in zip(xdrs, xdr_ids, strict=True):
        x.pk = pk
    move_usage_balances_many(
        customers=[
            (c.pk, _units(delta), c.fraud_day, _units(c.fraud_day_spent)) for c, delta in customers
        ],
        accounts=[(a.pk, _units(delta)) for a, delta in accounts],
    )
    if alerts:
        FraudAlert.objects.bulk_create(alerts)


@dataclass
class PreparedCharges:
    """``prepare_charges``'s answer: the records' errors in place, and the records to charge
    with their target and their price (``Rated``)."""

    results: list[ChargeResult | BillcoreError | None]
    todo: list[tuple[int, ChargeRequest, int, int | None, Rated]]


def prepare_charges(
    *, actor: Actor, requests: Sequence[ChargeRequest], pricer: Pricer | None = None
) -> PreparedCharges:
    """What ``charge_many`` does before its transaction: the targets (one query per kind)
    and the price of each record without an amount, with ``pricer`` (default one
    ``Pricer(whole_tariffs=True)`` for all of them). A record whose target or rating input is
    bad gets its error in its place."""
    require_user(actor)
    results: list[ChargeResult | BillcoreError | None] = [None] * len(requests)
    targets = _targets_many(actor, requests)
    numbers = features.resolve_many(
        (t[0], r.usage.cld)
        for r, t in zip(requests, targets, strict=True)
        if r.usage.rated_here and r.usage.cld and not isinstance(t, BillcoreError)
    )
    if numbers:
        requests = [
            r
            if isinstance(t, BillcoreError)
            or not r.usage.rated_here
            or (t[0], (r.usage.cld or "").strip()) not in numbers
            else dataclasses.replace(
                r,
                usage=dataclasses.replace(
                    r.usage, cld=numbers[(t[0], (r.usage.cld or "").strip())]
                ),
            )
            for r, t in zip(requests, targets, strict=True)
        ]
    todo: list[tuple[int, ChargeRequest, int, int | None, Rated]] = []
    to_rate = {
        t[1]
        for r, t in zip(requests, targets, strict=True)
        if r.usage.amount is None and not isinstance(t, BillcoreError) and t[1] is not None
    }
    if to_rate:
        pricer = pricer or Pricer(whole_tariffs=True)
        pricer.prefetch(to_rate)  # the accounts' products, entries, overrides: a few queries
    for i, (r, t) in enumerate(zip(requests, targets, strict=True)):
        if isinstance(t, BillcoreError):
            results[i] = t
            continue
        try:
            if r.usage.amount is None and pricer is None:
                pricer = Pricer(whole_tariffs=True)
            rated = rate(r.usage, t[1], pricer)
        except BillcoreError as exc:
            results[i] = exc
            continue
        todo.append((i, r, t[0], t[1], rated))
    return PreparedCharges(results, todo)


def charge_prepared(
    *, actor: Actor, prepared: PreparedCharges
) -> list[ChargeResult | BillcoreError]:
    """The transaction of ``charge_many`` for records ``prepare_charges`` made ready."""
    results = list(prepared.results)
    if prepared.todo:
        with transaction.atomic():
            _charge_many_locked(actor, prepared.todo, results)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def charge_many(
    *, actor: Actor, requests: Sequence[ChargeRequest], pricer: Pricer | None = None
) -> list[ChargeResult | BillcoreError]:
    """Charge many usage records in one database transaction, with exactly the results of
    calling ``charge`` for each in turn (balances after each, denials and their reasons,
    replays of earlier or repeated ``external_id``s, fraud alerts), in a few statements:
    one look-up of the targets, one of the ``external_id``s already used, the customers then
    the accounts locked in primary-key order, every decision made in memory in order, then
    the ledger rows and xDRs inserted in bulk and one balance update per customer and
    account. A record that cannot be charged gets its error in its place; the others go
    through. A database error (e.g. a concurrent import of the same ``external_id``)
    propagates with nothing of the batch kept: the caller then charges one by one.

    Records without an amount are priced before the transaction with one ``pricer``
    (default ``Pricer(whole_tariffs=True)``); a reseller's customer's record also charges
    the reseller (both customer rows locked with the others, in id order)."""
    prepared = prepare_charges(actor=actor, requests=requests, pricer=pricer)
    return charge_prepared(actor=actor, prepared=prepared)


def _spend(
    customer: _Customer, account: _Account | None, amount: Decimal, now: dt.datetime
) -> tuple[dt.date, Decimal]:
    """A charge decided in memory: the balances and the day's spending moved (written by
    ``_write_batch``); the day and its spending after it."""
    day = _local_day(customer, now)
    spent = (customer.fraud_day_spent if customer.fraud_day == day else ZERO) + amount
    customer.balance += amount
    customer.fraud_day, customer.fraud_day_spent = day, spent
    if account is not None:
        account.balance += amount
    return day, spent


def _charge_many_locked(
    actor: Actor,
    todo: list[tuple[int, ChargeRequest, int, int | None, Rated]],
    results: list[ChargeResult | BillcoreError | None],
) -> None:
    # billcore.locks stage 1: the targets' customers and the resellers charged for their
    # sub-customers' usage, all in one ascending id order; then the accounts.
    customer_ids = {cid for _, _, cid, _, _ in todo} | {
        rated.reseller_id for *_, rated in todo if rated.charges_reseller and rated.reseller_id
    }
    customers: dict[int, _Customer] = {}
    for ids in _in_chunks(sorted(customer_ids)):
        for row in _locked_customers(Customer.objects.filter(pk__in=ids)):
            customers[row[0]] = _Customer(*row)
    accounts: dict[int, _Account] = {}
    for ids in _in_chunks(sorted({aid for _, _, _, aid, _ in todo if aid is not None})):
        for row in _locked_accounts(Account.objects.filter(pk__in=ids)):
            accounts[row[0]] = _Account(*row)
    keys = sorted({r.usage.external_id for _, r, _, _, _ in todo if r.usage.external_id})
    owners = sorted({customers[cid].owner for _, _, cid, _, _ in todo})
    earlier: dict[tuple[int, str], _XdrInfo] = {}  # (owner, external_id) → its xDR
    for chunk in _in_chunks(keys, "text"):
        rows: Any = Xdr.objects.filter(external_id__in=chunk, owner__in=owners).values_list(
            "owner",
            "external_id",
            "customer_id",
            "amount",
            "service",
            "status",
            "deny_reason",
            "quantity",
            "started_at",
            "cld",
            *RATING_COLUMNS,
            "pk",
        )
        for owner, key, *info in rows:
            cust, amount, service, status, reason, quantity, started, cld = info[:8]
            earlier[(owner, key)] = _XdrInfo(
                customer_id=cust,
                amount=amount,
                service=service,
                status=status,
                deny_reason=reason,
                quantity=quantity,
                started_at=started,
                cld=cld,
                columns=RatingColumns(*info[8:-1]),
                pk=info[-1],
            )
    opening = {cid: c.balance for cid, c in customers.items()}
    opening_accounts = {aid: a.balance for aid, a in accounts.items()}
    book = None
    if any(rated.terms is not None for *_, rated in todo):
        book = PlanBook.load(customer_ids=customers, account_ids=accounts)
    with_plans: list[tuple[int, Applied]] = []  # (index in xdrs, what the plans took)
    adapt = _datetime_adapter()
    ledger: list[tuple[Any, ...]] = []
    xdrs: list[_XdrInfo] = []
    alerts: dict[tuple[int, dt.date], FraudAlert] = {}
    # Results wait for the ids of the rows: (index, xDR, customer, now, balance, reserved).
    answers: list[tuple[int, _XdrInfo, _Customer, dt.datetime, Decimal, Decimal, bool]] = []
    for i, r, cid, aid, rated in todo:
        customer = customers[cid]
        account = accounts[aid] if aid is not None else None
        reseller = (
            customers[rated.reseller_id]
            if rated.charges_reseller and rated.reseller_id is not None
            else None
        )
        usage, now = r.usage, r.now
        key = (customer.owner, usage.external_id) if usage.external_id is not None else None
        if key is not None and key in earlier:
            prior = earlier[key]
            if not _same_usage(usage, cid, prior):
                results[i] = Conflict(
                    "external_id was already used for a different usage record",
                    field="external_id",
                    code="idempotency_key_reused",
                )
            else:
                # The result as ``charge`` replays it: the customer's money as it is now.
                answers.append((i, prior, customer, now, customer.balance, customer.reserved, True))
            continue
        applied = _apply_plans(book, cid, aid, usage, rated, now)
        if applied is not None:
            rated = replace(rated, amount=applied.amount)
        decision = decide_rated(customer, account, reseller, rated, now)
        created = adapt(now)
        ledger_index = reseller_index = None
        if book is not None and applied is not None and decision.allowed:
            book.commit(applied, now=now)
            with_plans.append((len(xdrs), applied))
        if decision.allowed and rated.amount != ZERO:
            amount = rated.amount
            day, spent = _spend(customer, account, amount, now)
            if decision.fraud_alert and (cid, day) not in alerts:
                fraud = _fraud(customer, now)
                alerts[(cid, day)] = FraudAlert(
                    customer_id=cid,
                    day=day,
                    daily_limit=fraud.daily_limit if fraud else ZERO,
                    spent=spent,
                    at=now,
                )
            ledger_index = len(ledger)
            ledger.append(
                _ledger_row(customer, account, _units(amount), actor, created, decision.fraud_alert)
            )
        if decision.allowed and reseller is not None and rated.reseller_amount:
            _spend(reseller, None, rated.reseller_amount, now)
            reseller_index = len(ledger)
            ledger.append(
                _ledger_row(
                    reseller,
                    None,
                    _units(rated.reseller_amount),
                    actor,
                    created,
                    False,
                    _reseller_comment(customer),
                )
            )
        status = XdrStatus.CHARGED.value if decision.allowed else XdrStatus.DENIED.value
        xdr = _XdrInfo(
            customer_id=cid,
            amount=rated.amount,
            service=usage.service,
            status=status,
            deny_reason=decision.reason,
            quantity=usage.quantity,
            started_at=usage.started_at,
            cld=usage.cld,
            columns=rated.columns,
            row=_xdr_row(customer, account, usage, rated, status, decision.reason, created, adapt),
            ledger=ledger_index,
            reseller_ledger=reseller_index,
        )
        xdrs.append(xdr)
        if key is not None:
            earlier[key] = xdr
        answers.append((i, xdr, customer, now, customer.balance, customer.reserved, False))
    if alerts:
        existing = set(
            FraudAlert.objects.filter(
                customer_id__in=sorted({cid for cid, _ in alerts}),
                day__in=sorted({day for _, day in alerts}),
            ).values_list("customer_id", "day")
        )
        fresh = [a for k, a in alerts.items() if k not in existing]
    else:
        fresh = []
    _write_batch(
        ledger,
        xdrs,
        [
            (c, c.balance - opening[cid])
            for cid, c in customers.items()
            if c.balance != opening[cid]
        ],
        [
            (a, a.balance - opening_accounts[aid])
            for aid, a in accounts.items()
            if a.balance != opening_accounts[aid]
        ],
        fresh,
    )
    if book is not None:
        for index, applied in with_plans:
            book.add_parts(index, applied)
        book.write([cast(int, x.pk) for x in xdrs])
    for i, xdr, customer, now, balance, reserved, replayed in answers:
        results[i] = ChargeResult(
            allowed=xdr.status == XdrStatus.CHARGED,
            reason=xdr.deny_reason,
            message=REASONS.get(xdr.deny_reason, ""),
            xdr_id=xdr.pk,
            amount=xdr.amount,
            balance=balance,
            available_funds=_available(customer, balance, reserved, now),
            replayed=replayed,
            cld=xdr.cld,
            **_result_columns(xdr.columns),
        )


#: Why ``authorize`` with a called number refuses, beyond ``core.charging.REASONS`` and the
#: rating refusals of ``rating.pricing.REFUSALS``.
AUTHORIZE_REASONS: dict[str, str] = {
    "insufficient_funds": "the money available does not pay for the first unit of the call",
    "quota_exhausted": "the quota for this service is used up and its plan blocks the service",
    "reseller_insufficient_funds": "the reseller's money available does not pay for the call",
    "reseller_blocked": "the customer's reseller is blocked",
    "reseller_suspended": "the customer's reseller is suspended",
    "reseller_terminated": "the customer's reseller is terminated or exported",
}


@dataclass(frozen=True)
class AuthorizeResult:
    """``authorize``'s answer: a ``ChargeResult``'s fields and, when a called number was
    given, the longest session the account can afford now (seconds, capped) and what that
    session would cost (``amount``)."""

    allowed: bool
    reason: str
    message: str
    amount: Decimal
    balance: Decimal
    available_funds: Decimal | None
    max_duration: int | None = None
    xdr_id: None = None
    replayed: bool = False
    # Issue 13: a named network policy (e.g. the "limit the speed" policy of a used-up data
    # quota), which a network adapter sends on (RADIUS ``Filter-Id``); "" for none.
    policy: str = ""
    # The number rated and routed when ``cld`` was an abbreviated number or an extension of
    # the customer (issue 14), else None.
    resolved_cld: str | None = None


CONCURRENT_CALLS_LIMIT = "concurrent_calls_limit"  # the RADIUS side maps it (h323 code 3)


def _concurrency_refusal(
    customer: _Customer, account: _Account | None, direction: str, now: dt.datetime
) -> str:
    """§4.2 step 3: one more session in ``direction`` would pass a simultaneous-call limit
    in force (``features.call_limits``: the customer's over all its sessions, the account's
    over its own), counting open reservations that have not expired (live sessions are
    reservations too). Called with the customer's row locked, so concurrent reserves of one
    customer count each other."""
    own, per_account = features.call_limits(
        customer_id=customer.pk, account_id=account.pk if account is not None else None
    )
    if not own and not per_account:
        return ""
    live = Reservation.objects.filter(
        customer_id=customer.pk, status=ReservationStatus.OPEN, expires_at__gt=now
    )
    mine = live.filter(account_id=account.pk) if account is not None else live.none()
    for limits, rows in ((own, live), (per_account, mine)):
        if not limits:
            continue
        counts: dict[str, int] = dict(
            rows.order_by()
            .values("direction")
            .annotate(n=Count("id"))
            .values_list("direction", "n")
        )
        if limits.reached(counts, direction):
            return CONCURRENT_CALLS_LIMIT
    return ""


def _money_available(
    customer: _Customer, account: _Account | None, now: dt.datetime
) -> Decimal | None:
    """The money a session may spend now (rating-and-tabs.md §4.2 step 6), None for no limit:
    the customer's available funds (prepaid) or credit left (postpaid with a limit), each
    minus open reservations; a debit account's own funds or a credit account's own limit
    when less; a blocking daily fraud limit's remainder when less."""
    money = _available(customer, customer.balance, customer.reserved, now)
    bounds: list[Decimal] = [] if money is None else [money]
    if account is not None:
        if account.account_type == AccountType.DEBIT:
            bounds.append(-account.balance - account.reserved)
        elif account.credit_limit is not None:
            bounds.append(account.credit_limit - account.balance - account.reserved)
    fraud = _fraud(customer, now)
    if fraud is not None and fraud.blocks and fraud.daily_limit is not None:
        bounds.append(fraud.daily_limit - fraud.spent_today)
    return min(bounds) if bounds else None


def _reseller_refusal(reseller: _Customer) -> str:
    reason = status_reason(
        status=reseller.status,
        blocked=reseller.blocked,
        suspension_reason=reseller.suspension_reason,
    )
    if not reason:
        return ""
    if reason == "customer_blocked":
        return "reseller_blocked"
    if reason.startswith("customer_suspended"):
        return "reseller_suspended"
    return "reseller_terminated"


def _seconds_for(
    money: Decimal | None, terms: Any, cap: int, units: Decimal = ZERO, wallet: Decimal = ZERO
) -> int:
    """``max_duration`` with §4.2 step 5: a zero-priced destination lasts until the cap;
    with plans (issue 13), quota ``units`` and ``wallet`` money pay for the start first."""
    if not (terms.price_first or terms.price_next or terms.connection_fee):
        return cap
    return max_duration_with_plans(money, terms, cap, quota_units=units, wallet_money=wallet)


def authorize(
    *,
    actor: Actor,
    now: dt.datetime,
    account_id: Any = None,
    customer_id: Any = None,
    amount: Any = None,
    cld: Any = None,
    service: Any = None,
    access_code: Any = "",
    direction: Any = None,
) -> AuthorizeResult:
    """May this amount be spent now, and, with a called number (``cld``), for how long may
    the account call it? Changes nothing (expired holds aside).

    With ``cld`` (issue 12 §2, rating-and-tabs.md §4.2-4.3, §7.1) the session is priced as
    usage of ``service`` (default voice) would be, and ``max_duration`` is the longest session
    whose stored amount fits the money available now (:func:`_money_available`), for a
    reseller's customer also the reseller's on its own price (the less of the two), capped by
    the installation's ``max_session_seconds`` (also the answer without a limit or for a
    zero-priced destination). Refused with the rating reason (``no_product``, ``no_rate``,
    ``forbidden_destination``, …), or ``insufficient_funds`` when it is 0. ``amount``, when
    given too, must be affordable as before; without ``cld`` it is required.

    Issue 14: ``cld`` may be an abbreviated number or an extension of the customer; the full
    number is rated (and answered as ``resolved_cld``). One more session in ``direction``
    (default outgoing) beyond a simultaneous-call limit is refused with
    ``concurrent_calls_limit``, after the statuses and before rating (§4.2 step 3)."""
    money = as_money("amount", amount, allow_none=cld not in (None, ""), minimum=ZERO)
    way = features.parse_direction(direction)
    cid, aid = _target(actor=actor, account_id=account_id, customer_id=customer_id)
    pricing = None
    resolved = None
    if isinstance(cld, str) and cld.strip():
        resolved = features.resolve_cld(customer_id=cid, cld=cld)
    if cld not in (None, ""):
        if aid is None:
            raise ValidationFailed(
                "account: rating a called number needs the account (products are per account)",
                field="account",
            )
        pricing = Pricer().price(
            account_id=aid,
            service=as_str("service", service or "voice", max_length=32),
            cld=resolved or cld,
            quantity=ZERO,
            started_at=now,
            access_code=as_str("access_code", access_code or "", max_length=16).upper(),
        )
    cap = max_session_seconds()
    free: tuple[Decimal, Decimal, str, bool] = (ZERO, ZERO, "", False)
    with transaction.atomic():
        customer, account = _lock(cid, aid)
        _sweep_expired(customer, account, now)
        busy = _concurrency_refusal(customer, account, way, now)
        reseller = None
        if pricing is not None and customer.reseller_id is not None:
            row = _query("customer-now").row({_SENTINEL_ID: customer.reseller_id})
            reseller = _Customer(*row) if row is not None else None
        if pricing is not None and isinstance(pricing.customer, Priced) and aid is not None:
            free = _plans_free(cid, aid, pricing.customer, service, cld, now)
    funds = _available(customer, customer.balance, customer.reserved, now)

    def answer(
        reason: str, seconds: int | None = None, cost: Decimal | None = None
    ) -> AuthorizeResult:
        message = AUTHORIZE_REASONS.get(reason) or REASONS.get(reason, "")
        if not message and reason in REFUSALS:
            message = REFUSALS[reason]
        return AuthorizeResult(
            allowed=not reason,
            reason=reason,
            message=message if reason else "",
            amount=cost if cost is not None else (money if money is not None else ZERO),
            balance=customer.balance,
            available_funds=funds,
            max_duration=seconds,
            policy=free[2] if not reason else "",
            resolved_cld=resolved,
        )

    # Statuses first (as an amount's decision checks them), then the amount, then rating.
    decision = _decide(customer, account, money if money is not None else ZERO, now)
    if not decision.allowed and (money is not None or decision.reason not in _FUNDS_REASONS):
        return answer(decision.reason)
    if busy:
        return answer(busy)
    if pricing is None:
        return answer("")
    if reseller is not None and _reseller_refusal(reseller):
        return answer(_reseller_refusal(reseller))
    refusal = pricing.refusal
    if refusal is not None:
        return answer(refusal.reason)
    assert isinstance(pricing.customer, Priced)
    terms = pricing.customer.terms
    if free[3]:
        return answer("quota_exhausted")
    seconds = _seconds_for(_money_available(customer, account, now), terms, cap, *free[:2])
    if seconds == 0:
        return answer("insufficient_funds", 0)
    if reseller is not None and isinstance(pricing.reseller, Priced):
        reseller_seconds = _seconds_for(
            _money_available(reseller, None, now), pricing.reseller.terms, cap
        )
        if reseller_seconds == 0:
            return answer("reseller_insufficient_funds", 0)
        seconds = min(seconds, reseller_seconds)
    return answer("", seconds, rate_usage(seconds, terms).amount)


def _plans_free(
    cid: int, aid: int, priced: Priced, service: Any, cld: Any, now: dt.datetime
) -> tuple[Decimal, Decimal, str, bool]:
    """Issue 13: what the account's plans hold for a session starting now (quota units and
    unit-wallet units, money-wallet money, the speed policy, whether a quota blocks)."""
    book = PlanBook.load(customer_ids=[cid], account_ids=[aid])
    if book is None:
        return ZERO, ZERO, "", False
    session = Session(
        customer_id=cid,
        account_id=aid,
        service=str(service or "voice"),
        cld=str(cld),
        price_set=str(priced.price_set),
        started_at=now,
        terms=priced.terms,
        charged_quantity=0,
    )
    return book.free_for(session, now=now)


# The reasons an amount of 0 can be refused for want of money: with a called number the
# maximum duration decides instead (a zero-priced destination needs no funds, §4.2 step 5).
_FUNDS_REASONS = frozenset(
    {
        "insufficient_funds",
        "credit_limit_exceeded",
        "account_insufficient_funds",
        "account_limit_exceeded",
        "fraud_daily_limit",
    }
)


def _reservation_result(
    r: Reservation,
    customer: _Customer,
    now: dt.datetime,
    *,
    allowed: bool = True,
    reason: str = "",
    replayed: bool = False,
) -> ReservationResult:
    return ReservationResult(
        allowed=allowed,
        reason=reason,
        message=REASONS.get(reason, ""),
        reservation_id=r.pk,
        status=r.status,
        amount=r.amount,
        expires_at=r.expires_at,
        balance=customer.balance,
        available_funds=_available(customer, customer.balance, customer.reserved, now),
        xdr_id=r.xdr_id,
        replayed=replayed,
    )


def reserve(
    *,
    actor: Actor,
    now: dt.datetime,
    account_id: Any = None,
    customer_id: Any = None,
    service: Any,
    amount: Any,
    seconds: Any = DEFAULT_RESERVATION_SECONDS,
    external_id: Any = None,
    direction: Any = None,
) -> ReservationResult:
    """Hold ``amount`` for a session; it counts against available funds until committed,
    released or expired after ``seconds``. It is one of the sessions in ``direction``
    (default outgoing) the simultaneous-call limits count: one beyond them is refused with
    ``concurrent_calls_limit`` (issue 14)."""
    svc = as_choice("service", service, Service.values)
    way = features.parse_direction(direction)
    money = as_money("amount", amount, allow_none=False, minimum=ZERO)
    assert money is not None
    ttl = as_int("seconds", seconds, minimum=1, maximum=7 * 24 * 3600)
    key = as_str("external_id", external_id, max_length=200) if external_id else None
    cid, aid = _target(actor=actor, account_id=account_id, customer_id=customer_id)
    with transaction.atomic():
        customer, account = _lock(cid, aid)
        if key:
            earlier = Reservation.objects.filter(external_id=key, owner=customer.owner).first()
            if earlier is not None:
                if (earlier.customer_id, earlier.amount) != (cid, money):
                    raise Conflict(
                        "external_id was already used for a different reservation",
                        field="external_id",
                        code="idempotency_key_reused",
                    )
                return _reservation_result(earlier, customer, now, replayed=True)
        decision = _decide(customer, account, money, now)
        if not decision.allowed and _sweep_expired(customer, account, now):
            decision = _decide(customer, account, money, now)
        if decision.allowed:
            busy = _concurrency_refusal(customer, account, way, now)
            if busy:
                decision = Decision(False, busy)
        if not decision.allowed:
            return ReservationResult(
                allowed=False,
                reason=decision.reason,
                message=decision.message,
                reservation_id=None,
                status="denied",
                amount=money,
                expires_at=None,
                balance=customer.balance,
                available_funds=_available(customer, customer.balance, customer.reserved, now),
            )
        Customer.objects.filter(pk=cid).update(reserved=F("reserved") + money_value(money))
        customer.reserved += money
        if account is not None:
            Account.objects.filter(pk=account.pk).update(
                reserved=F("reserved") + money_value(money)
            )
        r = Reservation.objects.create(
            customer_id=customer.pk,
            account_id=account.pk if account is not None else None,
            service=svc,
            amount=money,
            direction=way,
            external_id=key,
            owner=customer.owner,
            expires_at=now + dt.timedelta(seconds=ttl),
            created_at=now,
        )
    return _reservation_result(r, customer, now)


def _locked_reservation(
    actor: Actor, reservation_id: Any
) -> tuple[Reservation, _Customer, _Account | None]:
    rid = as_int("reservation", reservation_id, minimum=1)
    row = (
        Reservation.objects.filter(pk=rid)
        .values_list("customer_id", "account_id", "customer__reseller_id")
        .first()
    )
    require_user(actor)
    if row is None or (not is_admin(actor) and row[2] != require_user(actor).reseller_id):
        raise NotFound(f"reservation {rid} not found", field="reservation")
    customer, account = _lock(row[0], row[1])
    # billcore.locks: the customer, then the account, then the reservation.
    return for_update(Reservation.objects.filter(pk=rid)).get(), customer, account


def commit_reservation(
    *,
    actor: Actor,
    now: dt.datetime,
    reservation_id: Any,
    amount: Any,
    quantity: Any = None,
    unit: Any = "",
    started_at: Any = None,
    details: Any = None,
    external_id: Any = None,
) -> ReservationResult:
    """Charge the actual amount (at most the reserved one) and free the rest. Committing the
    same reservation again with the same amount returns the first result."""
    with transaction.atomic():
        r, customer, account = _locked_reservation(actor, reservation_id)
        usage = parse_usage(
            service=r.service,
            amount=amount,
            quantity=quantity,
            unit=unit,
            started_at=started_at or r.created_at,
            details=details,
            external_id=external_id,
            now=now,
            allow_unrated=False,
        )
        assert usage.amount is not None
        if r.status == ReservationStatus.COMMITTED:
            if r.xdr is not None and r.xdr.amount == usage.amount:
                return _reservation_result(r, customer, now, replayed=True)
            raise Conflict(
                "the reservation is already committed with another amount",
                field="reservation",
                code="already_committed",
            )
        if r.status != ReservationStatus.OPEN:
            raise ValidationFailed(
                f"the reservation is {r.status}; nothing to commit",
                field="reservation",
                code=f"reservation_{r.status}",
            )
        if usage.amount > r.amount:
            raise ValidationFailed(
                f"amount {usage.amount} is more than the reserved {r.amount}",
                field="amount",
                code="exceeds_reservation",
            )
        _close_reservations([r], status=ReservationStatus.COMMITTED, now=now)
        customer.reserved -= r.amount
        if account is not None:
            account.reserved -= r.amount
        # The reserved funds were held for this session: the charge goes through.
        tx = _post_usage(
            actor=actor,
            now=now,
            customer=customer,
            account=account,
            amount=usage.amount,
            fraud_alert=False,
        )
        xdr = Xdr.objects.create(
            customer_id=customer.pk,
            account_id=account.pk if account is not None else None,
            service=usage.service,
            quantity=usage.quantity,
            unit=usage.unit,
            amount=usage.amount,
            started_at=usage.started_at,
            details=usage.details,
            external_id=usage.external_id,
            owner=customer.owner,
            status=XdrStatus.CHARGED,
            transaction_id=tx,
            created_at=now,
        )
        Reservation.objects.filter(pk=r.pk).update(xdr=xdr)
        r.refresh_from_db()
    return _reservation_result(r, customer, now)


def release_reservation(
    *, actor: Actor, now: dt.datetime, reservation_id: Any
) -> ReservationResult:
    """Free the whole hold. Releasing twice is harmless."""
    with transaction.atomic():
        r, customer, _account = _locked_reservation(actor, reservation_id)
        if r.status == ReservationStatus.OPEN:
            _close_reservations([r], status=ReservationStatus.RELEASED, now=now)
            _refresh_reserved(customer, None)
            r.refresh_from_db()
        elif r.status == ReservationStatus.COMMITTED:
            raise ValidationFailed(
                "the reservation is already committed",
                field="reservation",
                code="reservation_committed",
            )
    return _reservation_result(r, customer, now)


def charge_held(
    *,
    actor: Actor,
    now: dt.datetime,
    reservation_id: int,
    usage: UsageInput,
    rated: Rated,
    final: bool,
) -> tuple[ChargeResult, str]:
    """Charge a network session's usage against its hold (``charging.sessions``): the rated
    amount is posted (no decision: the funds were held when the session was authorised, and
    usage that happened is charged even past the hold), the hold shrinks by it, and ``final``
    commits the reservation, releasing the rest. A reservation no longer open (expired) only
    has the charge posted. Runs in the caller's transaction when there is one; locks the
    customer (with its reseller), the account, then the reservation. Also the reservation's
    status afterwards."""
    with transaction.atomic():
        head = Reservation.objects.values_list("customer_id", "account_id").get(pk=reservation_id)
        reseller_id = rated.reseller_id if rated.charges_reseller else None
        customer, account, reseller = lock_with_reseller(head[0], head[1], reseller_id)
        r = for_update(Reservation.objects.filter(pk=reservation_id)).get()
        if r.status == ReservationStatus.OPEN:
            if final:
                _close_reservations([r], status=ReservationStatus.COMMITTED, now=now)
                r.status = ReservationStatus.COMMITTED
            else:
                cut = money_value(min(rated.amount, r.amount))
                Customer.objects.filter(pk=customer.pk).update(reserved=F("reserved") - cut)
                if account is not None:
                    Account.objects.filter(pk=account.pk).update(reserved=F("reserved") - cut)
                Reservation.objects.filter(pk=r.pk).update(amount=F("amount") - cut)
            _refresh_reserved(customer, account)
        tx_id, reseller_tx_id = post_rated_usage(
            actor=actor,
            now=now,
            customer=customer,
            account=account,
            reseller=reseller,
            rated=rated,
            fraud_alert=False,
        )
        adapt = _datetime_adapter()
        status = XdrStatus.CHARGED.value
        row = _xdr_row(customer, account, usage, rated, status, "", adapt(now), adapt)
        xdr = _XdrInfo(
            customer_id=customer.pk,
            amount=rated.amount,
            service=usage.service,
            status=status,
            deny_reason="",
            quantity=usage.quantity,
            started_at=usage.started_at,
            cld=usage.cld,
            columns=rated.columns,
            pk=insert_returning_ids(Xdr, _XDR_COLUMNS, [(*row, tx_id, reseller_tx_id)])[0],
        )
        if final and r.status == ReservationStatus.COMMITTED:
            Reservation.objects.filter(pk=r.pk).update(xdr=xdr.pk)
    return _charge_result(xdr, customer, now, replayed=False), r.status


def expire_reservations(*, now: dt.datetime, batch: int = 500) -> int:
    """Expire every open reservation whose time is up (the engine calls this). One customer
    per transaction, locked before its reservations."""
    expired = 0
    customer_ids = list(
        Reservation.objects.filter(status=ReservationStatus.OPEN, expires_at__lte=now)
        .values_list("customer_id", flat=True)
        .distinct()[:batch]
    )
    for cid in customer_ids:
        with transaction.atomic():
            # billcore.locks: the customer, then the accounts whose holds are freed, then
            # the reservations, each by ascending id on its own table.
            lock_row(Customer.objects.all(), cid)
            due = Reservation.objects.filter(
                customer_id=cid, status=ReservationStatus.OPEN, expires_at__lte=now
            )
            list(for_update(Account.objects.filter(pk__in=due.values("account_id"))))
            rows = list(for_update(due))
            if rows:
                _close_reservations(rows, status=ReservationStatus.EXPIRED, now=now)
                expired += len(rows)
    return expired

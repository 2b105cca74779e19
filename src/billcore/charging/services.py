"""Real-time charging: charge, authorise, reserve / commit / release, expire.

Every balance-changing call runs in one database transaction that locks the customer row
first and the account row second (always in that order, so concurrent writers never
deadlock), decides with ``billcore.core.charging.decide`` on the locked values, and then
moves the balances by atomic updates and writes the ledger row and the xDR. On PostgreSQL
the lock is ``SELECT … FOR UPDATE``; on SQLite the IMMEDIATE transaction holds the database
write lock from its first statement. Concurrent sessions therefore can never overspend:
available funds count open reservations, and each check sees the previous writer's result.

``external_id`` is the idempotency key of an xDR or a reservation: the same key twice
returns the first result and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from billcore.accounts.access import is_admin, require_user
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
    AccountState,
    CustomerState,
    Decision,
    FraudState,
    decide,
)
from billcore.customers.models import BalanceControl, Customer
from billcore.db import money_value
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.ledger.models import Action, Transaction
from billcore.subscribers.models import Account, AccountType
from billcore.validation import as_choice, as_int, as_money, as_str

ZERO = Decimal(0)
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


def _target(*, actor: Any, account_id: Any, customer_id: Any) -> tuple[int, int | None]:
    """(customer id, account id) the actor may charge; a 404 for anything else."""
    require_user(actor)
    if account_id not in (None, ""):
        aid = as_int("account", account_id, minimum=1)
        row = (
            Account.objects.filter(pk=aid)
            .values_list("customer_id", "customer__reseller_id")
            .first()
        )
        if row is None or (not is_admin(actor) and row[1] != actor.reseller_id):
            raise NotFound(f"account {aid} not found", field="account")
        if customer_id not in (None, "") and as_int("customer", customer_id) != row[0]:
            raise ValidationFailed(
                "account: the account belongs to another customer", field="account"
            )
        return row[0], aid
    if customer_id in (None, ""):
        raise ValidationFailed("account or customer is required", field="account", code="required")
    cid = as_int("customer", customer_id, minimum=1)
    row2 = Customer.objects.filter(pk=cid).values_list("reseller_id").first()
    if row2 is None or (not is_admin(actor) and row2[0] != actor.reseller_id):
        raise NotFound(f"customer {cid} not found", field="customer")
    return cid, None


def _lock(customer_id: int, account_id: int | None) -> tuple[Customer, Account | None]:
    customer = (
        Customer.objects.select_for_update(of=("self",))
        .select_related("customer_class")
        .get(pk=customer_id)
    )
    account = Account.objects.select_for_update().get(pk=account_id) if account_id else None
    return customer, account


def _local_day(customer: Customer, now: dt.datetime) -> dt.date:
    try:
        zone = zoneinfo.ZoneInfo(customer.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(zone).date()


def _fraud(customer: Customer, now: dt.datetime) -> FraudState | None:
    """Fraud protection (CC-06, CU-13): the customer's override, else the class's; a class
    without a currency has none."""
    cls = customer.customer_class
    limit = customer.fraud_daily_limit
    action = customer.fraud_action
    if limit is None and cls.currency_id is not None:
        limit = cls.fraud_daily_limit
    if limit is None:
        return None
    action = action or cls.fraud_action
    spent = customer.fraud_day_spent if customer.fraud_day == _local_day(customer, now) else ZERO
    return FraudState(daily_limit=limit, spent_today=spent, blocks=action == FraudAction.BLOCK)


def _decide(
    customer: Customer, account: Account | None, amount: Decimal, now: dt.datetime
) -> Decision:
    state = CustomerState(
        status=customer.status,
        blocked=customer.blocked,
        prepaid=customer.balance_control == BalanceControl.PREPAID,
        balance=customer.balance,
        reserved=customer.reserved,
        credit_limit=customer.effective_credit_limit(now=now),
    )
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


def _available(
    customer: Customer, balance: Decimal, reserved: Decimal, now: dt.datetime
) -> Decimal | None:
    if customer.balance_control == BalanceControl.PREPAID:
        return -balance - reserved
    limit = customer.effective_credit_limit(now=now)
    return None if limit is None else limit - balance - reserved


def _sweep_expired(customer: Customer, account: Account | None, now: dt.datetime) -> bool:
    """Expire the customer's overdue reservations under the lock already held; True when any
    hold was freed (the caller then decides again on fresh values)."""
    if customer.reserved <= ZERO:
        return False
    overdue = list(
        Reservation.objects.filter(
            customer=customer, status=ReservationStatus.OPEN, expires_at__lte=now
        )
    )
    if not overdue:
        return False
    _close_reservations(overdue, status=ReservationStatus.EXPIRED, now=now)
    customer.refresh_from_db(fields=["reserved"])
    if account is not None:
        account.refresh_from_db(fields=["reserved"])
    return True


def _close_reservations(rows: list[Reservation], *, status: str, now: dt.datetime) -> None:
    freed: dict[int, Decimal] = {}
    freed_accounts: dict[int, Decimal] = {}
    for r in rows:
        freed[r.customer_id] = freed.get(r.customer_id, ZERO) + r.amount
        if r.account_id:
            freed_accounts[r.account_id] = freed_accounts.get(r.account_id, ZERO) + r.amount
    Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=status, closed_at=now)
    for cid, amount in freed.items():
        Customer.objects.filter(pk=cid).update(reserved=F("reserved") - money_value(amount))
    for aid, amount in freed_accounts.items():
        Account.objects.filter(pk=aid).update(reserved=F("reserved") - money_value(amount))


def _post_usage(
    *,
    actor: Any,
    now: dt.datetime,
    customer: Customer,
    account: Account | None,
    amount: Decimal,
    fraud_alert: bool,
) -> Transaction | None:
    """Move the balances and write the ledger row for a charge already decided."""
    if amount == ZERO:
        return None
    day = _local_day(customer, now)
    spent = (customer.fraud_day_spent if customer.fraud_day == day else ZERO) + amount
    Customer.objects.filter(pk=customer.pk).update(
        balance=F("balance") + money_value(amount), fraud_day=day, fraud_day_spent=spent
    )
    customer.balance += amount
    customer.fraud_day, customer.fraud_day_spent = day, spent
    if account is not None:
        Account.objects.filter(pk=account.pk).update(balance=F("balance") + money_value(amount))
        account.balance += amount
    if fraud_alert:
        fraud = _fraud(customer, now)
        FraudAlert.objects.get_or_create(
            customer=customer,
            day=day,
            defaults={
                "daily_limit": fraud.daily_limit if fraud else ZERO,
                "spent": spent,
                "at": now,
            },
        )
    return Transaction.objects.create(
        customer=customer,
        action=Action.USAGE,
        amount=amount,
        balance_after=customer.balance,
        account=account,
        account_amount=amount if account is not None else ZERO,
        actor=actor if getattr(actor, "pk", None) else None,
        created_at=now,
        internal_comment="fraud protection: daily limit passed (notify)" if fraud_alert else "",
    )


def _charge_result(
    xdr: Xdr, customer: Customer, now: dt.datetime, *, replayed: bool
) -> ChargeResult:
    from billcore.core.charging import REASONS

    return ChargeResult(
        allowed=xdr.status == XdrStatus.CHARGED,
        reason=xdr.deny_reason,
        message=REASONS.get(xdr.deny_reason, ""),
        xdr_id=xdr.pk,
        amount=xdr.amount,
        balance=customer.balance,
        available_funds=_available(customer, customer.balance, customer.reserved, now),
        replayed=replayed,
    )


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class UsageInput:
    service: str
    amount: Decimal
    quantity: Decimal
    unit: str
    started_at: dt.datetime
    details: dict[str, Any]
    external_id: str | None


def parse_usage(
    *,
    service: Any,
    amount: Any,
    quantity: Any = None,
    unit: Any = "",
    started_at: Any = None,
    details: Any = None,
    external_id: Any = None,
    now: dt.datetime,
) -> UsageInput:
    """Validate one usage record; every error names its field."""
    svc = as_choice("service", service, Service.values)
    money = as_money("amount", amount, allow_none=False, minimum=ZERO)
    assert money is not None
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
    if details in (None, ""):
        details = {}
    if not isinstance(details, dict):
        raise ValidationFailed("details must be an object", field="details")
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
    )


# --------------------------------------------------------------------------- operations


def charge(
    *,
    actor: Any,
    now: dt.datetime,
    account_id: Any = None,
    customer_id: Any = None,
    usage: UsageInput,
) -> ChargeResult:
    """Charge one usage record. Denied charges are kept as xDRs with their reason."""
    cid, aid = _target(actor=actor, account_id=account_id, customer_id=customer_id)
    try:
        with transaction.atomic():
            return _charge_locked(actor=actor, now=now, cid=cid, aid=aid, usage=usage)
    except IntegrityError:
        # A concurrent request with the same external_id won the race: replay its result.
        if usage.external_id is None:
            raise
        with transaction.atomic():
            return _charge_locked(actor=actor, now=now, cid=cid, aid=aid, usage=usage)


def _replay(usage: UsageInput, cid: int, now: dt.datetime) -> ChargeResult | None:
    if usage.external_id is None:
        return None
    earlier = Xdr.objects.filter(external_id=usage.external_id).first()
    if earlier is None:
        return None
    if (earlier.customer_id, earlier.amount, earlier.service) != (cid, usage.amount, usage.service):
        raise Conflict(
            "external_id was already used for a different usage record",
            field="external_id",
            code="idempotency_key_reused",
        )
    customer = Customer.objects.get(pk=cid)
    return _charge_result(earlier, customer, now, replayed=True)


def _charge_locked(
    *, actor: Any, now: dt.datetime, cid: int, aid: int | None, usage: UsageInput
) -> ChargeResult:
    customer, account = _lock(cid, aid)
    replay = _replay(usage, cid, now)
    if replay is not None:
        return replay
    decision = _decide(customer, account, usage.amount, now)
    if not decision.allowed and _sweep_expired(customer, account, now):
        decision = _decide(customer, account, usage.amount, now)
    tx = None
    if decision.allowed:
        tx = _post_usage(
            actor=actor,
            now=now,
            customer=customer,
            account=account,
            amount=usage.amount,
            fraud_alert=decision.fraud_alert,
        )
    xdr = Xdr.objects.create(
        customer=customer,
        account=account,
        service=usage.service,
        quantity=usage.quantity,
        unit=usage.unit,
        amount=usage.amount,
        started_at=usage.started_at,
        details=usage.details,
        external_id=usage.external_id,
        status=XdrStatus.CHARGED if decision.allowed else XdrStatus.DENIED,
        deny_reason=decision.reason,
        transaction=tx,
        created_at=now,
    )
    return _charge_result(xdr, customer, now, replayed=False)


def authorize(
    *,
    actor: Any,
    now: dt.datetime,
    account_id: Any = None,
    customer_id: Any = None,
    amount: Any,
) -> ChargeResult:
    """May this amount be spent now? Changes nothing (expired holds aside)."""
    money = as_money("amount", amount, allow_none=False, minimum=ZERO)
    assert money is not None
    cid, aid = _target(actor=actor, account_id=account_id, customer_id=customer_id)
    with transaction.atomic():
        customer, account = _lock(cid, aid)
        decision = _decide(customer, account, money, now)
        if not decision.allowed and _sweep_expired(customer, account, now):
            decision = _decide(customer, account, money, now)
    return ChargeResult(
        allowed=decision.allowed,
        reason=decision.reason,
        message=decision.message,
        xdr_id=None,
        amount=money,
        balance=customer.balance,
        available_funds=_available(customer, customer.balance, customer.reserved, now),
    )


def _reservation_result(
    r: Reservation,
    customer: Customer,
    now: dt.datetime,
    *,
    allowed: bool = True,
    reason: str = "",
    replayed: bool = False,
) -> ReservationResult:
    from billcore.core.charging import REASONS

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
    actor: Any,
    now: dt.datetime,
    account_id: Any = None,
    customer_id: Any = None,
    service: Any,
    amount: Any,
    seconds: Any = DEFAULT_RESERVATION_SECONDS,
    external_id: Any = None,
) -> ReservationResult:
    """Hold ``amount`` for a session; it counts against available funds until committed,
    released or expired after ``seconds``."""
    svc = as_choice("service", service, Service.values)
    money = as_money("amount", amount, allow_none=False, minimum=ZERO)
    assert money is not None
    ttl = as_int("seconds", seconds, minimum=1, maximum=7 * 24 * 3600)
    key = as_str("external_id", external_id, max_length=200) if external_id else None
    cid, aid = _target(actor=actor, account_id=account_id, customer_id=customer_id)
    with transaction.atomic():
        customer, account = _lock(cid, aid)
        if key:
            earlier = Reservation.objects.filter(external_id=key).first()
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
            customer=customer,
            account=account,
            service=svc,
            amount=money,
            external_id=key,
            expires_at=now + dt.timedelta(seconds=ttl),
            created_at=now,
        )
    return _reservation_result(r, customer, now)


def _locked_reservation(
    actor: Any, reservation_id: Any
) -> tuple[Reservation, Customer, Account | None]:
    rid = as_int("reservation", reservation_id, minimum=1)
    row = (
        Reservation.objects.filter(pk=rid)
        .values_list("customer_id", "account_id", "customer__reseller_id")
        .first()
    )
    require_user(actor)
    if row is None or (not is_admin(actor) and row[2] != actor.reseller_id):
        raise NotFound(f"reservation {rid} not found", field="reservation")
    customer, account = _lock(row[0], row[1])
    return Reservation.objects.select_for_update().get(pk=rid), customer, account


def commit_reservation(
    *,
    actor: Any,
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
        )
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
            customer=customer,
            account=account,
            service=usage.service,
            quantity=usage.quantity,
            unit=usage.unit,
            amount=usage.amount,
            started_at=usage.started_at,
            details=usage.details,
            external_id=usage.external_id,
            status=XdrStatus.CHARGED,
            transaction=tx,
            created_at=now,
        )
        Reservation.objects.filter(pk=r.pk).update(xdr=xdr)
        r.refresh_from_db()
    return _reservation_result(r, customer, now)


def release_reservation(*, actor: Any, now: dt.datetime, reservation_id: Any) -> ReservationResult:
    """Free the whole hold. Releasing twice is harmless."""
    with transaction.atomic():
        r, customer, _account = _locked_reservation(actor, reservation_id)
        if r.status == ReservationStatus.OPEN:
            _close_reservations([r], status=ReservationStatus.RELEASED, now=now)
            customer.refresh_from_db(fields=["reserved"])
            r.refresh_from_db()
        elif r.status == ReservationStatus.COMMITTED:
            raise ValidationFailed(
                "the reservation is already committed",
                field="reservation",
                code="reservation_committed",
            )
    return _reservation_result(r, customer, now)


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
            Customer.objects.select_for_update().filter(pk=cid).first()
            rows = list(
                Reservation.objects.select_for_update().filter(
                    customer_id=cid, status=ReservationStatus.OPEN, expires_at__lte=now
                )
            )
            if rows:
                _close_reservations(rows, status=ReservationStatus.EXPIRED, now=now)
                expired += len(rows)
    return expired

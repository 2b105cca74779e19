"""The customer's own self-care reads and actions (issue 16 §1; CU-02, CU-16, CC-12, CC-21).

The services called here take an actor and check what it may see; self-care has no user row,
so it passes ``Me.actor`` (a named system actor, ``logins.actor_for``) only after it has made
sure that what the call touches is the customer's own: every id given from outside is looked up
within ``me.customer`` first, and anything else is "not found".

Hidden balance-reset entries (CC-12) are never shown: ``transactions`` leaves out every hidden
ledger row. A provisionally terminated customer (CU-16) is read-only: it sees everything and may
save a card and pay its last invoice, nothing else (``NotAllowed`` otherwise).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from billcore.accounts.access import SystemActor
from billcore.charging.models import Xdr
from billcore.charging.selectors import customer_xdrs, summary
from billcore.customers.logins import Access, access, actor_for
from billcore.customers.models import Customer, CustomerLogin, Status
from billcore.customers.services import update_customer
from billcore.dids.models import DidAssignment
from billcore.errors import NotAllowed, NotFound, ValidationFailed
from billcore.features.models import AbbreviatedNumber
from billcore.features.selectors import Dialing, dialing
from billcore.features.services import add_entry, delete_entry
from billcore.invoicing import payments
from billcore.invoicing.models import Invoice, InvoiceStatus, PaymentAttempt, PaymentMethod
from billcore.invoicing.selectors import customer_invoices, get_invoice, invoice_pdf
from billcore.invoicing.settling import record_transaction
from billcore.ledger.models import Action, Transaction, WalletEntry
from billcore.ledger.transfers import transfer as ledger_transfer
from billcore.notifications.selectors import LogEntry, notification_log
from billcore.plans.selectors import RuleUsage, Source, account_usage, customer_usage
from billcore.plans.wallets import top_up as wallet_top_up
from billcore.subscribers.models import Account
from billcore.validation import as_int, as_money, as_str, reject_unknown

ZERO = Decimal(0)
PROFILE_FIELDS = (
    "company_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
    "country",
)
CHART_DAYS = 30


@dataclass(frozen=True)
class Me:
    """The signed-in customer: its login, what it may do, and the administrator acting as it
    (``acting``: their name, empty when the customer itself)."""

    login: CustomerLogin
    access: Access
    acting: str = ""

    @property
    def customer(self) -> Customer:
        return self.login.customer

    @property
    def customer_id(self) -> int:
        return self.login.customer_id

    @property
    def actor(self) -> SystemActor:
        return actor_for(self.login, acting=self.acting)

    @property
    def read_only(self) -> bool:
        return self.access is Access.READ_ONLY


def me_for(login: CustomerLogin, *, acting: str = "") -> Me:
    """``Me`` of a login read afresh (the customer's status may have changed since the last
    request); ``logins.SignInRefused`` when it may no longer use self-care."""
    fresh = (
        CustomerLogin.objects.select_related("customer__currency", "customer__customer_class")
        .filter(pk=login.pk)
        .first()
    )
    if fresh is None:
        raise NotFound("the self-care login no longer exists", field="login")
    return Me(login=fresh, access=access(fresh), acting=acting)


def _writable(me: Me, what: str) -> None:
    if me.read_only:
        raise NotAllowed(
            f"{what}: the customer is provisionally terminated, so self-care is read-only; "
            "you can see your data and pay your last invoice (CU-16)",
            field="customer",
            code="read_only",
        )


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class Overview:
    customer: Customer
    prepaid: bool
    balance: Decimal
    available_funds: Decimal | None
    credit_limit: Decimal | None
    status: str
    blocked: bool
    next_invoice_at: dt.datetime | None
    unpaid_total: Decimal
    unpaid_count: int
    chart_labels: list[str]
    chart_values: list[Decimal]


def overview(me: Me, *, now: dt.datetime) -> Overview:
    c = me.customer
    unpaid = list(
        Invoice.objects.filter(
            customer_id=c.pk,
            status__in=(InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, InvoiceStatus.OVERDUE),
        ).defer("pdf")
    )
    labels, values = balance_history(me, now=now)
    return Overview(
        customer=c,
        prepaid=c.is_prepaid,
        balance=c.balance,
        available_funds=c.available_funds,
        credit_limit=c.effective_credit_limit(now=now),
        status=str(Status(c.status).label),
        blocked=c.blocked,
        next_invoice_at=c.next_billed_to,
        unpaid_total=sum((i.amount_due for i in unpaid), ZERO),
        unpaid_count=len(unpaid),
        chart_labels=labels,
        chart_values=values,
    )


def _zone(me: Me) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(me.login.time_zone or me.customer.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def balance_history(me: Me, *, now: dt.datetime) -> tuple[list[str], list[Decimal]]:
    """The balance (prepaid: the available funds) at the end of each of the last
    ``CHART_DAYS`` days in the login's time zone, today last: the balance after the day's last
    ledger row, else the day before's."""
    zone = _zone(me)
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=CHART_DAYS - 1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    sign = Decimal(-1) if me.customer.is_prepaid else Decimal(1)
    earlier = (
        Transaction.objects.filter(customer_id=me.customer_id, created_at__lt=start)
        .order_by("-created_at", "-id")
        .values_list("balance_after", flat=True)
        .first()
    )
    running = Decimal(earlier) if earlier is not None else ZERO
    by_day: dict[dt.date, Decimal] = {}
    rows = (
        Transaction.objects.filter(
            customer_id=me.customer_id, created_at__gte=start, created_at__lte=now
        )
        .order_by("created_at", "id")
        .values_list("created_at", "balance_after")
    )
    for at, after in rows:
        by_day[at.astimezone(zone).date()] = Decimal(after)
    labels: list[str] = []
    values: list[Decimal] = []
    for i in range(CHART_DAYS):
        day = first + dt.timedelta(days=i)
        running = by_day.get(day, running)
        labels.append(day.strftime("%m-%d"))
        values.append(running * sign)
    return labels, values


def transactions(me: Me) -> QuerySet[Transaction]:
    """The customer's ledger rows, newest first, without the hidden ones (CC-12)."""
    return (
        Transaction.objects.filter(customer_id=me.customer_id, hidden=False)
        .select_related("account")
        .order_by("-created_at", "-id")
    )


def xdrs(
    me: Me,
    *,
    service: str | None = None,
    status: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    account_id: int | None = None,
) -> QuerySet[Xdr]:
    if account_id is not None:
        own_account(me, account_id)
    return customer_xdrs(
        actor=me.actor,
        customer_id=me.customer_id,
        service=service,
        status=status,
        start=start,
        end=end,
        account_id=account_id,
    )


def xdr_summary(rows: QuerySet[Xdr]) -> dict[str, Any]:
    return summary(rows)


def invoices(me: Me) -> QuerySet[Invoice]:
    return customer_invoices(actor=me.actor, customer_id=me.customer_id)


def invoice(me: Me, invoice_id: Any, *, with_pdf: bool = False) -> Invoice:
    """One of the customer's invoices; "not found" for any other."""
    found = get_invoice(actor=me.actor, invoice_id=invoice_id, with_pdf=with_pdf)
    if found.customer_id != me.customer_id:
        raise NotFound(f"invoice {invoice_id} not found", field="id")
    return found


def pdf(me: Me, invoice_id: Any) -> tuple[Invoice, bytes]:
    found = invoice(me, invoice_id, with_pdf=True)
    return found, invoice_pdf(found)


def last_invoice(me: Me) -> Invoice | None:
    """The newest invoice that is not void: what a provisionally terminated customer may pay."""
    return invoices(me).exclude(status=InvoiceStatus.VOID).first()


def accounts(me: Me) -> QuerySet[Account]:
    return Account.objects.filter(customer_id=me.customer_id).order_by("identifier", "id")


def own_account(me: Me, account_id: Any) -> Account:
    pk = as_int("account", account_id, minimum=1)
    found = Account.objects.filter(customer_id=me.customer_id, pk=pk).first()
    if found is None:
        raise NotFound(f"account {pk} not found", field="account")
    return found


def transfers_allowed(me: Me) -> bool:
    return bool(me.customer.customer_class.s2s_transfers_allowed)


def notifications(me: Me) -> list[LogEntry]:
    return notification_log(actor=me.actor, customer_id=me.customer_id)


def payment_method(me: Me) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(customer_id=me.customer_id).first()


# --------------------------------------------------------------------------- actions


def _key(me: Me, what: str, idempotency_key: Any) -> str:
    key = as_str("idempotency_key", idempotency_key, max_length=120, required=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"selfcare-{me.customer_id}-{what}-{digest}"


def _charge(me: Me, *, amount: Decimal, key: str) -> tuple[str, str]:
    """Charge the saved card through the configured gateway: (gateway name, its reference);
    ``ValidationFailed`` naming ``card`` when there is none or it is declined."""
    method = payment_method(me)
    if method is None:
        raise ValidationFailed(
            "no card is saved: save one on the Payments page first", field="card", code="no_card"
        )
    gw = payments.gateway()
    result = gw.charge(
        token=method.token, amount=amount, currency=me.customer.currency_id, idempotency_key=key
    )
    if not result.approved:
        raise ValidationFailed(
            f"the card was declined ({result.decline_reason}); nothing was charged",
            field="card",
            code="declined",
        )
    return gw.name, result.reference


def pay_invoice(me: Me, *, now: dt.datetime, invoice_id: Any, idempotency_key: Any) -> Invoice:
    """Pay what the invoice still owes with the saved card: the gateway's charge and the
    ledger's e-commerce payment share one idempotency key (a retry never charges twice); the
    payment then settles the customer's invoices, oldest first."""
    target = invoice(me, invoice_id)
    if me.read_only:
        last = last_invoice(me)
        if last is None or last.pk != target.pk:
            _writable(me, "paying an earlier invoice")
    if target.status == InvoiceStatus.VOID:
        raise ValidationFailed(f"invoice {target.number} is void", field="invoice", code="void")
    due = target.amount_due
    key = _key(me, f"invoice-{target.pk}", idempotency_key)
    done = Transaction.objects.filter(customer_id=me.customer_id, idempotency_key=key).exists()
    if due <= ZERO and not done:
        raise ValidationFailed(
            f"invoice {target.number} is paid already", field="invoice", code="paid"
        )
    if not done:
        gateway, reference = _charge(me, amount=due, key=key)
        with transaction.atomic():
            posted = record_transaction(
                actor=me.actor,
                now=now,
                customer_id=me.customer_id,
                action=Action.ECOMMERCE_PAYMENT,
                amount=due,
                visible_comment=f"Card payment of invoice {target.number} (self-care)",
                internal_comment=f"{gateway} {reference}",
                idempotency_key=key,
            )
            if posted.replayed:  # a concurrent twin of this request recorded it first
                return invoice(me, target.pk)
            PaymentAttempt.objects.create(
                invoice=target,
                customer_id=me.customer_id,
                gateway=gateway,
                amount=due,
                approved=True,
                gateway_reference=reference,
                transaction_id=posted.transaction_id,
                created_at=now,
            )
    return invoice(me, target.pk)


def top_up(me: Me, *, now: dt.datetime, amount: Any, idempotency_key: Any) -> Decimal:
    """Pay ``amount`` with the saved card (prepaid: funds up; postpaid: balance down); the
    balance after."""
    _writable(me, "a top-up")
    money = as_money("amount", amount, allow_none=False)
    assert money is not None
    if money <= ZERO:
        raise ValidationFailed("amount must be greater than 0", field="amount")
    if money > Decimal("100000"):
        raise ValidationFailed("amount must be at most 100000", field="amount")
    key = _key(me, "topup", idempotency_key)
    done = Transaction.objects.filter(customer_id=me.customer_id, idempotency_key=key).first()
    if done is None:
        gateway, reference = _charge(me, amount=money, key=key)
        record_transaction(
            actor=me.actor,
            now=now,
            customer_id=me.customer_id,
            action=Action.ECOMMERCE_PAYMENT,
            amount=money,
            visible_comment="Card top-up (self-care)",
            internal_comment=f"{gateway} {reference}",
            idempotency_key=key,
        )
    return Decimal(Customer.objects.values_list("balance", flat=True).get(pk=me.customer_id))


def save_card(me: Me, *, now: dt.datetime, data: dict[str, Any]) -> PaymentMethod:
    """Save or replace the card (also while read-only: it is how the last invoice is paid)."""
    return payments.save_payment_method(
        actor=me.actor, now=now, customer_id=me.customer_id, data=data
    )


def remove_card(me: Me, *, now: dt.datetime) -> None:
    _writable(me, "removing the card")
    payments.remove_payment_method(actor=me.actor, now=now, customer_id=me.customer_id)


def transfer(
    me: Me,
    *,
    now: dt.datetime,
    from_account: Any,
    to_account: Any,
    amount: Any,
    idempotency_key: Any = None,
) -> tuple[Transaction, Transaction]:
    """A subscriber-to-subscriber transfer between two of the customer's accounts, when its
    class allows them (CC-21)."""
    _writable(me, "a transfer")
    source = own_account(me, from_account)
    try:
        target = own_account(me, to_account)
    except NotFound as exc:
        raise NotFound(exc.message, field="to_account") from None
    key = None
    if idempotency_key not in (None, ""):
        key = _key(me, "transfer", idempotency_key)
    return ledger_transfer(
        actor=me.actor,
        now=now,
        from_account_id=source.pk,
        to_account_id=target.pk,
        amount=amount,
        comment="Transfer in self-care",
        idempotency_key=key,
    )


def update_profile(me: Me, *, now: dt.datetime, data: dict[str, Any]) -> Customer:
    """The contact details the customer may edit itself: names, e-mail, phone, address."""
    _writable(me, "editing the profile")
    reject_unknown(dict(data), PROFILE_FIELDS)
    return update_customer(actor=me.actor, now=now, customer_id=me.customer_id, changes=dict(data))


# --------------------------------------------------------------------------- numbers, speed dial


def dids(me: Me) -> QuerySet[DidAssignment]:
    """The numbers the customer holds now (DIDs): number, account, price per period, since."""
    return (
        DidAssignment.objects.filter(customer_id=me.customer_id, released_at__isnull=True)
        .select_related("did", "account")
        .order_by("did__number", "id")
    )


def speed_dial(me: Me) -> Dialing:
    """The customer's abbreviated dialing entries (and the maximum length)."""
    return dialing(actor=me.actor, customer_id=me.customer_id)


def add_speed_dial(me: Me, *, now: dt.datetime, data: dict[str, Any]) -> AbbreviatedNumber:
    """Add an abbreviated number; ``account`` is looked up within the customer first."""
    _writable(me, "adding an abbreviated number")
    values = dict(data)
    if values.get("account") not in (None, ""):
        try:
            values["account"] = own_account(me, values["account"]).pk
        except NotFound as exc:
            raise NotFound(exc.message, field="account") from None
    else:
        values.pop("account", None)
    return add_entry(actor=me.actor, now=now, customer_id=me.customer_id, data=values)


def delete_speed_dial(me: Me, *, now: dt.datetime, entry_id: Any) -> None:
    """Delete one of the customer's abbreviated numbers (another's: not found)."""
    _writable(me, "deleting an abbreviated number")
    delete_entry(actor=me.actor, now=now, customer_id=me.customer_id, entry_id=entry_id)


# --------------------------------------------------------------------------- quotas & wallets


def plan_counters(me: Me, *, now: dt.datetime) -> list[RuleUsage]:
    """The rules in force for the customer itself, then for each of its accounts (the
    account's own plans and its products'), with their counters and service wallets."""
    rows = list(customer_usage(actor=me.actor, customer_id=me.customer_id, at=now))
    for account in accounts(me):
        rows += [
            r
            for r in account_usage(actor=me.actor, account_id=account.pk, at=now)
            if r.applied.source != Source.CUSTOMER
        ]
    return rows


def top_up_wallet(
    me: Me,
    *,
    now: dt.datetime,
    rule_id: Any,
    account_id: Any,
    amount: Any,
    idempotency_key: Any,
) -> WalletEntry:
    """Top up a service wallet (the customer's, or one of its accounts') from the balance,
    when the wallet's rule allows it (a transfer row in the ledger)."""
    _writable(me, "a wallet top-up")
    holder = None
    if account_id not in (None, ""):
        holder = own_account(me, account_id).pk
    key = _key(me, "wallet", idempotency_key)
    return wallet_top_up(
        actor=me.actor,
        now=now,
        rule_id=rule_id,
        account_id=holder,
        customer_id=None if holder is not None else me.customer_id,
        data={"amount": amount, "source": "balance", "idempotency_key": key},
    )

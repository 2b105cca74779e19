"""The close step's fast path: the common case of ``closing.close_due_periods`` in a dozen
plain SQL statements per customer (issue 4 §8: the ORM's query building cost 20x the
database's own work).

The common case: one period due, closed automatically with a regular invoice, no approval
deadline, no balance reset, no separate recurring-fee invoice, no external tax engine, no
e-mail to queue. ``close`` returns None for anything else, and the engine then takes the ORM
path (``closing.close_due_periods``), which stays the reference: a test closes the same
customers both ways and compares every row written.

Same rules as the ORM path: one customer per transaction, the customer's row locked (``FOR
UPDATE [SKIP LOCKED]`` on PostgreSQL; SQLite's IMMEDIATE transaction), the invoice arithmetic
of ``core.invoices`` (through ``issuing.compute_totals``), the gapless counter, settling
oldest first (``core.invoices.allocate``, as ``settling.settle``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils.dateparse import parse_datetime

from billcore.classes.models import CustomerClass, PeriodCloseMode, SendStatistics, TaxationMethod
from billcore.core.invoices import ZERO, Group, Payable, allocate, invoice_status, line_order
from billcore.core.invoices import line_values as _lines
from billcore.core.money import from_units
from billcore.core.periods import period_containing
from billcore.customers.models import Customer, Status
from billcore.db import RowInsert, exact_units
from billcore.installation.models import Currency, InstallationSettings
from billcore.invoicing.allocation import PAYMENTS, taxed_at_close
from billcore.invoicing.closing import CustomerRun
from billcore.invoicing.issuing import INVOICEABLE, compute_totals
from billcore.invoicing.models import (
    ClosedPeriod,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    PeriodStatus,
)
from billcore.ledger.batch import CloseSql
from billcore.ledger.models import Action, Transaction
from billcore.measured.charging import DefinitionIndex, custom_pattern, due_charges, record_charges

CUSTOMER_COLUMNS = (
    "id",
    "balance",
    "billed_to",
    "next_billed_to",
    "status",
    "customer_class_id",
    "currency_id",
    "reseller_id",
    "billing_period",
    "time_zone",
    "created_at",
    "email",
    "invoice_template",
    "country",
    "send_statistics",
    "balance_control",
)


def _dt(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        assert parsed is not None, value
        value = parsed
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    result: dt.datetime = value.astimezone(dt.UTC)
    return result


def _money(value: Any) -> Decimal:
    return from_units(int(value)) if value is not None else ZERO


@dataclass
class _Customer:
    id: int
    balance: Decimal
    billed_to: dt.datetime | None
    next_billed_to: dt.datetime | None
    status: str
    class_id: int
    currency: str
    reseller_id: int | None
    billing_period: int
    time_zone: str
    created_at: dt.datetime
    email: str
    invoice_template: str | None
    country: str
    send_statistics: str | None
    balance_control: str


class FastCloser:
    """One per engine run: the classes, currencies and SQL are prepared once."""

    def __init__(self, *, inst: InstallationSettings) -> None:
        self.inst = inst
        self.classes: dict[int, CustomerClass] = {}
        self.decimals = dict(Currency.objects.values_list("code", "decimals"))
        self.vendor = connection.vendor
        self.conn = connections[DEFAULT_DB_ALIAS]
        self.sql_cache: dict[str, str] = {}
        self.adapt = self.conn.ops.adapt_datetimefield_value
        self.period_insert = RowInsert(ClosedPeriod, self.conn)
        self.invoice_insert = RowInsert(Invoice, self.conn)
        self.line_insert = RowInsert(InvoiceLine, self.conn)
        self.ledger = CloseSql(self.conn)
        self.measured_index: DefinitionIndex | None = None
        q = connection.ops.quote_name
        self.select_customer = (
            f"SELECT {', '.join(q(c) for c in CUSTOMER_COLUMNS)} "  # noqa: S608
            f"FROM {Customer._meta.db_table} WHERE id = %s"
        )
        t, x = Transaction._meta.db_table, "charging_xdr"
        # A usage row is a customer's charge of an xDR (x) or a reseller's wholesale charge of
        # a sub-customer's xDR (r): either names the service (as ``issuing.groups_of``).
        self.select_rows = (
            f"SELECT t.action, COALESCE(x.service, r.service), "  # noqa: S608
            f"COALESCE(x.unit, r.unit), t.invoice_id IS NULL, "
            f"t.created_at < %s, SUM(t.amount), COUNT(t.id), SUM(COALESCE(x.quantity, r.quantity)) "
            f"FROM {t} t LEFT JOIN {x} x ON x.transaction_id = t.id "
            f"LEFT JOIN {x} r ON r.reseller_transaction_id = t.id "
            f"WHERE t.customer_id = %s AND t.period_id IS NULL "
            f"GROUP BY 1, 2, 3, 4, 5"
        )
        payments = ", ".join(f"'{a}'" for a in PAYMENTS)
        self.select_pool = (
            f"SELECT SUM(amount) FROM {t} WHERE customer_id = %s "  # noqa: S608
            f"AND (action IN ({payments}) OR balance_reset)"
        )
        self.select_invoices = (
            f"SELECT id, total, amount_paid, status, due_at, paid_at, kind "  # noqa: S608
            f"FROM {Invoice._meta.db_table} WHERE customer_id = %s "
            f"AND status <> '{InvoiceStatus.VOID.value}' ORDER BY issued_at, id"
        )
        self.counter = (
            f"UPDATE {InvoiceCounter._meta.db_table} SET last = last + 1 "  # noqa: S608
            "WHERE scope = %s RETURNING last"
        )
        billable = ", ".join(f"'{a}'" for a in INVOICEABLE)
        self.stamp = (
            f"UPDATE {t} SET period_id = %s, invoice_id = CASE WHEN invoice_id IS NULL "  # noqa: S608
            f"AND action IN ({billable}) THEN %s ELSE invoice_id END "
            f"WHERE customer_id = %s AND period_id IS NULL AND created_at < %s"
        )
        self.update_customer_dates = (
            f"UPDATE {Customer._meta.db_table} SET billed_to = %s, "  # noqa: S608
            "next_billed_to = %s WHERE id = %s"
        )
        self.update_invoice = (
            f"UPDATE {Invoice._meta.db_table} SET amount_paid = %s, status = %s, "  # noqa: S608
            "paid_at = %s WHERE id = %s"
        )

    def _measured(self) -> DefinitionIndex:
        if self.measured_index is None:
            self.measured_index = DefinitionIndex()
        return self.measured_index

    def _class(self, class_id: int) -> CustomerClass:
        cls = self.classes.get(class_id)
        if cls is None:
            cls = self.classes[class_id] = CustomerClass.objects.get(pk=class_id)
        return cls

    def _eligible_class(self, cls: CustomerClass) -> bool:
        inst = self.inst
        return (
            cls.period_close == PeriodCloseMode.AUTOMATIC
            and cls.generate_regular_invoices
            and not cls.separate_recurring_fee_invoice
            and not (inst.allow_external_billing and cls.postpaid_billed_externally)
            and not (inst.allow_external_billing and cls.reset_balance_every_period)
            and cls.taxation_method not in (TaxationMethod.EZTAX, TaxationMethod.SURETAX)
        )

    def _sends_mail(self, c: _Customer, cls: CustomerClass) -> bool:
        if not c.email:
            return False
        statistics = (c.send_statistics or cls.send_statistics) != SendStatistics.NONE
        return bool(
            cls.send_invoices_by_email
            or (cls.generate_statistics and statistics)
            or "invoice_issued" in (cls.notifications or [])
        )

    def close(
        self, *, customer_id: int, now: dt.datetime, skip_locked: bool = False
    ) -> CustomerRun | None:
        """Close the customer's one due period; None when the ORM path must do it."""
        with transaction.atomic():
            # The DB-API cursor itself: Django's wrapper rewrites every statement's
            # placeholders on SQLite, which cost more than the statement.
            raw = self.conn.connection.cursor()
            cur = _Cursor(raw, qmark=self.vendor == "sqlite", cache=self.sql_cache)
            lock = ""
            if self.vendor == "postgresql":
                lock = " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"
            cur.execute(self.select_customer + lock, [customer_id])
            row = cur.fetchone()
            if row is None:
                return CustomerRun(customer_id=customer_id, skipped=skip_locked)
            c = _Customer(
                id=row[0],
                balance=_money(row[1]),
                billed_to=_dt(row[2]),
                next_billed_to=_dt(row[3]),
                status=row[4],
                class_id=row[5],
                currency=row[6],
                reseller_id=row[7],
                billing_period=row[8],
                time_zone=row[9],
                created_at=_dt(row[10]),  # type: ignore[arg-type]
                email=row[11],
                invoice_template=row[12],
                country=row[13],
                send_statistics=row[14],
                balance_control=row[15],
            )
            cls = self._class(c.class_id)
            if (
                c.status == Status.CLOSED
                or c.billed_to is None
                or c.next_billed_to is None
                or not self._eligible_class(cls)
                or self._sends_mail(c, cls)
            ):
                return None
            if c.next_billed_to > now:
                return CustomerRun(customer_id=customer_id)
            start, end = c.billed_to, c.next_billed_to
            new_end = period_containing(
                at=end, period=c.billing_period, time_zone=c.time_zone, anchor=c.created_at
            ).end
            if new_end <= now:
                return None  # several periods due: the ORM path closes them one by one
            return self._close(cur, c, cls, start, end, new_end, now)

    def _close(
        self,
        cur: Any,
        c: _Customer,
        cls: CustomerClass,
        start: dt.datetime,
        end: dt.datetime,
        new_end: dt.datetime,
        now: dt.datetime,
    ) -> CustomerRun | None:
        adapt = self.adapt
        end_p = adapt(end)
        cur.execute(self.select_rows, [end_p, c.id])
        in_period = later = payments = other = ZERO
        groups: list[Group] = []
        for action, service, unit, unbilled, inside, total, n, qty in cur.fetchall():
            amount = _money(total)
            if not inside:
                later += amount
                continue
            in_period += amount
            # The summary's figures, as closing._close: payments net of the taxes they
            # contained; rows other invoices billed go into the previous balance.
            if action in PAYMENTS or (action == Action.TAX and unbilled):
                payments += amount
            elif not unbilled:
                other += amount
            if unbilled and action in INVOICEABLE:
                groups.append(
                    Group(
                        action=action,
                        service=service or "",
                        amount=amount,
                        count=n,
                        quantity=from_units(int(qty)) if qty is not None else None,
                        unit=unit or "",
                    )
                )
        previous_balance = c.balance - in_period - later + other
        # The period's measured-service charges (as closing._charge_measured): their own
        # ledger rows, posted before the invoice's taxes and rounding, one line each.
        definitions = self._measured().for_customer(customer_id=c.id, class_id=c.class_id)
        measured = due_charges(
            customer_id=c.id,
            definitions=definitions,
            start=start,
            end=end,
            decimals=self.decimals[c.currency],
            custom_pattern=custom_pattern(cls),
        )
        for charge in measured:
            groups.append(
                Group(
                    action=Action.MEASURED_SERVICE,
                    service=charge.service,
                    amount=charge.amount,
                    count=1,
                    quantity=charge.quantity,
                    unit=charge.metric,
                )
            )
        cur.execute(self.select_invoices, [c.id])
        earlier = cur.fetchall()
        if any(r[6] == InvoiceKind.RECURRING for r in earlier):
            return None  # CC-14 settling: the ORM path
        statement = bool(
            self.inst.show_financial_documents_page and cls.generate_financial_documentation
        )
        result = CustomerRun(customer_id=c.id, closed=1)
        if not groups:
            cur.execute(
                self.period_insert.sql(1, returning=True),
                self.period_insert.params(
                    {
                        "customer_id": c.id,
                        "start": start,
                        "end": end,
                        "status": PeriodStatus.CLOSED,
                        "closed_at": now,
                        "balance_after": c.balance,
                        "statement_wanted": statement,
                        "created_at": now,
                    }
                ),
            )
            period_id = cur.fetchone()[0]
            cur.execute(self.stamp, [period_id, None, c.id, end_p])
            cur.execute(
                self.update_customer_dates,
                [end_p, adapt(new_end), c.id],
            )
            return result
        groups.sort(key=line_order)
        decimals = self.decimals[c.currency]
        charges = sum((g.amount for g in groups), ZERO)
        totals = compute_totals(
            charges=charges,
            cls=cls,
            decimals=decimals,
            inst=self.inst,
            country=c.country,
            currency=c.currency,
            taxed=taxed_at_close(c.balance_control, cls),
        )
        posted = []
        balance = c.balance
        for charge in measured:
            balance += charge.amount
            text = charge.comment.replace("{", "{{").replace("}", "}}")
            posted.append((Action.MEASURED_SERVICE, charge.amount, balance, text))
        if totals.tax_added:
            balance += totals.tax_added
            posted.append((Action.TAX, totals.tax_added, balance, "Taxes of invoice {}"))
        adjust = totals.special + totals.rounding
        if adjust:
            balance += adjust
            posted.append((Action.INVOICE_ROUNDING, adjust, balance, "Rounding of invoice {}"))
        scope = c.reseller_id or 0
        cur.execute(self.counter, [scope])
        got = cur.fetchone()
        if got is None:
            InvoiceCounter.objects.get_or_create(scope=scope)
            cur.execute(self.counter, [scope])
            got = cur.fetchone()
        sequence = int(got[0])
        number = f"INV-{sequence:07d}" if scope == 0 else f"R{scope}-{sequence:07d}"
        # Settling, oldest first: the pool of payments pays the earlier invoices, then this one.
        cur.execute(self.select_pool, [c.id])
        pool = -_money(cur.fetchone()[0])
        total = totals.total
        paid_of = allocate(
            pool=pool,
            invoices=[*(Payable(total=_money(r[1])) for r in earlier), Payable(total=total)],
        )
        changes = []
        for (inv_id, total_u, paid_u, status, due_at, paid_at, _kind), paid in zip(
            earlier, paid_of, strict=False
        ):
            old_paid = _money(paid_u)
            new_status, new_paid_at = invoice_status(
                total=_money(total_u), paid=paid, due_at=_dt(due_at), paid_at=_dt(paid_at), now=now
            )
            if (old_paid, status, _dt(paid_at)) != (paid, new_status, new_paid_at):
                changes.append((inv_id, paid, new_status, new_paid_at))
        due_at = now + dt.timedelta(days=cls.grace_period_days)
        paid = paid_of[-1]
        status, paid_at = invoice_status(
            total=total, paid=paid, due_at=due_at, paid_at=None, now=now
        )
        cur.execute(
            self.period_insert.sql(1, returning=True),
            self.period_insert.params(
                {
                    "customer_id": c.id,
                    "start": start,
                    "end": end,
                    "status": PeriodStatus.CLOSED,
                    "closed_at": now,
                    "balance_after": balance,
                    "statement_wanted": statement,
                    "created_at": now,
                }
            ),
        )
        period_id = cur.fetchone()[0]
        cur.execute(
            self.invoice_insert.sql(1, returning=True),
            self.invoice_insert.params(
                {
                    "customer_id": c.id,
                    "numbering_scope": scope,
                    "sequence": sequence,
                    "number": number,
                    "kind": InvoiceKind.REGULAR,
                    "period_id": period_id,
                    "period_start": start,
                    "period_end": end,
                    "issued_at": now,
                    "due_at": due_at,
                    "currency": c.currency,
                    "decimals": decimals,
                    "previous_balance": previous_balance,
                    "payments": payments,
                    "net": totals.net,
                    "tax_total": totals.tax_total,
                    "tax_inclusive": totals.inclusive,
                    "special_rounding": totals.special,
                    "rounding": totals.rounding,
                    "total": total,
                    "balance_after": previous_balance + payments + total,
                    "amount_paid": paid,
                    "status": status,
                    "paid_at": paid_at,
                    "template": c.invoice_template or cls.invoice_template,
                    "pdf": None,
                    "created_by_id": None,
                }
            ),
        )
        invoice_id = cur.fetchone()[0]
        cur.execute(self.stamp, [period_id, invoice_id, c.id, end_p])
        lines = _lines(groups, totals)
        params: list[Any] = []
        for position, line in enumerate(lines, 1):
            params += self.line_insert.params(
                {"invoice_id": invoice_id, "position": position, **line}
            )
        cur.execute(self.line_insert.sql(len(lines), returning=False), params)
        if posted:
            # The ledger's rows and the balance's move by their sum (ledger.batch).
            ids = self.ledger.post(
                cur,
                customer_id=c.id,
                rows=[(a, amount, after, text.format(number)) for a, amount, after, text in posted],
                period_id=period_id,
                invoice_id=invoice_id,
                now=now,
                billed_to=end_p,
                next_billed_to=adapt(new_end),
                updated_at=adapt(now),
            )
            if measured:
                record_charges(
                    customer_id=c.id,
                    charges=measured,
                    transaction_ids=ids[: len(measured)],
                    start=start,
                    end=end,
                    now=now,
                )
        else:
            cur.execute(
                self.update_customer_dates,
                [end_p, adapt(new_end), c.id],
            )
        for inv_id, paid_x, status_x, paid_at_x in changes:
            cur.execute(
                self.update_invoice,
                [
                    exact_units(paid_x),
                    status_x,
                    adapt(paid_at_x),
                    inv_id,
                ],
            )
        result.invoices.append(invoice_id)
        return result


class _Cursor:
    """A DB-API cursor taking ``%s`` placeholders on both databases (SQLite's ``?`` is
    substituted once per statement text and remembered)."""

    def __init__(self, cursor: Any, *, qmark: bool, cache: dict[str, str]) -> None:
        self.cursor = cursor
        self.qmark = qmark
        self.cache = cache

    def execute(self, sql: str, params: list[Any]) -> None:
        if self.qmark:
            converted = self.cache.get(sql)
            if converted is None:
                converted = self.cache[sql] = sql.replace("%s", "?")
            sql = converted
        self.cursor.execute(sql, params)

    def fetchone(self) -> Any:
        return self.cursor.fetchone()

    def fetchall(self) -> Any:
        return self.cursor.fetchall()

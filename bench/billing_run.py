"""Billing-run benchmark: close and invoice every customer's month (``engine``),
render the PDFs, and do the same reads and writes in bare SQL for a baseline.

    .venv/bin/python bench/billing_run.py                           # 100,000 customers, both DBs
    .venv/bin/python bench/billing_run.py --customers 5000 --databases sqlite
    .venv/bin/python bench/billing_run.py --customers 2000 --databases sqlite --profile

For each database a fresh one is made (SQLite: a file under ``var/bench-billing-*/``, WAL mode
as the product configures it; PostgreSQL: the database ``billcore_bench_billing`` on the
server of ``TEST_PG_URL``, dropped and created again). Every phase runs in a process of its
own (``--worker PHASE``) with ``DATABASE_URL`` pointing at it, so each peak RSS
(``ru_maxrss``) is that phase's own:

0. ``setup`` (timed apart, not part of any figure): migrate; an administrator; one class
   (fixed VAT 20 % exclusive, automatic period close, regular invoices, no invoice e-mails);
   ``--customers`` postpaid USD customers created 2027-01-10 09:00Z (monthly periods, so their
   open period is [2027-01-10 09:00Z, 2027-02-01)), each with ``--xdrs-per-customer`` usage
   charges (voice and data by turns) in January. The rows are written by bulk ``executemany``
   INSERTs, not the services, but they are what the services write: first one probe customer
   is made through ``ledger.customers.create_customer`` and ``charging.services.charge``
   inside a transaction that is rolled back, and the bulk rows of the first customer are
   compared with the probe's, column by column (customer, audit row, ledger rows, xDRs);
   a difference stops the run;
1. the database is copied (SQLite backup API; PostgreSQL ``CREATE DATABASE … TEMPLATE``):
   the baseline runs on the copy, the engine on the original, so both start from the same
   rows and neither has to be undone;
2. ``baseline`` on the copy: per customer, in one transaction, bare SQL over a DB-API
   connection of its own: read the customer (``FOR UPDATE`` on PostgreSQL), read its unbilled
   rows aggregated per action and service, insert the closed period, take the next invoice
   number, insert the invoice and its lines (usage per service, VAT, rounding), stamp the
   ledger rows with period and invoice, insert the tax and rounding ledger rows, update the
   customer's balance and open period; the invoice arithmetic in integer units;
3. ``close`` on the original: ``engine.run(now=2027-02-01T00:00Z,
   steps=["close"])``; customers/s, wall time, peak RSS; ratio engine time / baseline time;
4. ``documents``: ``steps=["documents"]`` for the first ``--pdfs`` invoices only (the rest
   are hidden from it meanwhile); PDFs/s and the time 100 % would take at that rate
   (extrapolated, and said so);
5. ``verify``: on both databases, every customer has exactly one invoice, invoice numbers
   are 1..N without a gap, every customer's ledger sums to its balance, every invoice's lines
   (and its ledger rows) sum to its total, no usage row is left unbilled; and the engine's
   rows equal the baseline's, column by column (ids aside).

``--profile`` runs the close step under cProfile (top 25 by cumulative time) and counts the
SQL statements per customer by shape. Aim: 100,000 customers in under 2 minutes and
under 500 MB on SQLite on 2 cores. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import (
    drop_postgres,
    fresh_postgres,
    maxrss_mb,
    parse_databases,
    say,
    with_database,
)

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
AIM_SECONDS = 120.0
AIM_MB = 500.0
T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)  # the customers' creation
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)  # the run's ``now``
CLASS_NAME = "Bench billing"
UNITS = 100_000  # money units per currency unit (MoneyField stores 10^-5)
INVOICEABLE = ("usage", "manual_charge", "manual_credit", "promotional_credit", "subscription")
PAYMENTS = (
    "opening_balance",
    "manual_payment",
    "ecommerce_payment",
    "capture_payment",
    "refund",
    "ecommerce_refund",
)
SERVICE_TEXT = {"voice": "Voice calls", "data": "Data"}


@dataclass
class Result:
    database: str
    customers: int
    xdrs: int
    server: str = ""
    migrate_s: float = 0.0
    setup_s: float = 0.0
    copy_s: float = 0.0
    baseline_s: float = 0.0
    baseline_rss_mb: float = 0.0
    close_s: float = 0.0
    close_rss_mb: float = 0.0
    close_hwm_mb: float = 0.0
    close_report: dict[str, Any] = field(default_factory=dict)
    pdfs: int = 0
    pdfs_s: float = 0.0
    pdfs_rss_mb: float = 0.0
    pdfs_note: str = ""
    verify_engine: str = ""
    verify_baseline: str = ""
    same_rows: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def close_rate(self) -> float:
        return self.customers / self.close_s if self.close_s else 0.0

    @property
    def baseline_rate(self) -> float:
        return self.customers / self.baseline_s if self.baseline_s else 0.0

    @property
    def ratio(self) -> float:
        return self.close_s / self.baseline_s if self.baseline_s else 0.0

    @property
    def pdf_rate(self) -> float:
        return self.pdfs / self.pdfs_s if self.pdfs_s else 0.0


def hwm_mb() -> float:
    """This process's own peak resident set size (``VmHWM``, Linux), else maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return maxrss_mb()


# ----------------------------------------------------------------------------------------
# The data: what customer i's j-th usage charge is
# ----------------------------------------------------------------------------------------


def customer_name(i: int) -> str:
    return f"Bench Customer {i + 1:07d}"


def usage_at(i: int, j: int, per_customer: int) -> dt.datetime:
    """Spread over 21 days of January (all before Feb 1), a minute offset per customer."""
    step = (21 * 24 * 60) // per_customer
    return T0 + dt.timedelta(minutes=1 + j * step + i % 60)


def usage_service(j: int) -> tuple[str, str]:
    return ("voice", "s") if j % 2 == 0 else ("data", "MB")


def usage_quantity(i: int, j: int) -> int:
    return 30 + (i * 7 + j * 13) % 600 if j % 2 == 0 else 1 + (i * 3 + j) % 500


def usage_units(i: int, j: int) -> int:
    """0.01000 … 0.99999 in money units, 5 decimals so the invoice rounding has work."""
    return 1000 + (i * 37 + j * 101) % 99_000


def units_text(u: int) -> str:
    sign = "-" if u < 0 else ""
    u = abs(u)
    return f"{sign}{u // UNITS}.{u % UNITS:05d}"


# ----------------------------------------------------------------------------------------
# Worker: Django set up in this process
# ----------------------------------------------------------------------------------------


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    import django

    django.setup()


def server_text() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            return f"SQLite {sqlite3.sqlite_version}, journal {cursor.fetchone()[0]}"
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


class Inserter:
    """``executemany`` INSERTs of one model's rows: every column at the model's default
    (prepared for the database by the field itself) unless given."""

    def __init__(self, model: Any, cursor: Any, batch: int = 5000) -> None:
        from django.db import connection

        self.connection = connection
        self.cursor = cursor
        self.batch = batch
        self.fields = list(model._meta.concrete_fields)
        self.index = {f.attname: n for n, f in enumerate(self.fields)}
        self.template = [
            None if f.primary_key else f.get_db_prep_save(f.get_default(), connection)
            for f in self.fields
        ]
        quote = connection.ops.quote_name
        cols = ", ".join(quote(f.column) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        self.sql = f"INSERT INTO {quote(model._meta.db_table)} ({cols}) VALUES ({marks})"
        self.rows: list[list[Any]] = []
        self.count = 0
        self._cache: dict[tuple[str, Any], Any] = {}

    def prep(self, attname: str, value: Any) -> Any:
        """A constant or often repeated value prepared by its field (cached)."""
        key = (attname, value)
        try:
            return self._cache[key]
        except KeyError:
            f = self.fields[self.index[attname]]
            prepared = f.get_db_prep_save(value, self.connection)
            self._cache[key] = prepared
            return prepared
        except TypeError:  # unhashable (JSON)
            f = self.fields[self.index[attname]]
            return f.get_db_prep_save(value, self.connection)

    def constants(self, **values: Any) -> None:
        for name, value in values.items():
            self.template[self.index[name]] = self.prep(name, value)

    def add(self, **prepared: Any) -> None:
        row = self.template.copy()
        index = self.index
        for name, value in prepared.items():
            row[index[name]] = value
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.cursor.executemany(self.sql, self.rows)
            self.count += len(self.rows)
            self.rows.clear()


def _values(obj: Any, skip: Sequence[str]) -> dict[str, Any]:
    from django.db import connection

    return {
        f.attname: f.get_db_prep_save(getattr(obj, f.attname), connection)
        for f in obj._meta.concrete_fields
        if f.attname not in skip
    }


def _comparable(value: Any) -> Any:
    adapted = getattr(value, "obj", value)  # psycopg's Jsonb wrapper
    return adapted


def probe(admin: Any, cls: Any, per_customer: int) -> dict[str, Any]:
    """Customer 0 made through the services (rolled back): its rows, as the DB gets them."""
    from django.db import transaction

    from billcore.audit.models import AuditEntry
    from billcore.charging.models import Xdr
    from billcore.charging.services import charge, parse_usage
    from billcore.customers.models import Customer
    from billcore.ledger.customers import create_customer
    from billcore.ledger.models import Transaction

    out: dict[str, Any] = {}
    with transaction.atomic():
        c = create_customer(
            actor=admin,
            now=T0,
            data={
                "name": customer_name(0),
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": cls.pk,
            },
        )
        for j in range(per_customer):
            at = usage_at(0, j, per_customer)
            service, unit = usage_service(j)
            usage = parse_usage(
                service=service,
                amount=units_text(usage_units(0, j)),
                quantity=str(usage_quantity(0, j)),
                unit=unit,
                started_at=at,
                now=at,
            )
            result = charge(actor=admin, now=at, customer_id=c.pk, usage=usage)
            if not result.allowed:
                raise SystemExit(f"probe charge {j} was denied: {result}")
        cust = Customer.objects.get(pk=c.pk)
        out["customer"] = _values(cust, ("id",))
        audit = AuditEntry.objects.filter(object_type="customer", object_id=str(c.pk)).get()
        out["audit"] = _values(audit, ("id",))
        out["audit_after"] = audit.after
        out["ledger"] = [
            _values(t, ("id", "customer_id"))
            for t in Transaction.objects.filter(customer_id=c.pk).order_by("id")
        ]
        out["xdrs"] = [
            _values(x, ("id", "customer_id", "transaction_id"))
            for x in Xdr.objects.filter(customer_id=c.pk).order_by("id")
        ]
        transaction.set_rollback(True)
    return out


def bulk_load(
    admin: Any, cls: Any, customers: int, per_customer: int, template: dict[str, Any]
) -> None:
    """The customers, their audit rows, ledger rows and xDRs by ``executemany``."""
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from billcore.audit.models import AuditEntry
    from billcore.charging.models import Xdr
    from billcore.core.text import name_key
    from billcore.customers.models import Customer
    from billcore.customers.services import open_period_end
    from billcore.ledger.models import Transaction

    end = open_period_end(
        Customer(created_at=T0, billing_period=Customer._meta.get_field("billing_period").default),
        start=T0,
    )
    with connection.cursor() as cursor, transaction.atomic():
        ins_c = Inserter(Customer, cursor)
        ins_c.constants(
            currency_id="USD",
            balance_control="postpaid",
            customer_class_id=cls.pk,
            billed_to=T0,
            next_billed_to=end,
            created_at=T0,
            updated_at=T0,
        )
        ins_a = Inserter(AuditEntry, cursor)
        probe_audit = template["audit"]
        for name in ("at", "actor_id", "actor_name", "operation", "object_type"):
            ins_a.template[ins_a.index[name]] = probe_audit[name]
        after_template = dict(template["audit_after"])
        ins_t = Inserter(Transaction, cursor, batch=10_000)
        ins_t.constants(action="usage", actor_id=admin.pk)
        ins_x = Inserter(Xdr, cursor, batch=10_000)
        ins_x.constants(status="charged")
        money = Transaction._meta.get_field("amount")
        # Integers: the MoneyField's own conversion of an exact amount is its units.
        assert money.get_db_prep_save(Decimal("0.12345"), connection) == 12345

        def first_id(model: Any) -> int:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")
            return int(cursor.fetchone()[0])

        cid0, aid, tid, xid = (first_id(m) for m in (Customer, AuditEntry, Transaction, Xdr))
        for i in range(customers):
            cid = cid0 + i
            balance = 0
            day_spent: dict[dt.date, int] = {}
            last_day: dt.date | None = None
            for j in range(per_customer):
                at = usage_at(i, j, per_customer)
                amount = usage_units(i, j)
                balance += amount
                when = ins_t.prep("created_at", at)
                ins_t.add(
                    id=tid, customer_id=cid, amount=amount, balance_after=balance, created_at=when
                )
                service, unit = usage_service(j)
                ins_x.add(
                    id=xid,
                    customer_id=cid,
                    service=ins_x.prep("service", service),
                    unit=ins_x.prep("unit", unit),
                    quantity=usage_quantity(i, j) * UNITS,
                    amount=amount,
                    started_at=when,
                    created_at=when,
                    transaction_id=tid,
                )
                tid += 1
                xid += 1
                day = at.date()
                day_spent[day] = day_spent.get(day, 0) + amount
                last_day = day
            name = customer_name(i)
            ins_c.add(
                id=cid,
                name=name,
                name_key=name_key(name),  # what Customer.save() keeps (db.NameKeyed)
                balance=balance,
                fraud_day=ins_c.prep("fraud_day", last_day),
                fraud_day_spent=day_spent[last_day] if last_day else 0,
            )
            after = dict(after_template, id=cid, name=name)
            ins_a.add(
                id=aid,
                object_id=str(cid),
                object_repr=name,
                after=ins_a.prep("after", after),
            )
            aid += 1
            if len(ins_c.rows) >= ins_c.batch:
                ins_c.flush()  # customers before the rows that refer to them
                ins_a.flush()
                ins_t.flush()
                ins_x.flush()
            if (i + 1) % max(1, customers // 10) == 0:
                say(f"loaded {i + 1:,} customers")
        for ins in (ins_c, ins_a, ins_t, ins_x):
            ins.flush()
        for sql in connection.ops.sequence_reset_sql(
            no_style(), [Customer, AuditEntry, Transaction, Xdr]
        ):
            cursor.execute(sql)


def check_setup(template: dict[str, Any], per_customer: int) -> list[str]:
    """The bulk rows of customer 0 against the probe's."""
    from billcore.audit.models import AuditEntry
    from billcore.charging.models import Xdr
    from billcore.customers.models import Customer
    from billcore.ledger.models import Transaction

    problems = []
    cust = Customer.objects.get(name=customer_name(0))

    def compare(what: str, mine: dict[str, Any], theirs: dict[str, Any]) -> None:
        for key in sorted(set(mine) | set(theirs)):
            a, b = _comparable(mine.get(key)), _comparable(theirs.get(key))
            if a != b:
                problems.append(f"{what}.{key}: bulk {a!r}, services {b!r}")

    compare("customer", _values(cust, ("id",)), template["customer"])
    audit = AuditEntry.objects.get(object_type="customer", object_id=str(cust.pk))
    mine_audit = _values(audit, ("id",))
    theirs_audit = dict(template["audit"])
    mine_audit["after"] = audit.after
    theirs_audit["after"] = dict(template["audit_after"], id=cust.pk)
    mine_audit.pop("object_id")
    theirs_audit.pop("object_id")
    compare("audit", mine_audit, theirs_audit)
    rows = list(Transaction.objects.filter(customer_id=cust.pk).order_by("id"))
    xdrs = list(Xdr.objects.filter(customer_id=cust.pk).order_by("id"))
    if len(rows) != per_customer or len(xdrs) != per_customer:
        problems.append(f"{len(rows)} ledger rows and {len(xdrs)} xDRs, not {per_customer}")
    for n, (t, want) in enumerate(zip(rows, template["ledger"], strict=False)):
        compare(f"ledger[{n}]", _values(t, ("id", "customer_id")), want)
    for n, (x, want) in enumerate(zip(xdrs, template["xdrs"], strict=False)):
        compare(f"xdr[{n}]", _values(x, ("id", "customer_id", "transaction_id")), want)
        if x.transaction_id != rows[n].pk:
            problems.append(f"xdr[{n}] not linked to ledger row {n}")
    return problems


def phase_setup(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    migrate_s = time.perf_counter() - started
    server = server_text()
    say(f"{server}; migrated in {migrate_s:.1f} s")

    from billcore.accounts.models import User
    from billcore.classes.services import create_class

    started = time.perf_counter()
    admin = User.objects.create_user(
        username="bench-admin", password=None, is_staff=True, is_superuser=True
    )
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": CLASS_NAME,
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            "period_close": "automatic",
            "generate_regular_invoices": True,
            "send_invoices_by_email": False,
        },
    )
    template = probe(admin, cls, args.xdrs_per_customer)
    bulk_load(admin, cls, args.customers, args.xdrs_per_customer, template)
    problems = check_setup(template, args.xdrs_per_customer)
    setup_s = time.perf_counter() - started
    if problems:
        for p in problems[:30]:
            say(f"SETUP MISMATCH {p}")
        raise SystemExit("the bulk rows differ from what the services write")
    say(
        f"setup: {args.customers:,} customers, {args.customers * args.xdrs_per_customer:,} "
        f"ledger rows and xDRs in {setup_s:.1f} s; customer 1's rows equal those "
        "create_customer + charge write (probe, rolled back): OK"
    )
    return {"server": server, "migrate_s": migrate_s, "setup_s": setup_s}


# ----------------------------------------------------------------------------------------
# Bare SQL baseline
# ----------------------------------------------------------------------------------------


class Bare:
    """A DB-API connection of its own (psycopg or sqlite3), with that database's placeholders."""

    def __init__(self, url: str) -> None:
        self.vendor = "sqlite" if url.startswith("sqlite") else "postgresql"
        if self.vendor == "postgresql":
            import psycopg

            self.conn: Any = psycopg.connect(url.replace("postgresql://", "postgres://"))
        else:
            self.conn = sqlite3.connect(
                urlsplit(url).path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")

    def sql(self, text: str) -> str:
        return text if self.vendor == "postgresql" else text.replace("%s", "?")

    def when(self, value: dt.datetime) -> Any:
        if self.vendor == "postgresql":
            return value
        return str(value.astimezone(dt.UTC).replace(tzinfo=None))

    def begin(self) -> None:
        if self.vendor == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.vendor == "sqlite":
            self.conn.execute("COMMIT")
        else:
            self.conn.commit()


def _ceil_to(units: int, step: int) -> int:
    """Round away from zero to a multiple of ``step``."""
    q, r = divmod(abs(units), step)
    out = (q + (1 if r else 0)) * step
    return out if units >= 0 else -out


def _ceil_div(a: int, b: int) -> int:
    """``a / b`` rounded away from zero (``b`` > 0)."""
    q = -(-abs(a) // b)
    return q if a >= 0 else -q


def phase_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """Close and invoice every due customer in bare SQL, one transaction per customer."""
    from billcore.core.periods import BillingPeriod, period_containing

    db = Bare(args.database_url)
    cur = db.conn.cursor()
    pg = db.vendor == "postgresql"
    now = db.when(FEB1)
    cur.execute(
        db.sql(
            "SELECT invoice_template, vat_rate, grace_period_days FROM classes_customerclass "
            "WHERE name = %s"
        ),
        (CLASS_NAME,),
    )
    template, vat_units, grace = cur.fetchone()
    vat_rate_units = int(vat_units)  # 20.00000 %
    due = db.when(FEB1 + dt.timedelta(days=int(grace)))
    if pg:
        db.conn.commit()

    read_customer = db.sql(
        "SELECT balance, billed_to, next_billed_to FROM customers_customer "
        "WHERE id = %s" + (" FOR UPDATE" if pg else "")
    )
    read_rows = db.sql(
        "SELECT t.action, x.service, x.unit, SUM(t.amount), COUNT(t.id), SUM(x.quantity) "
        "FROM ledger_transaction t LEFT JOIN charging_xdr x ON x.transaction_id = t.id "
        "WHERE t.customer_id = %s AND t.period_id IS NULL AND t.created_at < %s "
        "GROUP BY t.action, x.service, x.unit ORDER BY t.action, x.service, x.unit"
    )
    insert_period = db.sql(
        'INSERT INTO invoicing_closedperiod (customer_id, start, "end", status, closed_at, '
        "balance_after, statement_wanted, created_at) VALUES (%s, %s, %s, 'closed', %s, %s, "
        "%s, %s) RETURNING id"
    )
    next_number = db.sql(
        "UPDATE invoicing_invoicecounter SET last = last + 1 WHERE scope = 0 RETURNING last"
    )
    insert_invoice = db.sql(
        "INSERT INTO invoicing_invoice (customer_id, numbering_scope, sequence, number, kind, "
        "period_id, period_start, period_end, issued_at, due_at, currency, decimals, "
        "previous_balance, payments, net, tax_total, tax_inclusive, special_rounding, rounding, "
        "total, balance_after, amount_paid, status, template) VALUES (%s, 0, %s, %s, "
        "'regular', %s, %s, %s, %s, %s, 'USD', 2, %s, %s, %s, %s, %s, 0, %s, %s, %s, 0, "
        "'issued', %s) RETURNING id"
    )
    insert_line = db.sql(
        "INSERT INTO invoicing_invoiceline (invoice_id, position, kind, description, service, "
        "quantity, unit, count, rate, base, amount) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s, %s)"
    )
    stamp = db.sql(
        "UPDATE ledger_transaction SET period_id = %s, invoice_id = CASE WHEN action IN ("
        + ", ".join(f"'{a}'" for a in INVOICEABLE)
        + ") THEN %s ELSE NULL END WHERE customer_id = %s AND period_id IS NULL "
        "AND created_at < %s"
    )
    insert_ledger = db.sql(
        "INSERT INTO ledger_transaction (customer_id, action, amount, balance_after, "
        "account_amount, visible_comment, internal_comment, request_fingerprint, created_at, "
        "period_id, invoice_id, hidden, balance_reset) VALUES (%s, %s, %s, %s, 0, %s, '', '', "
        "%s, %s, %s, %s, %s)"
    )
    update_customer = db.sql(
        "UPDATE customers_customer SET balance = %s, billed_to = %s, next_billed_to = %s, "
        "updated_at = %s WHERE id = %s"
    )
    false = False if pg else 0

    cur.execute(
        db.sql(
            "SELECT id FROM customers_customer WHERE next_billed_to <= %s AND status <> 'closed' "
            "ORDER BY id"
        ),
        (now,),
    )
    ids = [r[0] for r in cur.fetchall()]
    cur.execute(
        db.sql(
            "INSERT INTO invoicing_invoicecounter (scope, last) VALUES (0, 0) "
            "ON CONFLICT (scope) DO NOTHING"
        )
    )
    if pg:
        db.conn.commit()
    next_end: dict[Any, Any] = {}

    def following(end: Any) -> Any:
        if end not in next_end:
            at = end if pg else dt.datetime.fromisoformat(end).replace(tzinfo=dt.UTC)
            period = period_containing(
                at=at, period=BillingPeriod.MONTHLY, time_zone="UTC", anchor=T0
            )
            next_end[end] = db.when(period.end)
        return next_end[end]

    rss_start = maxrss_mb()
    started = time.perf_counter()
    for cid in ids:
        db.begin()
        cur.execute(read_customer, (cid,))
        balance, start, end = cur.fetchone()
        cur.execute(read_rows, (cid, end))
        groups = [
            (a, sv or "", u or "", int(m), c, None if q is None else int(q))
            for a, sv, u, m, c, q in cur.fetchall()
        ]
        balance = int(balance)
        charges = sum(g[3] for g in groups if g[0] in INVOICEABLE)
        paid = sum(g[3] for g in groups if g[0] in PAYMENTS)
        period_sum = sum(g[3] for g in groups)
        previous = balance - period_sum
        base = _ceil_to(charges, 1000)  # the currency's 2 decimals, rounded up
        # VAT on the base, rounded up to the currency's decimals (units of 10^-5 throughout)
        tax = _ceil_div(base * vat_rate_units, 100 * UNITS * 1000) * 1000
        total = _ceil_to(base + tax, 1000)
        rounding = total - charges - tax
        after = balance + tax + rounding
        cur.execute(insert_period, (cid, start, end, now, after, false, now))
        period_id = cur.fetchone()[0]
        cur.execute(next_number)
        sequence = cur.fetchone()[0]
        cur.execute(
            insert_invoice,
            (
                *(cid, sequence, f"INV-{sequence:07d}", period_id, start, end, now, due),
                *(previous, paid, base, tax, false, rounding, total, after, template),
            ),
        )
        invoice_id = cur.fetchone()[0]
        lines: list[tuple[Any, ...]] = []
        # usage lines per service and unit, in that order; then VAT, then the rounding
        for _action, service, unit, amount, count, qty in sorted(
            (g for g in groups if g[0] == "usage"), key=lambda g: (g[1], g[2])
        ):
            text = SERVICE_TEXT.get(service, service.title() or "Usage")
            lines.append(
                (
                    invoice_id,
                    len(lines) + 1,
                    "usage",
                    text,
                    service,
                    qty,
                    unit,
                    count,
                    None,
                    None,
                    amount,
                )
            )
        rate_text = f"{Decimal(vat_rate_units).scaleb(-5).normalize():f}"
        lines.append(
            (
                invoice_id,
                len(lines) + 1,
                "tax",
                f"VAT {rate_text}%",
                "",
                None,
                "",
                None,
                vat_rate_units,
                base,
                tax,
            )
        )
        if rounding:
            lines.append(
                (
                    invoice_id,
                    len(lines) + 1,
                    "rounding",
                    "Invoice rounding",
                    "",
                    None,
                    "",
                    None,
                    None,
                    None,
                    rounding,
                )
            )
        cur.executemany(insert_line, lines)
        cur.execute(stamp, (period_id, invoice_id, cid, end))
        ledger = []
        running = balance
        if tax:
            running += tax
            ledger.append(
                (
                    cid,
                    "tax",
                    tax,
                    running,
                    f"Taxes of invoice INV-{sequence:07d}",
                    now,
                    period_id,
                    invoice_id,
                    false,
                    false,
                )
            )
        if rounding:
            running += rounding
            ledger.append(
                (
                    cid,
                    "invoice_rounding",
                    rounding,
                    running,
                    f"Rounding of invoice INV-{sequence:07d}",
                    now,
                    period_id,
                    invoice_id,
                    false,
                    false,
                )
            )
        cur.executemany(insert_ledger, ledger)
        cur.execute(update_customer, (after, end, following(end), now, cid))
        db.commit()
    seconds = time.perf_counter() - started
    say(
        f"baseline (bare SQL, one transaction per customer): {len(ids):,} customers in "
        f"{seconds:.1f} s, {len(ids) / seconds:,.0f}/s; peak RSS {maxrss_mb():.0f} MB "
        f"(at start {rss_start:.0f} MB)"
    )
    db.conn.close()
    return {"baseline_s": seconds, "baseline_rss_mb": maxrss_mb(), "baseline_customers": len(ids)}


# ----------------------------------------------------------------------------------------
# The engine
# ----------------------------------------------------------------------------------------


_SHAPE_NUMBERS = re.compile(r"\b\d+\b")


def _shape(sql: str) -> str:
    """A statement with its literals blanked, to count statements by kind."""
    text = _SHAPE_NUMBERS.sub("N", sql)
    return re.sub(r"'[^']*'", "'…'", text)


def code_version() -> str:
    """Short digests of the engine's files as they are on disk now (they change while the
    engine is being optimised; the figures belong to these versions)."""
    import hashlib

    import billcore

    root = Path(billcore.__file__).parent
    parts = []
    for name in (
        "invoicing/closing.py",
        "invoicing/issuing.py",
        "engine.py",
        "ledger/postings.py",
    ):
        digest = hashlib.sha1((root / name).read_bytes(), usedforsecurity=False).hexdigest()
        parts.append(f"{name} {digest[:10]}")
    return ", ".join(parts)


def phase_close(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from billcore.engine import due_customer_ids, run

    say(f"engine code measured: {code_version()}")
    connection.ensure_connection()
    customers = len(due_customer_ids(now=FEB1))
    step = max(1, customers // 10)
    started = time.perf_counter()

    def progress(n: int, total: int) -> None:
        if n % step == 0 or n == total:
            elapsed = time.perf_counter() - started
            say(
                f"closed {n:,}/{total:,} in {elapsed:.1f} s ({n / elapsed:,.0f}/s), "
                f"RSS peak {maxrss_mb():.0f} MB"
            )

    if args.profile:
        return profile_close(customers, progress)
    rss_start = maxrss_mb()
    started = time.perf_counter()
    report = run(now=FEB1, steps=["close"], progress=progress)
    seconds = time.perf_counter() - started
    out = report.as_dict()
    say(
        f"engine close: {report.customers:,} customers, {report.invoices:,} invoices in "
        f"{seconds:.1f} s, {report.customers / seconds:,.0f} customers/s; peak RSS "
        f"{maxrss_mb():.0f} MB (own VmHWM {hwm_mb():.0f} MB; {rss_start:.0f} MB before the step)"
    )
    if report.errors:
        say(f"ERRORS: {len(report.errors)}, first: {report.errors[:3]}")
    return {
        "close_s": seconds,
        "close_rss_mb": maxrss_mb(),
        "close_hwm_mb": hwm_mb(),
        "close_report": out,
    }


def profile_close(customers: int, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """The close step under cProfile, with every SQL statement counted by shape."""
    import cProfile
    import io
    import pstats

    from django.db import connection

    from billcore.engine import run

    shapes: Counter[str] = Counter()

    spent: dict[str, float] = {}

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        shape = _shape(sql)
        shapes[shape] += 1
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[shape] = spent.get(shape, 0.0) + time.perf_counter() - t

    prof = cProfile.Profile()
    started = time.perf_counter()
    with connection.execute_wrapper(counting):
        prof.enable()
        report = run(now=FEB1, steps=["close"], progress=progress)
        prof.disable()
    seconds = time.perf_counter() - started
    total = sum(shapes.values())
    say(
        f"engine close UNDER cProfile: {report.customers:,} customers in {seconds:.1f} s "
        f"({report.customers / seconds:,.0f}/s, profiler overhead included)"
    )
    n = max(1, report.customers)
    print(f"\n  SQL statements: {total:,} in all, {total / n:.1f} per customer, by shape:\n")
    print(
        f"  (time in the database driver: {sum(spent.values()):.2f} s of {seconds:.2f} s; "
        "ms = driver time per statement)\n"
    )
    for sql, count in shapes.most_common(40):
        ms = spent.get(sql, 0.0) / count * 1000
        print(f"  {count / n:6.2f}/customer  {count:>9,}  {ms:6.3f} ms  {sql[:240]}")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
    print("\n  cProfile, top 25 by cumulative time:\n")
    print(buf.getvalue())
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(r"billcore/", 30)
    print("\n  cProfile, billcore's own functions by cumulative time:\n")
    print(buf.getvalue())
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(20)
    print("\n  cProfile, top 20 by own time:\n")
    print(buf.getvalue())
    return {
        "close_s": seconds,
        "close_rss_mb": maxrss_mb(),
        "close_hwm_mb": hwm_mb(),
        "close_report": report.as_dict(),
    }


def phase_documents(args: argparse.Namespace) -> dict[str, Any]:
    """The documents step for the first ``--pdfs`` invoices: the others are given an empty
    PDF meanwhile (so the step sees nothing to do for them) and set back afterwards."""
    import importlib.util

    from django.db import transaction

    from billcore.engine import run
    from billcore.invoicing.models import ClosedPeriod, Invoice

    if importlib.util.find_spec("billcore.invoicing.documents") is None:
        note = "documents.py not available: the PDF step was not measured"
        say(note)
        return {"pdfs_note": note}
    from billcore.invoicing import documents

    invoices = Invoice.objects.count()
    ids = list(Invoice.objects.order_by("id").values_list("id", flat=True)[: args.pdfs])
    hide = args.pdfs < invoices
    del documents  # the step is measured through the engine, as ``billcore engine`` runs it
    if hide:
        with transaction.atomic():
            Invoice.objects.filter(pdf__isnull=True).exclude(id__in=ids).update(pdf=b"")
            ClosedPeriod.objects.filter(statement_wanted=True, statement_pdf__isnull=True).update(
                statement_pdf=b""
            )
    rss_start = maxrss_mb()
    started = time.perf_counter()
    try:
        report = run(now=FEB1, steps=["documents"])
        seconds = time.perf_counter() - started
    finally:
        if hide:
            with transaction.atomic():
                Invoice.objects.filter(pdf=b"").update(pdf=None)
                ClosedPeriod.objects.filter(statement_pdf=b"").update(statement_pdf=None)
    rendered = report.pdfs
    rate = rendered / seconds if seconds else 0.0
    note = f"{rendered:,} of {invoices:,} PDFs rendered"
    if hide and rate:
        note += (
            f"; all {invoices:,} would take {invoices / rate:,.0f} s at that rate "
            "(extrapolated, not measured)"
        )
    say(
        f"documents step: {rendered:,} PDFs in {seconds:.1f} s, {rate:,.1f} PDFs/s; peak RSS "
        f"{maxrss_mb():.0f} MB ({rss_start:.0f} MB before); {note}"
    )
    return {"pdfs": rendered, "pdfs_s": seconds, "pdfs_rss_mb": maxrss_mb(), "pdfs_note": note}


# ----------------------------------------------------------------------------------------
# Verification, on both databases, and the engine's rows against the baseline's
# ----------------------------------------------------------------------------------------


def verify_db(db: Bare, customers: int) -> str:
    cur = db.conn.cursor()
    problems = []

    def one(sql: str) -> Any:
        cur.execute(db.sql(sql))
        return cur.fetchone()

    n_customers = one("SELECT COUNT(*) FROM customers_customer")[0]
    if n_customers != customers:
        problems.append(f"{n_customers} customers, not {customers}")
    bad = one(
        "SELECT COUNT(*) FROM customers_customer c WHERE (SELECT COUNT(*) FROM invoicing_invoice i "
        "WHERE i.customer_id = c.id) <> 1"
    )[0]
    if bad:
        problems.append(f"{bad} customers without exactly one invoice")
    count, distinct, low, high = one(
        "SELECT COUNT(*), COUNT(DISTINCT sequence), MIN(sequence), MAX(sequence) "
        "FROM invoicing_invoice WHERE numbering_scope = 0"
    )
    if (count, distinct, low, high) != (customers, customers, 1, customers):
        problems.append(f"invoice numbers: {count} invoices, {distinct} distinct, {low}..{high}")
    cur.execute("SELECT sequence, number FROM invoicing_invoice")
    wrong = sum(1 for s, num in cur.fetchall() if num != f"INV-{s:07d}")
    if wrong:
        problems.append(f"{wrong} invoice numbers not INV-<sequence>")
    bad = one(
        "SELECT COUNT(*) FROM customers_customer c LEFT JOIN (SELECT customer_id, SUM(amount) s "
        "FROM ledger_transaction GROUP BY customer_id) l ON l.customer_id = c.id "
        "WHERE COALESCE(l.s, 0) <> c.balance"
    )[0]
    if bad:
        problems.append(f"{bad} customers whose ledger does not sum to the balance")
    bad = one(
        "SELECT COUNT(*) FROM invoicing_invoice i LEFT JOIN (SELECT invoice_id, SUM(amount) s "
        "FROM invoicing_invoiceline WHERE kind <> 'tax_included' GROUP BY invoice_id) l "
        "ON l.invoice_id = i.id WHERE COALESCE(l.s, 0) <> i.total"
    )[0]
    if bad:
        problems.append(f"{bad} invoices whose lines do not sum to the total")
    bad = one(
        "SELECT COUNT(*) FROM invoicing_invoice i LEFT JOIN (SELECT invoice_id, SUM(amount) s "
        "FROM ledger_transaction WHERE invoice_id IS NOT NULL GROUP BY invoice_id) l "
        "ON l.invoice_id = i.id WHERE COALESCE(l.s, 0) <> i.total"
    )[0]
    if bad:
        problems.append(f"{bad} invoices whose ledger rows do not sum to the total")
    bad = one(
        "SELECT COUNT(*) FROM ledger_transaction WHERE action = 'usage' AND invoice_id IS NULL"
    )[0]
    if bad:
        problems.append(f"{bad} usage rows on no invoice")
    bad = one(
        "SELECT COUNT(*) FROM invoicing_invoice i "
        "JOIN customers_customer c ON c.id = i.customer_id WHERE i.balance_after <> c.balance"
    )[0]
    if bad:
        problems.append(f"{bad} invoices whose balance_after is not the customer's balance")
    if db.vendor == "postgresql":
        db.conn.commit()
    return "OK" if not problems else "MISMATCH: " + "; ".join(problems)


COMPARE = {
    # table: (columns, order by) - ids of the rows themselves left out
    "customers_customer": ("id, balance, billed_to, next_billed_to, updated_at", "id"),
    "invoicing_closedperiod": (
        'customer_id, start, "end", status, approve_by, closed_at, approved_by_id, '
        "balance_after, statement_wanted, created_at",
        "customer_id, start",
    ),
    "invoicing_invoice": (
        "customer_id, numbering_scope, sequence, number, kind, period_start, period_end, "
        "issued_at, due_at, currency, decimals, previous_balance, payments, net, tax_total, "
        "tax_inclusive, special_rounding, rounding, total, balance_after, amount_paid, status, "
        "paid_at, template, created_by_id",
        "customer_id, sequence",
    ),
    "invoicing_invoiceline l JOIN invoicing_invoice i ON i.id = l.invoice_id": (
        "i.customer_id, l.position, l.kind, l.description, l.service, l.quantity, l.unit, "
        "l.count, l.rate, l.base, l.amount",
        "i.customer_id, l.position",
    ),
    "ledger_transaction": (
        "customer_id, action, amount, balance_after, account_id, account_amount, card_amount, "
        "reference_id, visible_comment, internal_comment, actor_id, idempotency_key, "
        "request_fingerprint, created_at, period_id IS NULL, invoice_id IS NULL, hidden, "
        "balance_reset",
        "customer_id, created_at, action",
    ),
}


def compare_dbs(a: Bare, b: Bare) -> str:
    """The engine's rows against the baseline's, streamed in the same order."""
    problems = []
    for table, (columns, order) in COMPARE.items():
        ca, cb = a.conn.cursor(), b.conn.cursor()
        sql = f"SELECT {columns} FROM {table} ORDER BY {order}"
        ca.execute(sql)
        cb.execute(sql)
        rows = diffs = 0
        first = ""
        while True:
            ra, rb = ca.fetchmany(5000), cb.fetchmany(5000)
            if not ra and not rb:
                break
            for x, y in zip(ra, rb, strict=False):
                rows += 1
                if tuple(x) != tuple(y):
                    diffs += 1
                    if not first:
                        first = f"engine {tuple(x)} vs baseline {tuple(y)}"
            if len(ra) != len(rb):
                diffs += abs(len(ra) - len(rb))
                first = first or f"row counts differ near row {rows}"
        if diffs:
            problems.append(f"{table.split()[0]}: {diffs} of {rows} rows differ, first: {first}")
        if a.vendor == "postgresql":
            a.conn.commit()
            b.conn.commit()
    return "OK" if not problems else "DIFFERENT: " + "; ".join(problems)


def phase_verify(args: argparse.Namespace) -> dict[str, Any]:
    engine = Bare(args.database_url)
    baseline = Bare(args.baseline_url)
    out = {
        "verify_engine": verify_db(engine, args.customers),
        "verify_baseline": verify_db(baseline, args.customers),
        "same_rows": compare_dbs(engine, baseline),
    }
    say(f"verify engine database: {out['verify_engine']}")
    say(f"verify baseline database: {out['verify_baseline']}")
    say(f"engine rows == baseline rows (ids aside): {out['same_rows']}")
    return out


PHASES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "setup": phase_setup,
    "baseline": phase_baseline,
    "close": phase_close,
    "documents": phase_documents,
    "verify": phase_verify,
}


def worker(args: argparse.Namespace) -> int:
    phase = PHASES[args.worker]
    if args.worker in ("setup", "close", "documents"):
        django_setup(args.database_url)
    if args.worker in ("close", "documents"):
        # Migrations added to the working tree since the setup (not timed).
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    else:
        # Bare phases need billcore's pure helpers only, not Django's connection.
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    out = phase(args)
    Path(args.result_file).write_text(json.dumps(out))
    return 0


# ----------------------------------------------------------------------------------------
# The driver: per database a fresh database, a copy, and one process per phase
# ----------------------------------------------------------------------------------------


def copy_sqlite(src: Path, dst: Path) -> None:
    a = sqlite3.connect(src)
    b = sqlite3.connect(dst)
    with b:
        a.backup(b)
    b.execute("PRAGMA journal_mode=WAL")
    a.close()
    b.close()


def copy_postgres(server: str, src: str, dst: str) -> str:
    import psycopg
    from psycopg import sql

    drop_postgres(server, dst)
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(dst), sql.Identifier(src)
            )
        )
    return with_database(server, dst)


def run_one(database: str, args: argparse.Namespace, scratch: Path) -> Result:
    result = Result(database=database, customers=args.customers, xdrs=args.xdrs_per_customer)
    cleanups: list[Callable[[], None]] = []
    server = os.environ.get("TEST_PG_URL", DEFAULT_PG_URL)
    if database == "sqlite":
        path = scratch / "billing.sqlite3"
        url = f"sqlite:///{path}"
        base_url = f"sqlite:///{scratch / 'baseline.sqlite3'}"
        where = str(path)
    else:
        url = fresh_postgres(server, args.pg_database)
        base_url = with_database(server, args.pg_database + "_baseline")
        where = with_database(server, args.pg_database)
        if not args.keep:
            cleanups.append(lambda: drop_postgres(server, args.pg_database))
            cleanups.append(lambda: drop_postgres(server, args.pg_database + "_baseline"))

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billcore.settings",
        "BILLCORE_SECRET_KEY": secrets.token_urlsafe(32),
        "BILLCORE_VAR_DIR": str(scratch),
    }

    def phase(name: str, db_url: str, *extra: str) -> dict[str, Any]:
        out_file = scratch / f"{database}-{name}.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            name,
            "--database-url",
            db_url,
            "--baseline-url",
            base_url,
            "--customers",
            str(args.customers),
            "--xdrs-per-customer",
            str(args.xdrs_per_customer),
            "--pdfs",
            str(args.pdfs),
            "--result-file",
            str(out_file),
            *extra,
        ]
        subprocess.run(command, env={**env, "DATABASE_URL": db_url}, check=True)
        data: dict[str, Any] = json.loads(out_file.read_text())
        return data

    print(f"\n== {database}: {where}", flush=True)
    started = time.perf_counter()
    try:
        data = phase("setup", url)
        result.server, result.migrate_s, result.setup_s = (
            data["server"],
            data["migrate_s"],
            data["setup_s"],
        )
        t = time.perf_counter()
        if database == "sqlite":
            copy_sqlite(path, scratch / "baseline.sqlite3")
        else:
            copy_postgres(server, args.pg_database, args.pg_database + "_baseline")
        result.copy_s = time.perf_counter() - t
        say(f"copied for the baseline in {result.copy_s:.1f} s")
        data = phase("close", url, *(["--profile"] if args.profile else []))
        result.close_s, result.close_rss_mb = data["close_s"], data["close_rss_mb"]
        result.close_hwm_mb, result.close_report = data["close_hwm_mb"], data["close_report"]
        data = phase("baseline", base_url)
        result.baseline_s, result.baseline_rss_mb = data["baseline_s"], data["baseline_rss_mb"]
        say(
            f"ratio engine/baseline: {result.ratio:.1f}x "
            f"({result.close_rate:,.0f} vs {result.baseline_rate:,.0f} customers/s)"
        )
        if args.pdfs > 0:
            data = phase("documents", url)
            result.pdfs = data.get("pdfs", 0)
            result.pdfs_s = data.get("pdfs_s", 0.0)
            result.pdfs_rss_mb = data.get("pdfs_rss_mb", 0.0)
            result.pdfs_note = data.get("pdfs_note", "")
        else:
            result.pdfs_note = "skipped (--pdfs 0)"
        data = phase("verify", url)
        result.verify_engine = data["verify_engine"]
        result.verify_baseline = data["verify_baseline"]
        result.same_rows = data["same_rows"]
    finally:
        for cleanup in cleanups:
            cleanup()
    result.notes.append(f"run took {time.perf_counter() - started:.0f} s")
    return result


def summary(results: Sequence[Result], profile: bool) -> str:
    headers = [
        "database",
        "customers",
        "xDRs",
        "setup s",
        "close s",
        "close/s",
        "peak RSS MB",
        "baseline s",
        "baseline/s",
        "ratio",
        "PDFs/s",
        "verify",
        f"<{AIM_SECONDS:.0f}s & <{AIM_MB:.0f}MB",
    ]
    rows = []
    for r in results:
        ok = r.verify_engine == r.verify_baseline == r.same_rows == "OK"
        rows.append(
            [
                r.database,
                f"{r.customers:,}",
                f"{r.customers * r.xdrs:,}",
                f"{r.setup_s:,.0f}",
                f"{r.close_s:,.1f}",
                f"{r.close_rate:,.0f}",
                f"{r.close_rss_mb:,.0f}",
                f"{r.baseline_s:,.1f}",
                f"{r.baseline_rate:,.0f}",
                f"{r.ratio:.1f}x",
                f"{r.pdf_rate:,.1f}" if r.pdfs else "-",
                "OK" if ok else "FAILED",
                "met" if r.close_s < AIM_SECONDS and r.close_rss_mb < AIM_MB else "NOT met",
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.append("")
    lines.append(
        "close: engine.run(steps=['close']) in a process of its own; peak RSS: its "
        "ru_maxrss; baseline: the same reads and writes in bare SQL on a copy of the data, one "
        "transaction per customer; ratio: engine time / baseline time."
        + (" PROFILED RUN: the close figures include cProfile's overhead." if profile else "")
    )
    for r in results:
        lines.append(
            f"{r.database}: {r.server}; migrate {r.migrate_s:.1f} s, copy {r.copy_s:.1f} s; "
            f"PDFs: {r.pdfs_note}"
            + (
                f" ({r.pdfs:,} in {r.pdfs_s:.1f} s, peak RSS {r.pdfs_rss_mb:.0f} MB)"
                if r.pdfs
                else ""
            )
            + f"; verify engine {r.verify_engine}, baseline {r.verify_baseline}, "
            f"engine == baseline {r.same_rows}; {'; '.join(r.notes)}"
        )
        errors = r.close_report.get("errors") or []
        if errors:
            lines.append(f"{r.database}: {len(errors)} engine errors, first {errors[:3]}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--xdrs-per-customer", type=int, default=10)
    p.add_argument("--databases", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--pdfs", type=int, default=1000, help="render the first N invoices' PDFs")
    p.add_argument("--profile", action="store_true", help="cProfile and count SQL of the close")
    p.add_argument("--pg-database", default="billcore_bench_billing")
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    p.add_argument("--worker", choices=sorted(PHASES), help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--baseline-url", help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.customers < 1:
        p.error("--customers must be at least 1")
    if not 1 <= args.xdrs_per_customer <= 1000:
        p.error("--xdrs-per-customer must be 1 … 1000")
    if args.pdfs < 0:
        p.error("--pdfs must be 0 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    databases = parse_databases(args.databases)
    print(
        f"billcore billing-run benchmark: {args.customers:,} customers x "
        f"{args.xdrs_per_customer} xDRs; {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}",
        flush=True,
    )
    var = Path.cwd() / "var"
    var.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-billing-", dir=var))
    started = time.perf_counter()
    results = []
    try:
        for database in databases:
            results.append(run_one(database, args, scratch))
    finally:
        if args.keep:
            print(f"kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n== summary ({time.perf_counter() - started:.0f} s in all)\n")
    print(summary(results, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Charging benchmark: bulk xDR import and single charges over HTTP, each against a
bare-SQL baseline, on SQLite and PostgreSQL.

    .venv/bin/python bench/charging.py                        # 200,000 xDRs, both databases
    .venv/bin/python bench/charging.py --xdrs 5000 --customers 500 --http-requests 400
    .venv/bin/python bench/charging.py --databases postgres

For each database a fresh one is made (SQLite: a temporary file in WAL mode; PostgreSQL: the
database ``billcore_bench_charging`` on the server of ``TEST_PG_URL``, dropped and created
again) and the measurement runs in a subprocess of its own with ``DATABASE_URL`` pointing at
it (``--worker``), which migrates it and then:

0. setup (not timed as part of any figure): an administrator, ``--customers`` customers
   (half prepaid with opening funds and their opening-balance ledger rows, half postpaid
   without a limit) with one credit account each, made with ``bulk_create`` (setup only:
   the services are not what is measured here); a CSV of ``--xdrs`` usage records in a
   temporary directory (9 in 10 by account identifier, 1 in 10 by customer name; amounts
   small enough that nothing is denied);
1. bulk baseline: the same file loaded by hand in bare SQL: read with ``csv.reader``, each
   line converted, and per 1,000 lines one transaction of ``executemany`` INSERTs of the
   ledger rows and the xDRs plus one balance UPDATE per customer and account touched;
   timed, then deleted again (balances restored);
2. bulk import: ``charging.importer.import_xdrs`` (what ``billcore xdrs import`` runs;
   ``--batch`` lines per ``charge_many`` call and transaction) in a process of its own, so
   that its peak memory (``ru_maxrss``) is its own; rows/s and the ratio to the baseline's
   rate; aim: at least half the baseline's rate;
3. single charges over HTTP: ``billcore serve`` (gunicorn) on a free loopback port, driven by
   ``--clients`` threads with keep-alive connections posting ``POST /api/v1/xdrs`` with a
   Bearer token, ``--http-requests`` in all; charges/s, p50 and p99 latency; aim: 1,000/s on
   PostgreSQL;
4. single-charge baseline: ``--clients`` threads with a connection each doing
   BEGIN; SELECT … FOR UPDATE (PostgreSQL); UPDATE customer; UPDATE account; INSERT ledger
   row; INSERT xDR; COMMIT, as many charges; the ratio of the HTTP rate to it.

Finally the ledger is checked against every balance. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import os
import platform
import random
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import (
    drop_postgres,
    fresh_postgres,
    maxrss_mb,
    parse_databases,
    run_databases,
    say,
    with_database,
)

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
IMPORT_AIM = 0.5  # the importer at half the bare-SQL batched rate or better
HTTP_AIM = 1000.0  # charges/s over HTTP on PostgreSQL
ID_OFFSET = 1_000_000_000  # the bulk baseline's rows get ids far from everyone else's
BASELINE_BATCH = 1000
STARTED_AT = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


@dataclass
class Result:
    database: str
    server: str
    xdrs: int
    customers: int
    setup_s: float = 0.0
    baseline_s: float = 0.0
    baseline_rate: float = 0.0
    import_s: float = 0.0
    import_rate: float = 0.0
    import_counts: dict[str, int] = field(default_factory=dict)
    import_batch: int = 0
    import_rss_start_mb: float = 0.0
    import_rss_peak_mb: float = 0.0
    import_maxrss_mb: float = 0.0
    import_rss_samples: list[tuple[int, float]] = field(default_factory=list)
    http_config: str = ""
    http_requests: int = 0
    http_rate: float = 0.0
    http_ms: tuple[float, float] = (0.0, 0.0)
    http_errors: int = 0
    single_rate: float = 0.0
    single_ms: tuple[float, float] = (0.0, 0.0)
    consistent: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def import_ratio(self) -> float:
        return self.import_rate / self.baseline_rate if self.baseline_rate else 0.0

    @property
    def http_ratio(self) -> float:
        return self.http_rate / self.single_rate if self.single_rate else 0.0


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


def peak_rss_mb() -> float:
    """This process's own peak resident set size (``VmHWM``, Linux), else maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return maxrss_mb()


# ----------------------------------------------------------------------------------------
# Setup: customers, accounts, the CSV file
# ----------------------------------------------------------------------------------------


def customer_name(i: int) -> str:
    return f"Bench Customer {i:07d}"


def identifier(i: int) -> str:
    return f"+1555{i:07d}"


def setup(customers: int) -> Any:
    """Customers and accounts by ``bulk_create`` (setup only), with the opening-balance
    ledger rows of the prepaid ones, so that the ledger sums to every balance."""
    from django.utils import timezone

    from billcore.accounts.models import User
    from billcore.classes.models import CustomerClass
    from billcore.customers.models import Customer
    from billcore.ledger.models import Action, Transaction
    from billcore.subscribers.models import Account

    now = timezone.now()
    admin = User.objects.create_user(
        username="bench-admin", password=None, is_staff=True, is_superuser=True
    )
    cls = CustomerClass.objects.get(is_default=True)
    funds = Decimal(10_000)
    rows = [
        Customer(
            name=customer_name(i),
            currency_id="USD",
            customer_class=cls,
            balance_control="prepaid" if i % 2 else "postpaid",
            balance=-funds if i % 2 else Decimal(0),
            created_at=now,
            updated_at=now,
        )
        for i in range(customers)
    ]
    Customer.objects.bulk_create(rows, batch_size=1000)
    ids = dict(
        Customer.objects.filter(name__startswith="Bench Customer ").values_list("name", "id")
    )
    Account.objects.bulk_create(
        [
            Account(
                customer_id=ids[customer_name(i)],
                identifier=identifier(i),
                created_at=now,
                updated_at=now,
            )
            for i in range(customers)
        ],
        batch_size=1000,
    )
    Transaction.objects.bulk_create(
        [
            Transaction(
                customer_id=ids[customer_name(i)],
                action=Action.OPENING_BALANCE,
                amount=-funds,
                balance_after=-funds,
                visible_comment="Opening balance",
                actor=admin,
                created_at=now,
            )
            for i in range(customers)
            if i % 2
        ],
        batch_size=1000,
    )
    return admin


def write_csv(path: Path, *, xdrs: int, customers: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "account",
                "customer",
                "service",
                "amount",
                "quantity",
                "unit",
                "started_at",
                "external_id",
                "cli",
                "cld",
            ]
        )
        for n in range(xdrs):
            i = rng.randrange(customers)
            seconds = rng.randrange(1, 3600)
            when = STARTED_AT + dt.timedelta(seconds=n * 7 + rng.randrange(7))
            by_name = rng.random() < 0.1
            w.writerow(
                [
                    "" if by_name else identifier(i),
                    customer_name(i) if by_name else "",
                    "voice",
                    f"{seconds * 0.0005:.5f}".rstrip("0").rstrip("."),
                    str(seconds),
                    "s",
                    when.isoformat().replace("+00:00", "Z"),
                    f"bench-{n:09d}",
                    identifier(i),
                    f"+4930{rng.randrange(10**7):07d}",
                ]
            )


# ----------------------------------------------------------------------------------------
# Bare SQL: connections and statements shared by both baselines
# ----------------------------------------------------------------------------------------

XDR_COLUMNS = (
    "id, customer_id, account_id, service, quantity, unit, amount, started_at, details, "
    "external_id, status, deny_reason, transaction_id, created_at"
)
LEDGER_COLUMNS = (
    "id, customer_id, action, amount, balance_after, account_id, account_amount, card_amount, "
    "reference_id, visible_comment, internal_comment, actor_id, idempotency_key, "
    "request_fingerprint, created_at"
)


def insert_sql(table: str, columns: str) -> str:
    """``INSERT`` of ``columns`` (``%s`` each) into ``table``, with every other column of the
    model given its default as a literal, so that columns added to the models later (with a
    default) do not break the baseline."""
    from django.apps import apps
    from django.db import connection

    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    listed = [c.strip() for c in columns.split(",")]
    names, values = list(listed), ["%s"] * len(listed)
    for f in model._meta.concrete_fields:
        if f.column in listed or f.column == "id":
            continue
        default = f.get_default() if f.has_default() else None
        if default is None and not f.null:
            raise SystemExit(f"bench: no default for {table}.{f.column}; add it to the baseline")
        names.append(f.column)
        if default is None:
            values.append("NULL")
        elif isinstance(default, bool):
            values.append("TRUE" if default else "FALSE")
        elif isinstance(default, int | Decimal):
            values.append(str(f.get_db_prep_save(default, connection=connection)))
        else:
            values.append("'" + str(default).replace("'", "''") + "'")
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)})"


class Bare:
    """A DB-API connection of its own (psycopg or sqlite3) and the statements, with the
    placeholders and value adaptation of that database."""

    def __init__(self, vendor: str, url: str) -> None:
        self.vendor = vendor
        if vendor == "postgresql":
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
        """A datetime as the product stores it (SQLite: UTC text, as Django writes it)."""
        if self.vendor == "postgresql":
            return value
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")

    def json(self, value: dict[str, Any]) -> Any:
        if self.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return json.dumps(value)

    def begin(self) -> None:
        if self.vendor == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.vendor == "sqlite":
            self.conn.execute("COMMIT")
        else:
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def units(text: str) -> int:
    from billcore.core.money import parse_amount, to_units

    return to_units(parse_amount(text))


def bulk_baseline(csv_path: Path, *, vendor: str, url: str, admin_id: int) -> float:
    """The file loaded in bare SQL (read, convert, executemany per 1,000 lines, one
    transaction each); returns the seconds it took. The rows are deleted and the balances
    restored afterwards."""
    db = Bare(vendor, url)
    cur = db.conn.cursor()
    cur.execute("SELECT id, balance, fraud_day_spent FROM customers_customer")
    saved_customers = cur.fetchall()
    cur.execute("SELECT id, balance FROM subscribers_account")
    saved_accounts = cur.fetchall()
    if vendor == "postgresql":
        db.conn.commit()
    ledger_sql = db.sql(insert_sql("ledger_transaction", LEDGER_COLUMNS))
    xdr_sql = db.sql(insert_sql("charging_xdr", XDR_COLUMNS))
    customer_sql = db.sql(
        "UPDATE customers_customer SET balance = balance + %s, fraud_day = %s, "
        "fraud_day_spent = fraud_day_spent + %s WHERE id = %s"
    )
    account_sql = db.sql("UPDATE subscribers_account SET balance = balance + %s WHERE id = %s")

    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    created = db.when(now)
    today = now.date() if vendor == "postgresql" else now.date().isoformat()
    cur.execute("SELECT a.identifier, a.id, a.customer_id FROM subscribers_account a")
    by_identifier = {ident: (cid, aid) for ident, aid, cid in cur.fetchall()}
    cur.execute("SELECT LOWER(name), id FROM customers_customer")
    by_name = dict(cur.fetchall())
    cur.execute("SELECT id, balance FROM customers_customer")
    balances = dict(cur.fetchall())
    if vendor == "postgresql":
        db.conn.commit()
    next_id = ID_OFFSET
    ledger: list[tuple[Any, ...]] = []
    xdrs: list[tuple[Any, ...]] = []
    customer_delta: dict[int, int] = {}
    account_delta: dict[int, int] = {}

    def flush() -> None:
        db.begin()
        cur.executemany(ledger_sql, ledger)
        cur.executemany(xdr_sql, xdrs)
        cur.executemany(customer_sql, [(d, today, d, c) for c, d in customer_delta.items()])
        cur.executemany(account_sql, [(d, a) for a, d in account_delta.items()])
        db.commit()
        ledger.clear()
        xdrs.clear()
        customer_delta.clear()
        account_delta.clear()

    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        at = {name: i for i, name in enumerate(header)}
        a_i, c_i, amount_i = at["account"], at["customer"], at["amount"]
        qty_i, start_i, ext_i = at["quantity"], at["started_at"], at["external_id"]
        cli_i, cld_i, svc_i, unit_i = at["cli"], at["cld"], at["service"], at["unit"]
        for row in reader:
            if row[a_i]:
                cid, aid = by_identifier[row[a_i]]
            else:
                cid, aid = by_name[row[c_i].lower()], None
            amount = units(row[amount_i])
            balance = balances[cid] + amount
            balances[cid] = balance
            ledger.append(
                (
                    *(next_id, cid, "usage", amount, balance, aid, amount if aid else 0),
                    *(None, None, "", "", admin_id, None, "", created),
                )
            )
            xdrs.append(
                (
                    *(next_id, cid, aid, row[svc_i], units(row[qty_i]), row[unit_i], amount),
                    db.when(dt.datetime.fromisoformat(row[start_i])),
                    db.json({"cli": row[cli_i], "cld": row[cld_i]}),
                    *(row[ext_i], "charged", "", next_id, created),
                )
            )
            customer_delta[cid] = customer_delta.get(cid, 0) + amount
            if aid:
                account_delta[aid] = account_delta.get(aid, 0) + amount
            next_id += 1
            if len(xdrs) >= BASELINE_BATCH:
                flush()
    if xdrs:
        flush()
    elapsed = time.perf_counter() - started

    db.begin()
    cur.execute(db.sql("DELETE FROM charging_xdr WHERE id >= %s"), (ID_OFFSET,))
    cur.execute(db.sql("DELETE FROM ledger_transaction WHERE id >= %s"), (ID_OFFSET,))
    cur.executemany(
        db.sql(
            "UPDATE customers_customer SET balance = %s, fraud_day = NULL, fraud_day_spent = %s "
            "WHERE id = %s"
        ),
        [(b, s, c) for c, b, s in saved_customers],
    )
    cur.executemany(
        db.sql("UPDATE subscribers_account SET balance = %s WHERE id = %s"),
        [(b, a) for a, b in saved_accounts],
    )
    db.commit()
    if vendor == "postgresql":
        db.conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    else:  # AUTOINCREMENT remembers the highest id ever used: forget the baseline's
        for table in ("charging_xdr", "ledger_transaction"):
            cur.execute(
                f"UPDATE sqlite_sequence SET seq = (SELECT COALESCE(MAX(id), 0) FROM {table}) "
                "WHERE name = ?",
                (table,),
            )
    db.close()
    return elapsed


# ----------------------------------------------------------------------------------------
# The import, in a process of its own
# ----------------------------------------------------------------------------------------


def import_child(args: argparse.Namespace) -> int:
    """Runs ``import_xdrs`` on ``--csv`` and writes its figures to ``--result-file``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    import django

    django.setup()
    from django.utils import timezone

    from billcore.accounts.models import User
    from billcore.charging.importer import ImportProgress, import_xdrs

    actor = User.objects.filter(is_superuser=True).order_by("id").first()
    start_mb = peak_rss_mb()
    samples: list[tuple[int, float]] = []
    total = args.xdrs
    marks = [total * k // 10 for k in range(1, 11)]

    def on_progress(p: ImportProgress) -> None:
        while marks and p.rows >= marks[0]:
            samples.append((p.rows, peak_rss_mb()))
            marks.pop(0)

    def run() -> Any:
        return import_xdrs(
            path=args.csv,
            actor=actor,
            now_fn=timezone.now,
            on_progress=on_progress,
            batch=args.batch,
        )

    if args.profile_file:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        summary = profiler.runcall(run)
        profiler.dump_stats(args.profile_file)
        pstats.Stats(args.profile_file).sort_stats("tottime").print_stats(30)
    else:
        summary = run()
    Path(args.result_file).write_text(
        json.dumps(
            {
                "seconds": summary.seconds,
                "rows": summary.rows,
                "charged": summary.charged,
                "denied": summary.denied,
                "rejected": summary.rejected,
                "replayed": summary.replayed,
                "rss_start_mb": start_mb,
                "rss_peak_mb": peak_rss_mb(),
                "maxrss_mb": maxrss_mb(),
                "samples": samples,
            }
        )
    )
    return 0


def run_import(result: Result, csv_path: Path, args: argparse.Namespace, scratch: Path) -> None:
    out = scratch / f"import-{result.database}.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--import-child",
        "--csv",
        str(csv_path),
        "--xdrs",
        str(args.xdrs),
        "--batch",
        str(args.batch),
        "--result-file",
        str(out),
    ]
    if args.profile:
        command += ["--profile-file", str(scratch / f"import-{result.database}.prof")]
    subprocess.run(command, check=True)
    data = json.loads(out.read_text())
    result.import_s = data["seconds"]
    result.import_rate = data["rows"] / data["seconds"]
    result.import_counts = {
        k: data[k] for k in ("rows", "charged", "denied", "rejected", "replayed")
    }
    result.import_batch = args.batch
    result.import_rss_start_mb = data["rss_start_mb"]
    result.import_rss_peak_mb = data["rss_peak_mb"]
    result.import_maxrss_mb = data["maxrss_mb"]
    result.import_rss_samples = [(int(n), float(mb)) for n, mb in data["samples"]]


# ----------------------------------------------------------------------------------------
# Single charges: over HTTP, and the bare-SQL baseline
# ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"billcore serve exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"billcore serve did not listen on {port}: {log.read_text()[-2000:]}")


def drive(
    clients: int, per_client: int, one: Callable[[int, int], float]
) -> tuple[float, list[float], list[str]]:
    """``clients`` threads each calling ``one(client, i)`` ``per_client`` times (each call
    returns its latency in ms); wall time, latencies and errors."""
    samples: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        barrier.wait()
        for i in range(per_client):
            try:
                samples[c].append(one(c, i))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return elapsed, [s for per in samples for s in per], errors


def http_charges(
    result: Result, *, args: argparse.Namespace, admin: Any, targets: list[int], scratch: Path
) -> None:
    from django.utils import timezone

    from billcore.accounts.tokens import create_token

    token = create_token(user=admin, now=timezone.now(), name="bench")
    port = free_port()
    log = scratch / f"serve-{result.database}.log"
    result.http_config = f"gunicorn {args.serve_workers} workers x {args.serve_threads} threads"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "billcore.cli", "serve", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", str(args.serve_workers)),
                *("--threads", str(args.serve_threads)),
                *("--engine-interval", "0"),  # no billing engine beside the measurement
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conns = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(args.clients)
        ]
        rngs = [random.Random(args.seed * 100 + c) for c in range(args.clients)]

        def post(c: int, i: int, tag: str) -> float:
            body = json.dumps(
                {
                    "account": rngs[c].choice(targets),
                    "service": "voice",
                    "amount": "0.01",
                    "quantity": "60",
                    "unit": "s",
                    "started_at": "2026-11-01T10:00:00Z",
                    "details": {"cli": "+15550000000", "cld": "+4930000000"},
                    "external_id": f"http-{tag}-{c}-{i}",
                }
            ).encode()
            started = time.perf_counter()
            conns[c].request("POST", "/api/v1/xdrs", body, headers)
            response = conns[c].getresponse()
            data = response.read()
            ms = (time.perf_counter() - started) * 1000
            if response.status != 201 or json.loads(data)["allowed"] is not True:
                raise RuntimeError(f"HTTP {response.status}: {data[:300]!r}")
            return ms

        drive(args.clients, 25, lambda c, i: post(c, i, "warm"))  # warm-up, not counted
        per_client = max(args.http_requests // args.clients, 1)
        elapsed, samples, errors = drive(args.clients, per_client, lambda c, i: post(c, i, "run"))
        for conn in conns:
            conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    result.http_requests = per_client * args.clients
    result.http_errors = len(errors)
    if errors:
        result.notes.append(f"HTTP errors: {len(errors)}, first: {errors[0]}")
        tail = log.read_text(errors="replace").splitlines()[-40:]
        say("HTTP errors; the server log ends with:\n" + "\n".join("    " + t for t in tail))
    result.http_rate = len(samples) / elapsed
    result.http_ms = percentiles(samples) if len(samples) > 1 else (0.0, 0.0)
    say(
        f"HTTP POST /api/v1/xdrs ({result.http_config}, {args.clients} clients, "
        f"{result.http_requests:,} charges): {result.http_rate:,.0f} charges/s, "
        f"p50 {result.http_ms[0]:.1f} ms, p99 {result.http_ms[1]:.1f} ms"
        + (f", {len(errors)} errors (first: {errors[0]})" if errors else "")
    )


def single_baseline(
    result: Result,
    *,
    args: argparse.Namespace,
    vendor: str,
    url: str,
    admin_id: int,
    targets: list[tuple[int, int]],
) -> None:
    """Single charges in bare SQL, one transaction each, ``--clients`` connections."""
    dbs = [Bare(vendor, url) for _ in range(args.clients)]
    lock = (
        "SELECT c.balance, a.balance FROM customers_customer c JOIN subscribers_account a "
        "ON a.customer_id = c.id WHERE a.id = %s"
        + (" FOR UPDATE" if vendor == "postgresql" else "")
    )
    sqls = {
        "lock": lock,
        "customer": "UPDATE customers_customer SET balance = balance + %s, fraud_day = %s, "
        "fraud_day_spent = fraud_day_spent + %s WHERE id = %s",
        "account": "UPDATE subscribers_account SET balance = balance + %s WHERE id = %s",
        "ledger": insert_sql("ledger_transaction", LEDGER_COLUMNS.removeprefix("id, "))
        + " RETURNING id",
        "xdr": insert_sql("charging_xdr", XDR_COLUMNS.removeprefix("id, ")),
    }
    rngs = [random.Random(args.seed * 1000 + c) for c in range(args.clients)]
    amount = 1000  # 0.01 in units of 10⁻⁵

    def one(c: int, i: int) -> float:
        db = dbs[c]
        q = {k: db.sql(v) for k, v in sqls.items()}
        cid, aid = rngs[c].choice(targets)
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        cur = db.conn.cursor()
        db.begin()
        cur.execute(q["lock"], (aid,))
        balance = cur.fetchone()[0] + amount
        today = now.date() if vendor == "postgresql" else now.date().isoformat()
        cur.execute(q["customer"], (amount, today, amount, cid))
        cur.execute(q["account"], (amount, aid))
        created = db.when(now)
        cur.execute(
            q["ledger"],
            (
                cid,
                "usage",
                amount,
                balance,
                aid,
                amount,
                None,
                None,
                "",
                "",
                admin_id,
                None,
                "",
                created,
            ),
        )
        tx_id = cur.fetchone()[0]
        cur.execute(
            q["xdr"],
            (
                *(cid, aid, "voice", 6_000_000, "s", amount, db.when(STARTED_AT)),
                db.json({"cli": "+15550000000", "cld": "+4930000000"}),
                *(f"sql-{c}-{i}", "charged", "", tx_id, created),
            ),
        )
        db.commit()
        return (time.perf_counter() - started) * 1000

    per_client = max(args.http_requests // args.clients, 1)
    try:
        elapsed, samples, errors = drive(args.clients, per_client, one)
    finally:
        for db in dbs:
            db.close()
    if errors:
        result.notes.append(f"bare-SQL single-charge errors: {len(errors)}, first: {errors[0]}")
    result.single_rate = len(samples) / elapsed
    result.single_ms = percentiles(samples) if len(samples) > 1 else (0.0, 0.0)
    say(
        f"bare SQL single charges ({args.clients} connections, {per_client * args.clients:,}): "
        f"{result.single_rate:,.0f} charges/s, p50 {result.single_ms[0]:.1f} ms, "
        f"p99 {result.single_ms[1]:.1f} ms; HTTP / bare SQL = {result.http_ratio:.2f}"
        + (f", {len(errors)} errors (first: {errors[0]})" if errors else "")
    )


def consistency() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), SUM(CASE WHEN c.balance = COALESCE(t.s, 0) THEN 0 ELSE 1 END) "
            "FROM customers_customer c LEFT JOIN (SELECT customer_id, SUM(amount) AS s "
            "FROM ledger_transaction GROUP BY customer_id) t ON t.customer_id = c.id"
        )
        total, wrong = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FROM subscribers_account a WHERE a.balance <> COALESCE(("
            "SELECT SUM(account_amount) FROM ledger_transaction t WHERE t.account_id = a.id), 0)"
        )
        (wrong_accounts,) = cursor.fetchone()
    if wrong or wrong_accounts:
        return f"INCONSISTENT: {wrong} customers, {wrong_accounts} accounts off their ledger"
    return f"ledger = balance for all {total:,} customers and their accounts"


# ----------------------------------------------------------------------------------------
# The worker: runs inside the subprocess, with DATABASE_URL set
# ----------------------------------------------------------------------------------------


def worker(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            server = f"SQLite {sqlite3.sqlite_version}, journal {cursor.fetchone()[0]}"
        else:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
            cursor.execute("SHOW synchronous_commit")
            server = f"PostgreSQL {version}, synchronous_commit={cursor.fetchone()[0]}"
    say(server)
    result = Result(
        database=connection.vendor, server=server, xdrs=args.xdrs, customers=args.customers
    )
    scratch = Path(args.scratch)
    url = os.environ["DATABASE_URL"]

    started = time.perf_counter()
    admin = setup(args.customers)
    csv_path = scratch / f"xdrs-{connection.vendor}.csv"
    write_csv(csv_path, xdrs=args.xdrs, customers=args.customers, seed=args.seed)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    result.setup_s = time.perf_counter() - started
    size_mb = csv_path.stat().st_size / 1e6
    say(
        f"setup: {args.customers:,} customers and accounts (bulk_create), a CSV of "
        f"{args.xdrs:,} xDRs ({size_mb:.1f} MB) in {result.setup_s:.1f} s"
    )
    connection.close()

    result.baseline_s = bulk_baseline(
        csv_path, vendor=connection.vendor, url=url, admin_id=admin.pk
    )
    result.baseline_rate = args.xdrs / result.baseline_s
    say(
        f"bulk baseline (bare SQL, executemany, {BASELINE_BATCH:,} lines a transaction): "
        f"{result.baseline_s:.1f} s, {result.baseline_rate:,.0f} rows/s"
    )

    run_import(result, csv_path, args, scratch)
    counts = result.import_counts
    say(
        f"import (import_xdrs, batch {args.batch}): {result.import_s:.1f} s, "
        f"{result.import_rate:,.0f} rows/s = {result.import_ratio:.3f} of the baseline's rate "
        f"(aim {IMPORT_AIM}: {'met' if result.import_ratio >= IMPORT_AIM else 'NOT met'}); "
        f"{counts['charged']:,} charged, {counts['denied']:,} denied, "
        f"{counts['rejected']:,} rejected, {counts['replayed']:,} replayed"
    )
    say(
        f"import process memory (peak RSS, VmHWM): {result.import_rss_start_mb:.0f} MB before "
        f"the import, {result.import_rss_peak_mb:.0f} MB at the end; by rows: "
        + ", ".join(f"{rows:,}: {mb:.0f} MB" for rows, mb in result.import_rss_samples)
        + f" (getrusage maxrss {result.import_maxrss_mb:.0f} MB, which on Linux includes the "
        "parent's size at fork)"
    )
    if counts["charged"] != args.xdrs:
        result.notes.append(f"the import charged {counts['charged']} of {args.xdrs} lines")

    from billcore.subscribers.models import Account

    pairs = list(Account.objects.values_list("customer_id", "id"))
    http_charges(result, args=args, admin=admin, targets=[a for _, a in pairs], scratch=scratch)
    connection.close()
    single_baseline(
        result, args=args, vendor=connection.vendor, url=url, admin_id=admin.pk, targets=pairs
    )
    result.consistent = consistency()
    say(result.consistent)
    Path(args.result_file).write_text(json.dumps(asdict(result)))
    return 0


# ----------------------------------------------------------------------------------------
# The driver: one fresh database and one worker process per database
# ----------------------------------------------------------------------------------------


def run_one(database: str, args: argparse.Namespace, scratch: Path) -> Result:
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if database == "sqlite":
        path = scratch / "bench.sqlite3"
        url = f"sqlite:///{path}"
        where = str(path)
    else:
        server = os.environ.get("TEST_PG_URL", DEFAULT_PG_URL)
        url = fresh_postgres(server, args.pg_database)
        where = with_database(server, args.pg_database)
        if not args.keep:

            def cleanup() -> None:
                drop_postgres(server, args.pg_database)

    result_file = scratch / f"{database}.json"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "billcore.settings",
        "BILLCORE_SECRET_KEY": secrets.token_urlsafe(32),
        "BILLCORE_VAR_DIR": str(scratch),
    }
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--scratch",
        str(scratch),
        "--result-file",
        str(result_file),
        *forwarded(args),
    ]
    print(f"\n== {database}: {where}", flush=True)
    started = time.perf_counter()
    try:
        subprocess.run(command, env=env, check=True)
    finally:
        cleanup()
    data = json.loads(result_file.read_text())
    for key in ("http_ms", "single_ms"):
        data[key] = tuple(data[key])
    data["import_rss_samples"] = [(int(n), float(mb)) for n, mb in data["import_rss_samples"]]
    result = Result(**data)
    result.notes.append(f"run took {time.perf_counter() - started:.0f} s")
    return result


def forwarded(args: argparse.Namespace) -> list[str]:
    out = []
    for name in (
        "xdrs",
        "customers",
        "http_requests",
        "clients",
        "batch",
        "serve_workers",
        "serve_threads",
        "seed",
    ):
        out += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.profile:
        out.append("--profile")
    return out


def summary(results: Sequence[Result]) -> str:
    headers = [
        "database",
        "xdrs",
        "import/s",
        "bulk SQL/s",
        "ratio",
        f"import>={IMPORT_AIM}",
        "peak MB",
        "HTTP/s",
        "p50/p99 ms",
        "SQL single/s",
        "ratio",
        f"HTTP>={HTTP_AIM:,.0f}/s",
    ]
    rows = []
    for r in results:
        http_aim = (
            ("met" if r.http_rate >= HTTP_AIM else "NOT met")
            if r.database == "postgresql"
            else "(PG only)"
        )
        rows.append(
            [
                r.database,
                f"{r.xdrs:,}",
                f"{r.import_rate:,.0f}",
                f"{r.baseline_rate:,.0f}",
                f"{r.import_ratio:.3f}",
                "met" if r.import_ratio >= IMPORT_AIM else "NOT met",
                f"{r.import_rss_peak_mb:.0f}",
                f"{r.http_rate:,.0f}",
                f"{r.http_ms[0]:.1f} / {r.http_ms[1]:.1f}",
                f"{r.single_rate:,.0f}",
                f"{r.http_ratio:.2f}",
                http_aim,
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
        "import/s: lines per second through charging.importer.import_xdrs (services.charge_many "
        "per batch of --batch lines, one transaction each); bulk SQL/s: the same file "
        "read and written in bare SQL (executemany, 1,000 lines a transaction); ratio: "
        "import/s / bulk SQL/s. HTTP/s: POST /api/v1/xdrs through billcore serve; SQL single/s: "
        "one bare-SQL transaction per charge; ratio: HTTP/s / SQL single/s. peak MB: the "
        "import process's peak resident set size (VmHWM)."
    )
    for r in results:
        lines.append(
            f"{r.database}: {r.server}; {r.customers:,} customers; {r.http_config}; "
            f"{r.consistent}; {'; '.join(r.notes)}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--xdrs", type=int, default=200_000, help="lines of the CSV file")
    p.add_argument("--customers", type=int, default=10_000, help="customers (one account each)")
    p.add_argument("--databases", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--http-requests", type=int, default=10_000, help="single charges in all")
    p.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    p.add_argument("--batch", type=int, default=1000, help="the importer's lines a transaction")
    p.add_argument("--serve-workers", type=int, default=4, help="billcore serve --workers")
    p.add_argument("--serve-threads", type=int, default=2, help="billcore serve --threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg-database", default="billcore_bench_charging")
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    p.add_argument(
        "--profile", action="store_true", help="run the import under cProfile and print it"
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--import-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scratch", help=argparse.SUPPRESS)
    p.add_argument("--csv", help=argparse.SUPPRESS)
    p.add_argument("--profile-file", help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.customers < 10 or args.xdrs < 100:
        p.error("--customers must be at least 10 and --xdrs at least 100")
    if args.clients < 1 or args.http_requests < args.clients:
        p.error("--http-requests must be at least --clients (>= 1)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.import_child:
        return import_child(args)
    if args.worker:
        return worker(args)
    databases = parse_databases(args.databases)
    print(
        f"billcore charging benchmark: {args.xdrs:,} xDRs over {args.customers:,} customers, "
        f"{args.http_requests:,} HTTP charges by {args.clients} clients; {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    return run_databases(
        databases,
        lambda database, scratch: run_one(database, args, scratch),
        summary,
        prefix="billcore-bench-charging-",
        keep=args.keep,
    )


if __name__ == "__main__":
    sys.exit(main())

"""Customer benchmark: creating customers through the service layer against a bare-SQL
baseline, then API and page latency with that many customers in the database.

    .venv/bin/python bench/customers.py                      # 100,000 customers, both databases
    .venv/bin/python bench/customers.py --customers 2000     # a quick smoke run
    .venv/bin/python bench/customers.py --databases sqlite

For each database a fresh one is made (SQLite: a temporary file in WAL mode; PostgreSQL: the
database ``billcore_bench`` on the server of ``TEST_PG_URL``, dropped and created again) and
the measurement runs in a subprocess of its own with ``DATABASE_URL`` pointing at it
(``--worker``), which migrates it and then:

1. baseline: the same rows ``create_customer`` writes (the customer, its audit row and, for
   a prepaid customer, its opening-balance ledger row) inserted by plain ``executemany``
   INSERTs in one transaction; timed, then deleted again;
2. creates the customers one by one through ``ledger.customers.create_customer`` (one
   transaction each, as an API request does), spread over four classes and three
   currencies, prepaid with opening funds and postpaid with a credit limit; prints the rate
   and its ratio to the baseline;
3. latency, in process with ``django.test.Client`` (no HTTP server, no network):
   GET ``/api/v1/customers/{id}`` for random ids, the filtered first list page
   ``/api/v1/customers?currency=EUR&customer_class=<id>&limit=50``, and the admin page
   ``/customers/?currency=EUR`` when that URL exists; p50 and p99 in milliseconds.

The aim checked: the list page's p99 under 50 ms with 100,000 customers.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import (
    drop_postgres,
    fresh_postgres,
    parse_databases,
    run_databases,
    say,
    with_database,
)

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
AIM_MS = 50.0
ID_OFFSET = 10_000_000  # baseline rows get ids far from the service layer's


@dataclass
class Result:
    database: str
    server: str
    customers: int
    migrate_s: float
    service_s: float
    service_rate: float
    baseline_rows: int
    baseline_s: float
    baseline_rate: float
    ratio: float
    get_ms: tuple[float, float]
    list_ms: tuple[float, float]
    list_count: int
    page_ms: tuple[float, float] | None
    page_note: str
    notes: list[str] = field(default_factory=list)

    @property
    def aim_met(self) -> bool:
        return self.list_ms[1] < AIM_MS


# ----------------------------------------------------------------------------------------
# The plan: the same customers for the baseline and the service layer
# ----------------------------------------------------------------------------------------

FIRST = ("Anna", "Ben", "Chloé", "David", "Elif", "Farah", "Giulia", "Hiro", "Ines", "Jonas")
LAST = ("Novak", "Okafor", "Schmidt", "Tan", "García", "Dubois", "Smith", "Kowalski", "Rossi")
# class key, currency choices (with the customer's country), weight
CLASSES: dict[str, tuple[str | None, int]] = {
    "Bench USD": ("USD", 30),
    "Bench EUR": ("EUR", 30),
    "Bench GBP": ("GBP", 15),
    "Bench Any": (None, 25),
}
COUNTRY = {"USD": "US", "EUR": "DE", "GBP": "GB"}


@dataclass(frozen=True)
class Planned:
    name: str
    currency: str
    class_name: str
    prepaid: bool
    amount: str  # opening funds (prepaid) or credit limit (postpaid)
    first_name: str
    last_name: str


def plan(count: int, *, seed: int) -> list[Planned]:
    rng = random.Random(seed)
    names = list(CLASSES)
    weights = [w for _, w in CLASSES.values()]
    out = []
    for i in range(count):
        class_name = rng.choices(names, weights=weights)[0]
        currency = CLASSES[class_name][0] or rng.choice(("USD", "EUR", "GBP"))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        prepaid = rng.random() < 0.4
        amount = rng.randrange(10, 500) if prepaid else rng.randrange(1, 50) * 100
        out.append(
            Planned(
                name=f"{first} {last} {i + 1:07d}",
                currency=currency,
                class_name=class_name,
                prepaid=prepaid,
                amount=f"{amount}.00",
                first_name=first,
                last_name=last,
            )
        )
    return out


def customer_data(p: Planned, class_ids: dict[str, int]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": p.name,
        "currency": p.currency,
        "balance_control": "prepaid" if p.prepaid else "postpaid",
        "customer_class": class_ids[p.class_name],
        "first_name": p.first_name,
        "last_name": p.last_name,
        "country": COUNTRY[p.currency],
        "email": f"c{p.name[-7:]}@bench.example",
    }
    data["available_funds" if p.prepaid else "credit_limit"] = p.amount
    return data


# ----------------------------------------------------------------------------------------
# The worker: runs inside the subprocess, with DATABASE_URL set
# ----------------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


def worker(args: argparse.Namespace) -> int:
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - import every view now, not after the long part

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    migrate_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            server = f"SQLite {sqlite3.sqlite_version}, journal {cursor.fetchone()[0]}"
        else:
            cursor.execute("SHOW server_version")
            server = f"PostgreSQL {cursor.fetchone()[0]}"
    say(f"{server}; migrated in {migrate_s:.1f} s")

    from django.utils import timezone

    from billcore.accounts.models import User
    from billcore.classes.services import create_class

    admin = User.objects.create_user(
        username="bench-admin", password=None, is_staff=True, is_superuser=True
    )
    class_ids = {}
    for name, (currency, _) in CLASSES.items():
        data: dict[str, Any] = {"name": name}
        if currency:
            data["currency"] = currency
        class_ids[name] = create_class(actor=admin, now=timezone.now(), data=data).pk
    planned = plan(args.customers, seed=args.seed)

    rows, baseline_s = baseline(planned, class_ids, admin_id=admin.pk)
    n = len(planned)
    say(
        f"baseline: {rows} rows for {n} customers in one transaction: {baseline_s:.2f} s, "
        f"{n / baseline_s:,.0f} customers/s"
    )

    service_s = create_through_services(planned, class_ids, admin)
    service_rate = n / service_s
    ratio = service_s / baseline_s
    say(
        f"service layer: {n} customers in {service_s:.1f} s, {service_rate:,.0f} customers/s "
        f"({ratio:.0f}x the baseline's time)"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    result = Result(
        database=connection.vendor,
        server=server,
        customers=n,
        migrate_s=migrate_s,
        service_s=service_s,
        service_rate=service_rate,
        baseline_rows=rows,
        baseline_s=baseline_s,
        baseline_rate=n / baseline_s,
        ratio=ratio,
        get_ms=(0.0, 0.0),
        list_ms=(0.0, 0.0),
        list_count=0,
        page_ms=None,
        page_note="",
    )
    latency(result, admin=admin, class_id=class_ids["Bench EUR"], args=args)
    Path(args.result_file).write_text(json.dumps(asdict(result)))
    return 0


def baseline(planned: Sequence[Planned], class_ids: dict[str, int], *, admin_id: int) -> Any:
    """The rows ``create_customer`` writes, as plain INSERTs in one transaction: timed,
    then deleted so that the service layer starts from the same empty tables."""
    from django.db import connection, transaction
    from django.utils import timezone

    from billcore.audit.models import AuditEntry
    from billcore.audit.services import snapshot
    from billcore.customers.models import Customer
    from billcore.ledger.models import Action, Transaction

    now = timezone.now()
    customers, audits, ledger = [], [], []
    for i, p in enumerate(planned):
        funds = Decimal(p.amount) if p.prepaid else None
        c = Customer(
            id=ID_OFFSET + i,
            name=f"baseline {p.name}",
            currency_id=p.currency,
            customer_class_id=class_ids[p.class_name],
            balance_control="prepaid" if p.prepaid else "postpaid",
            balance=-funds if funds else Decimal(0),
            credit_limit=None if p.prepaid else Decimal(p.amount),
            first_name=p.first_name,
            last_name=p.last_name,
            country=COUNTRY[p.currency],
            email=f"c{p.name[-7:]}@bench.example",
            created_at=now,
            updated_at=now,
        )
        customers.append(c)
        audits.append(
            AuditEntry(
                id=ID_OFFSET + i,
                at=now,
                actor_id=admin_id,
                actor_name="bench-admin",
                operation="create",
                object_type="customer",
                object_id=str(c.pk),
                object_repr=c.name,
                before=None,
                after=snapshot(c),
            )
        )
        if funds:
            ledger.append(
                Transaction(
                    id=ID_OFFSET + i,
                    customer_id=c.pk,
                    action=Action.OPENING_BALANCE,
                    amount=-funds,
                    balance_after=-funds,
                    visible_comment="Opening balance",
                    actor_id=admin_id,
                    created_at=now,
                )
            )

    def statement(model: Any, objs: Sequence[Any]) -> tuple[str, list[list[Any]]]:
        fields = list(model._meta.concrete_fields)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({marks})"
        params = [
            [f.get_db_prep_save(getattr(o, f.attname), connection) for f in fields] for o in objs
        ]
        return sql, params

    batches = [
        statement(Customer, customers),
        statement(AuditEntry, audits),
        statement(Transaction, ledger),
    ]
    rows = sum(len(params) for _, params in batches)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in batches:
            if params:
                cursor.executemany(sql, params)
    elapsed = time.perf_counter() - started
    with transaction.atomic():
        Transaction.objects.filter(id__gte=ID_OFFSET).delete()
        AuditEntry.objects.filter(id__gte=ID_OFFSET).delete()
        Customer.objects.filter(id__gte=ID_OFFSET).delete()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:  # AUTOINCREMENT remembers the highest id ever used: forget the baseline's
            for model in (Customer, AuditEntry, Transaction):
                table = model._meta.db_table
                cursor.execute(
                    f"UPDATE sqlite_sequence SET seq = (SELECT COALESCE(MAX(id), 0) FROM {table}) "
                    "WHERE name = %s",
                    [table],
                )
    return rows, elapsed


def create_through_services(
    planned: Sequence[Planned], class_ids: dict[str, int], admin: Any
) -> float:
    from django.utils import timezone

    from billcore.ledger.customers import create_customer

    step = max(len(planned) // 10, 1)
    started = time.perf_counter()
    for i, p in enumerate(planned, 1):
        create_customer(actor=admin, now=timezone.now(), data=customer_data(p, class_ids))
        if i % step == 0 or i == len(planned):
            elapsed = time.perf_counter() - started
            say(f"  created {i:>9,} in {elapsed:7.1f} s ({i / elapsed:,.0f}/s)")
    return time.perf_counter() - started


def timed(client: Any, paths: Sequence[str], headers: dict[str, str] | None = None) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status_code}: {response.content[:300]!r}")
    return out


def latency(result: Result, *, admin: Any, class_id: int, args: argparse.Namespace) -> None:
    from django.test import Client
    from django.urls import Resolver404, resolve
    from django.utils import timezone

    from billcore.accounts.tokens import create_token
    from billcore.customers.models import Customer

    rng = random.Random(args.seed + 1)
    token = create_token(user=admin, now=timezone.now(), name="bench")
    auth = {"Authorization": f"Bearer {token}"}
    client = Client()
    ids = list(Customer.objects.values_list("id", flat=True))
    one = [f"/api/v1/customers/{i}" for i in rng.choices(ids, k=args.get_requests)]
    timed(client, one[:20], auth)  # warm-up
    samples = timed(client, one, auth)
    result.get_ms = percentiles(samples)
    say(
        f"GET one customer ({len(one)} random ids): p50 {result.get_ms[0]:.2f} ms, "
        f"p99 {result.get_ms[1]:.2f} ms"
    )

    path = f"/api/v1/customers?currency=EUR&customer_class={class_id}&limit=50"
    first = client.get(path, headers=auth).json()
    result.list_count = int(first["count"])
    if len(first["items"]) != min(50, result.list_count):
        raise SystemExit(f"{path}: expected a full first page, got {len(first['items'])} items")
    timed(client, [path] * 20, auth)
    samples = timed(client, [path] * args.list_requests, auth)
    result.list_ms = percentiles(samples)
    say(
        f"GET list page ({result.list_count:,} matching, {args.list_requests} requests): "
        f"p50 {result.list_ms[0]:.2f} ms, p99 {result.list_ms[1]:.2f} ms"
    )

    page = "/customers/?currency=EUR"
    try:
        resolve("/customers/")
    except Resolver404:
        result.page_note = "no /customers/ page yet: skipped"
        say(f"admin page {page}: {result.page_note}")
        return
    browser = Client(raise_request_exception=False)
    browser.force_login(admin)
    response = browser.get(page)
    if response.status_code != 200:
        result.page_note = f"{page} answered HTTP {response.status_code}: skipped"
        say(f"admin page {page}: {result.page_note}")
        return
    timed(browser, [page] * 20)
    samples = timed(browser, [page] * args.list_requests)
    result.page_ms = percentiles(samples)
    say(
        f"GET admin page {page} ({args.list_requests} requests): p50 {result.page_ms[0]:.2f} ms, "
        f"p99 {result.page_ms[1]:.2f} ms"
    )


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
        "--database-url",
        url,
        "--customers",
        str(args.customers),
        "--seed",
        str(args.seed),
        "--get-requests",
        str(args.get_requests),
        "--list-requests",
        str(args.list_requests),
        "--result-file",
        str(result_file),
    ]
    print(f"\n== {database}: {where}", flush=True)
    started = time.perf_counter()
    try:
        subprocess.run(command, env=env, check=True)
    finally:
        cleanup()
    data = json.loads(result_file.read_text())
    for key in ("get_ms", "list_ms", "page_ms"):
        if data[key] is not None:
            data[key] = tuple(data[key])
    result = Result(**data)
    result.notes.append(f"run took {time.perf_counter() - started:.0f} s")
    return result


def summary(results: Sequence[Result]) -> str:
    def ms(pair: tuple[float, float] | None) -> str:
        return "skipped" if pair is None else f"{pair[0]:.1f} / {pair[1]:.1f}"

    headers = [
        "database",
        "customers",
        "service/s",
        "baseline/s",
        "ratio",
        "GET one p50/p99 ms",
        "list p50/p99 ms",
        "page p50/p99 ms",
        f"list p99<{AIM_MS:.0f}ms",
    ]
    rows = [
        [
            r.database,
            f"{r.customers:,}",
            f"{r.service_rate:,.0f}",
            f"{r.baseline_rate:,.0f}",
            f"{r.ratio:.0f}x",
            ms(r.get_ms),
            ms(r.list_ms),
            ms(r.page_ms),
            "met" if r.aim_met else "NOT met",
        ]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.append("")
    lines.append(
        "service/s: customers created per second through ledger.customers.create_customer "
        "(one transaction each); baseline/s: the same rows by executemany in one transaction; "
        "ratio: service time / baseline time."
    )
    for r in results:
        lines.append(
            f"{r.database}: {r.server}; list page filter matched {r.list_count:,} customers; "
            f"{r.page_note or 'admin page measured'}; {'; '.join(r.notes)}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--databases", default="sqlite,postgres", help="comma-separated")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--get-requests", type=int, default=1000)
    p.add_argument("--list-requests", type=int, default=300)
    p.add_argument("--pg-database", default="billcore_bench")
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.customers < 100:
        p.error("--customers must be at least 100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    databases = parse_databases(args.databases)
    print(
        f"billcore customer benchmark: {args.customers:,} customers; "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}",
        flush=True,
    )
    return run_databases(
        databases,
        lambda database, scratch: run_one(database, args, scratch),
        summary,
        prefix="billcore-bench-",
        keep=args.keep,
    )


if __name__ == "__main__":
    sys.exit(main())

"""Rating benchmark (issue 12 §4): longest-prefix look-ups, ``POST /api/v1/rating/quote``
over HTTP, and the rate upload against a bare-SQL insert, on SQLite or PostgreSQL.

    .venv/bin/python bench/rating.py                              # 100,000 prefixes, SQLite
    .venv/bin/python bench/rating.py --database postgres
    .venv/bin/python bench/rating.py --prefixes 20000 --accounts 1000 --http-requests 500

A fresh database per run (SQLite: a temporary file; PostgreSQL: ``billcore_bench_rating`` on
the server of ``TEST_PG_URL``, dropped and made again), migrated, then each section in turn
(each prints its figures and ratios):

0. setup (not timed as a figure): an administrator, ``--accounts`` customers with an account
   each (bulk_create, as bench/charging.py), a CSV of ``--prefixes`` rates;
1. upload: the CSV through ``rating.rates.import_rates`` into a tariff (what the API and
   the page run), against the bench's own bare-SQL insert of the same rows into a second
   tariff (``executemany``, one transaction); the ratio (aim >= 0.5) and the upload's peak
   Python memory (tracemalloc) for half the file and the whole file (flat: not 2x);
2. look-ups: ``PrefixIndex`` built from ``pricing.rate_rows`` of the tariff (time, and
   memory by tracemalloc), then longest-prefix matches of random 9-12 digit numbers in one
   process (look-ups/s);
3. quote over HTTP: a product using the tariff given to every account; ``billcore serve``
   on a free port; ``--http-requests`` ``POST /api/v1/rating/quote`` from ``--clients``
   threads; quotes/s, p50 and p99 latency.

4. import: ``--xdrs`` usage lines of the accounts to numbers of the tariff, imported by
   ``charging.importer.import_xdrs`` (what ``billcore xdrs import`` runs) twice in the same
   run: once carrying an amount (pre-rated: today's path) and once without (billcore rates
   every line: the product's rating entry, the override search, the 100,000-prefix tariff);
   lines/s of each and the ratio rated / pre-rated (aim: rating costs at most 30 %, >= 0.7).

5. plans (``--plans``: upload, the product on every account, then only this section; issue
   13): a rated import without plans, then a volume discount plan of a quota (600 s a month)
   and a discount (bands 0 %, 10 % from 1,800 s, 20 % from 3,600 s) assigned to the product
   every account has, and the same size of rated import again; lines/s of each and the ratio
   with plans / without (aim >= 0.70)::

       .venv/bin/python bench/rating.py --plans --prefixes 20000 --accounts 2000 --xdrs 50000

Sections are functions of the ``SECTIONS`` list. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import drop_postgres, fresh_postgres, say, with_database

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_NAME = "billcore_bench_rating"
UPLOAD_AIM = 0.5
EFFECTIVE = "2026-01-01T00:00:00+00:00"


def prefixes(count: int, seed: int) -> list[str]:
    """``count`` distinct prefixes of 3 to 8 digits, as a real price list has."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=rng.randint(2, 7))))
    return sorted(seen)


def write_csv(path: Path, rows: Sequence[str]) -> None:
    with path.open("w") as out:
        out.write("prefix,interval_first,interval_next,price_first,price_next,effective_from\n")
        for i, prefix in enumerate(rows):
            out.write(f"{prefix},60,6,0.{(i % 90) + 10:02d}0,0.0{i % 9 + 1}00,{EFFECTIVE}\n")


def setup(accounts: int) -> Any:
    from charging import setup as customers_and_accounts

    return customers_and_accounts(accounts)


# ----------------------------------------------------------------------------------------
# 1. upload against a bare-SQL insert


def bare_insert(path: Path, tariff_id: int) -> float:
    """The same rows inserted by hand: parsed with the model fields' own conversions (money
    units, dates), one ``executemany`` in one transaction."""
    import csv
    from decimal import Decimal

    from django.db import connection, transaction

    from billcore.rating.models import Rate

    fields = [f for f in Rate._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {Rate._meta.db_table} ({columns}) VALUES ({marks})"
    started = time.perf_counter()
    rows = []
    with path.open() as handle:
        reader = csv.reader(handle)
        next(reader)
        for prefix, first, nxt, p1, pn, eff in reader:
            values = {
                "tariff": tariff_id,
                "prefix": prefix,
                "interval_first": int(first),
                "interval_next": int(nxt),
                "price_first": Decimal(p1),
                "price_next": Decimal(pn),
                "effective_from": dt.datetime.fromisoformat(eff),
            }
            rows.append(
                [
                    f.get_db_prep_save(values.get(f.name, f.get_default()), connection=connection)
                    for f in fields
                ]
            )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return time.perf_counter() - started


def upload(admin: Any, path: Path, name: str, *, trace: bool) -> tuple[float, float, int]:
    """(seconds, peak MB by tracemalloc or 0, tariff id) of ``import_rates`` of ``path``;
    timed without tracemalloc (which slows Python several times) unless ``trace``."""
    from django.utils import timezone

    from billcore.rating import rates, services

    tariff = services.create_tariff(
        actor=admin, now=timezone.now(), data={"name": name, "currency": "USD"}
    )
    tracemalloc.start()
    started = time.perf_counter()
    with path.open() as handle:
        result = rates.import_rates(
            actor=admin, now=timezone.now(), tariff_id=tariff.pk, file=handle
        )
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    if result.rejected:
        say(f"upload rejected {result.rejected} lines, first: {result.rejects[0]}")
    return elapsed, peak, tariff.pk


def section_upload(ctx: dict[str, Any]) -> None:
    args, admin, scratch = ctx["args"], ctx["admin"], ctx["scratch"]
    rows = prefixes(args.prefixes, args.seed)
    half = scratch / "rates-half.csv"
    whole = scratch / "rates.csv"
    write_csv(half, rows[: len(rows) // 2])
    write_csv(whole, rows)
    _, half_mb, _ = upload(admin, half, "Bench half (memory)", trace=True)
    _, whole_mb, _ = upload(admin, whole, "Bench whole (memory)", trace=True)
    whole_s, _, tariff_id = upload(admin, whole, "Bench rates", trace=False)
    from django.utils import timezone

    from billcore.rating import services

    bare_tariff = services.create_tariff(
        actor=admin, now=timezone.now(), data={"name": "Bench bare SQL", "currency": "USD"}
    )
    bare_s = bare_insert(whole, bare_tariff.pk)
    ratio = bare_s / whole_s
    say(
        f"upload of {len(rows):,} rates: import_rates {whole_s:.2f} s "
        f"({len(rows) / whole_s:,.0f} rows/s); bare SQL {bare_s:.2f} s "
        f"({len(rows) / bare_s:,.0f} rows/s); ratio {ratio:.2f} (aim {UPLOAD_AIM}: "
        f"{'met' if ratio >= UPLOAD_AIM else 'NOT met'})"
    )
    say(
        f"upload peak Python memory (tracemalloc): {len(rows) // 2:,} rows {half_mb:.1f} MB, "
        f"{len(rows):,} rows {whole_mb:.1f} MB (x{whole_mb / half_mb:.2f})"
    )
    ctx["tariff_id"] = tariff_id
    ctx["prefixes"] = rows


# ----------------------------------------------------------------------------------------
# 2. longest-prefix look-ups in one process


def numbers(rows: Sequence[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    out = []
    for _ in range(count):
        base = rng.choice(rows) if rng.random() < 0.9 else str(rng.randint(1, 9))
        out.append((base + "".join(rng.choices("0123456789", k=12)))[: rng.randint(9, 12)])
    return out


def section_lookups(ctx: dict[str, Any]) -> None:
    from billcore.core.rating import PrefixIndex
    from billcore.rating.models import Rate
    from billcore.rating.pricing import rate_rows

    args = ctx["args"]
    started = time.perf_counter()
    loaded = list(rate_rows(Rate.objects.filter(tariff_id=ctx["tariff_id"])))
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    index = PrefixIndex(loaded)
    build_s = time.perf_counter() - started
    tracemalloc.start()
    PrefixIndex(loaded)  # again, traced: the memory of an index beside the rows
    index_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    wanted = numbers(ctx["prefixes"], args.lookups, args.seed)
    started = time.perf_counter()
    found = sum(1 for n in wanted if index.longest_match(n, at) is not None)
    elapsed = time.perf_counter() - started
    say(
        f"PrefixIndex of {len(index):,} prefixes: rows read {read_s:.2f} s, index built "
        f"{build_s:.2f} s, {index_mb:.1f} MB beside the rows (tracemalloc)"
    )
    say(
        f"longest-prefix look-ups, one process: {len(wanted) / elapsed:,.0f}/s "
        f"({len(wanted):,} numbers of 9-12 digits, {found:,} matched)"
    )


# ----------------------------------------------------------------------------------------
# 3. quote over HTTP


def section_quote(ctx: dict[str, Any]) -> None:
    from django.db import connection
    from django.utils import timezone

    from billcore.accounts.tokens import create_token
    from billcore.rating import services
    from billcore.rating.models import AccountProduct
    from billcore.subscribers.models import Account

    args, admin, scratch = ctx["args"], ctx["admin"], ctx["scratch"]
    now = timezone.now()
    product = services.create_product(
        actor=admin, now=now, data={"name": "Bench product", "currency": "USD"}
    )
    services.create_entry(
        actor=admin,
        now=now,
        product_id=product.pk,
        data={"service": "voice", "tariff": ctx["tariff_id"]},
    )
    ids = list(Account.objects.values_list("id", flat=True))
    AccountProduct.objects.bulk_create(
        [AccountProduct(account_id=a, product=product, is_main=True, created_at=now) for a in ids],
        batch_size=1000,
    )
    token = create_token(user=admin, now=now, name="bench")
    connection.close()
    port = free_port()
    log = scratch / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "billcore.cli", "serve", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", str(args.serve_workers)),
                *("--threads", str(args.serve_threads), "--engine-interval", "0"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        wanted = numbers(ctx["prefixes"], args.http_requests + 50 * args.clients, args.seed + 7)
        conns = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(args.clients)
        ]
        rngs = [random.Random(args.seed * 100 + c) for c in range(args.clients)]
        errors: list[str] = []

        def post(c: int, i: int) -> float:
            body = json.dumps(
                {
                    "account": rngs[c].choice(ids),
                    "cld": wanted[(c * 7919 + i) % len(wanted)],
                    "duration": 61,
                }
            ).encode()
            started = time.perf_counter()
            conns[c].request("POST", "/api/v1/rating/quote", body, headers)
            response = conns[c].getresponse()
            data = response.read()
            ms = (time.perf_counter() - started) * 1000
            if response.status != 200:
                errors.append(f"HTTP {response.status}: {data[:200]!r}")
            return ms

        drive(args.clients, 25, post)  # warm-up
        errors.clear()
        per_client = max(args.http_requests // args.clients, 1)
        elapsed, samples = drive(args.clients, per_client, post)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    say(
        f"POST /api/v1/rating/quote over HTTP (gunicorn {args.serve_workers} workers x "
        f"{args.serve_threads} threads, {args.clients} clients, {len(samples):,} quotes, "
        f"{len(ids):,} accounts): {len(samples) / elapsed:,.0f}/s, p50 {cuts[49]:.1f} ms, "
        f"p99 {cuts[98]:.1f} ms"
        + (f", {len(errors)} errors (first: {errors[0]})" if errors else "")
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"billcore serve exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"billcore serve did not listen on {port}")


def drive(
    clients: int, per_client: int, one: Callable[[int, int], float]
) -> tuple[float, list[float]]:
    samples: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        barrier.wait()
        for i in range(per_client):
            samples[c].append(one(c, i))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started, [s for per in samples for s in per]


# ----------------------------------------------------------------------------------------
# 4. CSV import: unrated against pre-rated


def write_xdrs(path: Path, ctx: dict[str, Any], *, rated_by_billcore: bool, tag: str) -> int:
    """``--xdrs`` lines over the accounts (round robin), 30-600 s calls to numbers of the
    tariff; with ``rated_by_billcore`` no amount column (billcore prices each line)."""
    from charging import identifier

    args = ctx["args"]
    rng = random.Random(args.seed + (7 if rated_by_billcore else 3))
    wanted = numbers(ctx["prefixes"], args.xdrs, args.seed + 5)
    base = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with path.open("w") as out:
        out.write(
            "account,service,cld,quantity,started_at,external_id"
            + ("" if rated_by_billcore else ",amount")
            + "\n"
        )
        for i, number in enumerate(wanted):
            start = (base + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
            line = (
                f"{identifier(i % args.accounts)},voice,{number},{rng.randint(30, 600)},"
                f"{start},{tag}-{i}"
            )
            out.write(line + ("" if rated_by_billcore else ",0.05") + "\n")
    return len(wanted)


def section_import(ctx: dict[str, Any]) -> None:
    from django.utils import timezone

    from billcore.charging.importer import import_xdrs
    from billcore.charging.models import Xdr

    results = {}
    for label, rated in (("pre-rated (amount given)", False), ("rated by billcore", True)):
        path = ctx["scratch"] / f"xdrs-{'rated' if rated else 'amounts'}.csv"
        lines = write_xdrs(path, ctx, rated_by_billcore=rated, tag=label[:3])
        started = time.perf_counter()
        summary = import_xdrs(path=path, actor=ctx["admin"], now_fn=timezone.now)
        elapsed = time.perf_counter() - started
        results[rated] = lines / elapsed
        say(
            f"import, {label}: {lines:,} lines in {elapsed:.1f} s = {lines / elapsed:,.0f}/s "
            f"({summary.line()})"
        )
    rated_xdrs = Xdr.objects.filter(external_id__startswith="rat-")
    priced = rated_xdrs.filter(rate_id__isnull=False).count()
    say(f"rated lines that found a rate: {priced:,} of {rated_xdrs.count():,}")
    ratio = results[True] / results[False]
    say(
        f"ratio rated / pre-rated: {ratio:.2f} (aim >= 0.70: rating costs at most 30 % of "
        "the import's speed)"
    )


def product_on_every_account(ctx: dict[str, Any]) -> None:
    """The product of section 3 (a rating entry on the tariff) given to every account."""
    from django.utils import timezone

    from billcore.rating import services
    from billcore.rating.models import AccountProduct
    from billcore.subscribers.models import Account

    admin, now = ctx["admin"], timezone.now()
    product = services.create_product(
        actor=admin, now=now, data={"name": "Bench product", "currency": "USD"}
    )
    services.create_entry(
        actor=admin,
        now=now,
        product_id=product.pk,
        data={"service": "voice", "tariff": ctx["tariff_id"]},
    )
    ids = list(Account.objects.values_list("id", flat=True))
    AccountProduct.objects.bulk_create(
        [AccountProduct(account_id=a, product=product, is_main=True, created_at=now) for a in ids],
        batch_size=1000,
    )
    ctx["product"] = product


def section_plans(ctx: dict[str, Any]) -> None:
    """Rated import without plans, then with a quota + discount-bands plan on every account."""
    from decimal import Decimal

    from django.utils import timezone

    from billcore.charging.importer import import_xdrs
    from billcore.plans.models import (
        DiscountPlan,
        PlanAssignment,
        PlanBand,
        PlanCounter,
        PlanRule,
        XdrPart,
    )

    results = {}
    for label, with_plans in (("rated, no plan", False), ("rated, quota + discount plan", True)):
        if with_plans:
            now = timezone.now()
            plan = DiscountPlan.objects.create(
                name="Bench plan", currency_id="USD", draft=False, created_at=now, updated_at=now
            )
            common = {"plan": plan, "service_id": "voice", "created_at": now, "updated_at": now}
            PlanRule.objects.create(kind="quota", volume=Decimal(600), **common)
            discount = PlanRule.objects.create(kind="discount", **common)
            for threshold, percent in ((0, 0), (1800, 10), (3600, 20)):
                PlanBand.objects.create(
                    rule=discount, threshold=Decimal(threshold), percent=Decimal(percent)
                )
            PlanAssignment.objects.create(
                plan=plan,
                product=ctx["product"],
                valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                created_at=now,
            )
        tag = "wp" if with_plans else "np"
        path = ctx["scratch"] / f"xdrs-{tag}.csv"
        lines = write_xdrs(path, ctx, rated_by_billcore=True, tag=tag)
        started = time.perf_counter()
        summary = import_xdrs(path=path, actor=ctx["admin"], now_fn=timezone.now)
        elapsed = time.perf_counter() - started
        results[with_plans] = lines / elapsed
        say(
            f"import, {label}: {lines:,} lines in {elapsed:.1f} s = {lines / elapsed:,.0f}/s "
            f"({summary.line()})"
        )
    say(
        f"plans: {PlanCounter.objects.count():,} counters, "
        f"{XdrPart.objects.filter(kind='quota').count():,} quota parts, "
        f"{XdrPart.objects.filter(kind='main', percent__gt=0).count():,} discounted parts"
    )
    ratio = results[True] / results[False]
    say(f"ratio with plans / without: {ratio:.2f} (aim >= 0.70)")


#: The sections, in order; each takes the shared context (args, admin, scratch, and what
#: earlier sections left: ``tariff_id``, ``prefixes``).
SECTIONS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("upload", section_upload),
    ("lookups", section_lookups),
    ("quote", section_quote),
    ("import", section_import),
]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--prefixes", type=int, default=100_000)
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--lookups", type=int, default=200_000)
    p.add_argument("--http-requests", type=int, default=2000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--serve-workers", type=int, default=4)
    p.add_argument("--serve-threads", type=int, default=2)
    p.add_argument("--xdrs", type=int, default=200_000, help="usage lines per import run")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument(
        "--plans", action="store_true", help="only upload, then section 5 (plans, issue 13)"
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch folder and database")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="billcore-bench-rating-"))
    server = os.environ.get("TEST_PG_URL", DEFAULT_PG_URL)
    if args.database == "sqlite":
        url = f"sqlite:///{scratch / 'bench.sqlite3'}"
        print(f"== sqlite: {scratch / 'bench.sqlite3'}", flush=True)
    else:
        url = fresh_postgres(server, PG_NAME)
        print(f"== postgres: {with_database(server, PG_NAME)}", flush=True)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="billcore.settings",
        BILLCORE_SECRET_KEY=secrets.token_urlsafe(32),
        BILLCORE_VAR_DIR=str(scratch),
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        started = time.perf_counter()
        admin = setup(args.accounts)
        took = time.perf_counter() - started
        say(f"setup: {args.accounts:,} customers with an account each in {took:.1f} s")
        ctx: dict[str, Any] = {"args": args, "admin": admin, "scratch": scratch}
        sections = SECTIONS
        if args.plans:
            sections = [
                ("upload", section_upload),
                ("product", product_on_every_account),
                ("plans", section_plans),
            ]
        for name, section in sections:
            print(f"-- {name}", flush=True)
            section(ctx)
    finally:
        if args.database == "postgres" and not args.keep:
            from django.db import connections

            connections.close_all()
            drop_postgres(server, PG_NAME)
        if not args.keep:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

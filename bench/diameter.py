"""Diameter Gy benchmark (issue 15 §4, the Diameter line): whole calls (CCR-Initial +
CCR-Termination) per second with ``--clients`` in flight, beside the bench's own bare-SQL
version of the same reservation writes in the same run, on SQLite or PostgreSQL.

    .venv/bin/python bench/diameter.py                           # 10,000 accounts, 100,000 prefixes
    .venv/bin/python bench/diameter.py --accounts 1000 --prefixes 10000 --calls 1000
    .venv/bin/python bench/diameter.py --database postgres

A fresh database per run (SQLite: a temporary file; PostgreSQL: ``billcore_bench_diameter``
on the server of ``TEST_PG_URL``, dropped and made again), migrated, then:

0. setup (not timed): ``--accounts`` customers with an account each (half prepaid with
   $10,000 of funds, half postpaid without a limit: bench/charging.py's ``setup``), a tariff
   of ``--prefixes`` rates uploaded by ``rating.rates.import_rates`` (bench/rating.py), a
   product with it given to every account;
1. Gy: ``billcore diameter`` as its own process (``--workers`` database threads) on a free
   port; ``--clients`` threads, each with a TCP connection that did its Capabilities-Exchange,
   send ``--calls`` calls in all: a CCR-Initial (a random account, a random number of the
   tariff) and, once granted, a CCR-Termination reporting 61 s used; calls/s, and p50/p99 of
   the CCR-Initial's answer and of the whole call;
2. baseline: ``--clients`` threads with a database connection each doing, per call, what the
   session service writes at the least: BEGIN; lock the customer and the account (FOR UPDATE
   on PostgreSQL); add the hold to both; INSERT the reservation; COMMIT; then BEGIN; lock;
   charge the customer and the account and free the hold; INSERT the ledger row and the
   xDR; close the reservation; COMMIT. Calls/s and the ratio Gy / baseline (aim >= 0.5).

Finally the ledger is checked against every balance. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import drop_postgres, fresh_postgres, say, with_database

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_NAME = "billcore_bench_diameter"
AIM = 0.5
USED = 61


def gy_numbers(rows: Sequence[str], count: int, seed: int) -> list[str]:
    """Numbers that every one has a rate: a prefix of the tariff and digits after it."""
    rng = random.Random(seed)
    return [rng.choice(rows) + "".join(rng.choices("0123456789", k=6)) for _ in range(count)]


def product_for_all(admin: Any, tariff_id: int) -> list[str]:
    """A product with the tariff, given to every account (bulk_create: setup only); the
    accounts' identifiers."""
    from django.utils import timezone

    from billcore.rating import services
    from billcore.rating.models import AccountProduct
    from billcore.subscribers.models import Account

    now = timezone.now()
    product = services.create_product(
        actor=admin, now=now, data={"name": "Bench Gy", "currency": "USD"}
    )
    services.create_entry(
        actor=admin, now=now, product_id=product.pk, data={"service": "voice", "tariff": tariff_id}
    )
    rows = list(Account.objects.values_list("id", "identifier"))
    AccountProduct.objects.bulk_create(
        [
            AccountProduct(account_id=a, product=product, is_main=True, created_at=now)
            for a, _ in rows
        ],
        batch_size=1000,
    )
    return [identifier for _, identifier in rows]


# ----------------------------------------------------------------------------------------
# 1. Gy over TCP


class Peer:
    """A Diameter client connection (billcore's codec builds the requests; the answers are
    read by their length)."""

    def __init__(self, port: int, name: str) -> None:
        from billcore.network.diameter import codec
        from billcore.network.diameter.codec import make

        self.codec, self.make = codec, make
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.name = name
        self.hop = 0
        answer = self.call(
            257,
            0,
            [
                make("Origin-Host", name),
                make("Origin-Realm", "bench"),
                make("Host-IP-Address", codec.address("127.0.0.1")),
                make("Vendor-Id", 0),
                make("Product-Name", "bench", mandatory=False),
                make("Auth-Application-Id", 4),
            ],
        )
        assert self.result(answer) == 2001, "CER refused"

    def call(self, code: int, app: int, avps: list[Any]) -> Any:
        self.hop += 1
        header = self.codec.Header(0, self.codec.FLAG_REQUEST, code, app, self.hop, self.hop)
        self.sock.sendall(self.codec.encode(header, avps))
        head = self._exactly(20)
        length = struct.unpack(">I", head[:4])[0] & 0xFFFFFF
        return self.codec.decode(head + self._exactly(length - 20))

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    @staticmethod
    def result(message: Any) -> int:
        return int(message.find("Result-Code").uint())

    def ccr(self, session: str, kind: int, number: int, extra: list[Any]) -> Any:
        make = self.make
        return self.call(
            272,
            4,
            [
                make("Session-Id", session),
                make("Origin-Host", self.name),
                make("Origin-Realm", "bench"),
                make("Destination-Realm", "billcore"),
                make("Auth-Application-Id", 4),
                make("Service-Context-Id", "32260@3gpp.org"),
                make("CC-Request-Type", kind),
                make("CC-Request-Number", number),
                *extra,
            ],
        )


def section_gy(args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, Any]:
    port = free_port()
    log = ctx["scratch"] / "diameter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "billcore.cli", "diameter", "--port", str(port)),
                *("--workers", str(args.workers), "--origin-host", "ocs.bench"),
                *("--stats-interval", "0"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"billcore diameter exited: {log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        peers = [Peer(port, f"bench{c}.peer") for c in range(args.clients)]
        make = peers[0].make
        accounts, numbers = ctx["accounts"], ctx["numbers"]
        rngs = [random.Random(args.seed * 1000 + c) for c in range(args.clients)]
        initial_ms: list[float] = []
        codes: dict[int, int] = {}
        lock = threading.Lock()

        def one(c: int, i: int) -> float:
            peer, rng = peers[c], rngs[c]
            key = f"{peer.name};{i}"
            started = time.perf_counter()
            cca = peer.ccr(
                key,
                1,
                0,
                [
                    make(
                        "Subscription-Id",
                        [
                            make("Subscription-Id-Type", 0),
                            make("Subscription-Id-Data", rng.choice(accounts)),
                        ],
                    ),
                    make("Called-Station-Id", rng.choice(numbers)),
                ],
            )
            first = (time.perf_counter() - started) * 1000
            code = peer.result(cca)
            if code == 2001:
                end = peer.ccr(key, 3, 1, [make("Used-Service-Unit", [make("CC-Time", USED)])])
                code = peer.result(end) if peer.result(end) != 2001 else code
            with lock:
                initial_ms.append(first)
                codes[code] = codes.get(code, 0) + 1
            return (time.perf_counter() - started) * 1000

        drive(args.clients, 5, one)  # warm-up
        initial_ms.clear()
        codes.clear()
        per_client = max(args.calls // args.clients, 1)
        elapsed, samples, errors = drive(args.clients, per_client, one)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    calls = len(samples)
    rate = calls / elapsed if elapsed else 0.0
    p50, p99 = percentiles(initial_ms)
    w50, w99 = percentiles(samples)
    say(
        f"Gy: {calls:,} calls (CCR-I + CCR-T) with {args.clients} in flight in {elapsed:.1f} s: "
        f"{rate:,.0f} calls/s; CCR-I p50 {p50:.1f} ms p99 {p99:.1f} ms; "
        f"call p50 {w50:.1f} ms p99 {w99:.1f} ms; result codes {codes}"
    )
    if errors:
        say(f"Gy errors: {len(errors)}, first: {errors[0]}")
    return {"rate": rate, "p50": p50, "p99": p99, "codes": codes, "errors": len(errors)}


# ----------------------------------------------------------------------------------------
# 2. the same reservation writes in bare SQL


def section_baseline(args: argparse.Namespace, ctx: dict[str, Any]) -> float:
    from django.db import connection

    from charging import LEDGER_COLUMNS, XDR_COLUMNS, Bare, insert_sql

    vendor = connection.vendor
    url = os.environ["DATABASE_URL"]
    targets = ctx["targets"]
    admin_id = ctx["admin"].pk
    dbs = [Bare(vendor, url) for _ in range(args.clients)]
    forupdate = " FOR UPDATE" if vendor == "postgresql" else ""
    lock_sql = (
        "SELECT c.balance FROM customers_customer c JOIN subscribers_account a "
        "ON a.customer_id = c.id WHERE a.id = %s" + forupdate
    )
    reservation_sql = (
        insert_sql(
            "charging_reservation",
            "customer_id, account_id, service, amount, status, expires_at, created_at",
        )
        + " RETURNING id"
    )
    sqls = {
        "lock": lock_sql,
        "hold_c": "UPDATE customers_customer SET reserved = reserved + %s WHERE id = %s",
        "hold_a": "UPDATE subscribers_account SET reserved = reserved + %s WHERE id = %s",
        "reserve": reservation_sql,
        "charge_c": "UPDATE customers_customer SET balance = balance + %s, "
        "reserved = reserved - %s WHERE id = %s",
        "charge_a": "UPDATE subscribers_account SET balance = balance + %s, "
        "reserved = reserved - %s WHERE id = %s",
        "ledger": insert_sql("ledger_transaction", LEDGER_COLUMNS.removeprefix("id, "))
        + " RETURNING id",
        "xdr": insert_sql("charging_xdr", XDR_COLUMNS.removeprefix("id, ")) + " RETURNING id",
        "close": "UPDATE charging_reservation SET status = %s, closed_at = %s, xdr_id = %s "
        "WHERE id = %s",
    }
    rngs = [random.Random(args.seed * 77 + c) for c in range(args.clients)]
    hold, cost = 100_000, 41_000  # 1.00 held, 0.41 charged, in units of 10⁻⁵

    def one(c: int, i: int) -> float:
        db = dbs[c]
        q = {k: db.sql(v) for k, v in sqls.items()}
        cid, aid = rngs[c].choice(targets)
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        cur = db.conn.cursor()
        db.begin()
        cur.execute(q["lock"], (aid,))
        cur.fetchone()
        cur.execute(q["hold_c"], (hold, cid))
        cur.execute(q["hold_a"], (hold, aid))
        cur.execute(
            q["reserve"],
            (cid, aid, "voice", hold, "open", db.when(now + dt.timedelta(hours=1)), db.when(now)),
        )
        rid = cur.fetchone()[0]
        db.commit()
        db.begin()
        cur.execute(q["lock"], (aid,))
        balance = cur.fetchone()[0] + cost
        cur.execute(q["charge_c"], (cost, hold, cid))
        cur.execute(q["charge_a"], (cost, hold, aid))
        created = db.when(now)
        cur.execute(
            q["ledger"],
            (
                cid,
                "usage",
                cost,
                balance,
                aid,
                cost,
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
                *(cid, aid, "voice", USED * 100_000, "s", cost, created),
                db.json({"cld": "4930000000"}),
                *(f"gy-sql-{c}-{i}", "charged", "", tx_id, created),
            ),
        )
        xdr_id = cur.fetchone()[0]
        cur.execute(q["close"], ("committed", created, xdr_id, rid))
        db.commit()
        return (time.perf_counter() - started) * 1000

    per_client = max(args.calls // args.clients, 1)
    try:
        elapsed, samples, errors = drive(args.clients, per_client, one)
    finally:
        for db in dbs:
            db.close()
    rate = len(samples) / elapsed if elapsed else 0.0
    p50, p99 = percentiles(samples)
    say(
        f"bare SQL: {len(samples):,} calls (hold + charge) with {args.clients} connections in "
        f"{elapsed:.1f} s: {rate:,.0f} calls/s; p50 {p50:.1f} ms p99 {p99:.1f} ms"
    )
    if errors:
        say(f"bare-SQL errors: {len(errors)}, first: {errors[0]}")
    return rate


def consistent() -> str:
    from django.db.models import Sum

    from billcore.customers.models import Customer
    from billcore.ledger.models import Transaction

    sums = dict(
        Transaction.objects.values("customer_id")
        .annotate(s=Sum("amount"))
        .values_list("customer_id", "s")
    )
    wrong = [
        cid
        for cid, balance in Customer.objects.values_list("id", "balance")
        if sums.get(cid, 0) != balance
    ]
    return "ledger = balance for every customer" if not wrong else f"{len(wrong)} customers off"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--prefixes", type=int, default=100_000)
    p.add_argument("--calls", type=int, default=3200)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--workers", type=int, default=16, help="billcore diameter --workers")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--keep", action="store_true", help="keep the scratch folder and database")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="billcore-bench-diameter-"))
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
        from django.db import connection

        from billcore.subscribers.models import Account
        from charging import setup
        from rating import prefixes, upload, write_csv

        call_command("migrate", interactive=False, verbosity=0)
        started = time.perf_counter()
        admin = setup(args.accounts)
        rows = prefixes(args.prefixes, args.seed)
        write_csv(scratch / "rates.csv", rows)
        _, _, tariff_id = upload(admin, scratch / "rates.csv", "Bench Gy", trace=False)
        accounts = product_for_all(admin, tariff_id)
        targets = list(Account.objects.values_list("customer_id", "id"))
        say(
            f"setup: {args.accounts:,} accounts, {args.prefixes:,} prefixes in "
            f"{time.perf_counter() - started:.1f} s"
        )
        connection.close()
        ctx: dict[str, Any] = {
            "scratch": scratch,
            "admin": admin,
            "accounts": accounts,
            "targets": targets,
            "numbers": gy_numbers(rows, 20_000, args.seed),
        }
        gy = section_gy(args, ctx)
        base = section_baseline(args, ctx)
        ratio = gy["rate"] / base if base else 0.0
        verdict = "meets" if ratio >= AIM else "below"
        say(f"Gy / bare SQL = {ratio:.2f} ({verdict} the aim of {AIM})")
        say(consistent())
    finally:
        if args.database == "postgres" and not args.keep:
            from django.db import connections

            connections.close_all()
            drop_postgres(server, PG_NAME)
        if not args.keep:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    from charging import percentiles as cuts

    return cuts(samples) if len(samples) > 1 else (0.0, 0.0)


def drive(clients: int, per_client: int, one: Any) -> tuple[float, list[float], list[str]]:
    from charging import drive as run

    result: tuple[float, list[float], list[str]] = run(clients, per_client, one)
    return result


if __name__ == "__main__":
    sys.exit(main())

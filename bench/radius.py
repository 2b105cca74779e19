# ruff: noqa: E501  (the bare-SQL statements are kept one per line, as they run)
"""RADIUS benchmark (issue 15 §4): Access-Requests and whole calls (auth + Start + Stop) per
second with 32 in flight against ``billcore radius``, each beside this script's own bare-SQL
version of the same writes in the same run, and p50/p99 of the answer at a fixed offered load
of Access-Requests; SQLite and PostgreSQL.

    .venv/bin/python bench/radius.py                                  # 10,000 accounts, 100,000 prefixes
    .venv/bin/python bench/radius.py --accounts 1000 --prefixes 10000 --requests 1000
    .venv/bin/python bench/radius.py --databases postgres

Per database, in a subprocess of its own with ``DATABASE_URL`` set (``--worker``): a fresh
database (SQLite file in WAL mode; PostgreSQL ``billcore_bench_radius`` on ``TEST_PG_URL``),
migrated; setup (not timed): a tariff of ``--prefixes`` random prefixes (60/6, with a fee),
a product, ``--accounts`` postpaid customers with a high credit limit and one account each
(copies of one customer made by the service), a NAS client; then ``billcore radius`` on free
loopback ports and:

1. Access-Requests: ``--inflight`` threads each sending one request at a time (pyrad codec),
   ``--requests`` in all, random account and called number: answers/s;
2. bare SQL, the same writes: per request one transaction locking the customer and the
   account, choosing the rate by longest prefix (one indexed query), holding the money
   (customer and account ``reserved``, a reservation row) and writing the session row;
   ``--inflight`` connections; the ratio of 1 to it (aim ≥ 0.5);
3. whole calls: auth + Start + Stop (a random 1-600 s), ``--requests / 2`` calls;
4. bare SQL of a whole call: the auth transaction above, the Start's session update, and the
   Stop's transaction (locks, commit the reservation, move the balances, a ledger row, an
   xDR, the session closed); the ratio;
5. fixed load: ``--rate`` Access-Requests per second for ``--seconds`` (open loop: each sent
   at its time whatever the answers), p50 and p99 of the answer (aim p99 < 20 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import drop_postgres, fresh_postgres, parse_databases, run_databases, say

SECRET = "bench-secret-1"
PG_NAME = "billcore_bench_radius"


def free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(samples: Sequence[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (samples[0] if samples else 0.0, samples[0] if samples else 0.0)
    q = statistics.quantiles(samples, n=100)
    return q[49], q[98]


# --------------------------------------------------------------------------- setup


def setup(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from billcore.accounts.access import SystemActor
    from billcore.charging.network import create_nas_client
    from billcore.classes.services import create_class
    from billcore.core.text import name_key
    from billcore.customers.models import Customer
    from billcore.ledger.customers import create_customer
    from billcore.rating import services as rating
    from billcore.rating.models import AccountProduct, Rate
    from billcore.subscribers.models import Account
    from billcore.subscribers.services import create_account

    actor = SystemActor("bench")
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(args.seed)
    cls = create_class(actor=actor, now=now, data={"name": "Bench", "currency": "USD"})
    tariff = rating.create_tariff(
        actor=actor,
        now=now,
        data={"name": "Bench", "currency": "USD", "service": "voice", "connection_fee": "0.02"},
    )
    prefixes: set[str] = set()
    while len(prefixes) < args.prefixes:
        prefixes.add(
            str(rng.randint(1, 9))
            + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 6)))
        )
    effective = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    Rate.objects.bulk_create(
        [
            Rate(
                tariff_id=tariff.pk,
                prefix=p,
                effective_from=effective,
                interval_first=60,
                interval_next=6,
                price_first=Decimal("0.05"),
                price_next=Decimal("0.05"),
            )
            for p in sorted(prefixes)
        ],
        batch_size=5000,
    )
    product = rating.create_product(actor=actor, now=now, data={"name": "Bench", "currency": "USD"})
    rating.create_entry(
        actor=actor, now=now, product_id=product.pk, data={"service": "voice", "tariff": tariff.pk}
    )
    first = create_customer(
        actor=actor,
        now=now,
        data={
            "name": "Bench 0",
            "currency": "USD",
            "balance_control": "postpaid",
            "credit_limit": "1000000",
            "customer_class": cls.pk,
        },
    )
    acc0 = create_account(actor=actor, now=now, customer_id=first.pk, data={"identifier": "b0"})
    copies = []
    for i in range(1, args.accounts):
        c = Customer.objects.get(pk=first.pk)
        c.pk = None
        c.name = f"Bench {i}"
        c.name_key = name_key(c.name)
        copies.append(c)
    made = Customer.objects.bulk_create(copies, batch_size=2000)
    accounts = []
    for i, c in enumerate(made, start=1):
        a = Account.objects.get(pk=acc0.pk)
        a.pk = None
        a.customer_id = c.pk
        a.identifier = f"b{i}"
        accounts.append(a)
    Account.objects.bulk_create(accounts, batch_size=2000)
    AccountProduct.objects.bulk_create(
        [
            AccountProduct(account_id=aid, product_id=product.pk, is_main=True, created_at=now)
            for aid in Account.objects.values_list("pk", flat=True)
        ],
        batch_size=5000,
    )
    create_nas_client(
        actor=actor, now=now, data={"name": "bench", "address": "127.0.0.1", "secret": SECRET}
    )
    ids = list(Account.objects.values_list("identifier", "pk", "customer_id"))
    return {"prefixes": sorted(prefixes), "accounts": ids, "tariff": tariff.pk}


# --------------------------------------------------------------------------- the load


def closed_loop(inflight: int, total: int, one: Callable[[int, int], None]) -> tuple[float, int]:
    """``total`` calls of ``one(worker, i)`` by ``inflight`` threads; (seconds, errors)."""
    errors = [0]
    lock = threading.Lock()
    per = max(1, total // inflight)

    def run(w: int) -> None:
        for i in range(per):
            try:
                one(w, i)
            except Exception as exc:
                with lock:
                    if not errors[0]:
                        say(f"first error: {exc!r}")
                    errors[0] += 1

    threads = [threading.Thread(target=run, args=(w,)) for w in range(inflight)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, errors[0]


class Radius:
    def __init__(self, auth: int, acct: int) -> None:
        from pyrad import packet
        from pyrad.dictionary import Dictionary

        self.packet = packet
        base = Path(__file__).resolve().parents[1] / "src/billcore/network/radius/dictionary"
        self.dictionary = Dictionary(str(base))
        self.auth, self.acct = auth, acct
        self.local = threading.local()

    def send(self, accounting: bool, attrs: dict[str, Any]) -> Any:
        p = self.packet
        sock = getattr(self.local, "sock", None)
        if sock is None:
            sock = self.local.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(5)
        cls = p.AcctPacket if accounting else p.AuthPacket
        pkt = cls(secret=SECRET.encode(), dict=self.dictionary)
        for k, v in attrs.items():
            pkt[k] = v
        if not accounting:
            pkt.authenticator = pkt.CreateAuthenticator()
        raw = pkt.RequestPacket()
        for _ in range(3):
            sock.sendto(raw, ("127.0.0.1", self.acct if accounting else self.auth))
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            return data
        raise TimeoutError("no answer")


# --------------------------------------------------------------------------- bare SQL


class Bare:
    """The same writes as the service, by hand, on a connection of its own."""

    def __init__(self, vendor: str, url: str, world: dict[str, Any]) -> None:
        self.vendor = vendor
        if vendor == "postgresql":
            import psycopg

            self.conn: Any = psycopg.connect(
                url.replace("postgres://", "postgresql://"), autocommit=True
            )
            self.ph = "%s"
        else:
            import sqlite3

            self.conn = sqlite3.connect(
                url.removeprefix("sqlite:///"), isolation_level=None, timeout=30
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.ph = "?"
        self.world = world
        self.forupd = " FOR UPDATE" if vendor == "postgresql" else ""

    def q(self, sql: str) -> str:
        return sql.replace("%s", self.ph)

    def auth(self, ident: tuple[str, int, int], cld: str, key: str) -> int:
        _, aid, cid = ident
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE" if self.vendor == "sqlite" else "BEGIN")
        cur.execute(
            self.q(
                "SELECT balance, reserved, credit_limit FROM customers_customer WHERE id = %s"
                + self.forupd
            ),
            (cid,),
        )
        cur.fetchone()
        cur.execute(
            self.q("SELECT balance, reserved FROM subscribers_account WHERE id = %s" + self.forupd),
            (aid,),
        )
        cur.fetchone()
        candidates = [cld[:n] for n in range(len(cld), 0, -1)]
        marks = ",".join([self.ph] * len(candidates))
        cur.execute(
            f"SELECT id, price_first FROM rating_rate WHERE tariff_id = {self.ph} AND prefix IN ({marks}) "
            "ORDER BY length(prefix) DESC LIMIT 1",
            (self.world["tariff"], *candidates),
        )
        cur.fetchone()
        amount = 540000  # 5.40000 in units of 10⁻⁵
        now = dt.datetime.now(dt.UTC)
        when: Any = now if self.vendor == "postgresql" else now.isoformat()
        cur.execute(
            self.q("UPDATE customers_customer SET reserved = reserved + %s WHERE id = %s"),
            (amount, cid),
        )
        cur.execute(
            self.q("UPDATE subscribers_account SET reserved = reserved + %s WHERE id = %s"),
            (amount, aid),
        )
        cur.execute(
            self.q(
                "INSERT INTO charging_reservation (customer_id, account_id, service, amount, status, "
                "owner, expires_at, created_at) VALUES (%s, %s, 'voice', %s, 'open', 0, %s, %s) RETURNING id"
            ),
            (cid, aid, amount, when, when),
        )
        rid = cur.fetchone()[0]
        cur.execute(
            self.q(
                "INSERT INTO charging_networksession (nas, session_key, customer_id, account_id, "
                "service, cld, access_code, status, granted, announced, used, charged, "
                "reseller_charged, reservation_id, close_reason, authorized_at, updated_at) VALUES "
                "('bare', %s, %s, %s, 'voice', %s, '', 'authorized', 10800, 10800, 0, 0, 0, %s, '', %s, %s) RETURNING id"
            ),
            (key, cid, aid, cld, rid, when, when),
        )
        sid = cur.fetchone()[0]
        cur.execute("COMMIT")
        return int(sid)

    def call(self, ident: tuple[str, int, int], cld: str, key: str, used: int) -> None:
        sid = self.auth(ident, cld, key)
        _, aid, cid = ident
        now = dt.datetime.now(dt.UTC)
        when: Any = now if self.vendor == "postgresql" else now.isoformat()
        cur = self.conn.cursor()
        cur.execute(
            self.q(
                "UPDATE charging_networksession SET status = 'live', started_at = %s WHERE id = %s"
            ),
            (when, sid),
        )
        cur.execute("BEGIN IMMEDIATE" if self.vendor == "sqlite" else "BEGIN")
        cur.execute(
            self.q("SELECT balance FROM customers_customer WHERE id = %s" + self.forupd), (cid,)
        )
        balance = cur.fetchone()[0]
        cur.execute(
            self.q("SELECT balance FROM subscribers_account WHERE id = %s" + self.forupd), (aid,)
        )
        cur.fetchone()
        cur.execute(
            self.q("SELECT reservation_id FROM charging_networksession WHERE id = %s"), (sid,)
        )
        rid = cur.fetchone()[0]
        amount = 2000 + 5000 + max(0, -(-(used - 60) // 6)) * 500
        held = 540000
        cur.execute(
            self.q(
                "UPDATE charging_reservation SET status = 'committed', closed_at = %s WHERE id = %s"
            ),
            (when, rid),
        )
        cur.execute(
            self.q(
                "UPDATE customers_customer SET balance = balance + %s, reserved = reserved - %s WHERE id = %s"
            ),
            (amount, held, cid),
        )
        cur.execute(
            self.q(
                "UPDATE subscribers_account SET balance = balance + %s, reserved = reserved - %s WHERE id = %s"
            ),
            (amount, held, aid),
        )
        cur.execute(
            self.q(
                "INSERT INTO ledger_transaction (customer_id, action, amount, balance_after, account_id, account_amount, request_fingerprint, balance_reset, hidden, "
                "visible_comment, internal_comment, created_at) VALUES (%s, 'usage', %s, %s, %s, %s, '', false, false, '', '', %s) RETURNING id"
            ),
            (cid, amount, balance + amount, aid, amount, when),
        )
        tx = cur.fetchone()[0]
        cur.execute(
            self.q(
                "INSERT INTO charging_xdr (customer_id, account_id, service, quantity, unit, amount, "
                "started_at, details, owner, status, deny_reason, transaction_id, created_at, cld) "
                "VALUES (%s, %s, 'voice', %s, '', %s, %s, '{}', 0, 'charged', '', %s, %s, %s)"
            ),
            (cid, aid, used * 100000, amount, when, tx, when, cld),
        )
        cur.execute(
            self.q(
                "UPDATE charging_networksession SET status = 'closed', used = %s, charged = %s, closed_at = %s WHERE id = %s"
            ),
            (used, amount, when, sid),
        )
        cur.execute("COMMIT")


# --------------------------------------------------------------------------- the worker


def worker(args: argparse.Namespace) -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billcore.settings")
    django.setup()
    from django.db import connection

    vendor = connection.vendor
    t0 = time.perf_counter()
    world = setup(args)
    say(
        f"setup: {len(world['accounts']):,} accounts, {len(world['prefixes']):,} prefixes in {time.perf_counter() - t0:.0f} s"
    )
    connection.close()
    auth, acct = free_udp(), free_udp()
    log = open(Path(args.scratch) / f"radius-{vendor}.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "billcore.cli",
            "radius",
            "--radius-host",
            "127.0.0.1",
            "--auth-port",
            str(auth),
            "--acct-port",
            str(acct),
            "--radius-workers",
            str(args.workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            if "listening" in Path(log.name).read_text():
                break
            time.sleep(0.1)
        return measure(args, vendor, world, Radius(auth, acct))
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(args: argparse.Namespace, vendor: str, world: dict[str, Any], radius: Radius) -> int:
    rngs = [random.Random(args.seed * 100 + w) for w in range(max(args.inflight, 64))]
    accounts, prefixes = world["accounts"], world["prefixes"]

    def cld(r: random.Random) -> str:
        return r.choice(prefixes) + "".join(r.choice("0123456789") for _ in range(6))

    def auth_one(w: int, i: int) -> None:
        r = rngs[w]
        ident = r.choice(accounts)
        reply = radius.send(
            False,
            {"User-Name": ident[0], "Called-Station-Id": cld(r), "Acct-Session-Id": f"a{w}-{i}"},
        )
        if reply[0] != 2:
            raise RuntimeError("rejected")

    elapsed, errors = closed_loop(args.inflight, args.requests, auth_one)
    auth_rate = args.requests / elapsed
    say(f"Access-Requests ({args.inflight} in flight): {auth_rate:,.0f}/s ({errors} errors)")

    from django.conf import settings

    url = os.environ["DATABASE_URL"]
    bares = [Bare(vendor, url, world) for _ in range(args.inflight)]

    def bare_auth(w: int, i: int) -> None:
        r = rngs[w]
        bares[w].auth(r.choice(accounts), cld(r), f"ba{w}-{i}")

    elapsed, errors = closed_loop(args.inflight, args.requests, bare_auth)
    bare_auth_rate = args.requests / elapsed
    say(
        f"bare SQL, the same writes: {bare_auth_rate:,.0f}/s ({errors} errors); RADIUS / bare = {auth_rate / bare_auth_rate:.2f}"
    )

    calls = max(1, args.requests // 2)

    def call_one(w: int, i: int) -> None:
        r = rngs[w]
        ident = r.choice(accounts)
        key = f"c{w}-{i}"
        base = {"User-Name": ident[0], "Called-Station-Id": cld(r), "Acct-Session-Id": key}
        reply = radius.send(False, base)
        if reply[0] != 2:
            raise RuntimeError("rejected")
        radius.send(True, {**base, "Acct-Status-Type": "Start"})
        radius.send(
            True, {**base, "Acct-Status-Type": "Stop", "Acct-Session-Time": r.randint(1, 600)}
        )

    elapsed, errors = closed_loop(args.inflight, calls, call_one)
    call_rate = calls / elapsed
    say(
        f"whole calls, auth + Start + Stop ({args.inflight} in flight): {call_rate:,.0f}/s ({errors} errors)"
    )

    def bare_call(w: int, i: int) -> None:
        r = rngs[w]
        bares[w].call(r.choice(accounts), cld(r), f"bc{w}-{i}", r.randint(1, 600))

    elapsed, errors = closed_loop(args.inflight, calls, bare_call)
    bare_call_rate = calls / elapsed
    say(
        f"bare SQL whole calls: {bare_call_rate:,.0f}/s ({errors} errors); RADIUS / bare = {call_rate / bare_call_rate:.2f}"
    )
    for b in bares:
        b.conn.close()

    # Fixed offered load: open loop.
    total = int(args.rate * args.seconds)
    latencies: list[float] = []
    lost = [0]
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2
    sem = threading.Semaphore(256)

    def fire(i: int) -> None:
        r = rngs[i % len(rngs)]
        due = t0 + i / args.rate
        try:
            radius.send(
                False,
                {
                    "User-Name": r.choice(accounts)[0],
                    "Called-Station-Id": cld(r),
                    "Acct-Session-Id": f"f{i}",
                },
            )
            with lock:
                latencies.append((time.perf_counter() - due) * 1000)
        except Exception:
            with lock:
                lost[0] += 1
        finally:
            sem.release()

    threads = []
    for i in range(total):
        delay = t0 + i / args.rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sem.acquire()
        t = threading.Thread(target=fire, args=(i,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    p50, p99 = pct(sorted(latencies))
    say(
        f"fixed load {args.rate}/s for {args.seconds} s: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({lost[0]} lost)"
    )
    print(
        f"RESULT {vendor} auth={auth_rate:.0f} bare_auth={bare_auth_rate:.0f} calls={call_rate:.0f} "
        f"bare_calls={bare_call_rate:.0f} p50={p50:.1f} p99={p99:.1f}",
        flush=True,
    )
    _ = settings
    return 0


# --------------------------------------------------------------------------- driver


def run_one(database: str, scratch: Path, args: argparse.Namespace) -> str:
    print(f"\n== {database}", flush=True)
    server_url = os.environ.get("TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    url = (
        f"sqlite:///{scratch / 'radius.sqlite3'}"
        if database == "sqlite"
        else fresh_postgres(server_url, PG_NAME)
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BILLCORE_SECRET_KEY": "bench-" + "x" * 50,
        "BILLCORE_VAR_DIR": str(scratch / "var"),
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, __file__, "--worker", "--scratch", str(scratch), *forwarded(args)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    sys.stdout.write(out.stdout)
    if out.returncode:
        sys.stdout.write(out.stderr[-3000:])
    if database == "postgres" and not args.keep:
        drop_postgres(server_url, PG_NAME)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    return lines[0] if lines else f"RESULT {database} failed"


def forwarded(args: argparse.Namespace) -> list[str]:
    return [
        "--accounts",
        str(args.accounts),
        "--prefixes",
        str(args.prefixes),
        "--requests",
        str(args.requests),
        "--inflight",
        str(args.inflight),
        "--rate",
        str(args.rate),
        "--seconds",
        str(args.seconds),
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--prefixes", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=3200)
    p.add_argument("--inflight", type=int, default=32)
    p.add_argument("--rate", type=int, default=300)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--workers", type=int, default=16, help="the server's threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--databases", default="sqlite,postgres")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scratch", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    return run_databases(
        parse_databases(args.databases),
        lambda database, scratch: run_one(database, scratch, args),
        lambda results: "\n".join(results),
        prefix="billcore-bench-radius-",
        keep=args.keep,
    )


if __name__ == "__main__":
    sys.exit(main())

"""The overspend proof over RADIUS (issue 15 §3): 200 concurrent sessions of one prepaid
customer funded for 30 minutes of talk at the rate, each Access-Request / Start / Stop with a
random duration up to its granted time, through ``billcore serve --radius`` (pyrad's client
for volume): the funds end at 0 or above, never below; nothing stays held; the ledger sums to
the balance. Runs on SQLite and, with ``DATABASE_URL`` set to PostgreSQL, on PostgreSQL.
Features: CC-04, CC-05."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal
from pathlib import Path

from pyrad import packet

from tests.e2e.radius_support import (
    CLD,
    add_nas,
    customer,
    product,
    pyrad_send,
    serve_radius,
    tariff,
)

SESSIONS = 200
FUNDS = Decimal("3.00")  # 30 minutes at $0.10/min


def test_two_hundred_concurrent_sessions_never_overspend(tmp_path: Path) -> None:
    with serve_radius(tmp_path) as server:
        flat = tariff(
            server,
            "Flat",
            [
                {
                    "prefix": "420",
                    "price_first": "0.10",
                    "price_next": "0.10",
                    "interval_first": 60,
                    "interval_next": 6,
                }
            ],
        )
        cid, _ = customer(
            server, "Prepaid", product(server, "Flat", flat), "9001", available_funds=str(FUNDS)
        )
        add_nas(server)
        seed = random.Random(15)
        durations = [seed.random() for _ in range(SESSIONS * 3)]
        outcomes: list[tuple[str, int, int]] = []
        lock = threading.Lock()
        go = threading.Barrier(SESSIONS)

        def caller(i: int) -> None:
            go.wait()
            for attempt in range(3):
                key = f"c{i}-{attempt}"
                base = {"User-Name": "9001", "Called-Station-Id": CLD, "Acct-Session-Id": key}
                reply = pyrad_send(server.auth_port, packet.AccessRequest, base, tries=10)
                if reply is None:
                    with lock:
                        outcomes.append(("lost", 0, 0))
                    continue
                if reply.code != packet.AccessAccept:
                    with lock:
                        outcomes.append(("reject", 0, 0))
                    time.sleep(durations[i * 3 + attempt])  # try again a little later
                    continue
                granted = reply["Session-Timeout"][0]
                used = int(granted * durations[i * 3 + attempt])
                pyrad_send(
                    server.acct_port,
                    packet.AccountingRequest,
                    {**base, "Acct-Status-Type": "Start"},
                )
                stop = {**base, "Acct-Status-Type": "Stop", "Acct-Session-Time": used}
                done = pyrad_send(server.acct_port, packet.AccountingRequest, stop)
                with lock:
                    outcomes.append(("call" if done is not None else "lost", granted, used))

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=900)

        calls = [o for o in outcomes if o[0] == "call"]
        assert calls, outcomes[:5]
        assert not [o for o in outcomes if o[0] == "lost"]
        c = server.ok("GET", f"/customers/{cid}")
        balance, reserved = Decimal(c["balance"]), Decimal(c["reserved"])
        # Funds at 0 or above: prepaid available = -balance - reserved.
        assert -balance - reserved >= 0
        assert reserved == 0
        assert server.ok("GET", f"/sessions?customer={cid}")["count"] == 0
        ledger = Decimal(0)
        offset = 0
        while True:
            page = server.ok("GET", f"/customers/{cid}/transactions?limit=500&offset={offset}")
            ledger += sum((Decimal(r["amount"]) for r in page["items"]), Decimal(0))
            offset += len(page["items"])
            if offset >= page["count"] or not page["items"]:
                break
        assert ledger == balance

        # What was charged is the price of what was used, call by call: 60/6 at 0.10/min.
        def price(seconds: int) -> Decimal:
            if seconds <= 0:
                return Decimal(0)
            units = 60 + max(0, -(-(seconds - 60) // 6)) * 6
            return Decimal(units) * Decimal("0.10") / 60

        spent = sum((price(u) for _, _, u in calls), Decimal(0))
        assert balance == -FUNDS + spent.quantize(Decimal("0.00001"))
        print(f"calls {len(calls)}, rejected {len(outcomes) - len(calls)}, spent {spent}")

"""The engine's runs and status over the API (issue 17 §5), on SQLite and PostgreSQL: every
run recorded with what started it, what each step did and the errors per customer; the
status with the last run, the next scheduled one, the e-mails pending and why, the periods
awaiting approval and the backlog warning before a first run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.engine import run
from billcore.engine.models import EngineRun
from billcore.errors import ValidationFailed
from billcore.invoicing.fastclose import FastCloser
from billcore.ledger.customers import create_customer
from billcore.notifications.outbox import queue_email
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)  # before the real clock


@pytest.fixture
def api(client: Any, admin: Any) -> Api:
    return Api(client, _token(admin))


@pytest.fixture
def two(admin: Any) -> list[Customer]:
    cls = create_class(actor=admin, now=T0, data={"name": "USD", "currency": "USD"})
    return [
        create_customer(
            actor=admin,
            now=T0 + dt.timedelta(days=i),
            data={
                "name": name,
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": cls.pk,
                "email": f"{name.lower()}@example.com",
            },
        )
        for i, name in enumerate(("Acme", "Bolt"))
    ]


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_status_before_a_first_run_warns_of_the_backlog(
    api: Api, two: list[Customer], settings: Any
) -> None:
    settings.EMAIL_HOST = ""
    queue_email(customer=two[0], kind="statistics", now=T0)
    body = api.get("/engine/status").json()
    now = _at(body["now"])
    oldest = min(Customer.objects.values_list("next_billed_to", flat=True))
    days = (now - oldest).days
    assert body == {
        "now": body["now"],
        "last_run": None,
        "schedule": "not scheduled: no scheduled run recorded (billcore serve runs the engine "
        "every --engine-interval seconds)",
        "interval_seconds": None,
        "next_run_at": None,
        "emails_pending": 1,
        "emails_pending_reasons": [
            "no SMTP host configured (BILLCORE_SMTP_HOST): nothing can be sent",
            "no From address: 1 e-mail cannot be built until the installation's legal info "
            "has a From address (Settings)",
        ],
        "periods_awaiting_approval": 0,
        "backlog": {
            "customers": 2,
            "oldest_period_end": body["backlog"]["oldest_period_end"],
            "days_back": days,
            "message": "The engine has never run: its first run will close the ended periods "
            f"of 2 customers and issue their invoices, going back {days} days (the oldest "
            f"period ended {oldest:%Y-%m-%d %H:%M} UTC).",
        },
    }
    assert _at(body["backlog"]["oldest_period_end"]) == oldest


def test_an_api_run_is_recorded_with_its_steps_and_errors_per_customer(
    api: Api, two: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bolt = two
    original = FastCloser.close

    def close(self: FastCloser, *, customer_id: int, **kw: Any) -> Any:
        if customer_id == bolt.pk:
            raise ValidationFailed("the tax engine is unreachable")
        return original(self, customer_id=customer_id, **kw)

    monkeypatch.setattr(FastCloser, "close", close)
    before = timezone.now()
    reply = api.post("/engine/run", {"steps": ["close", "documents"]})
    assert reply.status_code == 200, reply.content

    page = api.get("/engine/runs").json()
    assert (page["count"], page["limit"], page["offset"]) == (1, 50, 0)
    item = page["items"][0]
    record = EngineRun.objects.get()
    assert item["id"] == record.pk
    assert api.get(f"/engine/runs/{record.pk}").json() == item
    assert {k: item[k] for k in ("state", "trigger", "started_by", "steps", "error_count")} == {
        "state": "finished",
        "trigger": "api",
        "started_by": "admin",
        "steps": ["close", "documents"],
        "error_count": 1,
    }
    assert _at(item["started_at"]) >= before and _at(item["finished_at"]) >= _at(item["started_at"])
    assert item["errors"] == [
        {"customer_id": bolt.pk, "message": "the tax engine is unreachable", "step": "close"}
    ]
    steps = [(s["step"], s["figures"], s["notes"], s["errors"]) for s in item["step_log"]]
    periods = reply.json()["periods_closed"]
    assert periods >= 1
    assert steps == [
        (
            "close",
            {
                "customers": 1,
                "periods_closed": periods,
                "periods_awaiting_approval": 0,
                "invoices": reply.json()["invoices"],
                "skipped": 0,
            },
            [],
            1,
        ),
        ("documents", {"pdfs": reply.json()["pdfs"]}, [], 0),
    ]
    assert item["report"] == {k: v for k, v in reply.json().items() if k != "errors"}
    assert item["failure"] == ""

    status = api.get("/engine/status").json()
    assert status["last_run"]["id"] == record.pk
    assert status["backlog"] is None  # a run has finished: no first-run warning

    assert api.get("/engine/runs?trigger=scheduler").json()["count"] == 0
    _error(api.get("/engine/runs?trigger=cron"), 400, "trigger")
    _error(api.get("/engine/runs/999999"), 404, "id")


def test_the_status_gives_the_scheduler_s_next_run(api: Api, two: list[Customer]) -> None:
    run(now=timezone.now(), steps=["mail"], trigger="scheduler", interval_seconds=300)
    record = EngineRun.objects.get()
    assert record.finished_at is not None
    body = api.get("/engine/status").json()
    assert (body["schedule"], body["interval_seconds"]) == ("every 300 s (billcore serve)", 300)
    assert _at(body["next_run_at"]) == record.finished_at + dt.timedelta(seconds=300)
    assert body["last_run"]["trigger"] == "scheduler"

    # The scheduler stopped: its run is long overdue.
    EngineRun.objects.update(
        finished_at=record.finished_at - dt.timedelta(hours=1),
        started_at=record.started_at - dt.timedelta(hours=1),
    )
    body = api.get("/engine/status").json()
    due = record.finished_at - dt.timedelta(hours=1) + dt.timedelta(seconds=300)
    assert body["next_run_at"] is None
    assert body["schedule"] == (
        f"every 300 s, but the scheduled run due at {due:%Y-%m-%d %H:%M:%S} UTC did not "
        "start: is billcore serve running?"
    )


def test_a_failed_run_says_why(two: list[Customer], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: FastCloser, **kw: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(FastCloser, "close", broken)
    with pytest.raises(RuntimeError):
        run(now=timezone.now(), steps=["subscriptions", "close"])
    record = EngineRun.objects.get()
    assert (record.state, record.failure, record.trigger) == (
        "failed",
        "RuntimeError: disk full",
        "other",
    )
    assert [s["step"] for s in record.step_log] == ["subscriptions"]


def test_only_administrators_see_the_engine(client: Any, world: dict[str, Any]) -> None:
    run(now=timezone.now(), steps=["mail"])
    record = EngineRun.objects.get()
    reseller = Api(client, _token(world["ua"]))
    for path in ("/engine/status", "/engine/runs", f"/engine/runs/{record.pk}"):
        assert reseller.get(path).status_code == 404, path
        assert Api(client).get(path).status_code == 401, path


def test_a_run_keeps_the_first_errors_and_counts_them_all(
    two: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    from billcore.engine import runs

    monkeypatch.setattr(runs, "MAX_ERRORS", 1)

    def broken(self: FastCloser, *, customer_id: int, **kw: Any) -> Any:
        raise ValidationFailed(f"customer {customer_id} cannot be closed")

    monkeypatch.setattr(FastCloser, "close", broken)
    run(now=timezone.now(), steps=["close"])
    record = EngineRun.objects.get()
    first = min(c.pk for c in two)
    assert (record.error_count, record.errors) == (
        2,
        [{"customer_id": first, "message": f"customer {first} cannot be closed", "step": "close"}],
    )

"""The engine page (issue 17 §5), administrators only: the backlog warning before a first
run, the last and next runs, the e-mails pending and why, the periods awaiting approval, the
runs and one run's steps and errors per customer; in Django's client with exact values and
in Debian's Chromium. And the API docs (issue 17 §9): with every request to another origin
blocked, Chromium renders /api/v1/docs from this site's files alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer
from billcore.engine import run
from billcore.engine.models import EngineRun
from billcore.errors import ValidationFailed
from billcore.invoicing.fastclose import FastCloser
from billcore.ledger.customers import create_customer
from tests.e2e.test_browser import PASSWORD, browser  # noqa: F401 - the Chromium fixture
from tests.e2e.test_csp_browser import WATCH

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def _customer(actor: Any, name: str, at: dt.datetime) -> Customer:
    return create_customer(
        actor=actor,
        now=at,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )


@pytest.mark.django_db
def test_the_engine_page_warns_then_shows_runs_steps_and_errors(
    client: Any, admin: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = _customer(admin, "Acme", T0)
    client.force_login(admin)
    html = client.get("/engine/").content.decode()
    ended = Customer.objects.filter(next_billed_to__lte=timezone.now())
    oldest = min(c.next_billed_to for c in ended)
    days = (timezone.now() - oldest).days
    assert (
        f"its first run will close the ended periods of {ended.count()} customers and issue "
        f"their invoices, going back {days} days (the oldest period ended "
        f"{oldest:%Y-%m-%d %H:%M} UTC)." in html
    )
    assert "The engine has not run yet." in html
    assert '<span class="value" id="engine-last-run">Never</span>' in html
    assert (
        '<a href="/engine/" class="active" aria-current="page" title="The billing engine\'s '
        'runs">Engine</a>' in html
    )

    original = FastCloser.close

    def close(self: FastCloser, *, customer_id: int, **kw: Any) -> Any:
        if customer_id == acme.pk:
            raise ValidationFailed("no tax rate for Ruritania")
        return original(self, customer_id=customer_id, **kw)

    monkeypatch.setattr(FastCloser, "close", close)
    run(now=timezone.now(), steps=["close"], trigger="cli", started_by="cli:ops")
    record = EngineRun.objects.get()
    html = client.get("/engine/").content.decode()
    assert "engine-backlog" not in html
    assert f'<tr id="engine-run-{record.pk}">' in html
    assert 'Command line <span class="muted small">cli:ops</span>' in html
    assert '<span class="badge badge-danger">1</span>' in html

    html = client.get(f"/engine/runs/{record.pk}/").content.decode()
    closed = record.report["periods_closed"]
    customers = record.report["customers"]
    invoices = record.report["invoices"]
    assert (
        f"<td>{customers} customers closed, {closed} periods closed, 0 periods awaiting "
        f"approval, {invoices} invoices issued, 0 customers skipped</td>" in html
    )
    assert (
        f'<tr><td><a href="/customers/{acme.pk}/">Acme</a></td><td>close</td>'
        "<td>no tax rate for Ruritania</td></tr>" in html
    )

    # A reseller's user: the same 404 as for a page that does not exist.
    client.force_login(world["ua"])
    assert client.get("/engine/").status_code == 404
    assert client.get(f"/engine/runs/{record.pk}/").status_code == 404
    client.force_login(admin)
    assert client.get("/engine/runs/999999/").status_code == 404


@pytest.fixture
def data(live_server: Any) -> dict[str, Any]:
    """An administrator with an API token, and a customer whose first period ended long
    ago (the backlog a first run would invoice), committed for the live server."""
    from billcore.accounts.models import User
    from billcore.accounts.tokens import create_token

    operator = User.objects.create_user(username="operator", password=PASSWORD)
    customer = _customer(operator, "Backlog Ltd", timezone.now() - dt.timedelta(days=70))
    assert customer.next_billed_to is not None
    return {
        "token": create_token(user=operator, now=timezone.now()),
        "oldest": f"{customer.next_billed_to:%Y-%m-%d %H:%M} UTC",
    }


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/settings/#seller")  # no seller details yet (issue 17 §6)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_engine_page_in_the_browser(
    live_server: Any,
    browser: Any,  # noqa: F811 - the Chromium fixture
    data: dict[str, Any],
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(WATCH)  # Content-Security-Policy violations, as the CSP test does
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    _sign_in(page, base)

    page.click("nav.nav >> text=Engine")
    page.wait_for_url(f"{base}/engine/")
    warning = page.inner_text("#engine-backlog")
    assert warning.startswith(
        "The engine has never run: its first run will close the ended periods of 1 customer "
        "and issue their invoices, going back "
    )
    assert f"(the oldest period ended {data['oldest']})." in warning
    assert page.inner_text("#engine-last-run") == "Never"
    assert page.inner_text("#engine-periods") == "0"
    assert page.evaluate("window.__csp") == []

    reply = page.request.post(
        f"{base}/api/v1/engine/run",
        data={"steps": ["close"]},
        headers={"Authorization": f"Bearer {data['token']}"},
    )
    assert reply.status == 200, reply.text()
    report = reply.json()
    assert (report["periods_closed"] >= 2, report["errors"]) == (True, [])

    page.reload()
    assert page.locator("#engine-backlog").count() == 0
    rows = page.locator("#engine-runs tbody tr")
    assert rows.count() == 1
    cells = [c.strip() for c in rows.first.locator("td").all_inner_texts()]
    assert cells[1] == "API operator"
    assert cells[4:] == [
        "Finished",
        f"{report['periods_closed']} periods closed, {report['invoices']} invoices issued"
        if report["invoices"]
        else f"{report['periods_closed']} periods closed",
        "0",
    ]
    rows.first.locator("a.row-link").click()
    page.wait_for_selector("#run-steps")
    assert page.locator("#run-steps tbody tr").all_inner_texts()[0].split("\t")[0] == "close"
    assert page.inner_text("#run-errors tbody") == "No errors."
    assert page.evaluate("window.__csp") == []
    assert errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_api_docs_render_with_the_network_blocked(
    live_server: Any,
    browser: Any,  # noqa: F811 - the Chromium fixture
    data: dict[str, Any],
) -> None:
    """Issue 17 §9: every request to another origin is aborted (and recorded); the docs
    page still renders its operations from the files this site serves."""
    base = live_server.url
    context = browser.new_context()
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base + "/") or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    page.goto(f"{base}/api/v1/docs")
    page.wait_for_selector(".opblock-tag", timeout=15000)
    assert "engine" in page.locator(".opblock-tag").all_inner_texts()
    assert outside == []
    assert loaded and all(u.startswith(base + "/") or u.startswith("data:") for u in loaded)
    context.close()

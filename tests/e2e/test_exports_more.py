"""CSV exports of the remaining lists (issue 17, item 4): API tokens, sign-in lockouts,
notification templates, the customer page's invoices and accounts tabs; each page shows
its "Export CSV" link, the export honours the filters and the user's scope, and the
paginated ones keep the page-size choice. Through Django's test client; data through the
services; exact cells. Run on SQLite and, with ``DATABASE_URL=postgres://…``, on
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from billcore.accounts import services as account_services
from billcore.customers.models import Customer
from billcore.invoicing.models import Invoice
from billcore.notifications import services as notification_services
from billcore.subscribers.services import create_account
from billcore.web import base
from tests.conftest import NOW
from tests.e2e.test_invoicing_pages import january, signed_in  # noqa: F401 (fixtures)
from tests.e2e.test_lockout import Clock, clock, lock  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

EXPORT = 'class="btn btn-ghost btn-sm export-link"'


@pytest.fixture(autouse=True)
def _clock(monkeypatch: Any) -> None:
    monkeypatch.setattr(base, "now", lambda: NOW)


def _csv(response: Any, filename: str) -> list[str]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    return b"".join(response.streaming_content).decode().split("\r\n")


def _token(actor: Any, user: Any, name: str, expires_in: str | None = None) -> Any:
    token, _ = account_services.create_api_token(
        actor=actor,
        now=NOW,
        user_id=user.pk,
        name=name,
        expires_in=expires_in,
        default_lifetime=None,
    )
    return token


# --------------------------------------------------------------------------- API tokens


def test_token_export_lists_what_the_user_sees_never_a_secret(
    client: Any, world: dict[str, Any]
) -> None:
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    mine = _token(admin, ua, "=cmd", "90d")
    theirs = _token(admin, ub, "B's")
    client.force_login(admin)
    page = client.get("/tokens/?page=1")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'{EXPORT} href="?format=csv" download>Export CSV</a>' in html
    lines = _csv(client.get("/tokens/?format=csv"), "api-tokens.csv")
    assert lines == [
        "id,user_id,user,name,prefix,created_at,last_used_at,expires_at",
        f"{theirs.pk},{ub.pk},ub,B's,{theirs.prefix},2026-11-01T12:00:00+00:00,,",
        f"{mine.pk},{ua.pk},ua,'=cmd,{mine.prefix},2026-11-01T12:00:00+00:00,,"
        "2027-01-30T12:00:00+00:00",
        "",
    ]
    # A reseller's user: its own users' tokens only.
    client.force_login(ua)
    lines = _csv(client.get("/tokens/?format=csv"), "api-tokens.csv")
    assert [line.split(",")[0] for line in lines[1:-1]] == [str(mine.pk)]


def test_token_list_page_size(client: Any, world: dict[str, Any]) -> None:
    admin = world["admin"]
    for i in range(27):
        _token(admin, admin, f"t{i:02}")
    client.force_login(admin)
    small = client.get("/tokens/?per_page=25")
    assert small.context["page"].paginator.per_page == 25
    assert len(small.context["page"]) == 25
    html = small.content.decode()
    assert '<span class="page-link current" aria-current="true">25</span>' in html
    assert 'href="?per_page=25&amp;page=2"' in html
    assert len(_csv(client.get("/tokens/?per_page=25&format=csv"), "api-tokens.csv")) == 29


# --------------------------------------------------------------------------- sign-in lockouts


def test_lockout_export(client: Any, world: dict[str, Any], clock: Clock) -> None:  # noqa: F811
    lock(client, "ua")
    client.force_login(world["admin"])
    assert (
        f'{EXPORT} href="?format=csv" download>'
        in client.get("/settings/lockouts/").content.decode()
    )
    lines = _csv(client.get("/settings/lockouts/?format=csv"), "sign-in-lockouts.csv")
    assert lines == [
        "username,address,failures,last_failure_at,locked_until",
        "ua,127.0.0.1,5,2026-11-01T12:00:00+00:00,2026-11-01T12:15:00+00:00",
        "",
    ]
    # A reseller's user gets the 404 page, CSV or not.
    client.force_login(world["ua"])
    assert client.get("/settings/lockouts/?format=csv").status_code == 404


# --------------------------------------------------------------------------- notification templates


def test_notification_template_export(client: Any, admin: Any) -> None:
    notification_services.update_template(
        actor=admin,
        now=NOW,
        kind="invoice_issued",
        subject="Invoice {{ invoice_number }} for {{ customer_name }}",
        body="Hello {{ customer_name }}",
    )
    client.force_login(admin)
    assert (
        f'{EXPORT} href="?format=csv" download>'
        in client.get("/notifications/templates/").content.decode()
    )
    lines = _csv(client.get("/notifications/templates/?format=csv"), "notification-templates.csv")
    assert lines[0] == "kind,notification,subject,example_subject,edited,updated_at,updated_by"
    kinds = [t.kind for t in notification_services.list_templates(actor=admin)]
    assert [line.split(",")[0] for line in lines[1:-1]] == kinds
    [edited] = [line for line in lines if line.startswith("invoice_issued,")]
    assert edited == (
        "invoice_issued,Invoice issued,Invoice {{ invoice_number }} for {{ customer_name }},"
        "Invoice INV-0000042 for,yes,2026-11-01T12:00:00+00:00,admin"
    )


# --------------------------------------------------------------------------- customer tabs


def test_customer_invoices_tab_export(signed_in: Any, january: Customer) -> None:  # noqa: F811
    c = january
    assert Invoice.objects.filter(customer=c).count() == 1
    page = signed_in.get(f"/customers/{c.pk}/").content.decode()
    href = f"/invoices/?customer={c.pk}&amp;format=csv"
    assert f'href="{href}" download id="invoices-csv">Export CSV</a>' in page
    lines = _csv(signed_in.get(f"/invoices/?customer={c.pk}&format=csv"), "invoices.csv")
    assert lines == [
        "number,customer_id,customer,kind,status,period_start,period_end,issued_at,due_at,"
        "currency,total,amount_due",
        f"INV-0000001,{c.pk},Acme,regular,issued,2026-01-10T09:00:00+00:00,"
        "2026-02-01T00:00:00+00:00,2026-02-01T00:00:00+00:00,2026-02-11T00:00:00+00:00,"
        "USD,21.02,21.02",
        "",
    ]
    # Another customer's filter: nothing of this one.
    other = _csv(signed_in.get(f"/invoices/?customer={c.pk + 1000}&format=csv"), "invoices.csv")
    assert other == [lines[0], ""]


def test_customer_accounts_tab_export(client: Any, world: dict[str, Any]) -> None:
    from tests.e2e.test_bulk_exports import _customer

    admin, ua = world["admin"], world["ua"]
    c = _customer(ua, world["classes"]["a"], "Holder", reseller=world["ra"].pk)
    create_account(
        actor=ua,
        now=NOW,
        customer_id=c.pk,
        data={"identifier": "+4930123", "credit_limit": "25.5"},
    )
    create_account(
        actor=ua, now=NOW, customer_id=c.pk, data={"identifier": "=1+2", "account_type": "debit"}
    )
    client.force_login(ua)
    page = client.get(f"/customers/{c.pk}/accounts/").content.decode()
    href = f"/customers/{c.pk}/accounts/?format=csv"
    assert f'href="{href}" download id="accounts-csv">Export CSV</a>' in page
    lines = _csv(client.get(href), f"accounts-{c.pk}.csv")
    ids = {a.identifier: a.pk for a in c.accounts.all()}
    assert lines == [
        "id,identifier,type,blocked,terminated_at,currency,credit_limit,balance,reserved,"
        "available_funds,products,created_at",
        f"{ids['+4930123']},'+4930123,credit,no,,USD,25.50,0.00,0.00,25.50,,"
        "2026-11-01T12:00:00+00:00",
        f"{ids['=1+2']},'=1+2,debit,no,,USD,,0.00,0.00,0.00,,2026-11-01T12:00:00+00:00",
        "",
    ]
    # Another reseller's user: the 404 page, no CSV.
    client.force_login(world["ub"])
    assert client.get(href).status_code == 404
    # The administrator sees it too.
    client.force_login(admin)
    assert len(_csv(client.get(href), f"accounts-{c.pk}.csv")) == 4

"""Bulk actions, CSV exports and the page-size choice of the list pages (issue 17, item 4),
through Django's test client. Data through the services; exact values. Run on SQLite and,
with ``DATABASE_URL=postgres://…``, on PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.audit.models import AuditEntry
from billcore.classes.services import create_class
from billcore.customers.lifecycle import set_blocked
from billcore.customers.models import Customer
from billcore.invoicing.models import ClosedPeriod, Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.web import base, exports
from tests.conftest import NOW
from tests.e2e.test_invoicing_pages import signed_in, waiting  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock(monkeypatch: Any) -> None:
    monkeypatch.setattr(base, "now", lambda: NOW)


def _customer(actor: Any, cls: Any, name: str, **extra: Any) -> Customer:
    data = {
        "name": name,
        "currency": "USD",
        "balance_control": "postpaid",
        "customer_class": cls.pk,
        **extra,
    }
    return create_customer(actor=actor, now=NOW, data=data)


def _csv(response: Any) -> list[str]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    return b"".join(response.streaming_content).decode().split("\r\n")


# --------------------------------------------------------------------------- exports


def test_customer_export_honours_the_filters_with_exact_cells(
    client: Any, world: dict[str, Any]
) -> None:
    admin, cls = world["admin"], world["classes"]["usd"]
    acme = _customer(admin, cls, "Acme One", email="ops@acme.example", credit_limit="500")
    _customer(admin, cls, "Acme Two")
    _customer(admin, cls, "Other Ltd")
    record_transaction(
        actor=admin, now=NOW, customer_id=acme.pk, action="manual_charge", amount="1234.5"
    )
    client.force_login(admin)
    page = client.get("/customers/?q=acme&order=name&page=1")
    assert 'href="?q=acme&amp;order=name&amp;format=csv"' in page.content.decode()
    two = Customer.objects.get(name="Acme Two")
    response = client.get("/customers/?q=acme&order=name&page=1&format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="customers.csv"'
    assert _csv(response) == [
        "id,name,type,company,email,class,currency,balance_control,balance,available_funds,"
        "credit_limit,status,blocked,reseller_id,created_at",
        f"{acme.pk},Acme One,retail,,ops@acme.example,Retail USD,USD,postpaid,1234.50,,500.00,"
        "open,no,,2026-11-01T12:00:00+00:00",
        f"{two.pk},Acme Two,retail,,,Retail USD,USD,postpaid,0.00,,,open,no,,"
        "2026-11-01T12:00:00+00:00",
        "",
    ]


def test_csv_cells_are_protected_against_formula_injection(
    client: Any, world: dict[str, Any]
) -> None:
    admin, cls = world["admin"], world["classes"]["usd"]
    evil = _customer(admin, cls, "=HYPERLINK(1)", company_name="+SUM(A1)")
    record_transaction(
        actor=admin,
        now=NOW,
        customer_id=evil.pk,
        action="manual_credit",
        amount="12.5",
        visible_comment="@cmd",
    )
    client.force_login(admin)
    lines = _csv(client.get("/customers/?q=HYPERLINK&format=csv"))
    assert lines[1].startswith(f"{evil.pk},'=HYPERLINK(1),retail,'+SUM(A1),,")
    # A negative amount is a number, never escaped; a comment starting with @ is.
    tx = _csv(client.get(f"/customers/{evil.pk}/?format=csv"))
    assert tx[0] == (
        "id,created_at,action,currency,amount,balance_after,account,visible_comment,"
        "internal_comment,by"
    )
    assert tx[1].split(",")[2:8] == ["manual_credit", "USD", "-12.50", "-12.50", "", "'@cmd"]
    assert [exports.cell(v) for v in ("-1", "=1", "\tx", "a-b", Decimal("-3"))] == [
        "'-1",
        "'=1",
        "'\tx",
        "a-b",
        "-3",
    ]
    assert exports.money(Decimal("1234.56789"), 2) == "1234.56789"
    assert exports.money(Decimal("-0.5"), 0) == "-0.5"
    assert exports.cell(dt.date(2026, 1, 31)) == "2026-01-31"


def test_every_list_page_exports(client: Any, world: dict[str, Any]) -> None:
    admin = world["admin"]
    client.force_login(admin)
    heads = {
        "/invoices/": "number,customer_id,customer,kind,status,period_start,period_end,",
        "/classes/": "id,name,currency,statistics,invoices,taxation,description,managed_by",
        "/periods/": "id,customer_id,customer,start,end,approve_by,currency,unbilled",
        "/audit/": "id,at,actor,operation,object_type,object_id,object,before,after",
        "/users/": "id,username,name,reseller_id,reseller,email,active,last_login",
        "/subscription-plans/": "id,name,currency,fee,charged,prorated,managed_by,",
        "/business-models/": "id,name,description,customer_classes",
        "/engine/": "id,started_at,finished_at,engine_clock,trigger,started_by,state,",
    }
    for url, head in heads.items():
        page = client.get(url)
        assert page.status_code == 200, url
        assert 'class="btn btn-ghost btn-sm export-link"' in page.content.decode(), url
        lines = _csv(client.get(url + "?format=csv"))
        assert lines[0].startswith(head), url
    classes = _csv(client.get("/classes/?q=retail&format=csv"))
    assert [line.split(",")[1] for line in classes[1:-1]] == ["A Retail", "B Retail", "Retail USD"]
    # The audit log's type filter: only customer classes.
    kind = AuditEntry.objects.filter(object_repr="Retail USD").values_list(
        "object_type", flat=True
    )[0]
    audit = list(csv.reader(_csv(client.get(f"/audit/?type={kind}&format=csv"))[1:-1]))
    assert {row[4] for row in audit} == {kind}
    assert len(audit) == AuditEntry.objects.filter(object_type=kind).count() == 3


def test_page_size_choice(client: Any, world: dict[str, Any]) -> None:
    admin, cls = world["admin"], world["classes"]["usd"]
    for i in range(27):
        _customer(admin, cls, f"Bulk {i:02}")
    client.force_login(admin)
    small = client.get("/customers/?q=bulk&per_page=25")
    assert small.context["page"].paginator.per_page == 25
    assert len(small.context["page"]) == 25
    html = small.content.decode()
    assert '<span class="page-link current" aria-current="true">25</span>' in html
    assert 'href="?q=bulk&amp;per_page=100"' in html
    assert 'href="?q=bulk&amp;per_page=25&amp;page=2"' in html
    for bogus in ("7", "x", "100000"):
        page = client.get(f"/customers/?per_page={bogus}")
        assert page.context["page"].paginator.per_page == 50


# --------------------------------------------------------------------------- bulk actions


def test_bulk_block_of_three_with_one_failure(client: Any, world: dict[str, Any]) -> None:
    admin, cls = world["admin"], world["classes"]["usd"]
    a, b, c = (_customer(admin, cls, n) for n in ("Able", "Baker", "Charlie"))
    set_blocked(actor=admin, now=NOW, customer_id=c.pk, blocked=True)
    client.force_login(admin)
    post = {"action": "block", "ids": [a.pk, b.pk, c.pk], "back": "?q=a"}
    asked = client.post("/customers/bulk/", post)
    assert asked.status_code == 200
    html = asked.content.decode()
    assert 'id="confirm-form"' in html
    assert f"Block: 3 customers? #{a.pk} Able, #{b.pk} Baker, #{c.pk} Charlie" in html
    assert not Customer.objects.filter(pk__in=[a.pk, b.pk], blocked=True).exists()
    before = AuditEntry.objects.count()
    done = client.post("/customers/bulk/", {**post, "confirmed": "1"})
    assert done.status_code == 200
    assert done.context["summary"] == "2 of 3 customers blocked."
    assert done.context["failures"] == [(f"#{c.pk} Charlie", "already blocked")]
    assert done.context["back_url"] == "/customers/?q=a"
    assert set(Customer.objects.filter(blocked=True).values_list("pk", flat=True)) == {
        a.pk,
        b.pk,
        c.pk,
    }
    assert AuditEntry.objects.count() == before + 2
    # Unblock through "select all on this page": every id of the page, ticked or not.
    again = client.post(
        "/customers/bulk/",
        {"action": "unblock", "all_on_page": "1", "page_ids": [a.pk, b.pk], "confirmed": "1"},
    )
    assert again.context["summary"] == "2 of 2 customers unblocked."
    assert not Customer.objects.filter(pk__in=[a.pk, b.pk], blocked=True).exists()


def test_bulk_change_class_and_form_errors(client: Any, world: dict[str, Any]) -> None:
    admin, cls = world["admin"], world["classes"]["usd"]
    a = _customer(admin, cls, "Able")
    euro_class = create_class(actor=admin, now=NOW, data={"name": "Euro", "currency": "EUR"})
    eur = _customer(admin, euro_class, "Euro", currency="EUR")
    target = create_class(actor=admin, now=NOW, data={"name": "Target", "currency": "USD"})
    other = _customer(admin, cls, "Other")
    client.force_login(admin)
    done = client.post(
        "/customers/bulk/",
        {
            "action": "change_class",
            "customer_class": target.pk,
            "ids": [a.pk, other.pk, eur.pk],
            "confirmed": "1",
        },
    )
    assert done.context["summary"] == "2 of 3 customers moved to the class “Target”."
    assert [label for label, _ in done.context["failures"]] == [f"#{eur.pk} Euro"]
    assert Customer.objects.get(pk=other.pk).customer_class_id == target.pk
    for data, field in (
        ({"ids": [a.pk]}, "action"),
        ({"action": "block"}, "ids"),
        ({"action": "change_class", "ids": [a.pk]}, "customer_class"),
    ):
        refused = client.post("/customers/bulk/", {**data, "confirmed": "1"})
        assert refused.status_code == 400
        assert refused.context["failures"][0][0] == field
    assert client.get("/customers/bulk/").status_code == 405


def test_bulk_is_scoped_to_the_resellers_own_customers(client: Any, world: dict[str, Any]) -> None:
    mine = _customer(world["ua"], world["classes"]["a"], "Mine", reseller=world["ra"].pk)
    theirs = _customer(
        world["ub"], world["classes"]["b"], "Theirs", currency="EUR", reseller=world["rb"].pk
    )
    client.force_login(world["ua"])
    done = client.post(
        "/customers/bulk/", {"action": "block", "ids": [mine.pk, theirs.pk], "confirmed": "1"}
    )
    assert done.context["summary"] == "1 of 2 customers blocked."
    assert done.context["failures"] == [(f"#{theirs.pk}", "not found")]
    assert "Theirs" not in done.content.decode()
    assert Customer.objects.get(pk=theirs.pk).blocked is False
    lines = _csv(client.get("/customers/?format=csv"))
    assert [line.split(",")[1] for line in lines[1:-1]] == ["Mine"]


def test_bulk_approve_periods(signed_in: Any, waiting: Customer) -> None:  # noqa: F811
    period = ClosedPeriod.objects.get(customer=waiting)
    page = signed_in.get("/periods/").content.decode()
    assert f'name="ids" value="{period.pk}" form="period-bulk"' in page
    asked = signed_in.post("/periods/approve/", {"ids": [period.pk, 999999]})
    assert 'id="confirm-form"' in asked.content.decode()
    assert ClosedPeriod.objects.get(pk=period.pk).status == "awaiting_approval"
    done = signed_in.post("/periods/approve/", {"ids": [period.pk, 999999], "confirmed": "1"})
    assert done.context["summary"] == "1 of 2 periods approved and closed. 1 invoice issued."
    assert done.context["failures"] == [("Period #999999", "not found")]
    number = Invoice.objects.get(customer=waiting).number
    assert done.context["details"] == [number]
    assert ClosedPeriod.objects.get(pk=period.pk).status != "awaiting_approval"

"""Billing over HTTP (issue 4): invoices (CC-13, CC-15, CU-13 Invoices & Taxation), periods
waiting for approval (CC-18), saved payment methods (CU-13 Payment Method) and the engine's
clock in test mode. Exact JSON values throughout."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from billcore.charging.services import charge, parse_usage
from billcore.classes.services import create_class
from billcore.customers.services import create_customer
from billcore.engine import run
from billcore.installation.services import update_settings
from billcore.invoicing.models import ClosedPeriod, Invoice, PaymentMethod
from billcore.ledger.services import post_transaction
from tests.e2e.test_api import Api, _error, _token

# Dates before the real clock: the API's own "now" (out-of-turn invoices, approvals) comes
# after them.
T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
FEB1 = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
MAR1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


class BillingApi(Api):
    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self._send("put", path, body, **kw)


@pytest.fixture
def api(client: Any, admin: Any) -> BillingApi:
    return BillingApi(client, _token(admin))


def _class(actor: Any, **data: Any) -> Any:
    return create_class(
        actor=actor,
        now=T0,
        data={"name": data.pop("name", "Postpaid USD"), "currency": "USD", **data},
    )


def _customer(actor: Any, cls: Any, name: str = "Acme") -> Any:
    return create_customer(
        actor=actor,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": "billing@acme.example",
        },
    )


def _use(actor: Any, customer: Any, amount: str, at: dt.datetime, service: str = "voice") -> None:
    usage = parse_usage(service=service, amount=amount, quantity="60", started_at=at, now=at)
    assert charge(actor=actor, now=at, customer_id=customer.pk, usage=usage).allowed


def _iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
def january(admin: Any) -> Any:
    """A VAT 20% customer with January usage and a fee, its period closed at FEB1."""
    cls = _class(admin, taxation_method="fixed_vat", vat_rate="20", allow_out_of_turn_invoices=True)
    c = _customer(admin, cls)
    _use(admin, c, "10.00123", T0 + dt.timedelta(days=1))
    _use(admin, c, "5.5", T0 + dt.timedelta(days=2), service="data")
    post_transaction(
        actor=admin,
        now=T0 + dt.timedelta(days=3),
        customer_id=c.pk,
        action="manual_charge",
        amount="2.00",
    )
    report = run(now=FEB1, steps=["close"])
    assert (report.invoices, report.errors) == (1, [])
    return c


def _dt(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _same_instants(body: dict[str, Any], **expected: dt.datetime) -> None:
    for key, value in expected.items():
        assert _dt(body[key]) == value, (key, body[key])


INVOICE_FIGURES = {
    "number": "INV-0000001",
    "kind": "regular",
    "status": "issued",
    "currency": "USD",
    "previous_balance": "0.00000",
    "payments": "0.00000",
    "net": "17.51000",
    "tax_total": "3.51000",
    "tax_inclusive": False,
    "special_rounding": "0.00000",
    "rounding": "0.00877",
    "total": "21.02000",
    "amount_paid": "0.00000",
    "amount_due": "21.02000",
    "balance_after": "21.02000",
    "template": "standard",
    "paid_at": None,
}


def test_invoice_list_and_detail_exact(api: BillingApi, january: Any) -> None:
    """CC-13, CU-13: the regular invoice of a closed period, its figures and lines."""
    inv = Invoice.objects.get(customer=january)
    r = api.get(f"/customers/{january.pk}/invoices")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["count"], body["limit"], body["offset"]) == (1, 50, 0)
    item = body["items"][0]
    assert {k: item[k] for k in INVOICE_FIGURES} == INVOICE_FIGURES
    assert (item["id"], item["customer"], item["period"]) == (
        inv.pk,
        january.pk,
        ClosedPeriod.objects.get(customer=january).pk,
    )
    _same_instants(
        item,
        period_start=T0,
        period_end=FEB1,
        issued_at=FEB1,
        due_at=FEB1 + dt.timedelta(days=10),
    )
    assert "lines" not in item

    detail = api.get(f"/invoices/{inv.pk}")
    assert detail.status_code == 200, detail.content
    d = detail.json()
    assert {k: d[k] for k in INVOICE_FIGURES} == INVOICE_FIGURES
    assert d["customer_name"] == "Acme"
    assert d["lines"] == [
        {
            "position": 1,
            "kind": "usage",
            "description": "Data",
            "service": "data",
            "quantity": "60.00000",
            "count": 1,
            "rate": None,
            "base": None,
            "amount": "5.50000",
        },
        {
            "position": 2,
            "kind": "usage",
            "description": "Voice calls",
            "service": "voice",
            "quantity": "60.00000",
            "count": 1,
            "rate": None,
            "base": None,
            "amount": "10.00123",
        },
        {
            "position": 3,
            "kind": "fee",
            "description": "Other fees",
            "service": "",
            "quantity": None,
            "count": 1,
            "rate": None,
            "base": None,
            "amount": "2.00000",
        },
        {
            "position": 4,
            "kind": "tax",
            "description": "VAT 20%",
            "service": "",
            "quantity": None,
            "count": None,
            "rate": "20.00000",
            "base": "17.51000",
            "amount": "3.51000",
        },
        {
            "position": 5,
            "kind": "rounding",
            "description": "Invoice rounding",
            "service": "",
            "quantity": None,
            "count": None,
            "rate": None,
            "base": None,
            "amount": "0.00877",
        },
    ]


def test_payment_makes_invoice_partly_paid_with_amount_due(
    api: BillingApi, admin: Any, january: Any
) -> None:
    inv = Invoice.objects.get(customer=january)
    post_transaction(
        actor=admin,
        now=FEB1 + dt.timedelta(days=1),
        customer_id=january.pk,
        action="manual_payment",
        amount="10",
    )
    d = api.get(f"/invoices/{inv.pk}").json()
    assert (d["status"], d["amount_paid"], d["amount_due"]) == (
        "partly_paid",
        "10.00000",
        "11.02000",
    )


def test_invoices_newest_first_and_paged(api: BillingApi, admin: Any, january: Any) -> None:
    _use(admin, january, "4", FEB1 + dt.timedelta(days=3))
    run(now=MAR1, steps=["close"])
    r = api.get(f"/customers/{january.pk}/invoices")
    assert [(i["number"], i["total"]) for i in r.json()["items"]] == [
        ("INV-0000002", "4.80000"),
        ("INV-0000001", "21.02000"),
    ]
    page = api.get(f"/customers/{january.pk}/invoices?limit=1&offset=1").json()
    assert (page["count"], [i["number"] for i in page["items"]]) == (2, ["INV-0000001"])
    _error(api.get(f"/customers/{january.pk}/invoices?limit=0"), 400, "limit")


def test_invoice_pdf(api: BillingApi, january: Any) -> None:
    """Section 5: downloadable from the API; rendered on demand when the engine has not."""
    inv = Invoice.objects.get(customer=january)
    assert inv.pdf is None
    r = api.get(f"/invoices/{inv.pk}/pdf")
    assert r.status_code == 200, r.content[:300]
    assert r["Content-Type"] == "application/pdf"
    assert r["Content-Disposition"] == 'inline; filename="INV-0000001.pdf"'
    assert r.content.startswith(b"%PDF-")
    # A stored PDF is what comes back, byte for byte.
    Invoice.objects.filter(pk=inv.pk).update(pdf=b"%PDF-1.7 stored")
    assert api.get(f"/invoices/{inv.pk}/pdf").content == b"%PDF-1.7 stored"


def test_unknown_invoice_and_customer_are_404(api: BillingApi, db: Any) -> None:
    for path in (
        "/invoices/999999",
        "/invoices/999999/pdf",
        f"/invoices/{2**63}",
        "/customers/999999/invoices",
        "/customers/999999/payment-method",
    ):
        r = api.get(path)
        assert r.status_code == 404, (path, r.content)
        assert r.json()["error"]["code"] == "not_found"
    _error(api.get("/invoices/abc"), 400, "invoice_id")


def test_out_of_turn_invoice(api: BillingApi, admin: Any, january: Any) -> None:
    """CC-15: an invoice now for the charges not yet invoiced; a second one finds nothing."""
    at = FEB1 + dt.timedelta(days=2)
    _use(admin, january, "3.3", at)
    r = api.post(f"/customers/{january.pk}/invoices/out-of-turn")
    assert r.status_code == 201, r.content
    d = r.json()
    assert {k: d[k] for k in ("number", "kind", "status", "net", "tax_total", "total")} == {
        "number": "INV-0000002",
        "kind": "out_of_turn",
        "status": "issued",
        "net": "3.30000",
        "tax_total": "0.66000",
        "total": "3.96000",
    }
    assert [(x["kind"], x["description"], x["amount"]) for x in d["lines"]] == [
        ("usage", "Voice calls", "3.30000"),
        ("tax", "VAT 20%", "0.66000"),
    ]
    assert (d["period"], _dt(d["period_start"])) == (None, at)
    assert _dt(d["due_at"]) - _dt(d["issued_at"]) == dt.timedelta(days=10)
    assert _dt(d["period_end"]) == _dt(d["issued_at"])
    again = api.post(f"/customers/{january.pk}/invoices/out-of-turn")
    _error(again, 400, "customer_id", "nothing_to_invoice")
    assert Invoice.objects.filter(customer=january).count() == 2


def test_out_of_turn_refused_when_the_class_does_not_allow_it(api: BillingApi, admin: Any) -> None:
    c = _customer(admin, _class(admin))
    _use(admin, c, "1", T0 + dt.timedelta(days=1))
    _error(api.post(f"/customers/{c.pk}/invoices/out-of-turn"), 400, "customer_id", "not_allowed")
    assert Invoice.objects.count() == 0


# --------------------------------------------------------------------------- periods (CC-18)


@pytest.fixture
def waiting(admin: Any) -> Any:
    """An approval-mode customer whose January ended: waiting, deadline FEB1 + 5 days."""
    cls = _class(admin, period_close="approval", approval_max_days=5)
    c = _customer(admin, cls, name="Waits Ltd")
    _use(admin, c, "12.34567", T0 + dt.timedelta(days=1))
    _use(admin, c, "0.5", T0 + dt.timedelta(days=4), service="data")
    report = run(now=FEB1, steps=["close"])
    assert (report.periods_awaiting_approval, report.invoices) == (1, 0)
    return c


def test_periods_awaiting_approval(api: BillingApi, admin: Any, waiting: Any) -> None:
    period = ClosedPeriod.objects.get(customer=waiting)
    r = api.get("/periods?status=awaiting_approval")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == 1
    item = body["items"][0]
    assert {k: item[k] for k in ("id", "customer", "customer_name", "status", "currency")} == {
        "id": period.pk,
        "customer": waiting.pk,
        "customer_name": "Waits Ltd",
        "status": "awaiting_approval",
        "currency": "USD",
    }
    assert (item["unbilled"], item["closed_at"]) == ("12.84567", None)
    _same_instants(item, start=T0, end=FEB1, approve_by=FEB1 + dt.timedelta(days=5))
    # the default status is awaiting_approval; nothing is closed yet
    assert api.get("/periods").json()["count"] == 1
    assert api.get("/periods?status=closed").json()["count"] == 0


def test_approve_period(api: BillingApi, admin: Any, waiting: Any) -> None:
    period = ClosedPeriod.objects.get(customer=waiting)
    done = api.post(f"/periods/{period.pk}/approve")
    assert done.status_code == 200, done.content
    d = done.json()
    assert (d["period"]["status"], d["period"]["unbilled"]) == ("closed", "0.00000")
    assert [(i["number"], i["net"], i["total"]) for i in d["invoices"]] == [
        ("INV-0000001", "12.85000", "12.85000")  # net: base rounded up
    ]
    assert [(x["kind"], x["amount"]) for x in d["invoices"][0]["lines"]] == [
        ("usage", "0.50000"),
        ("usage", "12.34567"),
        ("rounding", "0.00433"),
    ]
    period.refresh_from_db()
    assert (period.status, period.approved_by_id) == ("closed", admin.pk)
    assert api.get("/periods").json()["count"] == 0
    assert api.get("/periods?status=closed").json()["count"] == 1
    second = api.post(f"/periods/{period.pk}/approve")
    _error(second, 409, "id", "already_closed")
    assert Invoice.objects.count() == 1


def test_periods_bad_filters(api: BillingApi, db: Any) -> None:
    _error(api.get("/periods?status=open"), 400, "status")
    _error(api.get("/periods?customer=abc"), 400, "customer")
    assert api.get("/periods?customer=999999").status_code == 404
    assert api.post("/periods/999999/approve").status_code == 404


# --------------------------------------------------------------------------- resellers


def _reseller_a_books(world: dict[str, Any]) -> tuple[Any, Any]:
    """Reseller A's two customers after FEB1: one invoiced (7 USD), one waiting (CC-18)."""
    ua = world["ua"]
    auto = _customer(ua, _class(ua, name="A auto"), name="A's customer")
    waits = _customer(
        ua,
        _class(ua, name="A approval", period_close="approval", approval_max_days=3),
        name="A waits",
    )
    _use(ua, auto, "7", T0 + dt.timedelta(days=1))
    _use(ua, waits, "2", T0 + dt.timedelta(days=1))
    run(now=FEB1, steps=["close"])
    return auto, waits


def test_resellers_see_only_their_customers_invoices_and_periods(
    client: Any, world: dict[str, Any]
) -> None:
    """DESIGN rule 4: another reseller's invoice, period or card is a 404, never a 403."""
    auto, waits = _reseller_a_books(world)
    period = ClosedPeriod.objects.get(customer=waits)
    a = BillingApi(client, _token(world["ua"]))
    b = BillingApi(client, _token(world["ub"]))

    assert b.get("/periods").json() == {"count": 0, "limit": 50, "offset": 0, "items": []}
    assert [p["id"] for p in a.get("/periods").json()["items"]] == [period.pk]
    assert b.post(f"/periods/{period.pk}/approve").status_code == 404
    assert b.get(f"/periods?customer={waits.pk}").status_code == 404
    assert ClosedPeriod.objects.get(pk=period.pk).status == "awaiting_approval"

    inv = Invoice.objects.get(customer=auto)
    number = f"R{world['ra'].pk}-0000001"  # the reseller's own gapless numbering
    assert inv.number == number
    for path in (
        f"/invoices/{inv.pk}",
        f"/invoices/{inv.pk}/pdf",
        f"/customers/{auto.pk}/invoices",
        f"/customers/{auto.pk}/payment-method",
    ):
        r = b.get(path)
        assert r.status_code == 404, (path, r.content)
        assert number not in r.content.decode()
    assert b.post(f"/customers/{auto.pk}/invoices/out-of-turn").status_code == 404
    assert b.delete(f"/customers/{auto.pk}/payment-method").status_code == 404
    assert a.get(f"/invoices/{inv.pk}").json()["total"] == "7.00000"
    assert [i["number"] for i in a.get(f"/customers/{auto.pk}/invoices").json()["items"]] == [
        number
    ]
    # a reseller's user does not run the engine
    assert a.post("/engine/run", {"steps": ["close"]}).status_code == 404


def test_reseller_approves_its_own_period(client: Any, world: dict[str, Any]) -> None:
    _auto, waits = _reseller_a_books(world)
    period = ClosedPeriod.objects.get(customer=waits)
    approved = BillingApi(client, _token(world["ua"])).post(f"/periods/{period.pk}/approve")
    assert approved.status_code == 200, approved.content
    assert [(i["number"], i["total"]) for i in approved.json()["invoices"]] == [
        (f"R{world['ra'].pk}-0000002", "2.00000")
    ]


# --------------------------------------------------------------------------- payment method


CARD = {"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030}


def test_payment_method_save_show_replace_remove(
    api: BillingApi, admin: Any, settings: Any
) -> None:
    settings.BILLCORE_PAYMENT_GATEWAY = "test"
    c = _customer(admin, _class(admin))
    path = f"/customers/{c.pk}/payment-method"
    assert api.get(path).json()["error"]["code"] == "no_payment_method"
    r = api.put(path, CARD | {"holder_name": "Ann Smith"})
    assert r.status_code == 200, r.content
    body = r.json()
    label = "Test gateway (simulated card processor, no money moves)"
    assert {k: v for k, v in body.items() if not k.endswith("_at")} == {
        "customer": c.pk,
        "brand": "Visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "holder_name": "Ann Smith",
        "gateway": "test",
        "gateway_label": label,
    }
    assert "tok_" not in r.content.decode() and "4242424242424242" not in r.content.decode()
    assert api.get(path).json() == body
    stored = PaymentMethod.objects.get(customer=c)
    assert stored.token.startswith("tok_test_")

    replaced = api.put(path, {"card_number": "5555555555554444", "exp_month": 1, "exp_year": 2031})
    assert replaced.status_code == 200, replaced.content
    assert {k: replaced.json()[k] for k in ("brand", "last4", "exp_month", "holder_name")} == {
        "brand": "Mastercard",
        "last4": "4444",
        "exp_month": 1,
        "holder_name": "",
    }
    assert PaymentMethod.objects.filter(customer=c).count() == 1

    assert api.delete(path).status_code == 204
    assert PaymentMethod.objects.filter(customer=c).count() == 0
    assert api.delete(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (CARD | {"card_number": "4242424242424241"}, "card_number", "invalid"),  # Luhn
        (CARD | {"card_number": "4242-4242"}, "card_number", "invalid"),
        (CARD | {"exp_month": 1, "exp_year": 2020}, "exp_year", "expired"),
        (CARD | {"exp_month": 13}, "exp_month", "invalid"),
        (CARD | {"exp_month": "soon"}, "exp_month", "invalid"),
        (CARD | {"cvv": "123"}, "cvv", "unknown"),
        ({"exp_month": 12, "exp_year": 2030}, "card_number", "required"),
    ],
)
def test_payment_method_bad_input_names_the_field(
    api: BillingApi, admin: Any, settings: Any, body: dict[str, Any], field: str, code: str
) -> None:
    settings.BILLCORE_PAYMENT_GATEWAY = "test"
    c = _customer(admin, _class(admin))
    _error(api.put(f"/customers/{c.pk}/payment-method", body), 400, field, code)
    assert PaymentMethod.objects.count() == 0


def test_payment_method_without_a_gateway(api: BillingApi, admin: Any, settings: Any) -> None:
    settings.BILLCORE_PAYMENT_GATEWAY = ""
    c = _customer(admin, _class(admin))
    err = _error(
        api.put(f"/customers/{c.pk}/payment-method", CARD),
        400,
        "payment_method",
        "gateway_not_configured",
    )
    assert err["message"].startswith("no payment gateway is configured")
    assert PaymentMethod.objects.count() == 0


# --------------------------------------------------------------------------- engine clock


def test_engine_clock_refused_outside_test_mode(api: BillingApi, admin: Any) -> None:
    """Section 6: the clock moves only in test mode; nothing is closed."""
    c = _customer(admin, _class(admin))
    _use(admin, c, "1", T0 + dt.timedelta(days=1))
    r = api.post("/engine/run", {"now": _iso(FEB1), "steps": ["close"]})
    _error(r, 403, "now", "not_test_mode")
    assert ClosedPeriod.objects.count() == 0


def test_engine_clock_in_test_mode_closes_the_period(api: BillingApi, admin: Any) -> None:
    update_settings(actor=admin, now=T0, changes={"test_mode": True})
    c = _customer(admin, _class(admin, taxation_method="fixed_vat", vat_rate="10"))
    _use(admin, c, "9.99", T0 + dt.timedelta(days=1))
    early = api.post(
        "/engine/run", {"now": _iso(FEB1 - dt.timedelta(seconds=1)), "steps": ["close"]}
    )
    assert (early.status_code, early.json()["periods_closed"]) == (200, 0)
    r = api.post("/engine/run", {"now": _iso(FEB1), "steps": ["close"]})
    assert r.status_code == 200, r.content
    report = r.json()
    assert {k: report[k] for k in ("now", "periods_closed", "invoices", "errors")} == {
        "now": "2026-02-01T00:00:00+00:00",
        "periods_closed": 1,
        "invoices": 1,
        "errors": [],
    }
    items = api.get(f"/customers/{c.pk}/invoices").json()["items"]
    # 9.99 + VAT 10% 0.999 -> 1.00 (rounded up) = 10.99
    assert [(i["number"], i["net"], i["tax_total"], i["total"], i["status"]) for i in items] == [
        ("INV-0000001", "9.99000", "1.00000", "10.99000", "issued")
    ]
    again = api.post("/engine/run", {"now": _iso(FEB1), "steps": ["close"]})
    assert (again.json()["periods_closed"], again.json()["invoices"]) == (0, 0)
    _error(api.post("/engine/run", {"now": "2026-02-01T00:00:00"}), 400, "now")
    _error(api.post("/engine/run", {"steps": ["bake"]}), 400, "steps")

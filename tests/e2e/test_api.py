"""The JSON API over HTTP (Django's test client drives the full WSGI stack), on SQLite and
PostgreSQL. Errors are ``{"error": {"code", "message", "field"}}``."""

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from billcore.accounts.tokens import create_token
from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer
from billcore.ledger.models import Transaction


class Api:
    def __init__(self, client, token=None):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _send(self, method, path, body=None, raw=None, **headers):
        kwargs = dict(self.headers, **headers)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        fn = getattr(self.client, method)
        if data is None:
            return fn("/api/v1" + path, **kwargs)
        return fn("/api/v1" + path, data=data, content_type="application/json", **kwargs)

    def get(self, path, **kw):
        return self._send("get", path, **kw)

    def post(self, path, body=None, **kw):
        return self._send("post", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self._send("patch", path, body, **kw)

    def delete(self, path, **kw):
        return self._send("delete", path, **kw)


def _token(user):
    return create_token(user=user, now=timezone.now())


@pytest.fixture
def api(client, admin):
    return Api(client, _token(admin))


@pytest.fixture
def default_id(db):
    return CustomerClass.objects.get(is_default=True).pk


def _error(response, status, field, code=None):
    assert response.status_code == status, response.content
    err = response.json()["error"]
    assert err["field"] == field, err
    if code:
        assert err["code"] == code, err
    assert err["message"]
    return err


def test_requests_without_a_valid_token_are_refused(client, db):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer nope"}, {"HTTP_AUTHORIZATION": "Basic abc"}):
        r = client.get("/api/v1/customers", **headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"


def test_login_gives_a_working_token(client, admin):
    r = client.post(
        "/api/v1/auth/login",
        data={"username": "admin", "password": "admin-pass-1234"},
        content_type="application/json",
    )
    assert r.status_code == 200
    token = r.json()["token"]
    assert token.startswith("bc_")
    assert Api(client, token).get("/customers").status_code == 200
    bad = client.post(
        "/api/v1/auth/login",
        data={"username": "admin", "password": "x"},
        content_type="application/json",
    )
    _error(bad, 401, "password", "auth_failed")


def test_openapi_and_docs(client, db):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in (
        "/api/v1/customer-classes",
        "/api/v1/customer-classes/{class_id}",
        "/api/v1/customer-classes/{class_id}/copy",
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}/transactions",
        "/api/v1/business-models",
    ):
        assert p in paths
    assert client.get("/api/v1/docs").status_code == 200


def test_class_lifecycle(api):
    r = api.post(
        "/customer-classes",
        {
            "name": "Business",
            "currency": "EUR",
            "taxation_method": "fixed_vat",
            "vat_rate": "21",
            "grace_period_days": 14,
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    cid = body["id"]
    assert (
        body["name"],
        body["currency"],
        body["vat_rate"],
        body["grace_period_days"],
        body["managed_by"],
        body["is_default"],
    ) == ("Business", "EUR", "21.00000", 14, None, False)
    r = api.patch(f"/customer-classes/{cid}", {"description": "B2B", "send_statistics": "summary"})
    assert r.status_code == 200
    assert (r.json()["description"], r.json()["send_statistics"], r.json()["vat_rate"]) == (
        "B2B",
        "summary",
        "21.00000",
    )
    r = api.post(f"/customer-classes/{cid}/copy", {"name": "Business 2"})
    assert r.status_code == 201
    assert (r.json()["currency"], r.json()["vat_rate"], r.json()["description"]) == (
        "EUR",
        "21.00000",
        "B2B",
    )
    assert api.get(f"/customer-classes/{cid}").json()["name"] == "Business"
    listing = api.get("/customer-classes?search=business&order=-name").json()
    assert listing["count"] == 2
    assert [c["name"] for c in listing["items"]] == ["Business 2", "Business"]
    page = api.get("/customer-classes?limit=1&offset=1&order=name").json()
    assert (page["count"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [c["name"] for c in page["items"]] == ["Business 2"]
    assert api.delete(f"/customer-classes/{cid}").status_code == 204
    assert api.get(f"/customer-classes/{cid}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": "default"}, "name", "duplicate"),
        ({"name": "X", "currency": "XYZ"}, "currency", "unknown_currency"),
        (
            {"name": "X", "invoice_rounding": "custom", "invoice_rounding_pattern": "XXXXX.X55"},
            "invoice_rounding_pattern",
            "invalid",
        ),
        ({"name": "X", "fraud_daily_limit": 10.5}, "fraud_daily_limit", "invalid"),
        (
            {"name": "X", "currency": "USD", "fraud_daily_limit": "1.000001"},
            "fraud_daily_limit",
            "invalid",
        ),
        ({"name": "X", "colour": "red"}, "colour", "unknown"),
        ({"description": "no name"}, "name", "required"),
        (
            {"name": "X", "generate_statistics": False, "send_statistics": "full"},
            "send_statistics",
            "unavailable",
        ),
    ],
)
def test_bad_class_input(api, body, field, code):
    before = CustomerClass.objects.count()
    _error(api.post("/customer-classes", body), 400, field, code)
    assert CustomerClass.objects.count() == before


def test_money_as_json_number_is_explained(api):
    err = _error(api.post("/customer-classes", {"name": "X", "vat_rate": 20}), 400, "vat_rate")
    assert (
        err["message"] == 'vat_rate must be a decimal string such as "10.50" (never a JSON number)'
    )


def test_malformed_json(api):
    err = _error(api.post("/customer-classes", raw="{not json"), 400, None, "malformed_json")
    assert err["message"] == "the request body is not valid JSON"


def test_class_currency_cannot_change_and_default_cannot_go(api, default_id):
    cid = api.post("/customer-classes", {"name": "U", "currency": "USD"}).json()["id"]
    _error(api.patch(f"/customer-classes/{cid}", {"currency": "EUR"}), 400, "currency", "immutable")
    err = _error(api.delete(f"/customer-classes/{default_id}"), 400, "id", "protected")
    assert err["message"] == "The Default customer class cannot be deleted (CC-02)"


def test_customer_lifecycle_and_transactions(api, default_id):
    r = api.post(
        "/customers",
        {
            "name": "Alice",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "50.5",
            "country": "US",
            "time_zone": "America/New_York",
        },
    )
    assert r.status_code == 201, r.content
    alice = r.json()
    assert (
        alice["balance"],
        alice["available_funds"],
        alice["credit_limit"],
        alice["customer_class"],
        alice["status"],
        alice["blocked"],
    ) == ("-50.50000", "50.50000", None, default_id, "open", False)
    cid = alice["id"]
    headers = {"HTTP_IDEMPOTENCY_KEY": "pay-1"}
    r1 = api.post(
        f"/customers/{cid}/transactions",
        {"action": "Manual charge", "amount": "0.50001", "visible_comment": "Setup fee"},
        **headers,
    )
    assert r1.status_code == 201
    assert (r1.json()["balance"], r1.json()["available_funds"], r1.json()["amount"]) == (
        "-49.99999",
        "49.99999",
        "0.50001",
    )
    r2 = api.post(
        f"/customers/{cid}/transactions",
        {"action": "Manual charge", "amount": "0.50001", "visible_comment": "Setup fee"},
        **headers,
    )
    assert r2.status_code == 200
    assert r2.json()["transaction_id"] == r1.json()["transaction_id"]
    r3 = api.post(
        f"/customers/{cid}/transactions", {"action": "Manual charge", "amount": "9"}, **headers
    )
    _error(r3, 409, "idempotency_key", "idempotency_key_reused")
    history = api.get(f"/customers/{cid}/transactions").json()
    assert history["count"] == 2
    assert [(t["action"], t["amount"], t["balance_after"]) for t in history["items"]] == [
        ("manual_charge", "0.50001", "-49.99999"),
        ("opening_balance", "-50.50000", "-50.50000"),
    ]
    assert api.get(f"/customers/{cid}").json()["available_funds"] == "49.99999"
    r = api.patch(f"/customers/{cid}", {"city": "Boston", "note": "VIP"})
    assert (r.status_code, r.json()["city"], r.json()["note"]) == (200, "Boston", "VIP")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"action": "Manual charge", "amount": "1.000001"}, "amount", "invalid"),
        ({"action": "Manual charge", "amount": "1e2"}, "amount", "invalid"),
        ({"action": "Manual charge", "amount": 5}, "amount", "invalid"),
        ({"action": "Bribe", "amount": "5"}, "action", "invalid_choice"),
        ({"action": "Manual charge"}, "amount", "required"),
    ],
)
def test_bad_transactions(api, default_id, body, field, code):
    c = api.post(
        "/customers", {"name": "Bob", "currency": "USD", "balance_control": "postpaid"}
    ).json()
    _error(api.post(f"/customers/{c['id']}/transactions", body), 400, field, code)
    assert Transaction.objects.filter(customer_id=c["id"]).count() == 0


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": "bob"}, "name", "duplicate"),
        (
            {"name": "P", "balance_control": "prepaid", "credit_limit": "5"},
            "credit_limit",
            "not_applicable",
        ),
        ({"name": "P", "available_funds": "5"}, "available_funds", "not_applicable"),
        ({"name": "P", "currency": "ZZZ"}, "currency", "unknown_currency"),
        ({"name": "P", "balance_control": "both"}, "balance_control", "invalid_choice"),
        ({"name": "P", "credit_limit": "12.3456789"}, "credit_limit", "invalid"),
    ],
)
def test_bad_customer_input(api, default_id, body, field, code):
    api.post("/customers", {"name": "Bob", "currency": "USD", "balance_control": "postpaid"})
    data = {"currency": "USD", "balance_control": "postpaid"} | body
    before = Customer.objects.count()
    _error(api.post("/customers", data), 400, field, code)
    assert Customer.objects.count() == before


def test_customer_currency_and_class_currency(api):
    eur_class = api.post("/customer-classes", {"name": "EUR only", "currency": "EUR"}).json()
    _error(
        api.post(
            "/customers",
            {
                "name": "Z",
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": eur_class["id"],
            },
        ),
        400,
        "customer_class",
        "currency_mismatch",
    )
    c = api.post(
        "/customers",
        {
            "name": "Z",
            "currency": "EUR",
            "balance_control": "postpaid",
            "customer_class": eur_class["id"],
        },
    ).json()
    _error(api.patch(f"/customers/{c['id']}", {"currency": "USD"}), 400, "currency", "immutable")


def test_customer_list_filters(api, world):
    a = Api(api.client, _token(world["ua"]))
    for i in range(3):
        r = a.post(
            "/customers",
            {
                "name": f"A-sub-{i}",
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": world["classes"]["a"].pk,
            },
        )
        assert r.status_code == 201, r.content
    api.post("/customers", {"name": "Euro One", "currency": "EUR", "balance_control": "prepaid"})
    everyone = api.get("/customers?limit=500").json()
    assert everyone["count"] == 6
    assert [c["name"] for c in api.get("/customers?currency=EUR").json()["items"]] == ["Euro One"]
    by_reseller = api.get(f"/customers?reseller={world['ra'].pk}").json()
    assert [c["name"] for c in by_reseller["items"]] == ["A-sub-0", "A-sub-1", "A-sub-2"]
    by_class = api.get(f"/customers?customer_class={world['classes']['a'].pk}&limit=2").json()
    assert (by_class["count"], len(by_class["items"])) == (3, 2)
    assert api.get("/customers?name=sub-1").json()["items"][0]["name"] == "A-sub-1"
    assert api.get("/customers?customer_type=reseller").json()["count"] == 2
    # Reseller A sees its own three only.
    mine = a.get("/customers").json()
    assert [c["name"] for c in mine["items"]] == ["A-sub-0", "A-sub-1", "A-sub-2"]


def test_business_models(api, world):
    r = api.post("/business-models", {"name": "SIP trunking"})
    assert r.status_code == 201
    names = [b["name"] for b in api.get("/business-models").json()]
    assert names == ["Cloud PBX", "Hosted IP PBX", "Internet access", "SIP trunking"]
    _error(api.post("/business-models", {"name": "sip TRUNKING"}), 400, "name", "duplicate")
    reseller = Api(api.client, _token(world["ua"]))
    assert reseller.post("/business-models", {"name": "Mine"}).status_code == 404
    bm = r.json()["id"]
    cls = api.post("/customer-classes", {"name": "Trunks", "business_model": bm}).json()
    assert cls["business_model"] == bm
    _error(api.delete(f"/business-models/{bm}"), 400, "id", "in_use")


# --- permission matrix: reseller A on reseller B's objects gets 404 and changes nothing ---


def _b_objects(world, api):
    b = Api(api.client, _token(world["ub"]))
    cust = b.post(
        "/customers",
        {
            "name": "B-sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["b"].pk,
        },
    ).json()
    return cust["id"], world["classes"]["b"].pk


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/customers/{c}", None),
        ("patch", "/customers/{c}", {"note": "owned"}),
        ("delete", "/customers/{c}", None),
        ("get", "/customers/{c}/transactions", None),
        ("post", "/customers/{c}/transactions", {"action": "Manual credit", "amount": "100"}),
        ("get", "/customer-classes/{k}", None),
        ("patch", "/customer-classes/{k}", {"description": "owned"}),
        ("delete", "/customer-classes/{k}", None),
        ("post", "/customer-classes/{k}/copy", {"name": "Stolen"}),
    ],
)
def test_reseller_a_cannot_touch_reseller_b(api, world, method, path, body):
    c, k = _b_objects(world, api)
    snapshot = (
        list(Customer.objects.order_by("id").values()),
        list(CustomerClass.objects.order_by("id").values()),
        Transaction.objects.count(),
    )
    a = Api(api.client, _token(world["ua"]))
    url = path.format(c=c, k=k)
    r = getattr(a, method)(url, body) if body is not None else getattr(a, method)(url)
    _error(r, 404, "id", "not_found")
    assert snapshot == (
        list(Customer.objects.order_by("id").values()),
        list(CustomerClass.objects.order_by("id").values()),
        Transaction.objects.count(),
    )
    # The administrator reaches the same object.
    target = f"/customers/{c}" if url.startswith("/customers") else f"/customer-classes/{k}"
    assert api.get(target).status_code == 200


def test_reseller_cannot_assign_foreign_classes(api, world):
    a = Api(api.client, _token(world["ua"]))
    for cls in (world["classes"]["b"], world["classes"]["usd"]):
        _error(
            a.post(
                "/customers",
                {
                    "name": "N",
                    "currency": "USD",
                    "balance_control": "postpaid",
                    "customer_class": cls.pk,
                },
            ),
            400,
            "customer_class",
            "not_found",
        )
    assert not Customer.objects.filter(name="N").exists()
    # Administrators cannot assign a reseller's class either (CC-07).
    _error(
        api.post(
            "/customers",
            {
                "name": "N",
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": world["classes"]["a"].pk,
            },
        ),
        400,
        "customer_class",
        "not_assignable",
    )


def test_reseller_sees_only_its_classes(api, world):
    a = Api(api.client, _token(world["ua"]))
    assert [c["name"] for c in a.get("/customer-classes").json()["items"]] == ["A Retail"]
    r = a.post("/customer-classes", {"name": "A Premium"})
    assert (r.status_code, r.json()["managed_by"]) == (201, world["ra"].pk)
    assert Decimal(api.get(f"/customers/{world['ra'].pk}").json()["balance"]) == 0


def test_installation_settings_and_custom_fields(api, world):
    assert api.get("/settings").json()["allow_external_billing"] is False
    r = api.patch(
        "/settings",
        {
            "allow_external_billing": True,
            "legal_name": "Acme Telecom",
            "notification_from_address": "billing@acme.example",
        },
    )
    assert (r.status_code, r.json()["allow_external_billing"], r.json()["legal_name"]) == (
        200,
        True,
        "Acme Telecom",
    )
    _error(api.patch("/settings", {"eztax_endpoint": "ftp://x"}), 400, "eztax_endpoint")
    _error(
        api.patch("/settings", {"notification_from_address": "nope"}),
        400,
        "notification_from_address",
    )
    reseller = Api(api.client, _token(world["ua"]))
    assert reseller.get("/settings").status_code == 404
    assert reseller.patch("/settings", {"legal_name": "Mine"}).status_code == 404
    assert api.get("/settings").json()["legal_name"] == "Acme Telecom"
    r = api.post("/custom-fields", {"name": "tax_id", "label": "Tax ID"})
    assert (r.status_code, r.json()["field_type"]) == (201, "text")
    _error(
        api.post("/custom-fields", {"name": "tax_id", "label": "Again"}), 400, "name", "duplicate"
    )
    _error(api.post("/custom-fields", {"name": "Bad Name", "label": "x"}), 400, "name")
    assert [f["name"] for f in api.get("/custom-fields").json()] == ["tax_id"]


def test_class_list_sorts_empty_currency_first_on_both_databases(api, world):
    api.post("/customer-classes", {"name": "Zed EUR", "currency": "EUR"})
    names = [c["name"] for c in api.get("/customer-classes?order=currency").json()["items"]]
    assert names == ["B Retail", "Default", "Zed EUR", "A Retail", "Retail USD"]
    names = [c["name"] for c in api.get("/customer-classes?order=-currency").json()["items"]]
    assert names == ["A Retail", "Retail USD", "Zed EUR", "B Retail", "Default"]
    names = [c["name"] for c in api.get("/customer-classes?order=managed_by").json()["items"]]
    assert names == ["Default", "Retail USD", "Zed EUR", "A Retail", "B Retail"]


def test_rounding_pattern_finer_than_the_class_currency_is_refused(api):
    """CC-17: `XXXXX.XX500` on a USD class is a 400 naming the pattern field; nothing saved.
    A class without currency takes it."""
    body = {
        "name": "Half cents",
        "currency": "USD",
        "invoice_rounding": "custom",
        "invoice_rounding_pattern": "XXXXX.XX500",
    }
    err = _error(
        api.post("/customer-classes", body), 400, "invoice_rounding_pattern", "finer_than_currency"
    )
    assert "finer than the class's currency USD (2)" in err["message"]
    assert not CustomerClass.objects.filter(name="Half cents").exists()
    created = api.post("/customer-classes", dict(body, invoice_rounding_pattern="XXXXX.X5000"))
    assert created.status_code == 201, created.content
    cid = created.json()["id"]
    _error(
        api.patch(f"/customer-classes/{cid}", {"invoice_rounding_pattern": "XXXXX.XX500"}),
        400,
        "invoice_rounding_pattern",
        "finer_than_currency",
    )
    assert CustomerClass.objects.get(pk=cid).invoice_rounding_pattern == "XXXXX.X5000"
    loose = api.post("/customer-classes", {**body, "name": "Anywhere", "currency": None})
    assert loose.status_code == 201, loose.content
    assert loose.json()["invoice_rounding_pattern"] == "XXXXX.XX500"


def test_prepaid_payment_taxed_at_payment_reply_and_refund(api):
    """Issue 10 §5: the reply states the balance after the payment's tax row; a refund naming
    the payment (`reference`) gives its tax back."""
    cls = api.post(
        "/customer-classes",
        {
            "name": "Prepaid VAT",
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            "tax_prepaid_at_payment": True,
        },
    ).json()
    customer = api.post(
        "/customers",
        {
            "name": "Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "0",
            "customer_class": cls["id"],
        },
    ).json()
    path = f"/customers/{customer['id']}/transactions"
    paid = api.post(path, {"action": "Manual payment", "amount": "100"})
    assert paid.status_code == 201, paid.content
    body = paid.json()
    assert (body["balance"], body["available_funds"]) == ("-83.33000", "83.33000")
    refund = api.post(
        path, {"action": "Refund", "amount": "100", "reference": body["transaction_id"]}
    )
    assert refund.status_code == 201, refund.content
    assert (refund.json()["balance"], refund.json()["available_funds"]) == ("0.00000", "0.00000")
    too_much = api.post(
        path, {"action": "Refund", "amount": "1", "reference": body["transaction_id"]}
    )
    _error(too_much, 400, "amount", "exceeds_payment")

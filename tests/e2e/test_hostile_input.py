"""Hostile input on ``/api/v1`` and on the PortaBilling facade ``/rest/``, on SQLite and
PostgreSQL (issue 10 §1): every class of input that once gave a server error is a 4xx (a
fault on /rest/, never ``internal_error``) naming the field, and nothing is saved.

The guard is ``billcore.validation.check_input`` (run over every operation's parsed input by
``billcore.api.v1`` and over ``params`` by the /rest/ dispatcher), the text rules of
``validation.as_str``, the unique ``name_key`` of ``billcore.db.NameKeyed`` and the bounds
of ``charging.services.parse_usage``."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from billcore.accounts.tokens import create_token
from billcore.audit.models import AuditEntry
from billcore.charging.models import Xdr
from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer
from billcore.installation.models import BusinessModel
from billcore.subscribers.models import Account
from billcore.subscriptions.models import SubscriptionPlan

HUGE = 2**64  # one past what any 64-bit column holds
LOW = -(2**63) - 1


class Api:
    def __init__(self, client, token):
        self.client = client
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def get(self, path):
        return self.client.get("/api/v1" + path, **self.auth)

    def send(self, method, path, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body)
        fn = getattr(self.client, method)
        return fn("/api/v1" + path, data=data, content_type="application/json", **self.auth)

    def post(self, path, body=None, raw=None):
        return self.send("post", path, body, raw)

    def patch(self, path, body=None, raw=None):
        return self.send("patch", path, body, raw)

    def delete(self, path):
        return self.client.delete("/api/v1" + path, **self.auth)


@pytest.fixture
def api(client, world):
    return Api(client, create_token(user=world["admin"], now=timezone.now()))


@pytest.fixture
def reseller_api(client, world):
    return Api(client, create_token(user=world["ua"], now=timezone.now()))


def error(response, status, field, code=None):
    assert response.status_code == status, response.content
    err = response.json()["error"]
    assert err["field"] == field, err
    if code is not None:
        assert err["code"] == code, err
    assert err["message"]
    return err


def counts():
    """What any write would change."""
    return (
        Customer.objects.count(),
        CustomerClass.objects.count(),
        BusinessModel.objects.count(),
        SubscriptionPlan.objects.count(),
        Account.objects.count(),
        Xdr.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def prepaid(world):
    from billcore.ledger.customers import create_customer

    return create_customer(
        actor=world["admin"],
        now=timezone.now(),
        data={
            "name": "Prepaid Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "50",
            "customer_class": world["classes"]["usd"].pk,
        },
    )


# --- integers beyond 64 bits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/customers?offset={HUGE}", "offset"),
        (f"/customers?customer_class={HUGE}", "customer_class"),
        (f"/customers?customer_class={LOW}", "customer_class"),
        (f"/customers?reseller={HUGE}", "reseller"),
        (f"/customer-classes?managed_by={HUGE}", "managed_by"),
        (f"/customer-classes?offset={HUGE}", "offset"),
        (f"/subscription-plans?offset={HUGE}", "offset"),
        (f"/periods?customer={HUGE}", "customer"),
    ],
)
def test_integers_beyond_64_bits_in_a_query_are_a_400_naming_it(api, path, field):
    error(api.get(path), 400, field, "out_of_range")


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("get", f"/customers/{HUGE}", "customer_id"),
        ("delete", f"/customers/{HUGE}", "customer_id"),
        ("get", f"/customer-classes/{-HUGE}", "class_id"),
        ("get", f"/accounts/{HUGE}", "account_id"),
        ("get", f"/invoices/{HUGE}/pdf", "invoice_id"),
        ("post", f"/reservations/{HUGE}/release", "reservation_id"),
        ("post", f"/periods/{HUGE}/approve", "period_id"),
    ],
)
def test_a_path_id_beyond_64_bits_is_not_found(api, method, path, field):
    """No row can have such an id: a 404 like any unknown id, naming the parameter."""
    before = counts()
    r = api.get(path) if method == "get" else api.send(method, path, {})
    error(r, 404, field, "not_found")
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/customers", {"customer_class": HUGE}, "customer_class"),
        ("/customers", {"reseller": HUGE}, "reseller"),
        ("/customer-classes", {"name": "Big", "managed_by": HUGE}, "managed_by"),
        ("/customer-classes", {"name": "Big", "business_model": LOW}, "business_model"),
        ("/xdrs", {"customer": HUGE, "service": "voice", "amount": "1"}, "customer"),
        ("/xdrs", {"account": HUGE, "service": "voice", "amount": "1"}, "account"),
        ("/xdrs/batch", {"xdrs": [{"service": "voice"}, {"customer": HUGE}]}, "xdrs.1.customer"),
        ("/authorize", {"customer": HUGE, "amount": "1"}, "customer"),
        ("/transfers", {"from_account": HUGE, "to_account": 1, "amount": "1"}, "from_account"),
        (
            "/subscription-plans",
            {"name": "P", "currency": "USD", "fee": "1", "managed_by": HUGE},
            "managed_by",
        ),
    ],
)
def test_integers_beyond_64_bits_in_a_body_are_a_400_naming_the_field(api, path, body, field):
    if path == "/customers":
        body = {"name": "Big", "currency": "USD", "balance_control": "prepaid", **body}
    before = counts()
    error(api.post(path, body), 400, field, "out_of_range")
    assert counts() == before


def test_a_body_id_beyond_64_bits_in_a_patch_and_a_transaction(api, prepaid):
    before = counts()
    error(api.patch(f"/customers/{prepaid.pk}", {"customer_class": HUGE}), 400, "customer_class")
    r = api.post(
        f"/customers/{prepaid.pk}/transactions",
        {"action": "Manual payment", "amount": "1", "account": HUGE},
    )
    error(r, 400, "account", "out_of_range")
    assert counts() == before
    prepaid.refresh_from_db()
    assert prepaid.customer_class_id == CustomerClass.objects.get(name="Retail USD").pk


# --- NUL bytes, lone surrogates, control characters -------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/customers?search=a%00b",
        "/customers?name=a%00b",
        "/customers?currency=U%00D",
        "/customer-classes?search=a%00b",
        "/subscription-plans?search=a%00b",
    ],
)
def test_nul_in_a_filter_is_a_400_naming_it(api, path):
    field = path.split("?")[1].split("=")[0]
    error(api.get(path), 400, field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/business-models", {"name": "a\x00b"}, "name"),
        ("/business-models", {"name": "ok", "description": "a\x00b"}, "description"),
        ("/customer-classes", {"name": "a\x00b"}, "name"),
        ("/customers", {"name": "a\x00b", "currency": "USD", "balance_control": "prepaid"}, "name"),
        ("/subscription-plans", {"name": "a\x00", "currency": "USD", "fee": "1"}, "name"),
    ],
)
def test_nul_in_a_name_is_a_400_and_nothing_is_saved(api, path, body, field):
    before = counts()
    error(api.post(path, body), 400, field)
    assert counts() == before


def test_nul_in_xdr_details_key_or_value_is_a_400(api, prepaid):
    before = counts()
    for details, field in (({"cli": "1\x00"}, "details.cli"), ({"c\x00": "1"}, "details.c\x00")):
        body = {"customer": prepaid.pk, "service": "voice", "amount": "1", "details": details}
        error(api.post("/xdrs", body), 400, field)
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/business-models", '{"name": "a\\ud800b"}', "name"),
        ("/business-models", '{"name": "x", "description": "\\udfff"}', "description"),
        ("/customer-classes", '{"name": "lone \\udc00"}', "name"),
        (
            "/customers",
            '{"name": "\\ud83d", "currency": "USD", "balance_control": "prepaid"}',
            "name",
        ),
    ],
)
def test_a_lone_surrogate_in_any_text_is_a_400(api, path, raw, field):
    before = counts()
    err = error(api.post(path, raw=raw), 400, field)
    assert "surrogate" in err["message"]
    assert counts() == before


def test_a_lone_surrogate_in_xdr_details_is_a_400(api, prepaid):
    head = json.dumps({"customer": prepaid.pk, "service": "voice", "amount": "1"})[:-1]
    raw = head + ', "details": {"cli": "\\ud800"}}'
    before = counts()
    error(api.post("/xdrs", raw=raw), 400, "details.cli", "invalid_text")
    assert counts() == before


def test_a_surrogate_pair_is_one_character_and_is_kept(api):
    r = api.post("/business-models", raw='{"name": "Smile \\ud83d\\ude00"}')
    assert r.status_code == 201, r.content
    assert BusinessModel.objects.get(pk=r.json()["id"]).name == "Smile \U0001f600"


@pytest.mark.parametrize("char", ["\x01", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f"])
def test_control_characters_in_a_name_are_a_400(api, char):
    before = counts()
    err = error(api.post("/business-models", {"name": f"Bad{char}name"}), 400, "name")
    assert err["code"] == "invalid_text"
    assert f"U+{ord(char):04X}" in err["message"]
    err = error(api.post("/customer-classes", {"name": f"Bad{char}name"}), 400, "name")
    assert err["code"] == "invalid_text"
    assert counts() == before


def test_line_breaks_are_kept_in_descriptions_but_other_controls_are_not(api):
    r = api.post("/business-models", {"name": "Multi", "description": "one\ntwo\tthree"})
    assert r.status_code == 201, r.content
    assert r.json()["description"] == "one\ntwo\tthree"
    error(
        api.post("/business-models", {"name": "M2", "description": "bell\x07"}),
        400,
        "description",
        "invalid_text",
    )


# --- names unique regardless of case, in every script, on SQLite too --------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [("Äpfel", "äPFEL"), ("Straße", "STRASSE"), ("ΣΊΣΥΦΟΣ", "σίσυφος"), ("Café", "CAFE\u0301")],
)
def test_business_model_names_are_unique_regardless_of_unicode_case(api, first, second):
    assert api.post("/business-models", {"name": first}).status_code == 201
    before = counts()
    error(api.post("/business-models", {"name": second}), 400, "name", "duplicate")
    assert counts() == before


def test_class_customer_and_plan_names_are_unique_regardless_of_unicode_case(api, world):
    before = counts()
    assert api.post("/customer-classes", {"name": "Ürün"}).status_code == 201
    error(api.post("/customer-classes", {"name": "üRÜN"}), 400, "name", "duplicate")
    body = {"name": "Øresund", "currency": "USD", "balance_control": "prepaid"}
    assert api.post("/customers", body).status_code == 201
    error(api.post("/customers", {**body, "name": "øRESUND"}), 400, "name", "duplicate")
    plan = {"name": "Élan", "currency": "USD", "fee": "1"}
    assert api.post("/subscription-plans", plan).status_code == 201
    error(api.post("/subscription-plans", {**plan, "name": "éLAN"}), 400, "name", "duplicate")
    # renaming onto another's name is refused the same way
    other = api.post("/customer-classes", {"name": "Other"}).json()["id"]
    error(api.patch(f"/customer-classes/{other}", {"name": "ÜRÜN"}), 400, "name", "duplicate")
    assert counts()[:4] == (before[0] + 1, before[1] + 2, before[2], before[3] + 1)


def test_renaming_a_class_to_its_own_name_in_other_case_is_allowed(api):
    cid = api.post("/customer-classes", {"name": "Ärger"}).json()["id"]
    r = api.patch(f"/customer-classes/{cid}", {"name": "ÄRGER"})
    assert r.status_code == 200, r.content
    assert CustomerClass.objects.get(pk=cid).name_key == "ärger"


# --- deleting a customer that has accounts ----------------------------------------------------


def test_deleting_a_customer_with_accounts_is_refused_with_the_reason(api, prepaid):
    # CU-01: a customer with no money history may be deleted; one with accounts may not.
    Customer.objects.filter(pk=prepaid.pk).update(balance=0)
    prepaid.transactions.all().delete()
    r = api.post(f"/customers/{prepaid.pk}/accounts", {"identifier": "+15550100"})
    assert r.status_code == 201, r.content
    before = counts()
    err = error(api.delete(f"/customers/{prepaid.pk}"), 400, "id", "in_use")
    assert err["message"] == (
        "customer 'Prepaid Pia' has 1 account(s) and cannot be deleted; terminate it instead"
    )
    assert counts() == before


def test_deleting_a_customer_with_only_denied_usage_is_refused(api, world):
    body = {"name": "Denied Dan", "currency": "USD", "balance_control": "prepaid"}
    cid = api.post("/customers", body).json()["id"]
    r = api.post("/xdrs", {"customer": cid, "service": "voice", "amount": "5"})
    assert r.json()["allowed"] is False
    before = counts()
    err = error(api.delete(f"/customers/{cid}"), 400, "id", "in_use")
    assert "xDRs" in err["message"] or "xdrs" in err["message"].lower()
    assert counts() == before


# --- xDR bounds: details size, started_at window ----------------------------------------------


def test_xdr_details_larger_than_4096_bytes_are_refused(api, prepaid):
    base = {"customer": prepaid.pk, "service": "voice", "amount": "1"}
    fits = {"note": "x" * (4096 - len('{"note":""}'))}
    r = api.post("/xdrs", {**base, "details": fits})
    assert r.status_code == 201, r.content
    before = counts()
    err = error(api.post("/xdrs", {**base, "details": {"note": "x" * 4096}}), 400, "details")
    assert err["code"] == "too_long"
    assert err["message"] == "details is 4107 bytes as JSON; at most 4096 are kept"
    assert counts() == before


def test_xdr_details_nested_too_deeply_or_not_finite_are_refused(api, prepaid):
    base = {"customer": prepaid.pk, "service": "voice", "amount": "1"}
    deep: dict = {}
    node = deep
    for _ in range(25):
        node["a"] = {}
        node = node["a"]
    before = counts()
    error(api.post("/xdrs", {**base, "details": deep}), 400, "details", "too_deep")
    raw = json.dumps(base)[:-1] + ', "details": {"x": NaN}}'
    error(api.post("/xdrs", raw=raw), 400, None, "malformed_json")
    raw = '{"details": ' + "[" * 100_000 + "]" * 100_000 + "}"
    error(api.post("/xdrs", raw=raw), 400, None, "malformed_json")
    assert counts() == before


@pytest.mark.parametrize(
    "started_at",
    [
        "0001-01-01T00:00:00+05:00",
        "1969-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "9999-12-31T23:00:00-05:00",
    ],
)
def test_xdr_started_at_outside_the_window_is_refused(api, prepaid, started_at):
    before = counts()
    body = {"customer": prepaid.pk, "service": "voice", "amount": "1", "started_at": started_at}
    err = error(api.post("/xdrs", body), 400, "started_at", "out_of_range")
    assert err["message"] == "started_at must lie between 1970-01-01 and 2100-01-01 (UTC)"
    assert counts() == before


def test_xdr_started_at_more_than_a_day_ahead_is_refused(api, prepaid):
    ahead = (timezone.now() + dt.timedelta(days=2)).isoformat()
    body = {"customer": prepaid.pk, "service": "voice", "amount": "1", "started_at": ahead}
    err = error(api.post("/xdrs", body), 400, "started_at", "out_of_range")
    assert err["message"] == "started_at is more than a day in the future"
    soon = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    assert api.post("/xdrs", {**body, "started_at": soon}).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "patch",
            "/customers/{c}",
            {"credit_limit_until": "0001-01-01T00:00:00Z"},
            "credit_limit_until",
        ),
        (
            "post",
            "/customers/{c}/status",
            {"action": "terminate", "terminate_on": "9999-12-31T00:00:00Z"},
            "terminate_on",
        ),
        (
            "post",
            "/customers/{c}/subscriptions",
            {"plan": 1, "start_at": "1900-01-01T00:00Z"},
            "start_at",
        ),
        ("get", "/customers/{c}/xdrs?from=0001-01-01T00:00:00Z", None, "from"),
        ("get", "/customers/{c}/statistics?to=9999-12-31T23:59:59Z", None, "to"),
    ],
)
def test_other_dates_outside_the_window_are_refused(api, prepaid, method, path, body, field):
    path = path.format(c=prepaid.pk)
    before = counts()
    r = api.get(path) if method == "get" else api.send(method, path, body)
    error(r, 400, field, "out_of_range")
    assert counts() == before


# --- enum filters with an unknown value -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/customers?status=gone", "status"),
        ("/customers?balance_control=cash", "balance_control"),
        ("/customers?customer_type=vip", "customer_type"),
        ("/customers/{c}/xdrs?status=maybe", "status"),
        ("/customers/{c}/xdrs?service=fax", "service"),
        ("/customers/{c}/xdrs.csv?service=fax", "service"),
        ("/customers/{c}/statistics?status=x", "status"),
        ("/customers/{c}/subscriptions?status=paused", "status"),
        ("/periods?status=open", "status"),
    ],
)
def test_an_unknown_enum_filter_value_is_a_400_naming_the_parameter(api, prepaid, path, field):
    err = error(api.get(path.format(c=prepaid.pk)), 400, field)
    assert err["code"] == "invalid"


def test_an_empty_enum_filter_means_no_filter_and_known_values_filter(api, prepaid):
    r = api.get("/customers?status=&balance_control=")
    assert r.status_code == 200
    assert {c["name"] for c in r.json()["items"]} == {"Reseller A", "Reseller B", "Prepaid Pia"}
    r = api.get("/customers?balance_control=prepaid")
    assert [c["name"] for c in r.json()["items"]] == ["Prepaid Pia"]


# --- a reseller's user gets the same answers --------------------------------------------------


def test_a_resellers_user_gets_the_same_4xx(reseller_api):
    error(reseller_api.get(f"/customers?offset={HUGE}"), 400, "offset", "out_of_range")
    error(reseller_api.get("/customers?search=%00"), 400, "search")
    before = counts()
    error(reseller_api.post("/customer-classes", {"name": "A\x00"}), 400, "name")
    error(reseller_api.post("/customer-classes", {"name": "a retail"}), 400, "name", "duplicate")
    assert counts() == before


# --- /rest/: a fault naming the parameter, never internal_error -------------------------------


class Rest:
    def __init__(self, client):
        self.client = client
        r = self.call("Session", "login", {"login": "admin", "password": "admin-pass-1234"})
        assert r.status_code == 200, r.content
        self.token = r.json()["access_token"]

    def call(self, service, method, params=None, raw=None):
        data = raw if raw is not None else json.dumps({"params": params or {}})
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if hasattr(self, "token") else {}
        return self.client.post(
            f"/rest/{service}/{method}", data=data, content_type="application/json", **headers
        )


@pytest.fixture
def rest(client, world):
    return Rest(client)


def fault(response, code):
    assert response.status_code == 500, response.content
    body = response.json()
    assert set(body) == {"faultcode", "faultstring"}
    assert body["faultcode"] == code, body
    assert "internal" not in body["faultcode"]
    return body["faultstring"]


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("get_customer_info", {"i_customer": HUGE}, "out_of_range_i_customer"),
        ("get_customer_list", {"offset": HUGE}, "out_of_range_offset"),
        ("get_customer_list", {"limit": LOW}, "out_of_range_limit"),
        ("get_customer_list", {"i_customer_class": HUGE}, "out_of_range_i_customer_class"),
        ("get_customer_list", {"name": "a\x00%"}, "invalid_name"),
        (
            "add_customer",
            {"customer_info": {"name": "N\x00", "iso_4217": "USD"}},
            "invalid_customer_info_name",
        ),
        (
            "add_customer",
            {"customer_info": {"name": "Big", "i_parent": HUGE}},
            "out_of_range_customer_info_i_parent",
        ),
        (
            "update_customer",
            {"customer_info": {"i_customer": HUGE}},
            "out_of_range_customer_info_i_customer",
        ),
    ],
)
def test_rest_hostile_params_are_faults_naming_the_parameter(rest, method, params, code):
    before = counts()
    fault(rest.call("Customer", method, params), f"Client.Customer.{method}.{code}")
    assert counts() == before


def test_rest_lone_surrogates_and_nul_in_a_class_name(rest):
    before = counts()
    raw = '{"params": {"customer_class_info": {"name": "x\\udc00"}}}'
    r = rest.call("CustomerClass", "add_customer_class", raw=raw)
    faultstring = fault(
        r, "Client.CustomerClass.add_customer_class.invalid_text_customer_class_info_name"
    )
    assert "surrogate" in faultstring
    r = rest.call("CustomerClass", "get_customer_class_list", {"name": "\x00"})
    fault(r, "Client.CustomerClass.get_customer_class_list.invalid_name")
    assert counts() == before


def test_rest_deeply_nested_params_are_a_fault(rest):
    deep: dict = {}
    node = deep
    for _ in range(30):
        node["x"] = {}
        node = node["x"]
    r = rest.call("Customer", "get_customer_list", {"x": deep})
    fault(r, "Client.Customer.get_customer_list.too_deep_x")
    raw = '{"params": ' + "[" * 100_000 + "]" * 100_000 + "}"
    fault(
        rest.call("Customer", "get_customer_list", raw=raw),
        "Client.Customer.get_customer_list.invalid_params",
    )
    form = rest.client.post(
        "/rest/Customer/get_customer_list",
        data={"params": "{" * 50_000, "auth_info": json.dumps({"session_id": "x"})},
    )
    fault(form, "Client.Customer.get_customer_list.invalid_params")


def test_rest_deleting_a_customer_with_accounts_is_a_fault_with_the_reason(rest, api, prepaid):
    Customer.objects.filter(pk=prepaid.pk).update(balance=0)
    prepaid.transactions.all().delete()
    assert api.post(f"/customers/{prepaid.pk}/accounts", {"identifier": "+1555"}).status_code == 201
    before = counts()
    r = rest.call("Customer", "delete_customer", {"i_customer": prepaid.pk})
    text = fault(r, "Client.Customer.delete_customer.in_use_i_customer")
    assert "has 1 account(s) and cannot be deleted" in text
    assert counts() == before


def test_rest_names_are_unique_regardless_of_unicode_case(rest):
    info = {"customer_class_info": {"name": "Çay"}}
    r = rest.call("CustomerClass", "add_customer_class", info)
    assert r.status_code == 200, r.content
    before = counts()
    r = rest.call("CustomerClass", "add_customer_class", {"customer_class_info": {"name": "çAY"}})
    fault(r, "Client.CustomerClass.add_customer_class.duplicate_name")
    assert counts() == before


def test_rest_dates_outside_the_window_are_a_fault(rest, world):
    before = counts()
    info = {
        "i_customer": world["ra"].pk,
        "temp_credit_limit": "10",
        "credit_limit_until": "9999-12-31 00:00:00",
    }
    r = rest.call("Customer", "update_customer", {"customer_info": info})
    text = fault(r, "Client.Customer.update_customer.out_of_range_credit_limit_until")
    assert text == "credit_limit_until must lie between 1970-01-01 and 2100-01-01 (UTC)"
    world["ra"].refresh_from_db()
    assert world["ra"].temp_credit_limit is None
    assert counts() == before


# --- every operation declares its errors ------------------------------------------------------


def test_every_operation_declares_every_error_with_the_error_schema(client, db):
    document = client.get("/api/v1/openapi.json").json()
    error_ref = {"$ref": "#/components/schemas/Error"}
    operations = 0
    for path_item in document["paths"].values():
        for operation in path_item.values():
            operations += 1
            for status in ("400", "401", "403", "404", "409", "429"):
                declared = operation["responses"][status]
                assert declared["content"]["application/json"]["schema"] == error_ref
    assert operations >= 66
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert detail["required"] == ["code", "message", "field"]


def test_a_body_larger_than_django_accepts_is_a_json_400(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = api.post("/business-models", {"name": "x" * 2000})
    err = error(r, 400, None, "too_large")
    assert err["message"] == "the request body is larger than 1000 bytes"

"""The PortaBilling-compatible ``/rest/`` facade as real clients use it (issue 18), on SQLite
and PostgreSQL: the transports (path style, trailing slash, JWT access tokens,
change_password), then each public client's call sequence replayed in that client's style:
JSON + Bearer, form fields, or the path style
``/rest/<Service>/<method>/<auth_info JSON>/<params JSON>``."""

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import quote

import jwt
import pytest
from django.conf import settings

from billcore.accounts.tokens import create_token
from billcore.porta import mapping
from billcore.porta.models import PortaSession
from tests.e2e.porta_support import ADMIN, T0, decode, fault

D = Decimal


class Client:
    """One client in one style: ``json`` (body ``{"params"}`` + Bearer), ``form``
    (``auth_info`` + ``params`` fields) or ``path`` (both JSON values in the URL path)."""

    def __init__(self, http, style):
        self.http = http
        self.style = style
        self.session_id = None
        self.access_token = None
        self.refresh_token = None

    def send(self, service, method, params=None, *, auth_info=None, bearer=None, slash=False):
        path = f"/rest/{service}/{method}"
        if self.style == "path":
            auth = "" if auth_info is None else quote(json.dumps(auth_info), safe="")
            args = "" if params is None else quote(mapping.encode(params), safe="")
            return self.http.post(f"{path}/{auth}/{args}")
        if slash:
            path += "/"
        if self.style == "json":
            body = {} if params is None else {"params": params}
            if auth_info is not None:
                body["auth_info"] = auth_info
            headers = {"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}
            return self.http.post(
                path, data=mapping.encode(body), content_type="application/json", **headers
            )
        form = {}
        if params is not None:
            form["params"] = mapping.encode(params)
        if auth_info is not None:
            form["auth_info"] = json.dumps(auth_info)
        return self.http.post(path, data=form)

    def call(self, service, method, params=None):
        if self.style == "json":
            return self.send(service, method, params, bearer=self.access_token)
        return self.send(service, method, params, auth_info={"session_id": self.session_id})

    def ok(self, service, method, params=None):
        r = self.call(service, method, params)
        assert r.status_code == 200, r.content
        return decode(r)

    def login(self, params, *, slash=False):
        r = self.send("Session", "login", params, slash=slash)
        assert r.status_code == 200, r.content
        body = decode(r)
        self.session_id = body["session_id"]
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        return body


ADMIN_LOGIN = {"login": ADMIN[0], "password": ADMIN[1]}


# --- transports -------------------------------------------------------------------------------


def test_path_style_reads_each_json_value_by_its_structure(client, world, clock):
    """MR70-era scripts: ``Session/login//{...}``, then ``<Service>/<method>/{auth}/{params}``;
    a ``/`` inside the JSON (decoded from %2F by the server) is not a separator."""
    p = Client(client, "path")
    token = create_token(user=world["admin"], now=T0)
    p.login({"login": "admin", "token": token})
    created = p.ok(
        "Customer",
        "add_customer",
        {"customer_info": {"name": "A/B 1/2", "iso_4217": "USD", "i_balance_control_type": 1}},
    )
    info = p.ok("Customer", "get_customer_info", {"i_customer": created["i_customer"]})
    assert info["customer_info"]["name"] == "A/B 1/2"
    # Raw paths, as such a script writes them (unencoded slashes inside the JSON).
    raw = f'/rest/Customer/get_customer_list/{{"session_id": "{p.session_id}"}}/{{"name": "A/B%"}}'
    r = client.post(raw.replace("%", "%25"))
    assert r.status_code == 200, r.content
    assert [c["name"] for c in decode(r)["customer_list"]] == ["A/B 1/2"]
    # The trailing slash after the params, and no params at all, are fine.
    r = client.post(raw.replace("%", "%25") + "/")
    assert [c["name"] for c in decode(r)["customer_list"]] == ["A/B 1/2"]
    r = client.post(f'/rest/Customer/get_customer_list/{{"session_id": "{p.session_id}"}}')
    assert len(decode(r)["customer_list"]) == 3
    # An empty object or null as the auth_info segment is no auth_info.
    for auth in ("{}", "null"):
        r = client.post(
            f'/rest/Session/login/{auth}/{{"login": "admin", "password": "{ADMIN[1]}"}}'
        )
        assert set(decode(r)) == {"session_id", "access_token", "refresh_token", "expires_at"}
    # The body may carry the params when the path carries only the auth_info.
    r = client.post(
        f'/rest/Customer/get_customer_list/{{"session_id": "{p.session_id}"}}/',
        data={"params": '{"name": "Reseller%"}'},
    )
    assert [c["name"] for c in decode(r)["customer_list"]] == ["Reseller A", "Reseller B"]


def test_path_style_faults(client, world, clock):
    p = Client(client, "path")
    p.login(ADMIN_LOGIN)
    sid = p.session_id
    code = "Client.Customer.get_customer_list.invalid_params"
    assert fault(
        client.post(f'/rest/Customer/get_customer_list/{{"session_id": "{sid}"}}/{{bad'), code
    ).startswith("the params segment of the path is not valid JSON: ")
    fault(
        client.post(f'/rest/Customer/get_customer_list/{{"session_id": "{sid}"}}x/{{}}'),
        "Server.Session.check_auth.auth_failed",
        "the auth_info JSON in the path must be followed by '/' or the end of the path, not 'x/{}'",
    )
    fault(
        client.post(f'/rest/Customer/get_customer_list/{{"session_id": "{sid}"}}/{{}}/{{}}'),
        code,
        "a path-style call is /rest/<Service>/<method>/<auth_info JSON>/<params JSON>; "
        "unexpected text after the params: '{}'",
    )
    fault(
        client.post(
            f'/rest/Customer/get_customer_list/{{"session_id": "{sid}"}}/{{}}',
            data={"params": "{}"},
        ),
        code,
        "params is given both in the path and in the request body",
    )
    assert fault(
        client.post("/rest/Customer/get_customer_list/{nope/{}"),
        "Server.Session.check_auth.auth_failed",
    ).startswith("the auth_info segment of the path is not valid JSON: ")
    fault(
        client.post("/rest/Customer/get_customer_list/[1]/{}"),
        "Server.Session.check_auth.auth_failed",
        "auth_info must be a JSON object",
    )
    fault(
        client.post(f'/rest/Customer/get_customer_list/{{"session_id": "{sid}"}}/[1]'),
        code,
        "params must be a JSON object",
    )
    fault(
        client.post("/rest/Customer/get_customer_list//{}"), "Server.Session.check_auth.auth_failed"
    )


@pytest.mark.parametrize("style", ["json", "form"])
def test_a_trailing_slash_is_the_same_call(client, world, clock, style):
    p = Client(client, style)
    p.login(ADMIN_LOGIN, slash=True)
    if style == "json":
        r = p.send(
            "Customer", "get_customer_list", {"get_total": 1}, bearer=p.access_token, slash=True
        )
    else:
        r = p.send(
            "Customer",
            "get_customer_list",
            {"get_total": 1},
            auth_info={"session_id": p.session_id},
            slash=True,
        )
    assert decode(r)["total"] == 2


def test_the_access_token_is_a_jwt_that_dies_with_its_session(client, world, clock):
    p = Client(client, "json")
    body = p.login(ADMIN_LOGIN)
    claims = jwt.decode(
        body["access_token"],
        settings.SECRET_KEY,
        algorithms=["HS256"],
        options={"verify_exp": False},
    )
    session = PortaSession.objects.get()
    assert {k: claims[k] for k in ("sub", "login", "sid", "iat", "exp")} == {
        "sub": str(world["admin"].pk),
        "login": "admin",
        "sid": session.pk,
        "iat": int(T0.timestamp()),
        "exp": int((T0 + dt.timedelta(hours=1)).timestamp()),
    }
    assert body["expires_at"] == "2026-11-01 13:00:00"
    # Signed: a token with changed claims, or signed with another key, is refused.
    forged = jwt.encode(
        {**claims, "sid": session.pk}, "another-key-of-at-least-32-bytes!", algorithm="HS256"
    )
    for token in (forged, "not.a.jwt"):
        fault(
            p.send("Customer", "get_customer_list", {}, bearer=token),
            "Server.Session.check_auth.auth_failed",
            "the access token is not valid",
        )
    # A refresh replaces it at once.
    old = p.access_token
    r = p.send("Session", "refresh_access_token", {"refresh_token": p.refresh_token})
    p.access_token = decode(r)["access_token"]
    gone = (
        "the access token is no longer valid: its session ended (logout) or it was replaced "
        "by Session/refresh_access_token"
    )
    fault(
        p.send("Customer", "get_customer_list", {}, bearer=old),
        "Server.Session.check_auth.auth_failed",
        gone,
    )
    assert p.ok("Customer", "get_customer_list", {"get_total": 1})["total"] == 2
    # A logout ends it at once, though its exp is an hour away.
    assert decode(p.send("Session", "logout", {"access_token": p.access_token})) == {"success": 1}
    fault(
        p.call("Customer", "get_customer_list", {}), "Server.Session.check_auth.auth_failed", gone
    )
    assert PortaSession.objects.count() == 0


@pytest.mark.parametrize("style", ["json", "form", "path"])
def test_change_password(client, world, clock, style):
    p = Client(client, style)
    p.login({"login": "ua", "password": "pw-a-12345678"})
    other = Client(client, "json")
    other.login({"login": "ua", "password": "pw-a-12345678"})
    fault(
        p.call("Session", "change_password", {"old_password": "wrong", "new_password": "x"}),
        "Client.Session.change_password.wrong_old_password",
        "old_password is not the current password",
    )
    fault(
        p.call(
            "Session", "change_password", {"old_password": "pw-a-12345678", "new_password": "abc"}
        ),
        "Client.Session.change_password.weak_new_password",
        "This password is too short. It must contain at least 8 characters. "
        "This password is too common.",
    )
    fault(
        p.call(
            "Session",
            "change_password",
            {"login": "admin", "old_password": "pw-a-12345678", "new_password": "n3w-Secret-ua"},
        ),
        "Client.Session.change_password.wrong_login",
        "login: a user changes only their own password (the logged-in user's)",
    )
    world["ua"].refresh_from_db()
    assert world["ua"].check_password("pw-a-12345678")
    assert p.ok(
        "Session",
        "change_password",
        {"login": "ua", "password": "pw-a-12345678", "new_password": "n3w-Secret-ua"},
    ) == {"success": 1}
    world["ua"].refresh_from_db()
    assert world["ua"].check_password("n3w-Secret-ua")
    # The calling session goes on; the user's other sessions end.
    assert p.ok("Customer", "get_customer_list", {"get_total": 1})["total"] == 0
    fault(other.call("Customer", "get_customer_list", {}), "Server.Session.check_auth.auth_failed")
    fault(
        Client(client, "json").send(
            "Session", "login", {"login": "ua", "password": "pw-a-12345678"}
        ),
        "Server.Session.auth_failed",
        "wrong login or password",
    )


# --- the call sequences of real clients ---------------------------------------------------------


def _customers(admin, names, **extra):
    from billcore.ledger.customers import create_customer

    return [
        create_customer(
            actor=admin,
            now=T0,
            data={"name": n, "currency": "USD", "balance_control": "postpaid", **extra},
        ).pk
        for n in names
    ]


def test_operators_credit_limit_script(client, world, clock):
    """JSON + Bearer: login, page through ``name: "prefix%"`` 100 at a time until an empty
    page, raise each credit limit, read it back."""
    cls = world["classes"]["usd"].pk
    ids = _customers(world["admin"], [f"Corp-{i:03}" for i in range(105)], customer_class=cls)
    _customers(world["admin"], ["Other Co"], customer_class=cls)
    p = Client(client, "json")
    p.login({"login": "admin", "password": ADMIN[1]})
    seen, offset, pages = [], 0, 0
    while True:
        page = p.ok(
            "Customer", "get_customer_list", {"offset": offset, "limit": 100, "name": "Corp-%"}
        )["customer_list"]
        pages += 1
        if not page:
            break
        seen += [c["i_customer"] for c in page]
        offset += 100
    assert (pages, seen) == (3, ids)
    for i_customer in seen[:3] + seen[-1:]:
        reply = p.ok(
            "Customer",
            "update_customer",
            {"customer_info": {"i_customer": i_customer, "credit_limit": "250.75"}},
        )
        assert reply == {"i_customer": i_customer}
        info = p.ok("Customer", "get_customer_info", {"i_customer": i_customer})["customer_info"]
        assert (info["credit_limit"], info["perm_credit_limit"]) == (
            D("250.75000"),
            D("250.75000"),
        )
    untouched = p.ok("Customer", "get_customer_info", {"i_customer": seen[3]})["customer_info"]
    assert untouched["credit_limit"] is None


EXPORTED_RECORD = {
    # A customer record as the original exports it: billcore models some fields ...
    "name": "Imported Ltd",
    "iso_4217": "USD",
    "i_time_zone": 367,
    "companyname": "Imported Ltd",
    "firstname": "Eva",
    "lastname": "Dvořák",
    "baddr1": "Street 1/3",
    "city": "Brno",
    "zip": "60200",
    "country": "CZ",
    "phone1": "+420 5",
    "email": "eva@imported.example",
    "credit_limit": 500,
    "i_billing_period": 4,
    "send_statistics": "N",
    "blocked": "N",
    "bill_status": "O",
    "balance": "12.5",
    "creation_date": "2019-03-01 10:00:00",
    # ... and not others.
    "i_acl": 1,
    "i_lang": "en",
    "i_office_type": 1,
    "i_rep": None,
    "out_date_format": "YYYY-MM-DD",
    "out_time_format": "HH24:MI:SS",
    "in_date_format": "YYYY-MM-DD",
    "hidden": "N",
    "login": "imported",
    "password": "secret",
    "refnum": "R-17",
    "tax_id": "CZ123",
    "bcc": "",
    "cont1": "Eva",
    "faxnum": "",
    "i_distributor": None,
    "callshop_enabled": "N",
    "drm_enabled": "N",
}
IGNORED = (
    "ignored fields billcore does not model: bcc, callshop_enabled, cont1, drm_enabled, "
    "faxnum, hidden, i_acl, i_distributor, i_lang, i_office_type, i_rep, in_date_format, "
    "login, out_date_format, out_time_format, password, refnum, tax_id"
)
TZ_WARNING = (
    "i_time_zone 367 is a numeric PortaBilling time zone id, which billcore cannot translate "
    "(the original's ids are not public): it is stored and returned as given, and the customer "
    "is billed in the installation's default time zone, UTC. Send an IANA name (e.g. "
    "Europe/Prague) to bill in another zone."
)
POSTPAID = (
    "i_balance_control_type was not given: the customer is postpaid (i_balance_control_type 1)"
)


def test_operators_full_import_script(client, world, clock):
    """JSON + Bearer with a token login: a whole exported record, its account, a
    subscription, custom fields; then what billcore does not do faults clearly and the
    script goes on."""
    from billcore.installation.services import create_custom_field
    from billcore.subscriptions.services import create_plan

    create_custom_field(actor=world["admin"], now=T0, name="cost_center", label="Cost Center")
    plan = create_plan(
        actor=world["admin"], now=T0, data={"name": "Line", "currency": "USD", "fee": "9.99"}
    )
    p = Client(client, "json")
    p.login({"login": "admin", "token": create_token(user=world["admin"], now=T0)})
    reply = p.ok("Customer", "add_customer", {"customer_info": EXPORTED_RECORD})
    i_customer = reply["i_customer"]
    unapplied = (
        "read-only fields not applied (a new record starts without them; balances move only by "
        'transactions): balance (sent "12.5", is 0.00000), creation_date (sent "2019-03-01 '
        '10:00:00", is "2026-11-01 12:00:00")'
    )
    assert reply == {
        "i_customer": i_customer,
        "warnings": [TZ_WARNING, POSTPAID, IGNORED, unapplied],
    }
    info = p.ok("Customer", "get_customer_info", {"i_customer": i_customer})["customer_info"]
    assert {k: info[k] for k in ("name", "i_time_zone", "i_balance_control_type", "city")} == {
        "name": "Imported Ltd",
        "i_time_zone": 367,
        "i_balance_control_type": 1,
        "city": "Brno",
    }
    assert (info["credit_limit"], info["creation_date"]) == (D("500.00000"), "2026-11-01 12:00:00")
    reply = p.ok(
        "Account",
        "add_account",
        {"account_info": {"i_customer": i_customer, "id": "420541000001", "billing_model": 1}},
    )
    i_account = reply["i_account"]
    assert reply == {"i_account": i_account}
    reply = p.ok(
        "Account",
        "add_subscription",
        {
            "i_account": i_account,
            "subscription_info": {"i_subscription": plan.pk, "start_date": "2026-11-01"},
        },
    )
    assert set(reply) == {"i_account_subscription"}
    assert p.ok(
        "Account",
        "update_custom_fields_values",
        {
            "i_account": i_account,
            "custom_fields_values": [{"name": "Cost Center", "db_value": "CC/2026/7"}],
        },
    ) == {"success": 1}
    fault(
        p.call("Customer", "add_customer_extension", {"i_customer": i_customer, "id": "101"}),
        "Server.Customer.add_customer_extension.not_supported",
    )
    fault(
        p.call("Vendor", "add_vendor", {"vendor_info": {"name": "Carrier"}}),
        "Server.Vendor.add_vendor.not_supported",
    )
    values = p.ok("Account", "get_custom_fields_values", {"i_account": i_account})
    assert [(v["name"], v["db_value"]) for v in values["custom_fields_values"]] == [
        ("cost_center", "CC/2026/7")
    ]
    subs = p.ok("Account", "get_subscriptions", {"i_account": i_account})["subscriptions"]
    assert [(s["i_subscription"], s["start_date"], s["status"]) for s in subs] == [
        (plan.pk, "2026-11-01 12:00:00", "active")
    ]


def test_mr70_era_path_style_scripts(client, world, clock):
    """Both JSON values in the path: token login, customer info, every kind of
    make_transaction (CU-12; comments with dates, hence ``/``), invoices, xDRs."""
    from billcore.charging.services import charge, parse_usage

    (cid,) = _customers(
        world["admin"], ["Path Co"], customer_class=world["classes"]["usd"].pk, credit_limit="100"
    )
    at = dt.datetime(2026, 11, 1, 12, 5, tzinfo=dt.UTC)
    usage = parse_usage(service="voice", amount="3.3", quantity="60", started_at=at, now=at)
    xdr = charge(actor=world["admin"], now=at, customer_id=cid, usage=usage).xdr_id
    p = Client(client, "path")
    p.login({"login": "admin", "token": create_token(user=world["admin"], now=T0)})
    info = p.ok("Customer", "get_customer_info", {"i_customer": cid})["customer_info"]
    assert (info["name"], info["balance"]) == ("Path Co", D("3.30000"))
    balances = []
    for action, amount in (
        ("Manual charge", "10"),
        ("Manual payment", "5.5"),
        ("E-Commerce Payment", "2.25"),
        ("E-Commerce Refund", "1"),
        ("Promotional Credit", "0.55"),
    ):
        reply = p.ok(
            "Customer",
            "make_transaction",
            {
                "i_customer": cid,
                "action": action,
                "amount": amount,
                "visible_comment": f"{action} of 2026/11/01 (ref A/1)",
            },
        )
        assert set(reply) == {"balance", "transaction_id", "i_xdr"}
        balances.append(reply["balance"])
    assert balances == [
        D("13.30000"),
        D("7.80000"),
        D("5.55000"),
        D("6.55000"),
        D("6.00000"),
    ]
    from billcore.ledger.models import Transaction

    comments = (
        Transaction.objects.filter(customer_id=cid)
        .exclude(visible_comment="")
        .order_by("id")
        .values_list("visible_comment", flat=True)
    )
    assert comments.first() == "Manual charge of 2026/11/01 (ref A/1)"
    assert p.ok("Invoice", "get_invoice_list", {"i_customer": cid}) == {"invoice_list": []}
    from billcore.engine import run

    assert run(now=dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=dt.UTC), steps=["close"]).errors == []
    (invoice,) = p.ok("Invoice", "get_invoice_list", {"i_customer": cid})["invoice_list"]
    assert {
        k: invoice[k]
        for k in ("i_customer", "period_from", "period_to", "amount_net", "payments", "taxes")
    } == {
        "i_customer": cid,
        "period_from": "2026-11-01 12:00:00",
        "period_to": "2026-12-01 00:00:00",
        "amount_net": D("12.75000"),  # usage 3.30 + charge 10 - promotional credit 0.55
        "payments": D("-6.75000"),  # payments 5.50 + 2.25, refund 1
        "taxes": D("0.00000"),
    }
    xdrs = p.ok("Customer", "get_customer_xdrs", {"i_customer": cid, "from_date": "2026-11-01"})
    assert [(x["i_xdr"], x["charged_amount"]) for x in xdrs["xdr_list"]] == [(xdr, D("3.30000"))]


def test_n8n_integration_node(client, world, clock):
    """Form style with ``auth_info={"session_id"}``: login with a trailing slash, a customer,
    its custom fields (CU-11) as ``[{name, db_value}]`` with booleans as 1/0, xDRs,
    accounts."""
    from billcore.installation.services import create_custom_field

    create_custom_field(actor=world["admin"], now=T0, name="cost_center", label="Cost Center")
    create_custom_field(actor=world["admin"], now=T0, name="newsletter", label="Newsletter")
    p = Client(client, "form")
    p.login({"login": "admin", "password": ADMIN[1]}, slash=True)
    reply = p.ok(
        "Customer", "add_customer", {"customer_info": {"name": "N8N Co", "iso_4217": "USD"}}
    )
    cid = reply["i_customer"]
    assert reply == {"i_customer": cid, "warnings": [POSTPAID]}
    assert p.ok(
        "Customer",
        "update_customer",
        {"customer_info": {"i_customer": cid, "email": "a@n8n.example"}},
    ) == {"i_customer": cid}
    info = p.ok("Customer", "get_customer_info", {"i_customer": cid})["customer_info"]
    assert (info["email"], info["i_balance_control_type"], info["bill_status"]) == (
        "a@n8n.example",
        1,
        "O",
    )
    listed = p.ok("Customer", "get_customer_list", {"get_statuses": 1, "check_usage": 0})
    assert [c["name"] for c in listed["customer_list"]] == ["N8N Co", "Reseller A", "Reseller B"]
    assert p.ok(
        "Customer",
        "update_custom_fields_values",
        {
            "i_customer": cid,
            "custom_fields_values": [
                {"name": "Cost Center", "db_value": "Sales/EU"},
                {"name": "Newsletter", "db_value": 1},
            ],
        },
    ) == {"success": 1}
    values = p.ok("Customer", "get_custom_fields_values", {"i_customer": cid})
    assert [(v["name"], v["db_value"]) for v in values["custom_fields_values"]] == [
        ("cost_center", "Sales/EU"),
        ("newsletter", "1"),
    ]
    p.ok(
        "Customer",
        "update_custom_fields_values",
        {"i_customer": cid, "custom_fields_values": [{"name": "Newsletter", "db_value": 0}]},
    )
    values = p.ok("Customer", "get_custom_fields_values", {"i_customer": cid})
    assert [v["db_value"] for v in values["custom_fields_values"]] == ["Sales/EU", "0"]
    fault(
        p.call(
            "Customer",
            "update_custom_fields_values",
            {"i_customer": cid, "custom_fields_values": [{"name": "Newsletter", "db_value": [1]}]},
        ),
        "Client.Customer.update_custom_fields_values.invalid_custom_fields_values",
        "custom_fields_values[0].db_value must be text, a number, a boolean or null (got list)",
    )
    assert p.ok("Customer", "get_customer_xdrs", {"i_customer": cid}) == {"xdr_list": []}
    assert p.ok("Account", "get_account_list", {"i_customer": cid}) == {"account_list": []}


def test_php_client_library(client, world, clock):
    """JSON + Bearer: decodes the token's ``exp`` to know when to refresh, pings with the
    access token, refreshes, calls, logs out with the access token."""
    p = Client(client, "json")
    body = p.login({"login": "admin", "password": ADMIN[1]})
    exp = jwt.decode(body["access_token"], options={"verify_signature": False})["exp"]
    assert dt.datetime.fromtimestamp(exp, dt.UTC) == T0 + dt.timedelta(hours=1)
    ping = p.send("Session", "ping", {"access_token": p.access_token}, bearer=p.access_token)
    assert decode(ping) == {"user_id": world["admin"].pk}
    clock.advance(minutes=55)  # close to exp: the library refreshes
    r = p.send("Session", "refresh_access_token", {"refresh_token": p.refresh_token})
    refreshed = decode(r)
    assert refreshed["expires_at"] == "2026-11-01 13:55:00"
    new_exp = jwt.decode(refreshed["access_token"], options={"verify_signature": False})["exp"]
    assert new_exp == exp + 55 * 60
    p.access_token = refreshed["access_token"]
    assert p.ok("Customer", "get_customer_list", {"get_total": 1})["total"] == 2
    out = p.send("Session", "logout", {"access_token": p.access_token}, bearer=p.access_token)
    assert decode(out) == {"success": 1}
    fault(p.call("Customer", "get_customer_list", {}), "Server.Session.check_auth.auth_failed")
    assert decode(p.send("Session", "ping", {"access_token": p.access_token})) == {"user_id": 0}


def test_billing_middleware_blocks_an_account_with_retries(client, world, clock):
    from billcore.subscribers.services import create_account

    acc = create_account(
        actor=world["admin"], now=T0, customer_id=world["ra"].pk, data={"identifier": "+1"}
    )
    p = Client(client, "json")
    p.login({"login": "admin", "password": ADMIN[1]})
    for _ in range(3):
        reply = p.ok(
            "Account", "update_account", {"account_info": {"i_account": acc.pk, "blocked": "Y"}}
        )
        assert reply == {"i_account": acc.pk}
    info = p.ok("Account", "get_account_info", {"i_account": acc.pk})["account_info"]
    assert info["blocked"] == "Y"
    acc.refresh_from_db()
    assert acc.blocked is True


def test_payment_portal(client, world, clock):
    """Form fields with ``params`` only (the access token in the header), numbers as
    strings: customer info, a payment, the currencies."""
    (cid,) = _customers(
        world["admin"], ["Payer"], customer_class=world["classes"]["usd"].pk, credit_limit="100"
    )
    p = Client(client, "json")
    p.login({"login": "admin", "password": ADMIN[1]})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {p.access_token}"}

    def post(service, method, params):
        r = client.post(f"/rest/{service}/{method}", data={"params": json.dumps(params)}, **headers)
        assert r.status_code == 200, r.content
        return decode(r)

    info = post(
        "Customer",
        "get_customer_info",
        {"i_customer": str(cid), "detailed_info": 1, "get_auth_info": 1},
    )["customer_info"]
    assert (info["i_customer"], info["balance"]) == (cid, D("0.00000"))
    paid = post(
        "Customer",
        "make_transaction",
        {"i_customer": str(cid), "action": "Manual payment", "amount": "40"},
    )
    assert paid["balance"] == D("-40.00000")
    currencies = post("Currency", "get_currency_list", {})["currency_list"]
    assert {"iso_4217": "USD", "name": "US Dollar", "decimal_digits": 2} in currencies

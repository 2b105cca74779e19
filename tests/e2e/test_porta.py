"""The PortaBilling-compatible facade ``POST /rest/<Service>/<method>`` over HTTP, on SQLite
and PostgreSQL. Every method runs in both request styles: a JSON body with
``Authorization: Bearer <access_token>``, and form fields ``auth_info`` (session id) and
``params``. Faults are HTTP 500 ``{"faultcode", "faultstring"}``."""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from axes.models import AccessAttempt

from billcore.accounts.tokens import create_token
from billcore.audit.models import AuditEntry
from billcore.classes.models import CustomerClass
from billcore.customers import lifecycle
from billcore.customers.models import Customer
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.services import create_custom_field
from billcore.ledger.models import Transaction
from billcore.porta import mapping
from billcore.porta.models import PortaSession
from tests.e2e.porta_support import ADMIN, T0, Porta, decode, fault

D = Decimal


def add(porta, **info):
    info.setdefault("iso_4217", "USD")
    info.setdefault("i_balance_control_type", 1)
    return porta.ok("Customer", "add_customer", {"customer_info": info})["i_customer"]


def info_of(porta, i_customer):
    return porta.ok("Customer", "get_customer_info", {"i_customer": i_customer})["customer_info"]


# --- Session ----------------------------------------------------------------------------------


def test_login_returns_session_tokens_and_utc_expiry_storing_only_digests(
    client, world, clock, style
):
    p = Porta(client, style)
    body = p.login(*ADMIN)
    assert set(body) == {"session_id", "access_token", "refresh_token", "expires_at"}
    assert body["expires_at"] == "2026-11-01 13:00:00"
    row = PortaSession.objects.get()

    def sha(secret):
        return hashlib.sha256(secret.encode()).hexdigest()

    assert (row.session_digest, row.access_digest, row.refresh_digest) == (
        sha(body["session_id"]),
        sha(body["access_token"]),
        sha(body["refresh_token"]),
    )
    stored = " ".join(str(v) for v in PortaSession.objects.values().get().values())
    for secret in (body["session_id"], body["access_token"], body["refresh_token"]):
        assert secret not in stored
    assert (row.access_expires_at, row.refresh_expires_at) == (
        T0 + dt.timedelta(hours=1),
        T0 + dt.timedelta(hours=24),
    )
    assert p.ok("Session", "ping", {}) == {"user_id": world["admin"].pk}


def test_login_with_an_api_token(client, world, clock, style):
    p = Porta(client, style)
    token = create_token(user=world["admin"], now=T0)
    r = p.send("Session", "login", {"login": "admin", "token": token})
    assert r.status_code == 200, r.content
    p.access_token, p.session_id = decode(r)["access_token"], decode(r)["session_id"]
    assert p.ok("Customer", "get_customer_list", {"get_total": 1})["total"] == 2
    fault(
        p.send("Session", "login", {"login": "ua", "token": token}),
        "Server.Session.auth_failed",
        "wrong login or token",
    )
    fault(
        p.send("Session", "login", {"login": "admin", "password": "nope"}),
        "Server.Session.auth_failed",
        "wrong login or password",
    )
    fault(
        p.send("Session", "login", {"login": "admin"}),
        "Server.Session.auth_failed",
        "login and password (or login and token) are required",
    )


def test_every_call_may_carry_login_and_password_or_token_in_auth_info(client, world, clock):
    p = Porta(client, "form")
    token = create_token(user=world["ua"], now=T0)
    for auth in ({"login": "admin", "password": ADMIN[1]}, {"login": "ua", "token": token}):
        r = p.send("Customer", "get_customer_list", {"get_total": 1}, auth_info=auth)
        assert r.status_code == 200, r.content
    names = [c["name"] for c in decode(r)["customer_list"]]
    assert names == []  # reseller A has no customers yet
    fault(
        p.send("Customer", "get_customer_list", {}, auth_info={"login": "admin", "password": "x"}),
        "Server.Session.check_auth.auth_failed",
        "wrong login or password",
    )
    fault(
        p.send("Customer", "get_customer_list", {}, auth_info={"foo": 1}),
        "Server.Session.check_auth.auth_failed",
        "auth_info needs session_id, or login and password (or token)",
    )


def test_invalid_or_missing_credentials_fault(porta):
    bogus = Porta(porta.client, porta.style)
    bogus.session_id = bogus.access_token = "not-a-session"
    expected = (
        "the access token is not valid"
        if porta.style == "json"
        else "the session is not valid or has expired; log in again"
    )
    fault(
        bogus.call("Customer", "get_customer_list", {}),
        "Server.Session.check_auth.auth_failed",
        expected,
    )
    fault(
        porta.send("Customer", "get_customer_list", {}),
        "Server.Session.check_auth.auth_failed",
        "not authenticated: send 'Authorization: Bearer <access_token>' or auth_info",
    )


def test_expired_access_token_faults_and_refresh_gives_a_new_one(porta, clock):
    clock.advance(hours=1)
    if porta.style == "json":
        fault(
            porta.call("Customer", "get_customer_list", {}),
            "Server.Session.check_auth.auth_failed",
            "the access token expired at 2026-11-01 13:00:00 UTC; get a new one with "
            "Session/refresh_access_token",
        )
    else:  # the session id lives as long as the refresh token
        assert porta.ok("Customer", "get_customer_list", {"get_total": 1})["total"] == 2
    old_refresh = porta.refresh_token
    r = porta.send("Session", "refresh_access_token", {"refresh_token": old_refresh})
    assert r.status_code == 200, r.content
    body = decode(r)
    assert set(body) == {"access_token", "refresh_token", "expires_at"}
    assert body["expires_at"] == "2026-11-01 14:00:00"
    assert body["access_token"] != porta.access_token
    assert body["refresh_token"] != old_refresh
    porta.access_token, porta.refresh_token = body["access_token"], body["refresh_token"]
    assert porta.ok("Customer", "get_customer_list", {"get_total": 1})["total"] == 2
    fault(
        porta.send("Session", "refresh_access_token", {"refresh_token": old_refresh}),
        "Server.Session.auth_failed",
        "the refresh token is invalid or expired; log in again",
    )
    # The refresh token (and the session id) live 24 hours from the last refresh.
    clock.advance(hours=24)
    fault(porta.call("Customer", "get_customer_list", {}), "Server.Session.check_auth.auth_failed")
    fault(
        porta.send("Session", "refresh_access_token", {"refresh_token": porta.refresh_token}),
        "Server.Session.auth_failed",
        "the refresh token is invalid or expired; log in again",
    )
    fault(
        porta.send("Session", "refresh_access_token", {}),
        "Server.Session.auth_failed",
        "refresh_token is required",
    )


def test_ping_and_logout(porta, world):
    assert porta.ok("Session", "ping", {}) == {"user_id": world["admin"].pk}
    assert porta.send("Session", "ping", {"session_id": porta.session_id}).json() == {
        "user_id": world["admin"].pk
    }
    assert decode(porta.send("Session", "ping", {"session_id": "nope"})) == {"user_id": 0}
    assert porta.ok("Session", "logout", {}) == {"success": 1}
    assert PortaSession.objects.count() == 0
    fault(porta.call("Customer", "get_customer_list", {}), "Server.Session.check_auth.auth_failed")
    assert porta.ok("Session", "ping", {}) == {"user_id": 0}
    fault(
        porta.call("Session", "logout", {}),
        "Server.Session.check_auth.auth_failed",
        "no valid session to log out of",
    )
    other = Porta(porta.client, porta.style)
    other.login(*ADMIN)
    r = porta.send("Session", "logout", {"access_token": other.access_token})
    assert decode(r) == {"success": 1}
    assert PortaSession.objects.count() == 0


LOCKED = (
    "login 'admin' is locked after 5 failed attempts from 127.0.0.1; try again after "
    "2026-11-01 12:19:00 UTC"
)


def test_five_failed_logins_lock_the_login_from_that_address_for_15_minutes(
    client, world, clock, style
):
    p = Porta(client, style)
    wrong = {"login": "admin", "password": "wrong"}
    for _ in range(4):
        fault(
            p.send("Session", "login", wrong),
            "Server.Session.auth_failed",
            "wrong login or password",
        )
        clock.advance(minutes=1)
    fault(p.send("Session", "login", wrong), "Server.Session.auth_failed", LOCKED)
    right = {"login": "admin", "password": ADMIN[1]}
    fault(p.send("Session", "login", right), "Server.Session.auth_failed", LOCKED)
    if style == "form":
        r = p.send("Customer", "get_customer_list", {}, auth_info=right)
        fault(r, "Server.Session.check_auth.auth_failed", LOCKED)
    # Another login is not affected.
    assert (
        p.send("Session", "login", {"login": "ua", "password": "pw-a-12345678"}).status_code == 200
    )
    clock.advance(minutes=15)
    fault(p.send("Session", "login", right), "Server.Session.auth_failed", LOCKED)
    clock.advance(seconds=1)
    assert p.send("Session", "login", right).status_code == 200
    assert AccessAttempt.objects.filter(username="admin").count() == 0


def test_failures_spread_beyond_the_window_or_reset_by_success_do_not_lock(client, world, clock):
    p = Porta(client, "json")
    wrong = {"login": "admin", "password": "wrong"}
    right = {"login": "admin", "password": ADMIN[1]}
    for _ in range(4):
        fault(
            p.send("Session", "login", wrong),
            "Server.Session.auth_failed",
            "wrong login or password",
        )
    assert p.send("Session", "login", right).status_code == 200  # resets the count
    for _ in range(4):
        fault(
            p.send("Session", "login", wrong),
            "Server.Session.auth_failed",
            "wrong login or password",
        )
    clock.advance(minutes=15, seconds=1)  # the window of those 4 is over
    for _ in range(4):
        fault(
            p.send("Session", "login", wrong),
            "Server.Session.auth_failed",
            "wrong login or password",
        )
    assert p.send("Session", "login", right).status_code == 200
    # Unknown logins are throttled too (no hint whether a login exists).
    for _ in range(5):
        r = p.send("Session", "login", {"login": "ghost", "password": "x"})
    fault(
        r,
        "Server.Session.auth_failed",
        "login 'ghost' is locked after 5 failed attempts from 127.0.0.1; try again after "
        "2026-11-01 12:30:01 UTC",
    )


def test_unknown_service_method_and_path_and_get_are_faults(porta):
    fault(
        porta.call("Nope", "x", {}),
        "Server.Nope.unknown_service",
        "no such service 'Nope'; services: Session, Customer, CustomerClass, Account, Invoice, "
        "Currency, Tariff, Rate, Product, DiscountPlan, VolumeDiscountPlan, DID",
    )
    fault(
        porta.call("Customer", "fly", {}),
        "Server.Customer.unknown_method",
        "Customer has no method 'fly'",
    )
    r = porta.client.post("/rest/Customer", data={})
    fault(
        r,
        "Server.Request.unknown_method",
        "no such API method /rest/Customer; calls are POST /rest/<Service>/<method>",
    )
    fault(porta.client.post("/rest/a/b/c", data={}), "Server.a.unknown_service")
    fault(
        porta.client.get("/rest/Customer/get_customer_list"),
        "Client.Customer.get_customer_list.post_required",
        "API calls use HTTP POST",
    )


def test_bad_params_json_is_a_fault_and_empty_params_are_allowed(porta):
    code = "Client.Customer.get_customer_list.invalid_params"
    string = fault(porta.call("Customer", "get_customer_list", raw="{bad", params={}), code)
    assert string.startswith(
        "the request body is not valid JSON: "
        if porta.style == "json"
        else "params is not valid JSON: "
    )
    fault(
        porta.call("Customer", "get_customer_list", params={}, raw="[1]"),
        code,
        'the request body must be a JSON object {"params": {...}}'
        if porta.style == "json"
        else "params must be a JSON object",
    )
    fault(
        porta.call("Customer", "get_customer_list", params={}, raw='{"params": [1]}')
        if porta.style == "json"
        else porta.call("Customer", "get_customer_list", params={}, raw='"text"'),
        code,
        "params must be a JSON object",
    )
    fault(
        porta.call("Customer", "get_customer_list", params={}, raw='{"params": {"a": NaN}}')
        if porta.style == "json"
        else porta.call("Customer", "get_customer_list", params={}, raw='{"a": NaN}'),
        code,
    )
    for params in (None, {}):
        listed = porta.ok("Customer", "get_customer_list", params)["customer_list"]
        assert [c["name"] for c in listed] == ["Reseller A", "Reseller B"]


def test_malformed_auth_info_is_an_auth_fault(client, world, clock, style):
    p = Porta(client, style)
    path = "/rest/Customer/get_customer_list"
    if style == "json":
        r = client.post(path, data='{"auth_info": "{bad"}', content_type="application/json")
    else:
        r = client.post(path, data={"auth_info": "{bad"})
    assert fault(r, "Server.Session.check_auth.auth_failed").startswith(
        "auth_info is not valid JSON: "
    )
    r = p.send("Customer", "get_customer_list", {}, auth_info=[1])
    fault(r, "Server.Session.check_auth.auth_failed", "auth_info must be a JSON object")


# --- Customer: records and the sign convention -----------------------------------------------


def test_prepaid_customer_record_sign_convention_and_unknown_fields_ignored(porta, world):
    cid = add(
        porta,
        name="Prepaid One",
        i_balance_control_type=2,
        opening_balance=D("-100.1"),
        credit_limit=0,
        companyname="ACME s.r.o.",
        firstname="Jana",
        lastname="Nováková",
        baddr1="Main 1",
        baddr2="Floor 2",
        city="Praha",
        state="CZ-10",
        zip="11000",
        country="CZ",
        phone1="+420 123",
        email="jana@example.com",
        note="VIP",
        i_billing_period=2,
        i_time_zone="Europe/Prague",
        send_statistics="S",
        blocked="N",
        # fields billcore does not model: ignored
        i_acl=7,
        out_date_format="YYYY-MM-DD",
        i_customer=999,
        balance=D("12.5"),
        bill_status="C",
        subscriptions=[{"i_product": 1}],
    )
    r = porta.call("Customer", "get_customer_info", {"i_customer": cid})
    assert b'"balance": -100.10000' in r.content  # a JSON number with its exact digits
    info = decode(r)["customer_info"]
    assert info == {
        "i_customer": cid,
        "name": "Prepaid One",
        "iso_4217": "USD",
        "i_customer_class": CustomerClass.objects.get(is_default=True).pk,
        "i_parent": None,
        "i_customer_type": 1,
        "i_balance_control_type": 2,
        "balance": D("-100.10000"),
        "opening_balance": D("-100.10000"),
        "credit_limit": D("0.00000"),
        "perm_credit_limit": D("0.00000"),
        "temp_credit_limit": None,
        "credit_limit_until": None,
        "credit_exceed": "N",
        "bill_status": "O",
        "blocked": "N",
        "bill_suspension_delayed": "N",
        "suspension_delay_date": None,
        "terminate_on": None,
        "restore_on": None,
        "i_billing_period": 2,
        "billed_to": None,
        "next_billed_to": None,
        "i_time_zone": "Europe/Prague",
        "i_template": None,
        "send_statistics": "S",
        "companyname": "ACME s.r.o.",
        "firstname": "Jana",
        "lastname": "Nováková",
        "baddr1": "Main 1",
        "baddr2": "Floor 2",
        "city": "Praha",
        "state": "CZ-10",
        "zip": "11000",
        "country": "CZ",
        "phone1": "+420 123",
        "email": "jana@example.com",
        "note": "VIP",
        "creation_date": "2026-11-01 12:00:00",
    }
    customer = Customer.objects.get(pk=cid)
    assert (customer.balance, customer.available_funds) == (D("-100.10000"), D("100.10000"))
    # Spending more than the funds: balance above 0 = past the (zero) prepaid limit.
    r = porta.ok(
        "Customer",
        "make_transaction",
        {"i_customer": cid, "action": "Manual charge", "amount": D("100.2")},
    )
    assert r["balance"] == D("0.10000")
    info = info_of(porta, cid)
    assert (info["balance"], info["credit_exceed"]) == (D("0.10000"), "Y")


def test_postpaid_limits_exact_decimals_and_transactions(porta):
    cid = add(porta, name="Post", credit_limit=500)
    info = info_of(porta, cid)
    assert (info["i_balance_control_type"], info["credit_limit"], info["perm_credit_limit"]) == (
        1,
        D("500.00000"),
        D("500.00000"),
    )
    assert (info["balance"], info["opening_balance"], info["credit_exceed"]) == (
        D("0.00000"),
        D("0.00000"),
        "N",
    )
    steps = [
        ("Manual charge", D("0.1"), D("0.10000")),
        ("manual charge", D("0.2"), D("0.30000")),
        ("MANUAL PAYMENT", "0.3", D("0.00000")),
        ("Promotional credit", 1, D("-1.00000")),
        ("e-commerce payment", D("2.00001"), D("-3.00001")),
        ("Refund", D("3.00001"), D("0.00000")),
        ("E-commerce refund", D("500"), D("500.00000")),
        ("Manual credit", D("0.00001"), D("499.99999")),
    ]
    for action, amount, balance in steps:
        r = porta.ok(
            "Customer",
            "make_transaction",
            {
                "i_customer": cid,
                "action": action,
                "amount": amount,
                "visible_comment": "seen",
                "internal_comment": "hidden",
            },
        )
        tx = Transaction.objects.get(pk=r["transaction_id"])
        assert r == {"balance": balance, "transaction_id": tx.pk, "i_xdr": tx.pk}
        assert (tx.balance_after, tx.visible_comment, tx.internal_comment) == (
            balance,
            "seen",
            "hidden",
        )
    assert info_of(porta, cid)["credit_exceed"] == "N"
    porta.ok(
        "Customer", "make_transaction", {"i_customer": cid, "action": "Manual charge", "amount": 1}
    )
    info = info_of(porta, cid)
    assert (info["balance"], info["credit_exceed"]) == (D("500.99999"), "Y")


def test_make_transaction_transaction_id_is_idempotent_and_bad_values_fault(porta):
    cid = add(porta, name="Payer")
    params = {
        "i_customer": cid,
        "action": "Manual payment",
        "amount": "10",
        "transaction_id": "pay-1",
    }
    first = porta.ok("Customer", "make_transaction", params)
    assert porta.ok("Customer", "make_transaction", params) == first
    assert first["balance"] == D("-10.00000")
    assert Transaction.objects.filter(customer_id=cid).count() == 1
    fault(
        porta.call("Customer", "make_transaction", {**params, "amount": "11"}),
        "Client.Customer.make_transaction.duplicate_transaction_id",
        "transaction_id: Idempotency-Key was already used for a different transaction",
    )
    fault(
        porta.call(
            "Customer", "make_transaction", {"i_customer": cid, "action": "Gift", "amount": 1}
        ),
        "Client.Customer.make_transaction.invalid_choice_action",
    )
    fault(
        porta.call(
            "Customer",
            "make_transaction",
            {"i_customer": cid, "action": "Manual charge", "amount": 0},
        ),
        "Client.Customer.make_transaction.invalid_amount",
        "amount must be greater than 0",
    )
    fault(
        porta.call(
            "Customer",
            "make_transaction",
            {"i_customer": cid, "action": "Manual charge", "amount": D("0.000001")},
        ),
        "Client.Customer.make_transaction.invalid_amount",
        "amount: more than 5 decimal places",
    )
    fault(
        porta.call("Customer", "make_transaction", {"action": "Manual charge", "amount": 1}),
        "Client.Customer.make_transaction.required_i_customer",
        "i_customer is required",
    )
    assert Transaction.objects.filter(customer_id=cid).count() == 1
    auth = {"i_customer": cid, "action": "authorization only", "amount": 5}
    assert porta.ok("Customer", "make_transaction", auth)["balance"] == D("-10.00000")
    fault(
        porta.call(
            "Customer",
            "make_transaction",
            {"i_customer": cid, "action": "Capture payment", "amount": 5},
        ),
        "Client.Customer.make_transaction.required_reference",
        "reference: a capture payment names the authorisation it follows",
    )
    assert Transaction.objects.filter(customer_id=cid).count() == 2


# --- Customer: wrong values name the field ---------------------------------------------------

WRONG = [
    (
        {"credit_limit": "abc"},
        "invalid_credit_limit",
        "credit_limit: not a plain decimal number (expected e.g. '12.5' or '-3')",
    ),
    (
        {"credit_limit": -1},
        "invalid_credit_limit",
        "credit_limit must be at least 0",
    ),
    (
        {"i_balance_control_type": 3},
        "invalid_i_balance_control_type",
        "i_balance_control_type must be 1 (postpaid) or 2 (prepaid) (got 3)",
    ),
    (
        {"i_customer_type": 5},
        "invalid_i_customer_type",
        "i_customer_type must be 1 (retail) or 2 (reseller) (got 5)",
    ),
    ({"blocked": "X"}, "invalid_blocked", "blocked must be 'Y' or 'N' (got 'X')"),
    (
        {"send_statistics": "Q"},
        "invalid_send_statistics",
        "send_statistics must be F (full), S (summary), N (none) or null (the class's value); "
        "got 'Q'",
    ),
    (
        {"i_time_zone": D("5.5")},
        "invalid_i_time_zone",
        "i_time_zone must be an IANA time zone name or a whole number (got 5.5)",
    ),
    (
        {"i_time_zone": "Mars/Base"},
        "invalid_i_time_zone",
        "i_time_zone: 'Mars/Base' is not an IANA time zone (e.g. Europe/Prague)",
    ),
    (
        {"i_billing_period": 9},
        "invalid_choice_i_billing_period",
        "i_billing_period must be 1 (daily), 2 (weekly), 3 (semi-monthly), 4 (monthly), "
        "5 (monthly anniversary) or 6 (30 days)",
    ),
    ({"name": ""}, "required_name", "name is required"),
    (
        {"iso_4217": "XXX"},
        "unknown_currency",
        "iso_4217: 'XXX' is not an ISO 4217 currency code",
    ),
    (
        {"i_balance_control_type": 2, "credit_limit": 10},
        "not_applicable_credit_limit",
        "credit_limit applies only to postpaid customers (CU-07); a prepaid customer has "
        "available funds instead",
    ),
    (
        {"i_balance_control_type": 2, "opening_balance": 5},
        "invalid_opening_balance",
        "opening_balance: available_funds must be at least 0 (opening_balance is the "
        "negative of a prepaid customer's opening funds: -100 means 100 of funds)",
    ),
    (
        {"opening_balance": -5},
        "not_applicable_opening_balance",
        "opening_balance: available_funds applies only to prepaid customers (CU-08); a postpaid "
        "customer has a credit limit instead (opening_balance is the negative of a prepaid "
        "customer's opening funds: -100 means 100 of funds)",
    ),
    (
        {"i_customer_class": 99999},
        "not_found_i_customer_class",
        "i_customer_class: class 99999 not found",
    ),
    (
        {"country": "ZZ"},
        "unknown_country",
        "country: 'ZZ' is not an ISO 3166-1 alpha-2 code (e.g. US, DE)",
    ),
    ({"email": "nope"}, "invalid_email", "email is not a valid e-mail address"),
    (
        {"credit_limit_until": "tomorrow"},
        "invalid_credit_limit_until",
        "credit_limit_until must be a UTC date-time 'YYYY-MM-DD HH:MM:SS' (got 'tomorrow')",
    ),
    (
        {"name": "Reseller A"},
        "duplicate_name",
        "name: a customer named 'Reseller A' already exists (names are unique regardless of "
        "letter case)",
    ),
]


@pytest.mark.parametrize(("bad", "reason", "string"), WRONG)
def test_wrong_values_fault_naming_the_field_and_save_nothing(porta, bad, reason, string):
    before = (Customer.objects.count(), AuditEntry.objects.count())
    info = {"name": "New", "iso_4217": "USD", "i_balance_control_type": 1, **bad}
    for method in ("add_customer", "validate_customer_info"):
        r = porta.call("Customer", method, {"customer_info": info})
        fault(r, f"Client.Customer.{method}.{reason}", string)
    assert (Customer.objects.count(), AuditEntry.objects.count()) == before


def test_customer_info_param_is_required(porta):
    fault(
        porta.call("Customer", "add_customer", {"customer_info": [1]}),
        "Client.Customer.add_customer.required_customer_info",
        "customer_info is required (an object)",
    )


def test_validate_customer_info_saves_nothing(porta):
    before = (Customer.objects.count(), AuditEntry.objects.count(), Transaction.objects.count())
    info = {"name": "Valid", "iso_4217": "EUR", "i_balance_control_type": 2, "opening_balance": -5}
    assert porta.ok("Customer", "validate_customer_info", {"customer_info": info}) == {"success": 1}
    after = (Customer.objects.count(), AuditEntry.objects.count(), Transaction.objects.count())
    assert after == before
    cid = add(porta, name="Existing")
    before = Customer.objects.get(pk=cid).updated_at
    ok = {"customer_info": {"i_customer": cid, "companyname": "Changed"}}
    assert porta.ok("Customer", "validate_customer_info", ok) == {"success": 1}
    assert info_of(porta, cid)["companyname"] == ""
    bad = {"customer_info": {"i_customer": cid, "iso_4217": "EUR"}}
    fault(
        porta.call("Customer", "validate_customer_info", bad),
        "Client.Customer.validate_customer_info.immutable_iso_4217",
        "iso_4217 cannot be changed once the customer is saved (CU-06)",
    )
    assert Customer.objects.get(pk=cid).updated_at == before


# --- Customer: lookups, lists, visibility ------------------------------------------------------


def test_get_customer_info_by_id_name_login_and_refnum(porta, world):
    cid = add(porta, name="Lookup Me")

    def by(**params):
        return porta.ok("Customer", "get_customer_info", params)["customer_info"]["i_customer"]

    assert by(i_customer=cid) == by(name="Lookup Me") == by(login="Lookup Me") == cid
    fault(
        porta.call("Customer", "get_customer_info", {"name": "lookup me"}),
        "Client.Customer.get_customer_info.not_found_name",
        "name: no customer named 'lookup me'",
    )
    fault(
        porta.call("Customer", "get_customer_info", {"login": "Nobody"}),
        "Client.Customer.get_customer_info.not_found_login",
        "login: no customer named 'Nobody'",
    )
    fault(
        porta.call("Customer", "get_customer_info", {"refnum": "R-1"}),
        "Client.Customer.get_customer_info.not_supported_refnum",
        "refnum: billcore keeps no reference numbers for customers; look a customer up by "
        "i_customer, name or login",
    )
    fault(
        porta.call("Customer", "get_customer_info", {}),
        "Client.Customer.get_customer_info.required_i_customer",
        "i_customer, name or login is required",
    )
    fault(
        porta.call("Customer", "get_customer_info", {"i_customer": 99999}),
        "Client.Customer.get_customer_info.not_found_i_customer",
        "i_customer: customer 99999 not found",
    )
    fault(
        porta.call("Customer", "get_customer_info", {"i_customer": "x"}),
        "Client.Customer.get_customer_info.invalid_i_customer",
        "i_customer must be a whole number",
    )


def _b_customer(world):
    from billcore.ledger.customers import create_customer

    return create_customer(
        actor=world["ub"],
        now=T0,
        data={
            "name": "B Sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["b"].pk,
        },
    ).pk


OTHERS = [
    ("get_customer_info", {}),
    ("update_customer", None),
    ("terminate_customer", {}),
    ("delete_customer", {}),
    ("suspend_customer", {}),
    ("unsuspend_customer", {}),
    ("make_transaction", {"action": "Manual charge", "amount": 1}),
    ("get_status_history", {}),
    ("get_custom_fields_values", {}),
    ("update_custom_fields_values", {"custom_fields_values": []}),
]


@pytest.mark.parametrize(("method", "extra"), OTHERS)
def test_another_resellers_customer_gives_the_same_fault_as_a_missing_one(
    porta_a, world, method, extra
):
    theirs = _b_customer(world)
    missing = theirs + 1000

    def ask(cid):
        if extra is None:
            params = {"customer_info": {"i_customer": cid, "note": "x"}}
        else:
            params = {"i_customer": cid, **extra}
        r = porta_a.call("Customer", method, params)
        return fault(r, f"Client.Customer.{method}.not_found_i_customer")

    assert ask(theirs) == f"i_customer: customer {theirs} not found"
    assert ask(missing) == f"i_customer: customer {missing} not found"
    assert Customer.objects.get(pk=theirs).note == ""


def test_a_resellers_user_sees_and_creates_only_its_own_customers(porta_a, world):
    _b_customer(world)
    cid = add(porta_a, name="A Sub", i_customer_class=world["classes"]["a"].pk)
    listed = porta_a.ok("Customer", "get_customer_list", {"get_total": 1})
    assert [c["name"] for c in listed["customer_list"]] == ["A Sub"]
    assert listed["total"] == 1
    assert info_of(porta_a, cid)["i_parent"] == world["ra"].pk
    fault(
        porta_a.call("Customer", "get_customer_info", {"name": "B Sub"}),
        "Client.Customer.get_customer_info.not_found_name",
        "name: no customer named 'B Sub'",
    )
    fault(
        porta_a.call(
            "Customer",
            "add_customer",
            {"customer_info": {"name": "No Class", "iso_4217": "USD", "i_balance_control_type": 1}},
        ),
        "Client.Customer.add_customer.required_i_customer_class",
        "i_customer_class is required",
    )


NAMES = ["Alpha One", "Alpha Two", "Beta_1", "Beta11", "100% Fibre", "Gamma"]


def test_get_customer_list_name_is_an_sql_like_pattern(porta):
    for name in NAMES:
        add(porta, name=name)

    def names(pattern):
        body = porta.ok("Customer", "get_customer_list", {"name": pattern})
        return sorted(c["name"] for c in body["customer_list"])  # collations order "_" apart

    assert names("alpha%") == ["Alpha One", "Alpha Two"]  # case-insensitive, like MySQL
    assert names("%TWO") == ["Alpha Two"]
    assert names("Beta_1") == ["Beta11", "Beta_1"]
    assert names("Beta\\_1") == ["Beta_1"]
    assert names("_eta%") == ["Beta11", "Beta_1"]
    assert names("100\\%%") == ["100% Fibre"]
    assert names("%a%") == ["Alpha One", "Alpha Two", "Beta11", "Beta_1", "Gamma", "Reseller A"]
    assert names("Gamma") == ["Gamma"]
    assert names("Gam") == []
    assert names("%.%") == []  # regular-expression characters are literal
    assert names("(%") == []


def test_get_customer_list_filters_paging_and_statuses(porta, world):
    ids = {name: add(porta, name=name) for name in ("C1", "C2", "C3", "C4", "C5")}
    eur = porta.ok(
        "CustomerClass",
        "add_customer_class",
        {"customer_class_info": {"name": "EUR class", "iso_4217": "EUR"}},
    )["i_customer_class"]
    ids["E1"] = add(porta, name="E1", iso_4217="EUR", i_customer_class=eur)
    admin = world["admin"]
    porta.ok("Customer", "suspend_customer", {"i_customer": ids["C2"]})
    porta.ok("Customer", "terminate_customer", {"i_customer": ids["C3"]})
    lifecycle.set_exported(actor=admin, now=T0, customer_id=ids["C4"], exported=True)
    lifecycle.terminate(actor=admin, now=T0, customer_id=ids["C5"])

    def names(**params):
        body = porta.ok("Customer", "get_customer_list", params)
        return [c["name"] for c in body["customer_list"]]

    everyone = ["C1", "C2", "C4", "C5", "E1", "Reseller A", "Reseller B"]
    assert names() == everyone
    assert names(with_terminated=1) == [
        "C1",
        "C2",
        "C3",
        "C4",
        "C5",
        "E1",
        "Reseller A",
        "Reseller B",
    ]
    assert names(with_terminated=0) == everyone
    assert names(skip_exported=1) == ["C1", "C2", "C5", "E1", "Reseller A", "Reseller B"]
    assert names(bill_status="S") == ["C2"]
    assert names(bill_status="C") == ["C3"]
    assert names(bill_status="E") == ["C4"]
    assert names(bill_status="D") == ["C5"]
    assert names(bill_status="o", name="C%") == ["C1"]
    assert names(i_customer_class=eur) == ["E1"]
    assert names(i_parent=world["ra"].pk) == []
    body = porta.ok("Customer", "get_customer_list", {"offset": 1, "limit": 2, "get_total": 1})
    assert ([c["name"] for c in body["customer_list"]], body["total"]) == (["C2", "C4"], 7)
    body = porta.ok("Customer", "get_customer_list", {"offset": 6, "get_total": "Y"})
    assert ([c["name"] for c in body["customer_list"]], body["total"]) == (["Reseller B"], 7)
    listed = porta.ok("Customer", "get_customer_list", {"name": "C3", "with_terminated": 1})
    assert listed["customer_list"] == [info_of(porta, ids["C3"])]
    for params, reason, string in (
        ({"bill_status": "X"}, "invalid_bill_status", None),
        ({"limit": 0}, "invalid_limit", "limit must be at least 1"),
        ({"offset": -1}, "invalid_offset", "offset must be at least 0"),
        ({"get_total": "maybe"}, "invalid_get_total", "get_total must be 'Y' or 'N' (got 'maybe')"),
        ({"i_customer_class": "x"}, "invalid_i_customer_class", None),
    ):
        fault(
            porta.call("Customer", "get_customer_list", params),
            f"Client.Customer.get_customer_list.{reason}",
            string,
        )


# --- Customer: updates -----------------------------------------------------------------------


def test_update_customer_is_partial_and_maps_flags(porta, world):
    cid = add(porta, name="Upd", credit_limit=100, companyname="Old Co", city="Brno")
    r = porta.ok(
        "Customer",
        "update_customer",
        {
            "customer_info": {
                "i_customer": cid,
                "companyname": "New Co",
                "blocked": "Y",
                "send_statistics": "F",
                "i_billing_period": 1,
                "i_time_zone": "America/New_York",
                "credit_limit": D("250.5"),
                "unknown_field": {"nested": True},
            }
        },
    )
    assert r == {
        "i_customer": cid,
        "warnings": ["ignored fields billcore does not model: unknown_field"],
    }
    info = info_of(porta, cid)
    assert (
        info["companyname"],
        info["city"],
        info["blocked"],
        info["send_statistics"],
        info["i_billing_period"],
        info["i_time_zone"],
        info["credit_limit"],
        info["perm_credit_limit"],
    ) == ("New Co", "Brno", "Y", "F", 1, "America/New_York", D("250.50000"), D("250.50000"))
    history = porta.ok("Customer", "get_status_history", {"i_customer": cid})
    assert history == {
        "status_history": [
            {
                "change_time": "2026-11-01 12:00:00",
                "old_bill_status": "O",
                "new_bill_status": "O",
                "blocked": "Y",
                "reason": "blocked",
                "changed_by": "admin",
            }
        ]
    }
    porta.ok(
        "Customer",
        "update_customer",
        {
            "customer_info": {
                "i_customer": cid,
                "blocked": "n",
                "send_statistics": None,
                "credit_limit": None,
            }
        },
    )
    info = info_of(porta, cid)
    assert (info["blocked"], info["send_statistics"], info["credit_limit"]) == ("N", None, None)
    assert (
        len(porta.ok("Customer", "get_status_history", {"i_customer": cid})["status_history"]) == 2
    )


def test_update_customer_accepts_its_own_record_back(porta, clock):
    cid = add(porta, name="Round", credit_limit=500)
    porta.ok(
        "Customer",
        "update_customer",
        {
            "customer_info": {
                "i_customer": cid,
                "temp_credit_limit": 800,
                "credit_limit_until": "2026-11-10 00:00:00",
            }
        },
    )
    info = info_of(porta, cid)
    assert (info["credit_limit"], info["perm_credit_limit"], info["temp_credit_limit"]) == (
        D("800.00000"),
        D("500.00000"),
        D("800.00000"),
    )
    assert info["credit_limit_until"] == "2026-11-10 00:00:00"
    before = AuditEntry.objects.count()
    # The whole record back, one field changed: only that field changes (the temporary
    # credit limit shown as credit_limit does not become the permanent one).
    porta.ok("Customer", "update_customer", {"customer_info": {**info, "note": "round trip"}})
    after = info_of(porta, cid)
    assert after == {**info, "note": "round trip"}
    assert AuditEntry.objects.count() == before + 1
    # Changing credit_limit in the whole record changes the permanent limit.
    porta.ok("Customer", "update_customer", {"customer_info": {**after, "credit_limit": 600}})
    assert info_of(porta, cid)["perm_credit_limit"] == D("600.00000")
    clock.advance(days=9)
    porta.login(*ADMIN)
    assert info_of(porta, cid)["credit_limit"] == D("600.00000")


def test_update_customer_read_only_fields_fault_when_changed(porta):
    cid = add(porta, name="RO", i_balance_control_type=2, opening_balance=-20)
    for changes, reason, string in (
        (
            {"balance": 5},
            "use_transaction_balance",
            "balance changes only through a transaction (balance adjustment, CU-12)",
        ),
        (
            {"opening_balance": -30},
            "use_transaction_opening_balance",
            "opening_balance: available_funds changes only through a transaction (balance "
            "adjustment, CU-12) (opening_balance is the negative of a prepaid customer's opening "
            "funds: -100 means 100 of funds)",
        ),
        (
            {"bill_status": "S"},
            "read_only_bill_status",
            "bill_status changes only through suspend_customer, unsuspend_customer and "
            "terminate_customer",
        ),
        (
            {"terminate_on": "2026-12-01"},
            "read_only_terminate_on",
            "terminate_on is set by terminate_customer",
        ),
        (
            {"iso_4217": "EUR"},
            "immutable_iso_4217",
            "iso_4217 cannot be changed once the customer is saved (CU-06)",
        ),
        (
            {"i_customer_type": 2},
            "immutable_i_customer_type",
            "i_customer_type cannot be changed once the customer is saved",
        ),
        ({"credit_limit": 50}, "not_applicable_credit_limit", None),
    ):
        r = porta.call(
            "Customer", "update_customer", {"customer_info": {"i_customer": cid, **changes}}
        )
        fault(r, f"Client.Customer.update_customer.{reason}", string)
    unchanged = {
        "balance": -20,
        "opening_balance": D("-20.0"),
        "bill_status": "O",
        "terminate_on": None,
        "credit_limit": 0,
    }
    porta.ok("Customer", "update_customer", {"customer_info": {"i_customer": cid, **unchanged}})
    fault(
        porta.call("Customer", "update_customer", {"customer_info": {"note": "x"}}),
        "Client.Customer.update_customer.required_i_customer",
        "i_customer is required",
    )


def test_suspension_delay_through_update(porta, world):
    cid = add(porta, name="Late Payer")
    lifecycle.suspend(actor=world["admin"], now=T0, customer_id=cid, reason="overdue")
    fault(
        porta.call("Customer", "unsuspend_customer", {"i_customer": cid}),
        "Client.Customer.unsuspend_customer.overdue_suspension_bill_status",
    )
    delay = {"bill_suspension_delayed": "Y", "suspension_delay_date": "2026-11-05 00:00:00"}
    porta.ok("Customer", "update_customer", {"customer_info": {"i_customer": cid, **delay}})
    info = info_of(porta, cid)
    assert (
        info["bill_status"],
        info["bill_suspension_delayed"],
        info["suspension_delay_date"],
    ) == (
        "O",
        "Y",
        "2026-11-05 00:00:00",
    )
    porta.ok("Customer", "update_customer", {"customer_info": info})  # unchanged: no new entry
    assert (
        len(porta.ok("Customer", "get_status_history", {"i_customer": cid})["status_history"]) == 2
    )
    porta.ok(
        "Customer",
        "update_customer",
        {"customer_info": {"i_customer": cid, "bill_suspension_delayed": "N"}},
    )
    info = info_of(porta, cid)
    assert (info["bill_suspension_delayed"], info["suspension_delay_date"]) == ("N", None)
    fault(
        porta.call(
            "Customer",
            "update_customer",
            {"customer_info": {"i_customer": cid, "bill_suspension_delayed": "Y"}},
        ),
        "Client.Customer.update_customer.required_suspension_delay_date",
        "suspension_delay_date is required with bill_suspension_delayed 'Y'",
    )
    fault(
        porta.call(
            "Customer",
            "update_customer",
            {"customer_info": {"i_customer": cid, "suspension_delay_date": "2026-10-01"}},
        ),
        "Client.Customer.update_customer.invalid_suspension_delay_date",
        "suspension_delay_date must be in the future",
    )


# --- Customer: statuses, deletion, custom fields ---------------------------------------------


def test_suspend_unsuspend_terminate_and_history(porta, clock):
    cid = add(porta, name="Status")
    assert porta.ok("Customer", "suspend_customer", {"i_customer": cid}) == {"success": 1}
    assert info_of(porta, cid)["bill_status"] == "S"
    fault(
        porta.call("Customer", "suspend_customer", {"i_customer": cid}),
        "Client.Customer.suspend_customer.not_open_bill_status",
        "bill_status: only an open customer can be suspended (this one is suspended)",
    )
    clock.advance(minutes=5)
    assert porta.ok("Customer", "unsuspend_customer", {"i_customer": cid}) == {"success": 1}
    assert info_of(porta, cid)["bill_status"] == "O"
    fault(
        porta.call("Customer", "unsuspend_customer", {"i_customer": cid}),
        "Client.Customer.unsuspend_customer.not_suspended_bill_status",
        "bill_status: the customer is not suspended",
    )
    clock.advance(minutes=5)
    assert porta.ok("Customer", "terminate_customer", {"i_customer": cid}) == {"success": 1}
    info = info_of(porta, cid)
    assert (info["bill_status"], info["terminate_on"]) == ("C", "2026-11-01 12:10:00")
    closed = "bill_status: the customer is permanently terminated: no operation is possible (CU-17)"
    for method in ("terminate_customer", "suspend_customer"):
        fault(
            porta.call("Customer", method, {"i_customer": cid}),
            f"Client.Customer.{method}.closed_bill_status",
            closed,
        )
    fault(
        porta.call(
            "Customer", "update_customer", {"customer_info": {"i_customer": cid, "note": "x"}}
        ),
        "Client.Customer.update_customer.closed_bill_status",
        "bill_status: the customer is permanently terminated: no change is possible (CU-17)",
    )
    history = porta.ok("Customer", "get_status_history", {"i_customer": cid})["status_history"]
    assert [
        (h["change_time"], h["old_bill_status"], h["new_bill_status"], h["reason"]) for h in history
    ] == [
        ("2026-11-01 12:10:00", "O", "C", "permanently terminated"),
        ("2026-11-01 12:05:00", "S", "O", "suspension lifted"),
        ("2026-11-01 12:00:00", "O", "S", "suspended (manual)"),
    ]
    assert {(h["blocked"], h["changed_by"]) for h in history} == {("N", "admin")}


def test_delete_customer(porta):
    cid = add(porta, name="Gone")
    assert porta.ok("Customer", "delete_customer", {"i_customer": cid}) == {"success": 1}
    fault(
        porta.call("Customer", "get_customer_info", {"i_customer": cid}),
        "Client.Customer.get_customer_info.not_found_i_customer",
    )
    kept = add(porta, name="Kept", i_balance_control_type=2, opening_balance=-1)
    fault(
        porta.call("Customer", "delete_customer", {"i_customer": kept}),
        "Client.Customer.delete_customer.has_history_i_customer",
        "i_customer: customer 'Kept' has 1 transactions and cannot be deleted; terminate it "
        "instead",
    )


def test_custom_fields_values(porta, world):
    contract = create_custom_field(actor=world["admin"], now=T0, name="contract", label="Contract")
    size = create_custom_field(
        actor=world["admin"],
        now=T0,
        name="size",
        label="Size",
        field_type="list",
        choices=["S", "L"],
    )
    cid = add(porta, name="Custom")
    assert porta.ok("Customer", "get_custom_fields_values", {"i_customer": cid}) == {
        "custom_fields_values": [
            {
                "i_custom_field": contract.pk,
                "name": "contract",
                "label": "Contract",
                "type": "text",
                "db_value": None,
                "text_value": None,
            },
            {
                "i_custom_field": size.pk,
                "name": "size",
                "label": "Size",
                "type": "list",
                "db_value": None,
                "text_value": None,
            },
        ]
    }
    r = porta.ok(
        "Customer",
        "update_custom_fields_values",
        {
            "i_customer": cid,
            "custom_fields_values": [
                {"name": "contract", "text_value": "C-42"},
                {"i_custom_field": size.pk, "text_value": "L"},
            ],
        },
    )
    assert r == {"success": 1}
    values = porta.ok("Customer", "get_custom_fields_values", {"i_customer": cid})
    assert [v["text_value"] for v in values["custom_fields_values"]] == ["C-42", "L"]
    assert Customer.objects.get(pk=cid).custom_fields == {"contract": "C-42", "size": "L"}
    for items, reason, string in (
        (
            [{"name": "size", "text_value": "XL"}],
            "invalid_custom_fields_size",
            "custom_fields.size must be one of: S, L",
        ),
        (
            [{"name": "nope", "text_value": "1"}],
            "not_found_custom_fields_values",
            "custom_fields_values[0].name: no custom field named 'nope'",
        ),
        (
            [{"i_custom_field": 99999, "db_value": "1"}],
            "not_found_custom_fields_values",
            "custom_fields_values[0].i_custom_field: no custom field 99999",
        ),
        (
            [{"text_value": "1"}],
            "invalid_custom_fields_values",
            "custom_fields_values[0] needs a name or an i_custom_field",
        ),
        ("x", "invalid_custom_fields_values", None),
    ):
        r = porta.call(
            "Customer",
            "update_custom_fields_values",
            {"i_customer": cid, "custom_fields_values": items},
        )
        fault(r, f"Client.Customer.update_custom_fields_values.{reason}", string)
    porta.ok(
        "Customer",
        "update_custom_fields_values",
        {"i_customer": cid, "custom_fields_values": [{"name": "contract", "text_value": None}]},
    )
    assert Customer.objects.get(pk=cid).custom_fields == {"size": "L"}


# --- CustomerClass -----------------------------------------------------------------------------


def test_customer_class_methods(porta, world):
    r = porta.ok(
        "CustomerClass",
        "add_customer_class",
        {
            "customer_class_info": {
                "name": "Business",
                "iso_4217": "EUR",
                "i_business_model": 1,
                "description": "SMB",
                "taxation_method": "fixed_vat",
                "vat_rate": D("21"),
                "vat_inclusive": "Y",
                "send_statistics": "F",
                "grace_period_days": 14,
                "fraud_daily_limit": D("50.5"),
                "notifications": ["invoice_issued"],
                "i_customer_class": 12345,  # read-only: ignored
                "unknown": 1,
            }
        },
    )
    cid = r["i_customer_class"]
    info = porta.ok("CustomerClass", "get_customer_class_info", {"i_customer_class": cid})
    info = info["customer_class_info"]
    assert list(info) == [
        "i_customer_class",
        "name",
        "iso_4217",
        "i_business_model",
        "i_parent",
        "is_default",
        "description",
        "notification_from_override",
        "notification_from_name",
        "notification_from_address",
        "taxation_method",
        "generate_statistics",
        "send_statistics",
        "postpaid_billed_externally",
        "reset_balance_every_period",
        "hide_balance_reset_xdr",
        "generate_regular_invoices",
        "separate_recurring_fee_invoice",
        "allow_out_of_turn_invoices",
        "generate_financial_documentation",
        "invoice_rounding",
        "invoice_rounding_pattern",
        "period_close",
        "approval_max_days",
        "suspend_on_insufficient_funds",
        "termination_delay_days",
        "s2s_transfers_allowed",
        "fraud_daily_limit",
        "fraud_action",
        "grace_period_days",
        "invoice_template",
        "send_invoices_by_email",
        "auto_charge_invoices",
        "out_of_turn_grace_period_days",
        "out_of_turn_invoice_template",
        "notifications",
        "low_funds_threshold",
        "reactivation_fee",
        "reminder_days_before_due",
        "late_fee_after_days",
        "late_fee_amount",
        "late_fee_notice_days",
        "suspend_after_days",
        "suspend_notice_days",
        "terminate_after_days",
        "terminate_notice_days",
        "oot_reminder_days_before_due",
        "oot_late_fee_after_days",
        "oot_late_fee_amount",
        "oot_late_fee_notice_days",
        "oot_suspend_after_days",
        "oot_suspend_notice_days",
        "oot_terminate_after_days",
        "oot_terminate_notice_days",
        "vat_rate",
        "vat_inclusive",
        "taxes",
        "tax_prepaid_at_payment",
        "mandatory_custom_fields",
        "creation_date",
    ]
    assert {
        k: info[k]
        for k in (
            "i_customer_class",
            "name",
            "iso_4217",
            "i_business_model",
            "i_parent",
            "is_default",
            "description",
            "taxation_method",
            "vat_rate",
            "vat_inclusive",
            "send_statistics",
            "generate_statistics",
            "grace_period_days",
            "fraud_daily_limit",
            "notifications",
            "taxes",
            "creation_date",
        )
    } == {
        "i_customer_class": cid,
        "name": "Business",
        "iso_4217": "EUR",
        "i_business_model": 1,
        "i_parent": None,
        "is_default": "N",
        "description": "SMB",
        "taxation_method": "fixed_vat",
        "vat_rate": D("21.00000"),
        "vat_inclusive": "Y",
        "send_statistics": "F",
        "generate_statistics": "Y",
        "grace_period_days": 14,
        "fraud_daily_limit": D("50.50000"),
        "notifications": ["invoice_issued"],
        "taxes": [],
        "creation_date": "2026-11-01 12:00:00",
    }
    # Partial update; the whole record back is accepted too.
    r = porta.ok(
        "CustomerClass",
        "update_customer_class",
        {
            "customer_class_info": {
                "i_customer_class": cid,
                "description": "Small business",
                "vat_inclusive": "N",
            }
        },
    )
    assert r == {"i_customer_class": cid}
    again = porta.ok("CustomerClass", "get_customer_class_info", {"name": "Business"})[
        "customer_class_info"
    ]
    assert again == {**info, "description": "Small business", "vat_inclusive": "N"}
    porta.ok("CustomerClass", "update_customer_class", {"customer_class_info": again})
    cloned = porta.ok(
        "CustomerClass", "clone_customer_class", {"i_customer_class": cid, "name": "Business 2"}
    )["i_customer_class"]
    copy = porta.ok("CustomerClass", "get_customer_class_info", {"i_customer_class": cloned})
    assert copy["customer_class_info"] == {
        **again,
        "i_customer_class": cloned,
        "name": "Business 2",
    }
    default = porta.ok("CustomerClass", "get_default_customer_class", {})["customer_class_info"]
    assert (default["name"], default["is_default"]) == ("Default", "Y")
    listed = porta.ok("CustomerClass", "get_customer_class_list", {"name": "bus%", "get_total": 1})
    assert [c["name"] for c in listed["customer_class_list"]] == ["Business", "Business 2"]
    assert listed["total"] == 2
    assert listed["customer_class_list"][0] == again
    every = porta.ok("CustomerClass", "get_customer_class_list", {})["customer_class_list"]
    assert [c["name"] for c in every] == [
        "A Retail",
        "B Retail",
        "Business",
        "Business 2",
        "Default",
        "Retail USD",
    ]

    def by(**params):
        listed = porta.ok("CustomerClass", "get_customer_class_list", params)
        return [c["name"] for c in listed["customer_class_list"]]

    assert by(iso_4217="EUR") == ["Business", "Business 2"]
    assert by(i_parent=world["ra"].pk) == ["A Retail"]
    assert by(i_parent=0, offset=1, limit=2) == ["Business 2", "Default"]


def test_customer_class_faults(porta, world):
    base = {"customer_class_info": {"name": "retail usd"}}
    fault(
        porta.call("CustomerClass", "add_customer_class", base),
        "Client.CustomerClass.add_customer_class.duplicate_name",
        "name: a customer class named 'retail usd' already exists (names are unique regardless "
        "of letter case)",
    )
    fault(
        porta.call(
            "CustomerClass",
            "add_customer_class",
            {"customer_class_info": {"name": "X", "generate_statistics": "maybe"}},
        ),
        "Client.CustomerClass.add_customer_class.invalid_generate_statistics",
        "generate_statistics must be 'Y' or 'N' (got 'maybe')",
    )
    fault(
        porta.call(
            "CustomerClass",
            "add_customer_class",
            {"customer_class_info": {"name": "X", "send_statistics": None}},
        ),
        "Client.CustomerClass.add_customer_class.invalid_send_statistics",
        "send_statistics must be F (full), S (summary) or N (none)",
    )
    fault(
        porta.call(
            "CustomerClass",
            "add_customer_class",
            {"customer_class_info": {"name": "X", "i_business_model": 999}},
        ),
        "Client.CustomerClass.add_customer_class.not_found_i_business_model",
        "i_business_model: business model 999 does not exist",
    )
    fault(
        porta.call(
            "CustomerClass",
            "add_customer_class",
            {
                "customer_class_info": {
                    "name": "X",
                    "generate_statistics": "N",
                    "send_statistics": "F",
                }
            },
        ),
        "Client.CustomerClass.add_customer_class.unavailable_send_statistics",
        "send_statistics is available only while statistics generation is on (CC-11, CC-13)",
    )
    usd = world["classes"]["usd"].pk
    fault(
        porta.call(
            "CustomerClass",
            "update_customer_class",
            {"customer_class_info": {"i_customer_class": usd, "iso_4217": "EUR"}},
        ),
        "Client.CustomerClass.update_customer_class.immutable_iso_4217",
        "iso_4217 cannot be changed once the class is saved (CC-06)",
    )
    fault(
        porta.call("CustomerClass", "get_customer_class_info", {"i_customer_class": 99999}),
        "Client.CustomerClass.get_customer_class_info.not_found_i_customer_class",
        "i_customer_class: customer class 99999 not found",
    )
    fault(
        porta.call("CustomerClass", "get_customer_class_info", {"name": "Nope"}),
        "Client.CustomerClass.get_customer_class_info.not_found_name",
        "name: no customer class named 'Nope'",
    )
    fault(
        porta.call("CustomerClass", "get_customer_class_info", {}),
        "Client.CustomerClass.get_customer_class_info.required_i_customer_class",
        "i_customer_class is required",
    )
    fault(
        porta.call("CustomerClass", "clone_customer_class", {"i_customer_class": usd}),
        "Client.CustomerClass.clone_customer_class.required_name",
        "name is required",
    )
    fault(
        porta.call("CustomerClass", "update_customer_class", {}),
        "Client.CustomerClass.update_customer_class.required_customer_class_info",
        "customer_class_info is required (an object)",
    )
    assert CustomerClass.objects.count() == 4


def test_a_resellers_user_sees_only_its_own_classes(porta_a, world):
    listed = porta_a.ok("CustomerClass", "get_customer_class_list", {"get_total": 1})
    assert ([c["name"] for c in listed["customer_class_list"]], listed["total"]) == (
        ["A Retail"],
        1,
    )
    for cid in (world["classes"]["b"].pk, world["classes"]["usd"].pk, 99999):
        fault(
            porta_a.call("CustomerClass", "get_customer_class_info", {"i_customer_class": cid}),
            "Client.CustomerClass.get_customer_class_info.not_found_i_customer_class",
            f"i_customer_class: customer class {cid} not found",
        )
    default = CustomerClass.objects.get(is_default=True).pk
    fault(
        porta_a.call("CustomerClass", "get_default_customer_class", {}),
        "Client.CustomerClass.get_default_customer_class.not_found_i_customer_class",
        f"i_customer_class: customer class {default} not found",
    )
    new = porta_a.ok(
        "CustomerClass", "add_customer_class", {"customer_class_info": {"name": "A Two"}}
    )
    info = porta_a.ok(
        "CustomerClass", "get_customer_class_info", {"i_customer_class": new["i_customer_class"]}
    )
    assert info["customer_class_info"]["i_parent"] == world["ra"].pk


def test_an_unexpected_error_is_a_server_fault(porta, monkeypatch):
    from billcore.porta import customers

    def boom(call):
        raise RuntimeError("secret detail")

    monkeypatch.setitem(customers.METHODS, "get_customer_list", (boom, True))
    fault(
        porta.call("Customer", "get_customer_list", {}),
        "Server.Customer.internal_error",
        "internal error; see the server log",
    )


# --- mapping: pure functions ---------------------------------------------------------------


def test_encode_writes_exact_decimals_and_refuses_floats():
    assert (
        mapping.encode({"a": D("-0.00000"), "b": [D("1.50000"), None, "x", 2], "c": D("-7.1")})
        == '{"a": 0.00000, "b": [1.50000, null, "x", 2], "c": -7.1}'
    )
    with pytest.raises(TypeError):
        mapping.encode({"a": 0.1})
    assert mapping.parse_json('{"a": 0.1, "b": 1}') == {"a": D("0.1"), "b": 1}
    with pytest.raises(ValueError):
        mapping.parse_json('{"a": NaN}')


def test_scalar_mappings():
    assert (
        mapping.fmt_datetime(
            dt.datetime(2026, 1, 2, 4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        )
        == "2026-01-02 02:05:06"
    )
    assert mapping.parse_datetime("x", "2026-01-02 03:04:05") == dt.datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC
    )
    assert mapping.parse_datetime("x", "2026-01-02") == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert mapping.parse_datetime("x", None) is None
    assert [mapping.parse_flag("f", v) for v in ("Y", "n", 1, 0, True, "true")] == [
        True,
        False,
        True,
        False,
        True,
        True,
    ]
    assert [mapping.send_statistics_in("s", v) for v in ("F", "s", "N", None, "")] == [
        "full",
        "summary",
        "none",
        None,
        None,
    ]
    assert [mapping.send_statistics_out(v) for v in ("full", "summary", "none", None)] == [
        "F",
        "S",
        "N",
        None,
    ]
    assert mapping.BILL_STATUS_CODES == {
        "open": "O",
        "suspended": "S",
        "closed": "C",
        "exported": "E",
        "provisionally_terminated": "D",
    }
    assert [mapping.bill_status_in("b", v) for v in "OSCED"] == [
        "open",
        "suspended",
        "closed",
        "exported",
        "provisionally_terminated",
    ]
    assert mapping.like_to_regex("a%b_c\\%d\\_e.(") == "^a.*b.c\\%d\\_e\\.\\($"
    assert mapping.page({}) == (0, None)
    assert mapping.page({"offset": "5", "limit": 10}) == (5, 10)


def _customer(**kw):
    values = {
        "pk": 7,
        "name": "N",
        "currency_id": "USD",
        "customer_class_id": 3,
        "reseller_id": 4,
        "customer_type": "reseller",
        "balance_control": "postpaid",
        "balance": D("12.00000"),
        "reserved": D("0.00000"),
        "credit_limit": D("10.00000"),
        "status": "provisionally_terminated",
        "blocked": True,
        "terminate_on": T0 + dt.timedelta(days=30),
        "suspension_delay_until": T0 + dt.timedelta(days=1),
        "created_at": T0,
        **kw,
    }
    return Customer(**values)


def test_customer_info_mapping():
    info = mapping.customer_info(_customer(), now=T0, opening_balance=D("0.00000"))
    assert {
        k: info[k]
        for k in (
            "i_customer",
            "i_parent",
            "i_customer_type",
            "i_balance_control_type",
            "balance",
            "credit_limit",
            "perm_credit_limit",
            "credit_exceed",
            "bill_status",
            "blocked",
            "bill_suspension_delayed",
            "suspension_delay_date",
            "terminate_on",
        )
    } == {
        "i_customer": 7,
        "i_parent": 4,
        "i_customer_type": 2,
        "i_balance_control_type": 1,
        "balance": D("12.00000"),
        "credit_limit": D("10.00000"),
        "perm_credit_limit": D("10.00000"),
        "credit_exceed": "Y",
        "bill_status": "D",
        "blocked": "Y",
        "bill_suspension_delayed": "Y",
        "suspension_delay_date": "2026-11-02 12:00:00",
        "terminate_on": "2026-12-01 12:00:00",
    }
    later = mapping.customer_info(_customer(), now=T0 + dt.timedelta(days=2), opening_balance=D(0))
    assert later["bill_suspension_delayed"] == "N"
    prepaid = _customer(balance_control="prepaid", credit_limit=None, balance=D("-5.00000"))
    info = mapping.customer_info(prepaid, now=T0, opening_balance=D("-5.00000"))
    assert (
        info["balance"],
        info["credit_limit"],
        info["perm_credit_limit"],
        info["credit_exceed"],
    ) == (
        D("-5.00000"),
        D("0.00000"),
        D("0.00000"),
        "N",
    )
    reserved = _customer(
        balance_control="prepaid", credit_limit=None, balance=D("-5.00000"), reserved=D("6.00000")
    )
    assert mapping.customer_info(reserved, now=T0, opening_balance=D(0))["credit_exceed"] == "Y"
    unlimited = _customer(credit_limit=None, balance=D("1000000.00000"))
    assert mapping.customer_info(unlimited, now=T0, opening_balance=D(0))["credit_exceed"] == "N"


def test_customer_input_mapping():
    wanted = mapping.customer_input(
        {
            "name": "N",
            "iso_4217": "EUR",
            "i_balance_control_type": 2,
            "i_customer_type": 1,
            "i_parent": 0,
            "opening_balance": D("-100"),
            "credit_limit": 0,
            "blocked": "Y",
            "send_statistics": "N",
            "zip": "123",
            "i_time_zone": "UTC",
            "junk": 1,
        },
        current=None,
    )
    assert wanted.data == {
        "name": "N",
        "currency": "EUR",
        "zip_code": "123",
        "time_zone": "UTC",
        "reseller": None,
        "customer_type": "retail",
        "balance_control": "prepaid",
        "send_statistics": "none",
        "blocked": True,
        "available_funds": D("100"),
    }
    assert (wanted.blocked, wanted.suspension_delay_until) == (None, mapping.MISSING)
    current = mapping.customer_info(_customer(status="open"), now=T0, opening_balance=D(0))
    same = mapping.customer_input(current, current=current)
    assert same.data["credit_limit"] == D("10.00000")
    assert "balance" not in same.data and "available_funds" not in same.data
    assert (same.blocked, same.suspension_delay_until) == (None, mapping.MISSING)
    changed = mapping.customer_input(
        {**current, "blocked": "N", "bill_suspension_delayed": "N", "balance": 1},
        current=current,
    )
    assert (changed.blocked, changed.suspension_delay_until, changed.data["balance"]) == (
        False,
        None,
        D("1.00000"),
    )
    # Both limits given: the changed one wins; perm_credit_limit when both changed.

    def pick(**given):
        return mapping.customer_input({**current, **given}, current=current).data["credit_limit"]

    assert pick(credit_limit=20) == D("20.00000")
    assert pick(perm_credit_limit=30) == D("30.00000")
    assert pick(credit_limit=20, perm_credit_limit=30) == D("30.00000")
    assert pick(credit_limit=None) is None


def test_fault_reasons():
    names = mapping.CUSTOMER_FIELDS_OUT
    cases = [
        (
            ValidationFailed("credit_limit must be at least 0", field="credit_limit"),
            "invalid_credit_limit",
            "credit_limit must be at least 0",
        ),
        (
            ValidationFailed("x", field="currency", code="unknown_currency"),
            "unknown_currency",
            "iso_4217: x",
        ),
        (
            NotFound("customer 5 not found", field="id"),
            "not_found_i_customer",
            "i_customer: customer 5 not found",
        ),
        (ValidationFailed("invalid thing", code="invalid"), "invalid", "invalid thing"),
        (
            ValidationFailed("customer_x is odd", field="customer", code="odd"),
            "odd_i_customer",
            "i_customer: customer_x is odd",
        ),
        (
            ValidationFailed("company_name is too long", field="company_name", code="too_long"),
            "too_long_companyname",
            "companyname is too long",
        ),
        (
            ValidationFailed("custom_fields.a-b: bad", field="custom_fields.a-b"),
            "invalid_custom_fields_a_b",
            "custom_fields.a-b: bad",
        ),
    ]
    for exc, reason, string in cases:
        f = mapping.fault_for("Customer", "m", exc, names)
        assert (f.code, f.string) == (f"Client.Customer.m.{reason}", string)


def test_class_mandatory_custom_fields_apply_to_its_customers(porta, world):
    create_custom_field(actor=world["admin"], now=T0, name="contract", label="Contract")
    cid = porta.ok(
        "CustomerClass",
        "add_customer_class",
        {"customer_class_info": {"name": "Strict", "mandatory_custom_fields": ["contract"]}},
    )["i_customer_class"]
    info = porta.ok("CustomerClass", "get_customer_class_info", {"i_customer_class": cid})
    assert info["customer_class_info"]["mandatory_custom_fields"] == ["contract"]
    fault(
        porta.call(
            "Customer",
            "add_customer",
            {
                "customer_info": {
                    "name": "S",
                    "iso_4217": "USD",
                    "i_balance_control_type": 1,
                    "i_customer_class": cid,
                }
            },
        ),
        "Client.Customer.add_customer.required_custom_fields_contract",
        "custom_fields.contract: Contract is mandatory for customers of class 'Strict' (CU-11)",
    )
    fault(
        porta.call(
            "CustomerClass",
            "update_customer_class",
            {"customer_class_info": {"i_customer_class": cid, "mandatory_custom_fields": ["x"]}},
        ),
        "Client.CustomerClass.update_customer_class.not_found_mandatory_custom_fields",
        "mandatory_custom_fields: no custom field named 'x'",
    )


def test_login_clears_the_users_dead_sessions(client, world, clock):
    p = Porta(client, "json")
    p.login(*ADMIN)
    clock.advance(hours=24)
    p.login(*ADMIN)
    assert PortaSession.objects.count() == 1
    assert PortaSession.objects.get().refresh_expires_at == T0 + dt.timedelta(hours=48)

"""Issue 16 §1 and §3 over HTTP: every self-care page (``/my/``), every ``/api/v1/me`` call
and the ``/rest/`` self-care calls, as anonymous, as customer A and as customer B: A never sees
B (404, and nothing changes), anonymous is sent to sign in (pages) or gets 401 (API). Also: the
separate session cookie, CSRF on every form, the shared login throttling, the sign-in status
rules and TOTP through the pages, and the Web Self-Care tab (CU-13) with "sign in as".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pyotp
import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, reverse

from billcore.api.me import router as me_router
from billcore.customers.models import Customer, CustomerLogin
from billcore.features.models import AbbreviatedNumber
from billcore.invoicing.models import Invoice
from billcore.ledger.models import Transaction
from billcore.selfcare import urls as selfcare_urls
from tests.selfcare_support import PASSWORD_A, PASSWORD_B, T0, make_world

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def w(admin):
    from billcore.features.services import add_entry, set_max_length

    world = make_world(admin, now=T0)
    # B's speed dial entry: A never sees it nor deletes it.
    set_max_length(actor=admin, now=T0, customer_id=world["b"].pk, max_length=2)
    world["entry_b"] = add_entry(
        actor=admin,
        now=T0,
        customer_id=world["b"].pk,
        data={"abbreviated": "91", "number": "+15559001", "description": "Beta speed"},
    )
    return world


def signed_in(login: str, password: str) -> Client:
    client = Client()
    response = client.post("/my/login/", {"login": login, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


def _state(w) -> tuple:
    """What a refused request must leave as it was."""
    return (
        tuple(Customer.objects.order_by("pk").values_list("balance", "phone")),
        tuple(Invoice.objects.order_by("pk").values_list("status", "amount_paid")),
        Transaction.objects.count(),
        tuple(AbbreviatedNumber.objects.order_by("pk").values_list("customer_id", "abbreviated")),
    )


def _pages(w) -> dict[str, str]:
    """Every self-care page by its URL name (B's objects where an id is needed)."""
    inv_b = w["inv_b"].pk
    return {
        "selfcare-overview": "/my/",
        "selfcare-usage": "/my/usage/",
        "selfcare-invoices": "/my/invoices/",
        "selfcare-invoice-pdf": f"/my/invoices/{inv_b}/pdf/",
        "selfcare-invoice-pay": f"/my/invoices/{inv_b}/pay/",
        "selfcare-payments": "/my/payments/",
        "selfcare-accounts": "/my/accounts/",
        "selfcare-profile": "/my/profile/",
        "selfcare-notifications": "/my/notifications/",
        "selfcare-seller-logo": "/my/seller-logo/",
        "selfcare-quotas": "/my/quotas/",
        "selfcare-numbers": "/my/numbers/",
        "selfcare-speed-dial": "/my/speed-dial/",
        "selfcare-speed-dial-delete": f"/my/speed-dial/{w['entry_b'].pk}/delete/",
    }


PUBLIC = {"selfcare-login", "selfcare-code", "selfcare-logout", "selfcare-enter"}


def test_the_matrix_covers_every_self_care_url(w):
    names = {p.name for p in selfcare_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(_pages(w)) | PUBLIC


def test_anonymous_is_sent_to_sign_in_everywhere(w):
    client = Client()
    before = _state(w)
    for url in _pages(w).values():
        for method in (client.get, client.post):
            response = method(url)
            if response.status_code == 405:
                continue
            assert response.status_code == 302, url
            assert response["Location"].startswith("/my/login/?next=/my/"), url
    assert _state(w) == before


def test_customer_a_never_sees_b_on_any_page(w):
    a = signed_in("alice", PASSWORD_A)
    before = _state(w)
    b_marks = ["Beta Inc", "+15559001", w["inv_b"].number, "b-1", "Beta speed"]
    for name, url in _pages(w).items():
        response = a.get(url)
        if name in ("selfcare-invoice-pdf", "selfcare-seller-logo"):
            # B's invoice; a logo A's seller (the operator, no reseller) does not have.
            assert response.status_code == 404, url
            continue
        if name in ("selfcare-invoice-pay", "selfcare-speed-dial-delete"):
            assert response.status_code == 405
            continue
        assert response.status_code == 200, url
        text = response.content.decode()
        assert not [m for m in b_marks if m in text], (url, [m for m in b_marks if m in text])
    # B's objects through every action: 404 and nothing changed.
    assert a.post(f"/my/invoices/{w['inv_b'].pk}/pay/", {"idempotency_key": "k"}).status_code == 404
    response = a.post(
        "/my/accounts/",
        {"from_account": w["b1"].pk, "to_account": w["a1"].pk, "amount": "1"},
    )
    assert response.status_code == 404
    assert a.get(f"/my/usage/?account={w['b1'].pk}").status_code == 404
    assert a.get(f"/my/invoices/{w['inv_a'].pk}/pdf/").status_code == 200
    assert a.post(f"/my/speed-dial/{w['entry_b'].pk}/delete/").status_code == 404
    top_up_b = {"rule": 1, "account": w["b1"].pk, "amount": "1", "idempotency_key": "k"}
    assert a.post("/my/quotas/", top_up_b).status_code == 404
    assert a.post("/my/speed-dial/", {"abbreviated": "1", "account": w["b1"].pk}).status_code == (
        404
    )
    assert _state(w) == before
    # And B sees its own, none of A's.
    b = signed_in("bob", PASSWORD_B)
    text = b.get("/my/usage/").content.decode()
    assert "+15559001" in text and "+15550002" not in text
    assert b.get(f"/my/invoices/{w['inv_a'].pk}/pdf/").status_code == 404


def test_usage_filters_csv_and_summary_exact(w):
    a = signed_in("alice", PASSWORD_A)
    page = a.get("/my/usage/").content.decode()
    total = re.search(r'id="usage-total">([^<]+)<', page).group(1)
    assert total == "4.15 USD"
    csv = b"".join(a.get("/my/usage/?format=csv").streaming_content).decode().splitlines()
    assert csv[0].startswith("id,started_at,account,service,quantity,unit,amount,status")
    assert [line.split(",")[3] for line in csv[1:]] == ["messaging", "data", "voice"]
    voice = b"".join(
        a.get(f"/my/usage/?service=voice&account={w['a2'].pk}&format=csv").streaming_content
    ).decode()
    rows = voice.splitlines()[1:]
    assert len(rows) == 1 and ",+15550002,voice,60.00000,s,2.50000,charged," in rows[0]
    bad = a.get("/my/usage/?from=yesterday")
    assert bad.status_code == 400 and b"from must be a date" in bad.content


def test_separate_session_cookie_both_ways(w, admin):
    a = signed_in("alice", PASSWORD_A)
    cookie = a.cookies["billcore_selfcare"]
    assert cookie["path"] == "/my/" and cookie["httponly"]
    assert "sessionid" not in a.cookies
    # The customer's session is nobody on the admin pages.
    assert a.get("/customers/").status_code == 302
    # An administrator signed in to the admin pages is nobody on /my/.
    staff = Client()
    assert staff.login(username="admin", password="admin-pass-1234")
    response = staff.get("/my/")
    assert (response.status_code, response["Location"]) == (302, "/my/login/?next=/my/")
    assert staff.get("/customers/").status_code == 200


def test_csrf_on_every_self_care_form(w):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/my/login/", {"login": "alice", "password": PASSWORD_A}).status_code == 403
    page = client.get("/my/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    response = client.post(
        "/my/login/",
        {"login": "alice", "password": PASSWORD_A, "csrfmiddlewaretoken": token.decode()},
    )
    assert response.status_code == 302
    before = _state(w)
    for url, data in (
        ("/my/profile/", {"phone": "+1"}),
        ("/my/accounts/", {"from_account": w["a2"].pk, "to_account": w["a1"].pk, "amount": "1"}),
        ("/my/payments/", {"action": "topup", "amount": "1", "idempotency_key": "k"}),
        (f"/my/invoices/{w['inv_a'].pk}/pay/", {"idempotency_key": "k"}),
        ("/my/speed-dial/", {"abbreviated": "9", "number": "+15557777"}),
        ("/my/quotas/", {"rule": 1, "amount": "1", "idempotency_key": "k"}),
        ("/my/logout/", {}),
    ):
        assert client.post(url, data).status_code == 403, url
    assert _state(w) == before
    for url in (
        "/my/",
        "/my/payments/",
        "/my/accounts/",
        "/my/profile/",
        "/my/invoices/",
        "/my/speed-dial/",
    ):
        forms = re.findall(rb"<form[^>]*method=\"post\".*?</form>", client.get(url).content, re.S)
        assert forms, url
        assert all(b"csrfmiddlewaretoken" in f for f in forms), url


def test_throttling_is_the_shared_lockout_under_its_own_name(w, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/my/login/", {"login": "alice", "password": "bad"}).status_code == 401
    # The failure that reaches the limit locks at once.
    assert client.post("/my/login/", {"login": "alice", "password": "bad"}).status_code == 429
    locked = client.post("/my/login/", {"login": "alice", "password": PASSWORD_A})
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert b"locked" in locked.content
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"selfcare:alice"}
    # Another customer from the same address is not locked.
    assert Client().post("/my/login/", {"login": "bob", "password": PASSWORD_B}).status_code == 302


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"blocked": True}, 403, b"blocked"),
        ({"status": "closed"}, 403, b"permanently terminated"),
        ({"status": "exported"}, 403, b"exported"),
        ({"status": "suspended"}, 302, b""),
        ({"status": "provisionally_terminated"}, 302, b""),
    ],
)
def test_sign_in_status_matrix_on_the_page(w, fields, status, words):
    Customer.objects.filter(pk=w["a"].pk).update(**fields)
    response = Client().post("/my/login/", {"login": "alice", "password": PASSWORD_A})
    assert response.status_code == status
    assert words in response.content


def test_blocked_while_signed_in_is_out_at_the_next_click(w):
    a = signed_in("alice", PASSWORD_A)
    Customer.objects.filter(pk=w["a"].pk).update(blocked=True)
    response = a.get("/my/usage/")
    assert (response.status_code, response["Location"]) == (302, "/my/login/")
    assert b"blocked" in a.get("/my/login/").content
    assert a.get("/my/").status_code == 302


def test_read_only_banner_when_provisionally_terminated(w):
    Customer.objects.filter(pk=w["a"].pk).update(status="provisionally_terminated")
    a = signed_in("alice", PASSWORD_A)
    assert b'id="read-only-banner"' in a.get("/my/").content
    response = a.post("/my/profile/", {"phone": "+1"})
    assert response.status_code == 403
    assert Customer.objects.get(pk=w["a"].pk).phone == ""


def test_totp_through_the_pages(w, admin):
    from billcore.customers import logins

    secret, _ = logins.enable_totp(actor=admin, now=T0, customer_id=w["a"].pk)
    client = Client()
    response = client.post("/my/login/", {"login": "alice", "password": PASSWORD_A})
    assert (response.status_code, response["Location"]) == (302, "/my/login/code/")
    assert client.get("/my/").status_code == 302  # not signed in yet
    good = pyotp.TOTP(secret).now()
    wrong = f"{(int(good) + 500_000) % 1_000_000:06d}"
    assert client.post("/my/login/code/", {"code": wrong}).status_code == 401
    response = client.post("/my/login/code/", {"code": good})
    assert (response.status_code, response["Location"]) == (302, "/my/")
    assert client.get("/my/").status_code == 200


def test_password_change_ends_other_sessions(w):
    a1 = signed_in("alice", PASSWORD_A)
    a2 = signed_in("alice", PASSWORD_A)
    response = a1.post(
        "/my/profile/",
        {
            "action": "password",
            "old_password": PASSWORD_A,
            "new_password": "Brand-new-pass-77",
            "new_password2": "Brand-new-pass-77",
        },
    )
    assert response.status_code == 302
    assert a1.get("/my/").status_code == 200
    assert a2.get("/my/").status_code == 302


# --------------------------------------------------------------------------- the admin tab


def test_web_self_care_tab_and_sign_in_as(w, admin):
    staff = Client()
    staff.login(username="admin", password="admin-pass-1234")
    c = w["b"]
    CustomerLogin.objects.filter(customer=c).delete()
    page = staff.get(f"/customers/{c.pk}/").content.decode()
    assert 'id="panel-selfcare"' in page and "Create the login" in page
    assert "Web Self-Care arrives with a later release" not in page
    response = staff.post(
        f"/customers/{c.pk}/selfcare/",
        {"login": "alice", "time_zone": "Europe/Prague", "language": "de", "enabled": "on"},
    )
    assert response.status_code == 400 and b"is taken by another customer" in response.content
    response = staff.post(
        f"/customers/{c.pk}/selfcare/",
        {"login": "beta", "time_zone": "Europe/Prague", "language": "de", "enabled": "on"},
    )
    assert response.status_code == 302
    login = CustomerLogin.objects.get(customer=c)
    assert (login.login, login.time_zone, login.language, login.enabled) == (
        "beta",
        "Europe/Prague",
        "de",
        True,
    )
    response = staff.post(f"/customers/{c.pk}/selfcare/password/")
    password = re.search(rb'id="selfcare-password-value">([^<]+)<', response.content).group(1)
    assert signed_in("beta", password.decode()).get("/my/").status_code == 200
    response = staff.post(f"/customers/{c.pk}/selfcare/totp/", {"totp": "on"})
    secret = re.search(rb'id="selfcare-totp-secret">([A-Z2-7]+)<', response.content).group(1)
    assert CustomerLogin.objects.get(customer=c).totp_secret == secret.decode()
    # Sign in as the customer: a ticket, the banner, a way back; the admin stays signed in.
    response = staff.post(f"/customers/{c.pk}/selfcare/sign-in-as/")
    assert response["Location"].startswith("/my/enter/?ticket=")
    assert staff.get(response["Location"]).status_code == 302
    page = staff.get("/my/").content.decode()
    assert 'id="acting-banner"' in page and "You (admin) are signed in as the customer" in page
    assert staff.get("/customers/").status_code == 200
    response = staff.post("/my/logout/")
    assert response["Location"] == f"/customers/{c.pk}/#tab-selfcare"
    assert staff.get("/my/").status_code == 302
    from billcore.audit.models import AuditEntry

    assert (
        AuditEntry.objects.filter(object_type="selfcare_sign_in_as", actor_name="admin").count()
        == 1
    )


def test_reseller_users_reach_only_their_own_customers_tab(w, world):
    client = Client()
    client.login(username="ua", password="pw-a-12345678")
    before = CustomerLogin.objects.count()
    assert client.post(f"/customers/{w['a'].pk}/selfcare/", {"login": "x"}).status_code == 404
    assert client.post(f"/customers/{w['a'].pk}/selfcare/sign-in-as/").status_code == 404
    assert CustomerLogin.objects.count() == before


# --------------------------------------------------------------------------- /api/v1/me


def _api_login(login: str, password: str, code: str | None = None) -> str:
    body = {"login": login, "password": password}
    if code:
        body["code"] = code
    response = Client().post("/api/v1/me/login", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _me_calls(w) -> list[tuple[str, str, dict | None]]:
    """Every /me call (B's objects where an id is needed)."""
    return [
        ("get", "/api/v1/me", None),
        ("get", "/api/v1/me/xdrs", None),
        ("get", "/api/v1/me/invoices", None),
        ("get", f"/api/v1/me/invoices/{w['inv_b'].pk}/pdf", None),
        ("post", f"/api/v1/me/invoices/{w['inv_b'].pk}/pay", {"idempotency_key": "k"}),
        ("post", "/api/v1/me/top-up", {"amount": "1", "idempotency_key": "k"}),
        ("get", "/api/v1/me/payments", None),
        ("get", "/api/v1/me/accounts", None),
        (
            "post",
            "/api/v1/me/transfers",
            {"from_account": w["b1"].pk, "to_account": w["a1"].pk, "amount": "1"},
        ),
        ("get", "/api/v1/me/dids", None),
        ("get", "/api/v1/me/counters", None),
        ("get", "/api/v1/me/wallets", None),
        (
            "post",
            "/api/v1/me/wallets",
            {"rule": 1, "account": w["b1"].pk, "amount": "1", "idempotency_key": "k"},
        ),
        ("get", "/api/v1/me/abbreviated-dialing", None),
        ("post", "/api/v1/me/abbreviated-dialing", {"abbreviated": "1", "account": w["b1"].pk}),
        ("delete", f"/api/v1/me/abbreviated-dialing/{w['entry_b'].pk}", None),
        ("post", "/api/v1/me/logout", None),
    ]


def _call(client: Client, method: str, url: str, body, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if method == "get":
        return client.get(url, **headers)
    if method == "delete":
        return client.delete(url, **headers)
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


def test_the_api_matrix_covers_every_me_operation(w):
    declared = {
        (op.methods[0].lower(), re.sub(r"\{\w+\}", "{id}", path))
        for path, view in me_router.path_operations.items()
        for op in view.operations
    }
    called = {
        (m, re.sub(r"/\d+(/|$)", r"/{id}\1", url.removeprefix("/api/v1/me")))
        for m, url, _ in _me_calls(w)
    }
    assert declared - {("post", "/login")} == called


def test_me_api_anonymous_admin_token_and_other_customer(w, admin):
    from billcore.accounts.tokens import create_token

    client = Client()
    admin_token = create_token(user=admin, now=T0 + dt.timedelta(hours=1))
    before = _state(w)
    for method, url, body in _me_calls(w):
        assert _call(client, method, url, body, None).status_code == 401, url
        assert _call(client, method, url, body, admin_token).status_code == 401, url
    token = _api_login("alice", PASSWORD_A)
    # A customer token never reaches the administrators' API.
    assert client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    outcomes = {}
    for method, url, body in _me_calls(w)[:-1]:
        outcomes[url] = _call(client, method, url, body, token).status_code
    assert outcomes[f"/api/v1/me/invoices/{w['inv_b'].pk}/pdf"] == 404
    assert outcomes[f"/api/v1/me/invoices/{w['inv_b'].pk}/pay"] == 404
    assert outcomes["/api/v1/me/transfers"] == 404
    assert outcomes["/api/v1/me/abbreviated-dialing"] == 404  # B's account (the POST)
    assert outcomes["/api/v1/me/wallets"] == 404  # B's account (the POST)
    assert outcomes[f"/api/v1/me/abbreviated-dialing/{w['entry_b'].pk}"] == 404
    assert outcomes["/api/v1/me/top-up"] == 400  # no card saved: nothing charged
    assert _state(w) == before
    assert _call(
        client, "get", f"/api/v1/me/xdrs?account={w['b1'].pk}", None, token
    ).status_code == (404)
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert (me["name"], me["balance"], me["credit_limit"], me["unpaid_total"]) == (
        "Alpha Ltd",
        "4.15000",
        "100.00000",
        "3.75000",
    )
    xdrs = client.get("/api/v1/me/xdrs?service=voice", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert xdrs["total"] == 1 and xdrs["items"][0]["account"] == "+15550002"
    assert xdrs["items"][0]["amount"] == "2.50000"
    invoices = client.get("/api/v1/me/invoices", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert [(i["id"], i["total"], i["status"]) for i in invoices] == [
        (w["inv_a"].pk, "3.75000", "issued")
    ]
    # Logout revokes the token.
    assert _call(client, "post", "/api/v1/me/logout", None, token).status_code == 204
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


@override_settings(BILLCORE_PAYMENT_GATEWAY="test")
def test_me_api_pays_and_transfers(w):
    from billcore.portal import services as portal

    portal.save_card(
        portal.me_for(w["login_a"]),
        now=T0,
        data={"card_number": "4242424242424242", "exp_month": "12", "exp_year": "2031"},
    )
    token = _api_login("alice", PASSWORD_A)
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    paid = client.post(
        f"/api/v1/me/invoices/{w['inv_a'].pk}/pay",
        json.dumps({"idempotency_key": "pay-1"}),
        content_type="application/json",
        **auth,
    ).json()
    assert (paid["status"], paid["amount_due"]) == ("paid", "0.00000")
    moved = client.post(
        "/api/v1/me/transfers",
        json.dumps({"from_account": w["a2"].pk, "to_account": w["a1"].pk, "amount": "2.50"}),
        content_type="application/json",
        **auth,
    ).json()
    assert [(a["identifier"], a["available_funds"]) for a in moved] == [
        ("+15550002", "0.00000"),
        ("+15550001", "2.50000"),
    ]
    pdf = client.get(f"/api/v1/me/invoices/{w['inv_a'].pk}/pdf", **auth)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_me_api_sign_in_rules(w, admin):
    from billcore.customers import logins

    wrong = Client().post(
        "/api/v1/me/login",
        {"login": "alice", "password": "nope"},
        content_type="application/json",
    )
    assert wrong.status_code == 401
    token = _api_login("alice", PASSWORD_A)
    Customer.objects.filter(pk=w["a"].pk).update(blocked=True)
    refused = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert refused.status_code == 403 and "blocked" in refused.json()["error"]["message"]
    response = Client().post(
        "/api/v1/me/login",
        {"login": "alice", "password": PASSWORD_A},
        content_type="application/json",
    )
    assert response.status_code == 403
    Customer.objects.filter(pk=w["a"].pk).update(blocked=False)
    secret, _ = logins.enable_totp(actor=admin, now=T0, customer_id=w["a"].pk)
    response = Client().post(
        "/api/v1/me/login",
        {"login": "alice", "password": PASSWORD_A},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["error"]["code"]) == (401, "totp_required")
    assert _api_login("alice", PASSWORD_A, pyotp.TOTP(secret).now())


# --------------------------------------------------------------------------- /rest/


def _rest(client, service, method, params=None, *, session_id=None, bearer=None):
    body: dict = {"params": params or {}}
    if session_id:
        body["auth_info"] = {"session_id": session_id}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}
    response = client.post(
        f"/rest/{service}/{method}", json.dumps(body), content_type="application/json", **headers
    )
    return response.status_code, response.json()


def test_rest_self_care_session(w):
    client = Client()
    status, body = _rest(client, "Session", "login", {"login": "alice", "password": "bad"})
    assert (status, body["faultcode"]) == (500, "Server.Session.auth_failed")
    status, session = _rest(client, "Session", "login", {"login": "alice", "password": PASSWORD_A})
    assert status == 200 and session["i_customer"] == w["a"].pk
    sid = session["session_id"]
    status, info = _rest(client, "Customer", "get_customer_info", {}, session_id=sid)
    assert status == 200
    assert (info["customer_info"]["name"], info["customer_info"]["i_customer"]) == (
        "Alpha Ltd",
        w["a"].pk,
    )
    status, info = _rest(
        client, "Customer", "get_customer_info", {}, bearer=session["access_token"]
    )
    assert info["customer_info"]["i_customer"] == w["a"].pk
    status, accounts = _rest(client, "Account", "get_account_list", {}, session_id=sid)
    assert [a["id"] for a in accounts["account_list"]] == ["+15550001", "+15550002"]
    # Never another customer's data.
    status, fault = _rest(
        client, "Customer", "get_customer_info", {"i_customer": w["b"].pk}, session_id=sid
    )
    assert status == 500 and "not_found" in fault["faultcode"]
    status, fault = _rest(
        client, "Account", "get_account_list", {"i_customer": w["b"].pk}, session_id=sid
    )
    assert status == 500 and "not_found" in fault["faultcode"]
    status, fault = _rest(
        client, "Customer", "get_customer_info", {"name": "Beta Inc"}, session_id=sid
    )
    assert status == 500
    for service, method in (
        ("Customer", "get_customer_list"),
        ("Account", "get_account_info"),
        ("Customer", "update_customer"),
        ("Invoice", "get_invoice_list"),
    ):
        status, fault = _rest(client, service, method, {}, session_id=sid)
        assert (status, fault["faultcode"]) == (500, f"Server.{service}.{method}.forbidden")
    status, _ = _rest(client, "Session", "logout", {}, session_id=sid)
    assert status == 200
    status, fault = _rest(client, "Customer", "get_customer_info", {}, session_id=sid)
    assert fault["faultcode"] == "Server.Session.check_auth.auth_failed"


def test_rest_administrators_keep_their_session(w, admin):
    client = Client()
    status, session = _rest(
        client, "Session", "login", {"login": "admin", "password": "admin-pass-1234"}
    )
    assert status == 200 and "i_customer" not in session
    status, body = _rest(
        client, "Customer", "get_customer_list", {}, session_id=session["session_id"]
    )
    assert status == 200 and len(body["customer_list"]) == 2
    # A blocked customer's /rest/ login is refused with the reason.
    Customer.objects.filter(pk=w["b"].pk).update(blocked=True)
    status, fault = _rest(client, "Session", "login", {"login": "bob", "password": PASSWORD_B})
    assert status == 500 and "blocked" in fault["faultstring"]
    assert reverse("selfcare-overview") == "/my/"

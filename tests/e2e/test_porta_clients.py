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
from tests.e2e.test_porta import ADMIN, T0, Clock, decode, fault

D = Decimal


@pytest.fixture
def clock(monkeypatch):
    from django.utils import timezone

    c = Clock(T0)
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


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

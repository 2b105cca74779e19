"""What the /rest/ tests share: a PortaBilling client in the JSON or form style, the
fault check, a clock the tests move. The fixtures (``clock``, ``style``, ``porta``,
``porta_a``) reach every test module of this folder through ``conftest.py``."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from billcore.porta import mapping

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
ADMIN = ("admin", "admin-pass-1234")


def decode(response):
    return json.loads(response.content, parse_float=Decimal)


class Clock:
    def __init__(self, now):
        self.now = now

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    c = Clock(T0)
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


class Porta:
    """A client in one request style; ``login`` keeps the session it gets."""

    def __init__(self, client, style):
        self.client = client
        self.style = style
        self.session_id = None
        self.access_token = None
        self.refresh_token = None

    def send(self, service, method, params=None, *, auth_info=None, bearer=None, raw=None):
        """One request in this client's style, with explicit credentials."""
        path = f"/rest/{service}/{method}"
        if self.style == "json":
            body = {} if params is None else {"params": params}
            if auth_info is not None:
                body["auth_info"] = auth_info
            headers = {"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}
            data = raw if raw is not None else mapping.encode(body)
            return self.client.post(path, data=data, content_type="application/json", **headers)
        form = {}
        if params is not None:
            form["params"] = raw if raw is not None else mapping.encode(params)
        if auth_info is not None:
            form["auth_info"] = json.dumps(auth_info)
        return self.client.post(path, data=form)

    def call(self, service, method, params=None, **kw):
        """With this client's session: bearer access token, or auth_info session_id."""
        if self.style == "json":
            return self.send(service, method, params, bearer=self.access_token, **kw)
        return self.send(service, method, params, auth_info={"session_id": self.session_id}, **kw)

    def ok(self, service, method, params=None):
        r = self.call(service, method, params)
        assert r.status_code == 200, r.content
        return decode(r)

    def login(self, login, password):
        r = self.send("Session", "login", {"login": login, "password": password})
        assert r.status_code == 200, r.content
        body = decode(r)
        self.session_id = body["session_id"]
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        return body


def fault(response, code, string=None):
    assert response.status_code == 500, response.content
    assert response["Content-Type"] == "application/json"
    body = decode(response)
    assert set(body) == {"faultcode", "faultstring"}
    assert body["faultcode"] == code, body
    if string is not None:
        assert body["faultstring"] == string, body
    return body["faultstring"]


@pytest.fixture(params=["json", "form"])
def style(request):
    return request.param


@pytest.fixture
def porta(client, world, clock, style):
    p = Porta(client, style)
    p.login(*ADMIN)
    return p


@pytest.fixture
def porta_a(client, world, clock, style):
    """Reseller A's user."""
    p = Porta(client, style)
    p.login("ua", "pw-a-12345678")
    return p

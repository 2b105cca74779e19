"""One login throttle for every sign-in route (issue 10 §2): the sign-in page, ``POST
/api/v1/auth/login`` and ``/rest/`` ``Session/login`` share one count per user name and
client address, on SQLite and PostgreSQL. 429 with ``Retry-After`` on the page and the API,
the ``Server.Session.auth_failed`` fault on /rest/; an administrator lifts a lock (page, API,
CLI), each with an audit row."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from axes.handlers import proxy as axes_proxy
from axes.models import AccessAttempt
from django.test import RequestFactory, override_settings
from django.utils import timezone

from billcore.accounts import lockout
from billcore.accounts.tokens import create_token
from billcore.audit.models import AuditEntry

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
RIGHT = "admin-pass-1234"
ELSEWHERE = "203.0.113.9"
LOCKED_UNTIL_T0 = "2026-11-01 12:15:00"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def advance(self, **delta: Any) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of billcore and of django-axes (which reads it on the sign-in page)."""
    c = Clock(T0)
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    monkeypatch.setattr(axes_proxy, "now", lambda: c.now)
    return c


def api_login(client: Any, username: str, password: str, **extra: Any) -> Any:
    return client.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": username, "password": password}),
        content_type="application/json",
        **extra,
    )


def rest_login(client: Any, login: str, password: str, **extra: Any) -> Any:
    return client.post(
        "/rest/Session/login",
        data=json.dumps({"params": {"login": login, "password": password}}),
        content_type="application/json",
        **extra,
    )


def page_login(client: Any, username: str, password: str, **extra: Any) -> Any:
    return client.post("/login/", {"username": username, "password": password}, **extra)


def locked_message(name: str, address: str, until: str) -> str:
    return (
        f"login {name!r} is locked after 5 failed attempts from {address}; "
        f"try again after {until} UTC"
    )


def assert_api_locked(response: Any, message: str, retry_after: int) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(retry_after)
    assert response.json() == {
        "error": {"code": "locked_out", "message": message, "field": "username"}
    }


def assert_page_locked(response: Any, message: str, retry_after: int) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(retry_after)
    html = response.content.decode()
    assert f'<div class="alert alert-error" role="alert" id="locked-message">{message}' in (
        html.replace("&#x27;", "'")
    )


def assert_rest_fault(response: Any, string: str) -> None:
    assert response.status_code == 500, response.content
    assert response.json() == {"faultcode": "Server.Session.auth_failed", "faultstring": string}


def test_five_failures_on_rest_lock_the_api_and_the_page_too_from_that_address(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    for _ in range(4):
        assert_rest_fault(rest_login(client, "admin", "wrong"), "wrong login or password")
    message = locked_message("admin", "127.0.0.1", LOCKED_UNTIL_T0)
    assert_rest_fault(rest_login(client, "admin", "wrong"), message)
    clock.advance(minutes=5, seconds=30)
    # The right password, from the same address, on every route: refused until 12:15:00.
    assert_api_locked(api_login(client, "admin", RIGHT), message, 570)
    assert_page_locked(page_login(client, "admin", RIGHT), message, 570)
    assert_rest_fault(rest_login(client, "admin", RIGHT), message)
    # Failures while locked do not prolong the lock.
    assert AccessAttempt.objects.get(username="admin").failures_since_start == 5
    # The same user from another address is not locked out, on any route.
    assert api_login(client, "admin", RIGHT, REMOTE_ADDR=ELSEWHERE).status_code == 200
    assert rest_login(client, "admin", RIGHT, REMOTE_ADDR=ELSEWHERE).status_code == 200
    assert page_login(client, "admin", RIGHT, REMOTE_ADDR=ELSEWHERE).status_code == 302
    # Nor another user from the locked address.
    assert api_login(client, "ua", "pw-a-12345678").status_code == 200
    # At 12:15:00 still locked (1 second to wait); one second later the lock is over.
    clock.advance(minutes=9, seconds=30)
    assert_api_locked(api_login(client, "admin", RIGHT), message, 1)
    clock.advance(seconds=1)
    assert api_login(client, "admin", RIGHT).status_code == 200
    assert AccessAttempt.objects.filter(username="admin").count() == 0


def test_failures_on_the_three_routes_count_together(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    assert page_login(client, "admin", "wrong").status_code == 200
    assert page_login(client, "admin", "wrong").status_code == 200
    assert api_login(client, "admin", "wrong").status_code == 401
    assert api_login(client, "admin", "wrong").status_code == 401
    clock.advance(minutes=2)
    # The fifth failure locks: the page answers it with 429 at once.
    message = locked_message("admin", "127.0.0.1", "2026-11-01 12:17:00")
    assert_page_locked(page_login(client, "admin", "wrong"), message, 900)
    assert_rest_fault(rest_login(client, "admin", RIGHT), message)
    assert list(
        AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")
    ) == [("admin", "127.0.0.1", 5)]


def test_a_success_clears_only_that_address_and_unknown_names_are_counted(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    for _ in range(4):
        assert api_login(client, "admin", "wrong").status_code == 401
        assert api_login(client, "admin", "wrong", REMOTE_ADDR=ELSEWHERE).status_code == 401
    assert api_login(client, "admin", RIGHT).status_code == 200
    assert sorted(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [
        (ELSEWHERE, 4)
    ]
    # Failures spaced by more than the lockout time do not add up.
    clock.advance(minutes=15, seconds=1)
    assert api_login(client, "admin", "wrong", REMOTE_ADDR=ELSEWHERE).status_code == 401
    assert AccessAttempt.objects.get(ip_address=ELSEWHERE).failures_since_start == 1
    # A name nobody has is throttled the same way (no hint whether it exists).
    for _ in range(4):
        assert api_login(client, "ghost", "x").status_code == 401
    assert_api_locked(
        api_login(client, "ghost", "x"),
        locked_message("ghost", "127.0.0.1", "2026-11-01 12:30:01"),
        900,
    )


def test_rest_token_logins_and_auth_info_logins_share_the_count(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    token = create_token(user=world["admin"], now=T0)
    for _ in range(3):
        r = client.post(
            "/rest/Session/login",
            data=json.dumps({"params": {"login": "admin", "token": "bc_wrong"}}),
            content_type="application/json",
        )
        assert_rest_fault(r, "wrong login or token")
    r = client.post(
        "/rest/Customer/get_customer_list",
        {"params": "{}", "auth_info": json.dumps({"login": "admin", "password": "wrong"})},
    )
    assert r.json()["faultcode"] == "Server.Session.check_auth.auth_failed"
    message = locked_message("admin", "127.0.0.1", LOCKED_UNTIL_T0)
    assert_api_locked(api_login(client, "admin", "wrong"), message, 900)
    r = client.post(
        "/rest/Session/login",
        data=json.dumps({"params": {"login": "admin", "token": token}}),
        content_type="application/json",
    )
    assert_rest_fault(r, message)


def test_a_name_with_nul_or_a_lone_surrogate_is_a_400_naming_the_field(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    """Issue 10 §1 and §2: /api/v1 refuses NUL and lone surrogates before any sign-in is
    tried (a 400 naming the field, never a 500), so they count no failure."""
    for raw, field in (
        ('{"username": "ad\\u0000min\\ud800", "password": "x"}', "username"),
        ('{"username": "admin", "password": "x\\u0000\\udfff"}', "password"),
    ):
        r = client.post("/api/v1/auth/login", data=raw, content_type="application/json")
        assert (r.status_code, r.json()["error"]["field"]) == (400, field), r.content
    assert AccessAttempt.objects.count() == 0


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    # No trusted proxy: the header is the client's own claim and is ignored.
    for i in range(5):
        api_login(client, "admin", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [
        ("127.0.0.1", 5)
    ]
    AccessAttempt.objects.all().delete()
    with override_settings(BILLCORE_TRUSTED_PROXIES=lockout_networks("127.0.0.0/8")):
        for i in range(5):
            r = api_login(client, "admin", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
            assert r.status_code == 401
        r = api_login(client, "admin", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.7")
        assert r.status_code == 200
    assert sorted(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [
        (f"198.51.100.{i}", 1) for i in range(5)
    ]


def lockout_networks(*specs: str) -> list[Any]:
    import ipaddress

    return [ipaddress.ip_network(s) for s in specs]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("127.0.0.1", "", [], "127.0.0.1"),
        ("127.0.0.1", "198.51.100.1", [], "127.0.0.1"),
        ("10.0.0.5", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        # The client may send its own X-Forwarded-For: only the hops our proxies added count.
        ("10.0.0.5", "1.2.3.4, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.5", "1.2.3.4, 198.51.100.1, 10.0.0.9", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.5", "", ["10.0.0.0/8"], "10.0.0.5"),
        ("10.0.0.5", "not-an-address, 10.0.0.7", ["10.0.0.0/8"], "10.0.0.7"),
        ("192.0.2.1", "198.51.100.1", ["10.0.0.0/8"], "192.0.2.1"),
        ("::1", "2001:db8::1", ["::1/128"], "2001:db8::1"),
    ],
)
def test_client_address(peer: str, forwarded: str, trusted: list[str], expected: str) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(BILLCORE_TRUSTED_PROXIES=lockout_networks(*trusted)):
        assert lockout.client_address(request) == expected


def test_trusted_proxies_setting_is_parsed_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from billcore import settings as billcore_settings

    monkeypatch.setenv("BILLCORE_TRUSTED_PROXIES", " 127.0.0.1 , 10.0.0.0/8,::1")
    assert [str(n) for n in billcore_settings._trusted_proxies()] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    monkeypatch.setenv("BILLCORE_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")
    with pytest.raises(ValueError, match=r"'proxy\.local' is not an IP address or network"):
        billcore_settings._trusted_proxies()


def test_the_old_rest_only_lockout_is_gone() -> None:
    from billcore.porta import models, session

    assert not hasattr(models, "LoginThrottle")
    assert not hasattr(session, "MAX_FAILURES")


def test_audit_is_untouched_by_failures(client: Any, world: dict[str, Any], clock: Clock) -> None:
    before = AuditEntry.objects.count()
    for _ in range(5):
        api_login(client, "admin", "wrong")
    assert AuditEntry.objects.count() == before


# --- an administrator lifts a lock: API, page, CLI ---------------------------------------------


def lock(client: Any, name: str = "admin", address: str = "127.0.0.1", times: int = 5) -> None:
    for _ in range(times):
        api_login(client, name, "wrong", REMOTE_ADDR=address)


def bearer(user: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {create_token(user=user, now=T0)}"}


def test_api_lists_and_lifts_lockouts_with_an_audit_row(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    lock(client)
    clock.advance(minutes=1)
    lock(client, address=ELSEWHERE)
    lock(client, "ua", times=2)  # not locked: not listed
    auth = bearer(world["admin"])
    r = client.get("/api/v1/lockouts", **auth)
    assert r.status_code == 200
    assert r.json() == [
        {
            "username": "admin",
            "address": ELSEWHERE,
            "failures": 5,
            "last_failure_at": "2026-11-01T12:01:00Z",
            "locked_until": "2026-11-01T12:16:00Z",
        },
        {
            "username": "admin",
            "address": "127.0.0.1",
            "failures": 5,
            "last_failure_at": "2026-11-01T12:00:00Z",
            "locked_until": "2026-11-01T12:15:00Z",
        },
    ]
    # A reseller's user may not see or lift lockouts.
    assert client.get("/api/v1/lockouts", **bearer(world["ua"])).status_code == 404
    r = client.delete("/api/v1/lockouts?username=admin", **bearer(world["ua"]))
    assert r.status_code == 404
    # Bad input names the field.
    r = client.delete("/api/v1/lockouts?username=admin&address=nowhere", **auth)
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "address"
    r = client.delete("/api/v1/lockouts?username=nobody", **auth)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "no failed sign-ins of 'nobody' to clear"
    # Lift the lock from one address only.
    r = client.delete(f"/api/v1/lockouts?username=admin&address={ELSEWHERE}", **auth)
    assert (r.status_code, r.json()) == (200, {"username": "admin", "addresses_cleared": 1})
    assert api_login(client, "admin", RIGHT, REMOTE_ADDR=ELSEWHERE).status_code == 200
    assert api_login(client, "admin", RIGHT).status_code == 429
    entry = AuditEntry.objects.get(object_type="login_lockout")
    assert (entry.actor_id, entry.operation, entry.object_repr, entry.before, entry.after) == (
        world["admin"].pk,
        "delete",
        f"admin from {ELSEWHERE}",
        {
            "username": "admin",
            "address": ELSEWHERE,
            "failures": 5,
            "last_failure_at": "2026-11-01T12:01:00+00:00",
            "locked": True,
        },
        None,
    )
    # Without an address: every address (here the one left).
    r = client.delete("/api/v1/lockouts?username=admin", **auth)
    assert (r.status_code, r.json()) == (200, {"username": "admin", "addresses_cleared": 1})
    assert api_login(client, "admin", RIGHT).status_code == 200
    assert AuditEntry.objects.filter(object_type="login_lockout").count() == 2


def test_openapi_declares_429_on_login_and_the_lockout_operations(client: Any, db: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    every = {"200", "400", "401", "403", "404", "409", "429"}
    assert set(paths["/api/v1/auth/login"]["post"]["responses"]) == every
    assert set(paths["/api/v1/lockouts"]["get"]["responses"]) == every
    assert set(paths["/api/v1/lockouts"]["delete"]["responses"]) == every


def test_the_lockouts_page_lists_and_unlocks(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    lock(client, "ua")
    client.force_login(world["admin"])
    page = client.get("/settings/lockouts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<td>ua</td>" in html
    assert '<td class="mono">127.0.0.1</td>' in html
    assert '<td class="nowrap">2026-11-01 12:15:00</td>' in html
    assert 'href="/settings/lockouts/"' in client.get("/settings/").content.decode()
    r = client.post("/settings/lockouts/", {"username": "ua", "address": "127.0.0.1"})
    assert (r.status_code, r["Location"]) == (302, "/settings/lockouts/")
    assert "Nobody is locked out." in client.get("/settings/lockouts/").content.decode()
    assert AccessAttempt.objects.count() == 0
    entry = AuditEntry.objects.get(object_type="login_lockout")
    assert (entry.actor_name, entry.object_repr) == ("admin", "ua from 127.0.0.1")
    bad = client.post("/settings/lockouts/", {"username": "ua", "address": "x"})
    assert bad.status_code == 400
    assert "address must be an IPv4 or IPv6 address (got &#x27;x&#x27;)" in bad.content.decode()
    # A reseller's user gets the 404 page.
    client.force_login(world["ua"])
    assert client.get("/settings/lockouts/").status_code == 404


def test_cli_lists_and_unlocks(
    client: Any, world: dict[str, Any], clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    from billcore.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    assert run("lockouts") == (0, "Nobody is locked out.\n", "")
    lock(client, "ua", address=ELSEWHERE)
    code, out, err = run("lockouts")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "username  address      failures  last failure (UTC)   locked until (UTC)",
        "--------  -----------  --------  -------------------  -------------------",
        "ua        203.0.113.9         5  2026-11-01 12:00:00  2026-11-01 12:15:00",
    ]
    assert run("unlock", "ua", "--address", "bad") == (
        2,
        "",
        "error: --address: address must be an IPv4 or IPv6 address (got 'bad')\n",
    )
    assert run("unlock", "ua", "--address", "127.0.0.1") == (
        1,
        "",
        "error: no failed sign-ins of 'ua' from 127.0.0.1 to clear\n",
    )
    assert run("unlock", "ua") == (0, "Unlocked 'ua' from 1 address(es).\n", "")
    entry = AuditEntry.objects.get(object_type="login_lockout")
    assert entry.actor_id is None
    assert entry.actor_name.startswith("cli:")
    assert api_login(client, "ua", "pw-a-12345678", REMOTE_ADDR=ELSEWHERE).status_code == 200


def test_a_failed_request_keeps_no_password_in_clear(
    client: Any, world: dict[str, Any], clock: Clock
) -> None:
    secret = "Almost-The-Password-1"
    client.post(
        "/rest/Session/login",
        {"params": json.dumps({"login": "admin", "password": secret})},
    )
    client.post(
        "/rest/Customer/get_customer_list",
        {"params": "{}", "auth_info": json.dumps({"login": "admin", "password": secret})},
    )
    page_login(client, "admin", secret)
    api_login(client, "admin", secret)
    row = AccessAttempt.objects.get(username="admin")
    assert row.failures_since_start == 4
    assert secret not in row.post_data and secret not in row.get_data
    assert "params=********************" in row.post_data
    assert "password=********************" in row.post_data

"""``/api/v1/users`` and ``/api/v1/tokens`` over HTTP (issue 10 §3), on SQLite and
PostgreSQL: the replies' exact shape, token expiry (asked, default, none for old tokens,
refused when past), and the rules' errors naming their field. Who may do what is the
matrix in ``test_users_matrix.py``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from billcore.accounts import tokens
from billcore.accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, client: Any, token: str | None) -> None:
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        fn = getattr(self.client, method)
        if body is None:
            return fn("/api/v1" + path, **self.headers)
        return fn(
            "/api/v1" + path, data=json.dumps(body), content_type="application/json", **self.headers
        )


@pytest.fixture
def as_admin(client: Any, world: dict[str, Any]) -> Api:
    return Api(client, tokens.create_token(user=world["admin"], now=timezone.now()))


@pytest.fixture
def as_a(client: Any, world: dict[str, Any]) -> Api:
    return Api(client, tokens.create_token(user=world["ua"], now=timezone.now()))


def _ms(value: dt.datetime) -> dt.datetime:
    """To the millisecond, however finely the API prints date-times (issue 10 §4)."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _error(r: Any, status: int, field: str | None, code: str) -> str:
    assert r.status_code == status, r.content
    err = r.json()["error"]
    assert (err["field"], err["code"]) == (field, code), err
    return str(err["message"])


def test_a_user_is_created_and_read_back(as_admin: Api, world: dict[str, Any]) -> None:
    r = as_admin(
        "post",
        "/users",
        {
            "username": "Zoë",
            "password": "Zoe-pass-31337",
            "email": "zoe@example.com",
            "first_name": "Zoë",
            "last_name": "Ng",
            "reseller": world["ra"].pk,
        },
    )
    assert r.status_code == 201, r.content
    made = User.objects.get(username="Zoë")
    assert r.json() == {
        "id": made.pk,
        "username": "Zoë",
        "email": "zoe@example.com",
        "first_name": "Zoë",
        "last_name": "Ng",
        "role": "reseller",
        "reseller": world["ra"].pk,
        "reseller_name": "Reseller A",
        "is_active": True,
        "date_joined": r.json()["date_joined"],
        "last_login": None,
    }
    assert as_admin("get", f"/users/{made.pk}").json() == r.json()
    r = as_admin("get", "/users?search=ZOË")
    assert [u["username"] for u in r.json()["items"]] == ["Zoë"]
    r = as_admin("get", f"/users?reseller={world['ra'].pk}")
    assert [u["username"] for u in r.json()["items"]] == ["ua", "Zoë"]
    r = as_admin("get", "/users?administrators=true")
    assert [u["username"] for u in r.json()["items"]] == ["admin"]


def test_bad_input_names_the_field_and_saves_nothing(as_admin: Api, world: dict[str, Any]) -> None:
    count = User.objects.count()
    message = _error(
        as_admin("post", "/users", {"username": "weak", "password": "abc"}),
        400,
        "password",
        "weak_password",
    )
    assert message == (
        "This password is too short. It must contain at least 8 characters. "
        "This password is too common."
    )
    _error(
        as_admin("post", "/users", {"username": "ADMIN", "password": "Fine-pass-1234"}),
        400,
        "username",
        "duplicate",
    )
    _error(
        as_admin("post", "/users", {"username": "x", "password": "Fine-pass-1234", "role": "x"}),
        400,
        "role",
        "unknown",
    )
    _error(
        as_admin(
            "post", "/users", {"username": "x", "password": "Fine-pass-1234", "reseller": 10**6}
        ),
        400,
        "reseller",
        "not_found",
    )
    _error(
        as_admin("post", f"/users/{world['ua'].pk}/password", {"password": "12345678"}),
        400,
        "password",
        "weak_password",
    )
    assert User.objects.count() == count


def test_a_reseller_user_creates_its_own_resellers_users(as_a: Api, world: dict[str, Any]) -> None:
    r = as_a("post", "/users", {"username": "a-team", "password": "Team-pass-5150"})
    assert r.status_code == 201, r.content
    assert (r.json()["role"], r.json()["reseller"]) == ("reseller", world["ra"].pk)
    message = _error(
        as_a(
            "post", "/users", {"username": "boss", "password": "Boss-pass-5150", "reseller": None}
        ),
        403,
        "reseller",
        "not_allowed",
    )
    assert message == "reseller: only an administrator creates or manages administrators"
    assert not User.objects.filter(username="boss").exists()


def test_self_and_last_administrator_errors_say_why(as_admin: Api, world: dict[str, Any]) -> None:
    admin = world["admin"]
    message = _error(as_admin("post", f"/users/{admin.pk}/deactivate"), 400, "id", "self")
    assert message == "id: you cannot deactivate yourself; another administrator can"
    _error(
        as_admin("patch", f"/users/{admin.pk}", {"reseller": world["ra"].pk}),
        400,
        "reseller",
        "self",
    )
    assert User.objects.get(pk=admin.pk).reseller_id is None


def test_a_deactivated_user_cannot_log_in(
    client: Any, as_admin: Api, world: dict[str, Any]
) -> None:
    r = as_admin("post", f"/users/{world['ua'].pk}/deactivate")
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = client.post(
        "/api/v1/auth/login",
        data={"username": "ua", "password": "pw-a-12345678"},
        content_type="application/json",
    )
    assert r.status_code == 401
    r = as_admin("patch", f"/users/{world['ua'].pk}", {"is_active": True})
    assert r.status_code == 200 and r.json()["is_active"] is True


def test_a_new_token_gets_the_default_expiry_unless_it_asks(
    as_admin: Api, world: dict[str, Any], settings: Any
) -> None:
    settings.BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS = 30
    r = as_admin("post", "/tokens", {"name": "ci"})
    assert r.status_code == 201, r.content
    body = r.json()
    made = ApiToken.objects.get(pk=body["id"])
    assert made.expires_at == made.created_at + dt.timedelta(days=30)
    assert body == {
        "id": made.pk,
        "user": world["admin"].pk,
        "username": "admin",
        "name": "ci",
        "prefix": made.prefix,
        "created_at": body["created_at"],
        "last_used_at": None,
        "expires_at": body["expires_at"],
        "token": body["token"],
    }
    assert body["token"].startswith(made.prefix)
    assert _ms(_parse(body["expires_at"])) == _ms(made.expires_at)

    r = as_admin("post", "/tokens", {"name": "short", "expires_in": "12h"})
    short = ApiToken.objects.get(pk=r.json()["id"])
    assert short.expires_at == short.created_at + dt.timedelta(hours=12)

    message = _error(
        as_admin("post", "/tokens", {"expires_in": "forever"}), 400, "expires_in", "invalid"
    )
    assert message == "expires_in must be a number of days or hours such as 90d or 12h"


def test_tokens_list_with_last_use_and_old_tokens_never_expire(
    client: Any, world: dict[str, Any]
) -> None:
    at = timezone.now()
    old = tokens.create_token(user=world["ua"], now=at - dt.timedelta(days=400), name="old")
    api = Api(client, old)
    r = api("get", "/tokens")
    assert r.status_code == 200
    (item,) = [t for t in r.json()["items"] if t["name"] == "old"]
    assert item["expires_at"] is None
    row = ApiToken.objects.get(name="old")
    assert row.last_used_at is not None
    assert item["last_used_at"] is not None
    assert _ms(_parse(item["last_used_at"])) == _ms(row.last_used_at)


def test_an_expired_token_gets_401(client: Any, world: dict[str, Any]) -> None:
    at = timezone.now()
    secret = tokens.create_token(
        user=world["admin"], now=at - dt.timedelta(days=1), expires_at=at - dt.timedelta(seconds=1)
    )
    r = Api(client, secret)("get", "/users")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_revoked_token_stops_working(client: Any, as_admin: Api, world: dict[str, Any]) -> None:
    secret = tokens.create_token(user=world["ua"], now=timezone.now(), name="bot")
    assert Api(client, secret)("get", "/users").status_code == 200
    row = ApiToken.objects.get(name="bot")
    assert as_admin("delete", f"/tokens/{row.pk}").status_code == 204
    assert Api(client, secret)("get", "/users").status_code == 401
    _error(as_admin("delete", f"/tokens/{row.pk}"), 404, "id", "not_found")


def test_the_openapi_describes_users_and_tokens(client: Any, db: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/users"]) == {"get", "post"}
    assert set(paths["/api/v1/users/{user_id}"]) == {"get", "patch"}
    assert set(paths["/api/v1/users/{user_id}/deactivate"]) == {"post"}
    assert set(paths["/api/v1/users/{user_id}/password"]) == {"post"}
    assert set(paths["/api/v1/tokens"]) == {"get", "post"}
    assert set(paths["/api/v1/tokens/{token_id}"]) == {"delete"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/users", {"username": "s", "password": "Ok-pass-\ud800-1"}, 400, "password"),
        (
            "post",
            "/users",
            {"username": "s", "password": "Ok-pass-2231", "email": "\udfff@x.io"},
            400,
            "email",
        ),
        ("patch", "/users/{ua}", {"last_name": "\ud83d"}, 400, "last_name"),
        ("post", "/users", {"username": "s\x00", "password": "Ok-pass-2231"}, 400, "username"),
        (
            "post",
            "/users",
            {"username": "s", "password": "Ok-pass-2231", "reseller": 2**64},
            400,
            "reseller",
        ),
        ("patch", "/users/{ua}", {"reseller": 2**63}, 400, "reseller"),
        ("get", "/users?search=a%00b", None, 400, "search"),
        ("get", f"/users?reseller={2**64}", None, 400, "reseller"),
        ("get", f"/users/{2**64}", None, 404, "user_id"),
        ("get", f"/tokens?user={2**64}", None, 400, "user"),
        ("post", "/tokens", {"user": 2**64}, 400, "user"),
        ("post", "/tokens", {"name": "x\ud800"}, 400, "name"),
        ("delete", f"/tokens/{2**63}", None, 404, "token_id"),
    ],
)
def test_hostile_input_is_a_4xx_naming_the_field(
    as_admin: Api,
    world: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    status: int,
    field: str,
) -> None:
    users, tokens_before = User.objects.count(), ApiToken.objects.count()
    before = list(User.objects.order_by("pk").values_list("last_name", "reseller_id"))
    r = as_admin(method, path.replace("{ua}", str(world["ua"].pk)), body)
    assert r.status_code == status, r.content
    assert r.json()["error"]["field"] == field, r.content
    assert (User.objects.count(), ApiToken.objects.count()) == (users, tokens_before)
    assert list(User.objects.order_by("pk").values_list("last_name", "reseller_id")) == before

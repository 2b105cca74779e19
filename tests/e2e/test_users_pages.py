"""The Users and API tokens pages (issue 10 §3), through Django's test client on SQLite and
PostgreSQL: a permission matrix (actor, page action, whose), the forms' errors beside
their input with nothing saved, and a new token's secret shown once on the page (never in a
cookie or a message)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from billcore.accounts.models import ApiToken, User
from billcore.accounts.tokens import create_token
from billcore.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

GOOD = "Pages-pass-7731"

# 200+ : the page lists the target; 200- : it does not; 302 : done, back to the user page;
# login : sent to the sign-in page.
PAGE_MATRIX = """
actor      whose   list  get    update  deactivate  password
admin      admins  200+  200    302     302         302
admin      A       200+  200    302     302         302
admin      B       200+  200    302     302         302
A          admins  200-  404    404     404         404
A          A       200+  200    302     302         302
A          B       200-  404    404     404         404
B          admins  200-  404    404     404         404
B          A       200-  404    404     404         404
B          B       200+  200    302     302         302
anonymous  admins  login login  login   login       login
anonymous  A       login login  login   login       login
anonymous  B       login login  login   login       login
inactive   admins  login login  login   login       login
inactive   A       login login  login   login       login
inactive   B       login login  login   login       login
"""

TOKEN_PAGE_MATRIX = """
actor      whose   list  create  revoke
admin      admins  200+  200     302
admin      A       200+  200     302
admin      B       200+  200     302
A          admins  200-  404     404
A          A       200+  200     302
A          B       200-  404     404
B          admins  200-  404     404
B          A       200-  404     404
B          B       200+  200     302
anonymous  admins  login login   login
anonymous  A       login login   login
anonymous  B       login login   login
inactive   admins  login login   login
inactive   A       login login   login
inactive   B       login login   login
"""


def _cells(table: str) -> list[tuple[str, str, str, str]]:
    lines = [line.split() for line in table.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    return [(r[0], r[1], a, r[i]) for r in rows for i, a in enumerate(header[2:], start=2)]


PAGE_CELLS = _cells(PAGE_MATRIX)
TOKEN_PAGE_CELLS = _cells(TOKEN_PAGE_MATRIX)


@pytest.fixture
def cast(world: dict[str, Any]) -> dict[str, Any]:
    targets = {
        "admins": User.objects.create_user(username="admin2", password=GOOD, is_superuser=True),
        "A": User.objects.create_user(username="a2", password=GOOD, reseller=world["ra"]),
        "B": User.objects.create_user(username="b2", password=GOOD, reseller=world["rb"]),
    }
    gone = User.objects.create_user(username="gone", password=GOOD)
    return {
        **world,
        "targets": targets,
        "actors": {"admin": world["admin"], "A": world["ua"], "B": world["ub"], "inactive": gone},
    }


def _sign_in(client: Any, cast: dict[str, Any], actor: str) -> None:
    if actor == "anonymous":
        return
    user = cast["actors"][actor]
    client.force_login(user)
    if actor == "inactive":  # signed in, then deactivated: the session no longer counts
        User.objects.filter(pk=user.pk).update(is_active=False)


def _state() -> tuple[Any, ...]:
    return (
        tuple(
            User.objects.order_by("pk").values_list(
                "pk", "username", "first_name", "is_active", "reseller_id", "password"
            )
        ),
        tuple(ApiToken.objects.order_by("pk").values_list("pk", "user_id")),
        AuditEntry.objects.count(),
    )


def _check(r: Any, expected: str, before: tuple[Any, ...]) -> None:
    if expected == "login":
        assert r.status_code == 302 and r["Location"].startswith("/login/"), r
        assert _state() == before
    elif expected == "404":
        assert r.status_code == 404
        assert _state() == before
    else:
        assert r.status_code == int(expected.rstrip("+-")), r


@pytest.mark.parametrize(("actor", "whose", "action", "expected"), PAGE_CELLS)
def test_user_pages_matrix(
    client: Any, cast: dict[str, Any], actor: str, whose: str, action: str, expected: str
) -> None:
    _sign_in(client, cast, actor)
    target = cast["targets"][whose]
    before = _state()
    if action == "list":
        r = client.get("/users/?show=all")
    elif action == "get":
        r = client.get(f"/users/{target.pk}/")
    elif action == "update":
        r = client.post(f"/users/{target.pk}/", {"username": target.username, "first_name": "Z"})
    elif action == "deactivate":
        r = client.post(f"/users/{target.pk}/active/", {"active": "false", "confirmed": "1"})
    else:
        r = client.post(f"/users/{target.pk}/password/", {"password": "Brand-new-pw-42"})
    _check(r, expected, before)
    if expected.startswith("200") and action == "list":
        assert (f'id="user-{target.pk}"' in r.content.decode()) is expected.endswith("+")
    if expected == "302":
        assert r["Location"] == f"/users/{target.pk}/"
        fresh = User.objects.get(pk=target.pk)
        if action == "update":
            assert fresh.first_name == "Z"
        elif action == "deactivate":
            assert fresh.is_active is False
        else:
            assert fresh.check_password("Brand-new-pw-42")


@pytest.mark.parametrize(("actor", "whose", "action", "expected"), TOKEN_PAGE_CELLS)
def test_token_pages_matrix(
    client: Any, cast: dict[str, Any], actor: str, whose: str, action: str, expected: str
) -> None:
    target = cast["targets"][whose]
    create_token(user=target, now=timezone.now(), name="theirs")
    theirs = ApiToken.objects.get(name="theirs")
    _sign_in(client, cast, actor)
    before = _state()
    if action == "list":
        r = client.get("/tokens/")
    elif action == "create":
        r = client.post("/tokens/", {"user": str(target.pk), "name": "made", "expires_in": ""})
    else:
        r = client.post(f"/tokens/{theirs.pk}/revoke/", {"confirmed": "1"})
    _check(r, expected, before)
    if expected.startswith("200") and action == "list":
        assert (f'id="token-{theirs.pk}"' in r.content.decode()) is expected.endswith("+")
    if action == "create" and expected == "200":
        made = ApiToken.objects.get(name="made")
        assert made.user_id == target.pk
        assert 'id="new-token-secret"' in r.content.decode()
    if action == "revoke" and expected == "302":
        assert not ApiToken.objects.filter(pk=theirs.pk).exists()


def test_the_page_matrix_covers_every_actor_and_target() -> None:
    assert len(PAGE_CELLS) == 5 * 3 * 5 == 75
    assert len(TOKEN_PAGE_CELLS) == 5 * 3 * 3 == 45


def test_the_navigation_links_to_users_for_everyone(client: Any, world: dict[str, Any]) -> None:
    for user in (world["admin"], world["ua"]):
        client.force_login(user)
        page = client.get("/customers/").content.decode()
        assert 'href="/users/"' in page


def test_adding_a_user_shows_the_validators_reasons_beside_the_password(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["admin"])
    before = _state()
    r = client.post(
        "/users/add/", {"username": "carol", "password": "abc", "reseller": str(world["ra"].pk)}
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert (
        '<p class="field-error" id="id_password-error">This password is too short. It must '
        "contain at least 8 characters. This password is too common.</p>"
    ) in html
    assert _state() == before

    r = client.post("/users/add/", {"username": "carol", "password": GOOD, "reseller": ""})
    made = User.objects.get(username="carol")
    assert r.status_code == 302 and r["Location"] == f"/users/{made.pk}/"
    assert (made.reseller_id, made.is_superuser) == (None, True)


def test_a_reseller_user_adds_users_to_its_own_reseller_only(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["ua"])
    page = client.get("/users/add/").content.decode()
    assert 'name="reseller"' not in page
    r = client.post(
        "/users/add/", {"username": "a-sales", "password": GOOD, "reseller": str(world["rb"].pk)}
    )
    made = User.objects.get(username="a-sales")
    assert r.status_code == 302
    assert made.reseller_id == world["ra"].pk  # a posted reseller is not an input here


def test_nobody_deactivates_themselves_on_the_page(client: Any, world: dict[str, Any]) -> None:
    admin = world["admin"]
    client.force_login(admin)
    page = client.get(f"/users/{admin.pk}/").content.decode()
    assert "Deactivate" not in page
    r = client.post(
        f"/users/{admin.pk}/active/", {"active": "false", "confirmed": "1"}, follow=True
    )
    assert "you cannot deactivate yourself; another administrator can" in r.content.decode()
    assert User.objects.get(pk=admin.pk).is_active is True


def test_changing_ones_own_password_keeps_the_session(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["ua"])
    r = client.post(f"/users/{world['ua'].pk}/password/", {"password": GOOD})
    assert r.status_code == 302
    assert client.get("/users/").status_code == 200
    assert User.objects.get(pk=world["ua"].pk).check_password(GOOD)


def test_a_new_tokens_secret_is_shown_once_and_never_in_a_cookie(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["admin"])
    r = client.post("/tokens/", {"user": str(world["admin"].pk), "name": "ci", "expires_in": "12h"})
    assert r.status_code == 200
    html = r.content.decode()
    start = html.index('id="new-token-secret">') + len('id="new-token-secret">')
    secret = html[start : html.index("<", start)]
    assert secret.startswith("bc_")
    assert all(secret not in morsel.value for morsel in r.cookies.values())
    assert secret not in client.get("/tokens/").content.decode()
    r = client.get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert r.status_code == 200

    r = client.post("/tokens/", {"user": str(world["admin"].pk), "expires_in": "soon"})
    assert r.status_code == 400
    assert (
        '<p class="field-error" id="id_expires_in-error">Expires in must be a number of days '
        "or hours such as 90d or 12h</p>"
    ) in r.content.decode()
    assert ApiToken.objects.count() == 1

"""Users and API tokens as a permission matrix over HTTP (issue 10 §3, CC-07), on SQLite and
PostgreSQL: every actor, every action, every target, each cell its own test with the exact
status expected, and a denied cell also asserts that nothing changed.

Actors: an administrator, a user of reseller A, a user of reseller B, anonymous (no token),
an inactive user (its token was valid when it was deactivated) and an expired token (of an
administrator). Targets: another administrator, another user of A, another user of B.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from billcore.accounts.models import ApiToken, User
from billcore.accounts.tokens import create_token
from billcore.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

ACTORS = ("admin", "A", "B", "anonymous", "inactive", "expired")

# 200+ : 200 and the target is in the list; 200- : 200 and it is not.
USER_MATRIX = """
actor      target  list  get  create  update  deactivate  password
admin      admins  200+  200  201     200     200         204
admin      A       200+  200  201     200     200         204
admin      B       200+  200  201     200     200         204
A          admins  200-  404  403     404     404         404
A          A       200+  200  201     200     200         204
A          B       200-  404  400     404     404         404
B          admins  200-  404  403     404     404         404
B          A       200-  404  400     404     404         404
B          B       200+  200  201     200     200         204
anonymous  admins  401   401  401     401     401         401
anonymous  A       401   401  401     401     401         401
anonymous  B       401   401  401     401     401         401
inactive   admins  401   401  401     401     401         401
inactive   A       401   401  401     401     401         401
inactive   B       401   401  401     401     401         401
expired    admins  401   401  401     401     401         401
expired    A       401   401  401     401     401         401
expired    B       401   401  401     401     401         401
"""

# Whose tokens: the actor's own, another administrator's, another user of A's, of B's.
TOKEN_MATRIX = """
actor      owner   list  create  revoke
admin      own     200+  201     204
admin      admins  200+  201     204
admin      A       200+  201     204
admin      B       200+  201     204
A          own     200+  201     204
A          admins  404   404     404
A          A       200+  201     204
A          B       404   404     404
B          own     200+  201     204
B          admins  404   404     404
B          A       404   404     404
B          B       200+  201     204
anonymous  admins  401   401     401
anonymous  A       401   401     401
anonymous  B       401   401     401
inactive   own     401   401     401
inactive   admins  401   401     401
inactive   A       401   401     401
inactive   B       401   401     401
expired    own     401   401     401
expired    admins  401   401     401
expired    A       401   401     401
expired    B       401   401     401
"""


def _cells(table: str) -> list[tuple[str, str, str, str]]:
    lines = [line.split() for line in table.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    return [
        (row[0], row[1], action, row[i])
        for row in rows
        for i, action in enumerate(header[2:], start=2)
    ]


USER_CELLS = _cells(USER_MATRIX)
TOKEN_CELLS = _cells(TOKEN_MATRIX)
GOOD_PASSWORD = "Matrix-pass-4821"


@pytest.fixture
def cast(world: dict[str, Any]) -> dict[str, Any]:
    """The matrix's people and a token for each actor."""
    now = timezone.now()
    admin2 = User.objects.create_user(
        username="admin2", password=GOOD_PASSWORD, is_staff=True, is_superuser=True
    )
    a2 = User.objects.create_user(username="a2", password=GOOD_PASSWORD, reseller=world["ra"])
    b2 = User.objects.create_user(username="b2", password=GOOD_PASSWORD, reseller=world["rb"])
    gone = User.objects.create_user(username="gone", password=GOOD_PASSWORD, is_superuser=True)
    gone_token = create_token(user=gone, now=now)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    tokens = {
        "admin": create_token(user=world["admin"], now=now),
        "A": create_token(user=world["ua"], now=now),
        "B": create_token(user=world["ub"], now=now),
        "anonymous": None,
        "inactive": gone_token,
        "expired": create_token(
            user=world["admin"],
            now=now - dt.timedelta(days=2),
            expires_at=now - dt.timedelta(seconds=1),
        ),
    }
    selves = {
        "admin": world["admin"],
        "A": world["ua"],
        "B": world["ub"],
        "inactive": gone,
        "expired": world["admin"],
    }
    return {
        **world,
        "tokens": tokens,
        "self": selves,
        "targets": {"admins": admin2, "A": a2, "B": b2},
        "resellers": {"admins": None, "A": world["ra"].pk, "B": world["rb"].pk},
    }


def _call(client: Any, token: str | None, method: str, path: str, body: Any = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    fn = getattr(client, method)
    if body is None:
        return fn("/api/v1" + path, **headers)
    return fn("/api/v1" + path, data=json.dumps(body), content_type="application/json", **headers)


def _state() -> tuple[Any, ...]:
    users = tuple(
        User.objects.order_by("pk").values_list(
            "pk", "username", "first_name", "is_active", "reseller_id", "password"
        )
    )
    return users, tuple(ApiToken.objects.order_by("pk").values_list("pk", "user_id"))


@pytest.mark.parametrize(("actor", "target", "action", "expected"), USER_CELLS)
def test_users_matrix(
    client: Any, cast: dict[str, Any], actor: str, target: str, action: str, expected: str
) -> None:
    token = cast["tokens"][actor]
    user = cast["targets"][target]
    before = _state()
    audit_before = AuditEntry.objects.count()
    if action == "list":
        r = _call(client, token, "get", "/users?limit=500")
    elif action == "get":
        r = _call(client, token, "get", f"/users/{user.pk}")
    elif action == "create":
        body = {
            "username": f"new-{target}",
            "password": GOOD_PASSWORD,
            "reseller": cast["resellers"][target],
        }
        r = _call(client, token, "post", "/users", body)
    elif action == "update":
        r = _call(client, token, "patch", f"/users/{user.pk}", {"first_name": "Changed"})
    elif action == "deactivate":
        r = _call(client, token, "post", f"/users/{user.pk}/deactivate")
    else:
        r = _call(client, token, "post", f"/users/{user.pk}/password", {"password": "N3w-pass-77x"})

    status = int(expected.rstrip("+-"))
    assert r.status_code == status, r.content
    if status >= 400:
        assert r.json()["error"]["code"], r.content
        assert _state() == before
        assert AuditEntry.objects.count() == audit_before
        return
    if action == "list":
        names = [u["username"] for u in r.json()["items"]]
        assert (user.username in names) is expected.endswith("+")
        assert r.json()["count"] == len(names)
        return
    if action == "get":
        assert r.json()["username"] == user.username
        return
    entry = AuditEntry.objects.latest("pk")
    assert entry.object_type == "user"
    assert entry.actor_name == cast["self"][actor].username
    if action == "create":
        made = User.objects.get(username=f"new-{target}")
        assert r.json()["id"] == made.pk
        assert made.reseller_id == cast["resellers"][target]
        assert made.check_password(GOOD_PASSWORD)
        assert entry.operation == "create" and entry.object_id == str(made.pk)
    elif action == "update":
        assert User.objects.get(pk=user.pk).first_name == "Changed"
        assert (entry.before, entry.after) == ({"first_name": ""}, {"first_name": "Changed"})
    elif action == "deactivate":
        assert User.objects.get(pk=user.pk).is_active is False
        assert r.json()["is_active"] is False
        assert (entry.before, entry.after) == ({"is_active": True}, {"is_active": False})
    else:
        assert User.objects.get(pk=user.pk).check_password("N3w-pass-77x")
        assert (entry.before, entry.after) == (
            {"password": "(previous)"},
            {"password": "(changed)"},
        )


@pytest.mark.parametrize(("actor", "owner", "action", "expected"), TOKEN_CELLS)
def test_tokens_matrix(
    client: Any, cast: dict[str, Any], actor: str, owner: str, action: str, expected: str
) -> None:
    token = cast["tokens"][actor]
    person = cast["self"][actor] if owner == "own" else cast["targets"][owner]
    theirs = ApiToken.objects.create(
        user=person, name="theirs", digest="d" * 64, prefix="bc_xxxxx", created_at=timezone.now()
    )
    before = _state()
    audit_before = AuditEntry.objects.count()
    if action == "list":
        r = _call(client, token, "get", f"/tokens?user={person.pk}&limit=500")
    elif action == "create":
        r = _call(client, token, "post", "/tokens", {"user": person.pk, "name": "made"})
    else:
        r = _call(client, token, "delete", f"/tokens/{theirs.pk}")

    status = int(expected.rstrip("+-"))
    assert r.status_code == status, r.content
    if status >= 400:
        assert r.json()["error"]["code"], r.content
        assert _state() == before
        assert AuditEntry.objects.count() == audit_before
        return
    if action == "list":
        ids = [t["id"] for t in r.json()["items"]]
        assert theirs.pk in ids
        assert {t["user"] for t in r.json()["items"]} == {person.pk}
        return
    entry = AuditEntry.objects.latest("pk")
    assert entry.object_type == "apitoken"
    assert entry.actor_name == cast["self"][actor].username
    if action == "create":
        made = ApiToken.objects.get(name="made")
        assert made.user_id == person.pk
        assert r.json()["token"].startswith("bc_")
        assert r.json()["token"] not in json.dumps([entry.before, entry.after])
        assert made.digest not in json.dumps([entry.before, entry.after])
        assert _call(client, r.json()["token"], "get", "/tokens").status_code == 200
    else:
        assert not ApiToken.objects.filter(pk=theirs.pk).exists()
        assert entry.operation == "delete" and entry.object_id == str(theirs.pk)


def test_the_matrix_covers_every_actor_action_and_target() -> None:
    assert {c[0] for c in USER_CELLS} == set(ACTORS)
    assert {c[0] for c in TOKEN_CELLS} == set(ACTORS)
    assert len(USER_CELLS) == 6 * 3 * 6 == 108
    assert len(TOKEN_CELLS) == (6 * 4 - 1) * 3 == 69

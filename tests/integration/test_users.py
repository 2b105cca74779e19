"""The rules of user and token administration (issue 10 §3, CC-07), on SQLite and PostgreSQL:
the last active administrator stays, nobody deactivates or demotes themselves, usernames are
unique regardless of letter case (non-ASCII too), every password goes through Django's
validators, token expiry and last use, and no audit row ever holds a password or a token
secret. The permission matrix over HTTP is ``tests/e2e/test_users_matrix.py``."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.db import connection

from billcore.accounts import services, tokens
from billcore.accounts.access import CLI
from billcore.accounts.models import ApiToken, User
from billcore.audit.models import AuditEntry
from billcore.errors import BillcoreError, Conflict, NotAllowed, ValidationFailed

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
GOOD = "Good-pass-9137"


def _state() -> list[tuple[Any, ...]]:
    return list(
        User.objects.order_by("pk").values_list(
            "pk", "username", "is_active", "reseller_id", "is_staff", "is_superuser", "password"
        )
    )


def _refused(exc_type: type[BillcoreError], field: str, code: str, fn: Any, **kw: Any) -> str:
    before, audit = _state(), AuditEntry.objects.count()
    with pytest.raises(exc_type) as info:
        fn(**kw)
    assert (info.value.field, info.value.code) == (field, code), info.value.message
    assert _state() == before
    assert AuditEntry.objects.count() == audit
    return info.value.message


# --------------------------------------------------------------------------- the last admin


def test_the_last_active_administrator_cannot_be_deactivated(admin: User) -> None:
    message = _refused(
        Conflict, "id", "last_administrator", services.deactivate_user,
        actor=CLI, now=T0, user_id=admin.pk,
    )  # fmt: skip
    assert message == (
        "id: 'admin' is the last active administrator and cannot be deactivated; create or "
        "activate another administrator first"
    )
    _refused(
        Conflict, "is_active", "last_administrator", services.update_user,
        actor=CLI, now=T0, user_id=admin.pk, changes={"is_active": False},
    )  # fmt: skip


def test_the_last_active_administrator_cannot_be_demoted(world: dict[str, Any]) -> None:
    message = _refused(
        Conflict, "reseller", "last_administrator", services.update_user,
        actor=CLI, now=T0, user_id=world["admin"].pk, changes={"reseller": world["ra"].pk},
    )  # fmt: skip
    assert "cannot be made a reseller's user" in message


def test_an_inactive_administrator_does_not_count(admin: User) -> None:
    other = services.create_user(
        actor=admin, now=T0, data={"username": "other", "password": GOOD, "is_active": False}
    )
    assert other.reseller_id is None and other.is_superuser and other.is_staff
    _refused(
        Conflict, "id", "last_administrator", services.deactivate_user,
        actor=CLI, now=T0, user_id=admin.pk,
    )  # fmt: skip
    services.update_user(actor=admin, now=T0, user_id=other.pk, changes={"is_active": True})
    services.deactivate_user(actor=CLI, now=T0, user_id=admin.pk)
    assert User.objects.get(pk=admin.pk).is_active is False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_administrators_deactivating_each_other_at_once_leave_one(admin: User) -> None:
    other = services.create_user(actor=admin, now=T0, data={"username": "o2", "password": GOOD})
    outcomes: list[Any] = []
    start = threading.Barrier(2)

    def worker(actor: User, target: User) -> None:
        try:
            start.wait()
            services.deactivate_user(actor=actor, now=T0, user_id=target.pk)
            outcomes.append("done")
        except BillcoreError as exc:
            outcomes.append(exc.code)
        except BaseException as exc:  # pragma: no cover - reported below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(admin, other)),
        threading.Thread(target=worker, args=(other, admin)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["done", "last_administrator"]
    assert User.objects.filter(reseller__isnull=True, is_active=True).count() == 1


# --------------------------------------------------------------------------- self


def test_nobody_deactivates_or_demotes_themselves(world: dict[str, Any]) -> None:
    admin = world["admin"]
    services.create_user(actor=admin, now=T0, data={"username": "second", "password": GOOD})
    message = _refused(
        ValidationFailed, "id", "self", services.deactivate_user,
        actor=admin, now=T0, user_id=admin.pk,
    )  # fmt: skip
    assert message == "id: you cannot deactivate yourself; another administrator can"
    _refused(
        ValidationFailed, "is_active", "self", services.update_user,
        actor=admin, now=T0, user_id=admin.pk, changes={"is_active": False},
    )  # fmt: skip
    _refused(
        ValidationFailed, "reseller", "self", services.update_user,
        actor=admin, now=T0, user_id=admin.pk, changes={"reseller": world["ra"].pk},
    )  # fmt: skip
    message = _refused(
        ValidationFailed, "id", "self", services.deactivate_user,
        actor=world["ua"], now=T0, user_id=world["ua"].pk,
    )  # fmt: skip
    assert message == "id: you cannot deactivate yourself; another user of your reseller can"


def test_a_reseller_user_manages_only_its_own_reseller(world: dict[str, Any]) -> None:
    ua = world["ua"]
    made = services.create_user(actor=ua, now=T0, data={"username": "a-new", "password": GOOD})
    assert (made.reseller_id, made.is_staff, made.is_superuser) == (world["ra"].pk, False, False)
    _refused(
        NotAllowed, "reseller", "not_allowed", services.create_user,
        actor=ua, now=T0, data={"username": "x", "password": GOOD, "reseller": None},
    )  # fmt: skip
    _refused(
        NotAllowed, "reseller", "not_allowed", services.update_user,
        actor=ua, now=T0, user_id=made.pk, changes={"reseller": None},
    )  # fmt: skip
    _refused(
        ValidationFailed, "reseller", "not_found", services.update_user,
        actor=ua, now=T0, user_id=made.pk, changes={"reseller": world["rb"].pk},
    )  # fmt: skip


def test_an_administrator_promotes_and_demotes(world: dict[str, Any]) -> None:
    admin, ra = world["admin"], world["ra"]
    promoted = services.update_user(
        actor=admin, now=T0, user_id=world["ua"].pk, changes={"reseller": None}
    )
    assert (promoted.reseller_id, promoted.is_staff, promoted.is_superuser) == (None, True, True)
    demoted = services.update_user(
        actor=admin, now=T0, user_id=promoted.pk, changes={"reseller": ra.pk}
    )
    assert (demoted.reseller_id, demoted.is_staff, demoted.is_superuser) == (ra.pk, False, False)
    entry = AuditEntry.objects.latest("pk")
    assert entry.before == {"reseller_id": None, "is_staff": True, "is_superuser": True}
    assert entry.after == {"reseller_id": ra.pk, "is_staff": False, "is_superuser": False}
    _refused(
        ValidationFailed, "reseller", "not_found", services.update_user,
        actor=admin, now=T0, user_id=demoted.pk, changes={"reseller": 10**6},
    )  # fmt: skip


# --------------------------------------------------------------------------- usernames


@pytest.mark.parametrize(
    ("first", "second"),
    [("Ädmin", "äDMIN"), ("Straße", "STRASSE"), ("ΣΊΣΥΦΟΣ", "σίσυφος"), ("Bob", "bob")],
)
def test_usernames_are_unique_regardless_of_case(admin: User, first: str, second: str) -> None:
    services.create_user(actor=admin, now=T0, data={"username": first, "password": GOOD})
    message = _refused(
        ValidationFailed, "username", "duplicate", services.create_user,
        actor=admin, now=T0, data={"username": second, "password": GOOD},
    )  # fmt: skip
    assert message == (
        f"username: a user named {second!r} already exists (names are compared regardless "
        "of letter case)"
    )
    other = services.create_user(actor=admin, now=T0, data={"username": "o", "password": GOOD})
    _refused(
        ValidationFailed, "username", "duplicate", services.update_user,
        actor=admin, now=T0, user_id=other.pk, changes={"username": second},
    )  # fmt: skip


def test_a_username_takes_letters_digits_and_a_few_signs(admin: User) -> None:
    for bad in ("", "with space", "semi;colon", "nul\x00"):
        with pytest.raises(ValidationFailed) as info:
            services.create_user(actor=admin, now=T0, data={"username": bad, "password": GOOD})
        assert info.value.field == "username"
    assert User.objects.count() == 1


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("12345678", "This password is too common."),
        ("", None),
    ],
)
def test_every_password_goes_through_the_validators(
    world: dict[str, Any], password: str, reason: str | None
) -> None:
    code = "weak_password" if reason else "required"
    message = _refused(
        ValidationFailed, "password", code, services.create_user,
        actor=world["admin"], now=T0, data={"username": "newbie", "password": password},
    )  # fmt: skip
    assert message == (reason or "password is required")
    _refused(
        ValidationFailed, "password", code, services.set_password,
        actor=world["ua"], now=T0, user_id=world["ua"].pk, password=password,
    )  # fmt: skip


def test_a_new_password_signs_in_and_the_old_one_does_not(world: dict[str, Any]) -> None:
    services.set_password(actor=world["admin"], now=T0, user_id=world["ub"].pk, password=GOOD)
    assert authenticate(None, username="ub", password=GOOD) == world["ub"]
    assert authenticate(None, username="ub", password="pw-b-12345678") is None


def test_a_deactivated_user_cannot_sign_in_and_its_tokens_stop_at_once(
    world: dict[str, Any],
) -> None:
    secret = tokens.create_token(user=world["ub"], now=T0)
    assert tokens.user_for_token(secret, now=T0) == world["ub"]  # now remembered
    services.deactivate_user(actor=world["admin"], now=T0, user_id=world["ub"].pk)
    assert tokens.user_for_token(secret, now=T0) is None
    assert authenticate(None, username="ub", password="pw-b-12345678") is None


# --------------------------------------------------------------------------- tokens


def test_a_token_expires_as_asked_or_by_default(admin: User) -> None:
    asked, _ = services.create_api_token(
        actor=admin, now=T0, expires_in="12h", default_lifetime=dt.timedelta(days=90)
    )
    assert asked.expires_at == T0 + dt.timedelta(hours=12)
    days, _ = services.create_api_token(
        actor=admin, now=T0, expires_in="7d", default_lifetime=dt.timedelta(days=90)
    )
    assert days.expires_at == T0 + dt.timedelta(days=7)
    default, _ = services.create_api_token(
        actor=admin, now=T0, name="plain", default_lifetime=dt.timedelta(days=90)
    )
    assert (default.expires_at, default.name) == (T0 + dt.timedelta(days=90), "plain")
    never, _ = services.create_api_token(actor=admin, now=T0, default_lifetime=None)
    assert never.expires_at is None
    for bad in ("5x", "0h", "3651d", "12", 12, "1.5d"):
        with pytest.raises(ValidationFailed) as info:
            services.create_api_token(actor=admin, now=T0, expires_in=bad, default_lifetime=None)
        assert info.value.field == "expires_in"
    assert ApiToken.objects.count() == 4


def test_an_expired_token_is_refused(admin: User) -> None:
    _, secret = services.create_api_token(
        actor=admin, now=T0, expires_in="1h", default_lifetime=None
    )
    assert tokens.user_for_token(secret, now=T0 + dt.timedelta(minutes=59)) == admin
    assert tokens.user_for_token(secret, now=T0 + dt.timedelta(hours=1)) is None


def test_last_use_is_recorded_at_most_once_a_minute(admin: User) -> None:
    token, secret = services.create_api_token(actor=admin, now=T0, default_lifetime=None)
    assert token.last_used_at is None

    def use(at: dt.datetime) -> dt.datetime | None:
        tokens._cache.clear()  # every use a look-up, as in another process
        assert tokens.user_for_token(secret, now=at) == admin
        return ApiToken.objects.get(pk=token.pk).last_used_at

    assert use(T0) == T0
    assert use(T0 + dt.timedelta(seconds=60)) == T0
    assert use(T0 + dt.timedelta(seconds=61)) == T0 + dt.timedelta(seconds=61)


def test_a_revoked_token_is_refused_at_once(admin: User) -> None:
    token, secret = services.create_api_token(actor=admin, now=T0, default_lifetime=None)
    assert tokens.user_for_token(secret, now=T0) == admin
    services.revoke_api_token(actor=admin, now=T0, token_id=token.pk)
    assert tokens.user_for_token(secret, now=T0) is None


def test_no_token_for_a_deactivated_user(world: dict[str, Any]) -> None:
    services.deactivate_user(actor=world["admin"], now=T0, user_id=world["ub"].pk)
    with pytest.raises(ValidationFailed) as info:
        services.create_api_token(
            actor=world["admin"], now=T0, user_id=world["ub"].pk, default_lifetime=None
        )
    assert (info.value.field, info.value.code) == ("user", "inactive")


# --------------------------------------------------------------------------- audit


def test_no_audit_row_holds_a_password_or_a_token_secret(world: dict[str, Any]) -> None:
    admin = world["admin"]
    user = services.create_user(
        actor=admin, now=T0, data={"username": "kept", "password": GOOD, "reseller": None}
    )
    services.set_password(actor=admin, now=T0, user_id=user.pk, password="Other-pass-5521")
    services.update_user(actor=admin, now=T0, user_id=user.pk, changes={"email": "k@example.com"})
    token, secret = services.create_api_token(
        actor=admin, now=T0, user_id=user.pk, default_lifetime=None
    )
    digest = ApiToken.objects.get(pk=token.pk).digest
    services.revoke_api_token(actor=admin, now=T0, token_id=token.pk)
    services.deactivate_user(actor=admin, now=T0, user_id=user.pk)
    rows = list(AuditEntry.objects.filter(object_type__in=["user", "apitoken"]).order_by("pk"))
    assert [(r.object_type, r.operation) for r in rows] == [
        ("user", "create"),
        ("user", "update"),
        ("user", "update"),
        ("apitoken", "create"),
        ("apitoken", "delete"),
        ("user", "update"),
    ]
    text = json.dumps([[r.before, r.after, r.object_repr] for r in rows])
    hashed = User.objects.get(pk=user.pk).password
    for secret_text in (GOOD, "Other-pass-5521", hashed, hashed.split("$")[-1], secret, digest):
        assert secret_text not in text
    assert rows[0].after == {
        "username": "kept",
        "email": "",
        "first_name": "",
        "last_name": "",
        "reseller_id": None,
        "is_active": True,
        "is_staff": True,
        "is_superuser": True,
    }
    assert rows[3].after == {
        "user_id": user.pk,
        "username": "kept",
        "name": "",
        "prefix": token.prefix,
        "created_at": T0.isoformat(),
        "expires_at": None,
    }
    assert all(r.actor_name == "admin" for r in rows)

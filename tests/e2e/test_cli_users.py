"""``billcore user …`` and ``billcore token …`` (issue 10 §3), run in process on SQLite and
PostgreSQL: exact output, the rules of ``accounts.services`` (validators, last
administrator), tokens with an expiry that work on the API."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone

from billcore.accounts.models import ApiToken, User
from billcore.accounts.tokens import create_token
from billcore.audit.models import AuditEntry
from billcore.cli import main

pytestmark = pytest.mark.django_db

PASSWORD_LINE = re.compile(r"^Password \(shown once, write it down\): (\S+)$", re.MULTILINE)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_user_create_prints_a_generated_password_once(
    capsys: pytest.CaptureFixture[str], world: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.delenv("BILLCORE_USER_PASSWORD", raising=False)
    ra = world["ra"]
    code, out, err = run(capsys, "user", "create", "sales", "--reseller", str(ra.pk))

    assert (code, err) == (0, "")
    match = PASSWORD_LINE.search(out)
    assert match is not None
    assert out.splitlines()[0] == "User 'sales' created (user of reseller 'Reseller A')."
    user = User.objects.get(username="sales")
    assert user.reseller_id == ra.pk and user.check_password(match.group(1))
    entry = AuditEntry.objects.latest("pk")
    assert (entry.actor_name, entry.operation, entry.object_type) == ("cli", "create", "user")


def test_user_create_takes_the_password_from_the_environment_and_validates_it(
    capsys: pytest.CaptureFixture[str], admin: User, monkeypatch: Any
) -> None:
    monkeypatch.setenv("BILLCORE_USER_PASSWORD", "a")
    code, out, err = run(capsys, "user", "create", "ops")
    assert (code, out) == (2, "")
    assert err == (
        "error: password: This password is too short. It must contain at least 8 characters. "
        "This password is too common.\n"
    )
    assert not User.objects.filter(username="ops").exists()

    monkeypatch.setenv("BILLCORE_USER_PASSWORD", "Ops-pass-66127")
    code, out, err = run(capsys, "user", "create", "ops", "--email", "ops@example.com")
    assert (code, err) == (0, "")
    assert out == (
        "User 'ops' created (administrator).\nPassword taken from BILLCORE_USER_PASSWORD.\n"
    )
    assert authenticate(None, username="ops", password="Ops-pass-66127") is not None

    code, out, err = run(capsys, "user", "create", "OPS")
    assert code == 2
    assert err.startswith("error: username: a user named 'OPS' already exists")


def test_user_list_prints_active_users_as_a_table(
    capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    User.objects.filter(username="ub").update(is_active=False)
    code, out, err = run(capsys, "user", "list")
    assert (code, err) == (0, "")
    ids = {u.username: u.pk for u in User.objects.all()}
    w = max(2, *(len(str(i)) for i in ids.values()))
    assert out.splitlines() == [
        f"{'ID':>{w}}  Username  Role           Reseller    Active  Last login  E-mail",
        f"{'-' * w}  --------  -------------  ----------  ------  ----------  ------",
        f"{ids['admin']:>{w}}  admin     administrator              yes",
        f"{ids['ua']:>{w}}  ua        reseller       Reseller A  yes",
    ]
    code, out, _ = run(capsys, "user", "list", "--all", "--reseller", str(world["rb"].pk))
    assert out.splitlines()[2:] == [f"{ids['ub']:>{w}}  ub        reseller  Reseller B  no"]


def test_user_deactivate_and_the_last_administrator(
    capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    code, out, err = run(capsys, "user", "deactivate", "UA")
    assert (code, err) == (0, "")
    assert out == "User 'ua' deactivated: it can no longer sign in or use its tokens.\n"
    assert User.objects.get(username="ua").is_active is False

    code, out, err = run(capsys, "user", "deactivate", "admin")
    assert (code, out) == (2, "")
    assert err == (
        "error: 'admin' is the last active administrator and cannot be deactivated; create "
        "or activate another administrator first\n"
    )
    assert User.objects.get(username="admin").is_active is True

    code, out, err = run(capsys, "user", "deactivate", "nobody")
    assert (code, err) == (2, "error: no user named 'nobody'\n")


def test_user_password_sets_a_validated_password(
    capsys: pytest.CaptureFixture[str], world: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setenv("BILLCORE_USER_PASSWORD", "password")
    code, _, err = run(capsys, "user", "password", "ua")
    assert (code, err) == (2, "error: password: This password is too common.\n")
    assert authenticate(None, username="ua", password="pw-a-12345678") is not None

    monkeypatch.delenv("BILLCORE_USER_PASSWORD")
    code, out, err = run(capsys, "user", "password", "ua")
    assert (code, err) == (0, "")
    new = PASSWORD_LINE.search(out)
    assert new is not None and out.startswith("Password of 'ua' changed.\n")
    assert authenticate(None, username="ua", password=new.group(1)) is not None


def test_token_create_expires_in_or_by_default(
    capsys: pytest.CaptureFixture[str], admin: User, client: Client, settings: Any
) -> None:
    settings.BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS = 30
    before = timezone.now()
    code, out, err = run(capsys, "token", "create", "--user", "admin", "--expires-in", "12h")
    assert (code, err) == (0, "")
    secret = out.strip()
    token = ApiToken.objects.get()
    assert token.expires_at is not None
    assert before + dt.timedelta(hours=12) <= token.expires_at
    assert token.expires_at <= timezone.now() + dt.timedelta(hours=12)
    r = client.get("/api/v1/tokens", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert r.status_code == 200

    code, out, err = run(capsys, "token", "create", "--user", "admin", "--name", "ci")
    assert code == 0
    made = ApiToken.objects.get(name="ci")
    assert made.expires_at == made.created_at + dt.timedelta(days=30)

    code, out, err = run(capsys, "token", "create", "--user", "admin", "--expires-in", "soon")
    assert (code, out) == (2, "")
    assert err == "error: --expires-in: must be a number of days or hours such as 90d or 12h\n"
    assert ApiToken.objects.count() == 2


def test_token_list_and_revoke(capsys: pytest.CaptureFixture[str], world: dict[str, Any]) -> None:
    at = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    old = create_token(user=world["admin"], now=at, name="old")  # made before expiry existed
    ApiToken.objects.filter(name="old").update(last_used_at=at + dt.timedelta(hours=1))
    create_token(user=world["ua"], now=at, name="a-bot", expires_at=at + dt.timedelta(days=90))
    rows = {t.name: t for t in ApiToken.objects.all()}
    code, out, err = run(capsys, "token", "list")
    assert (code, err) == (0, "")
    w = max(2, *(len(str(t.pk)) for t in rows.values()))
    assert out.splitlines() == [
        f"{'ID':>{w}}  User   Name   Token      Created           Last used         Expires",
        f"{'-' * w}  -----  -----  ---------  ----------------  ----------------  ----------------",
        f"{rows['a-bot'].pk:>{w}}  ua     a-bot  {rows['a-bot'].prefix}…  2026-11-01 12:00  never"
        "             2027-01-30 12:00",
        f"{rows['old'].pk:>{w}}  admin  old    {old[:8]}…  2026-11-01 12:00  2026-11-01 13:00"
        "  never",
    ]
    code, out, _ = run(capsys, "token", "list", "--user", "ua")
    assert len(out.splitlines()) == 3

    code, out, err = run(capsys, "token", "revoke", str(rows["old"].pk))
    assert (code, out, err) == (0, f"Token {rows['old'].pk} revoked.\n", "")
    assert not ApiToken.objects.filter(name="old").exists()
    code, out, err = run(capsys, "token", "revoke", str(rows["old"].pk))
    assert (code, err) == (2, f"error: no token with id {rows['old'].pk}\n")

"""Shared fixtures. The same suite runs on SQLite (default) and PostgreSQL
(``DATABASE_URL=postgres://…``). With PostgreSQL asked for but unreachable, CI (``CI=true``)
fails; a developer's run stops with a visible message instead."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any

import pytest

ON_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    try:
        psycopg.connect(url.replace("postgresql://", "postgres://"), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {url} is not reachable: {exc}".strip()
        if ON_CI:
            raise pytest.UsageError(message + " (CI=true: PostgreSQL tests are required)") from exc
        pytest.exit(
            "SKIPPED ALL PostgreSQL TESTS: "
            + message
            + "\nStart PostgreSQL or set TEST_PG_URL to run them.",
            returncode=0,
        )


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    return f"billcore database: {settings.DATABASES['default']['ENGINE']}"


NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def now() -> dt.datetime:
    return NOW


@pytest.fixture
def admin(db: Any) -> Any:
    from billcore.accounts.models import User

    return User.objects.create_user(
        username="admin", password="admin-pass-1234", is_staff=True, is_superuser=True
    )


@pytest.fixture
def world(db: Any, admin: Any) -> dict[str, Any]:
    """Two resellers with a user each, a class of each reseller, an admin class."""
    from billcore.accounts.models import User
    from billcore.classes.services import create_class
    from billcore.ledger.customers import create_customer

    classes = {}
    classes["usd"] = create_class(
        actor=admin, now=NOW, data={"name": "Retail USD", "currency": "USD"}
    )
    reseller_a = create_customer(
        actor=admin,
        now=NOW,
        data={
            "name": "Reseller A",
            "customer_type": "reseller",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": classes["usd"].pk,
        },
    )
    reseller_b = create_customer(
        actor=admin,
        now=NOW,
        data={
            "name": "Reseller B",
            "customer_type": "reseller",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": classes["usd"].pk,
        },
    )
    user_a = User.objects.create_user(username="ua", password="pw-a-12345678", reseller=reseller_a)
    user_b = User.objects.create_user(username="ub", password="pw-b-12345678", reseller=reseller_b)
    classes["a"] = create_class(actor=user_a, now=NOW, data={"name": "A Retail", "currency": "USD"})
    classes["b"] = create_class(actor=user_b, now=NOW, data={"name": "B Retail"})
    return {
        "admin": admin,
        "ra": reseller_a,
        "rb": reseller_b,
        "ua": user_a,
        "ub": user_b,
        "classes": classes,
    }


def D(text: str) -> Decimal:
    return Decimal(text)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Tests create many users; production hashing strength is not under test here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""The ``billcore`` command, run in process (``billcore.cli.main``) on SQLite and PostgreSQL:
tables with exact output, tokens that work on the API, the administrator's password shown
once, and the demo data set loaded through the services (and only once)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone

from billcore.accounts.models import ApiToken, User
from billcore.audit.models import AuditEntry
from billcore.classes.models import CustomerClass
from billcore.cli import main
from billcore.customers.models import Customer, CustomerType
from billcore.installation.models import BusinessModel, Currency, CustomField
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

PASSWORD_LINE = re.compile(r"^Password \(shown once, write it down\): (\S+)$", re.MULTILINE)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- class list, customer list ----------------------------------------------------------


def test_class_list_prints_the_header_and_the_default_class(
    capsys: pytest.CaptureFixture[str],
) -> None:
    default = CustomerClass.objects.get(is_default=True)
    w = max(2, len(str(default.pk)))

    code, out, err = run(capsys, "class", "list")

    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"{'ID':>{w}}  Name     Currency  Archive xDRs  Invoices  Taxation     Managed by"
        "          Description",
        f"{'-' * w}  -------  --------  ------------  --------  -----------  ------------------"
        "  -----------------------------------------------------------",
        f"{default.pk:>{w}}  Default            on            on        No taxation  "
        "Administrator only  Default settings for customers without a class of their own",
    ]


@pytest.fixture
def three_customers(admin: User, now: dt.datetime) -> tuple[Customer, Customer, Customer]:
    default = CustomerClass.objects.get(is_default=True).pk
    acme = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Acme Dental LLC",
            "currency": "USD",
            "balance_control": "postpaid",
            "credit_limit": "500",
            "customer_class": default,
        },
    )
    record_transaction(
        actor=admin, now=now, customer_id=acme.pk, action="Manual charge", amount="120.50"
    )
    bob = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Bob Example",
            "currency": "EUR",
            "balance_control": "prepaid",
            "available_funds": "25",
            "customer_class": default,
        },
    )
    zed = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Zed Blocked Ltd",
            "currency": "GBP",
            "balance_control": "postpaid",
            "blocked": True,
            "customer_class": default,
        },
    )
    return acme, bob, zed


def test_customer_list_prints_each_customer_with_exact_values(
    capsys: pytest.CaptureFixture[str], three_customers: tuple[Customer, Customer, Customer]
) -> None:
    acme, bob, zed = three_customers
    w = max(2, *(len(str(c.pk)) for c in three_customers))

    code, out, err = run(capsys, "customer", "list")

    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"{'ID':>{w}}  Name             Class    Currency  Balance control  "
        "Balance / available funds  Status",
        f"{'-' * w}  ---------------  -------  --------  ---------------  "
        "-------------------------  -------",
        f"{acme.pk:>{w}}  Acme Dental LLC  Default  USD       Postpaid         "
        "                   120.50  Open",
        f"{bob.pk:>{w}}  Bob Example      Default  EUR       Prepaid          "
        "                    25.00  Open",
        f"{zed.pk:>{w}}  Zed Blocked Ltd  Default  GBP       Postpaid         "
        "                     0.00  blocked",
    ]


def test_customer_list_filters_by_currency(
    capsys: pytest.CaptureFixture[str], three_customers: tuple[Customer, Customer, Customer]
) -> None:
    _, bob, _ = three_customers

    code, out, _ = run(capsys, "customer", "list", "--currency", "EUR")

    assert code == 0
    rows = out.splitlines()[2:]
    assert len(rows) == 1
    assert rows[0].split()[:2] == [str(bob.pk), "Bob"]


# --- token create -----------------------------------------------------------------------


def test_token_create_prints_a_token_that_authenticates_the_api(
    capsys: pytest.CaptureFixture[str], admin: User, client: Client
) -> None:
    code, out, err = run(capsys, "token", "create", "--user", "admin")

    assert code == 0 and err == ""
    token = out.strip()
    assert token.startswith("bc_") and "\n" not in token
    response = client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0
    assert client.get("/api/v1/customers").status_code == 401
    assert ApiToken.objects.get().name == "cli"


def test_token_create_for_an_unknown_user_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], admin: User
) -> None:
    code, out, err = run(capsys, "token", "create", "--user", "nobody")

    assert code == 2
    assert out == ""
    assert "--user" in err and "'nobody'" in err
    assert ApiToken.objects.count() == 0


# --- createadmin ------------------------------------------------------------------------


def test_createadmin_prints_a_generated_password_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BILLCORE_ADMIN_PASSWORD", raising=False)

    code, out, err = run(capsys, "createadmin")

    assert code == 0 and err == ""
    password = PASSWORD_LINE.search(out).group(1)  # type: ignore[union-attr]
    assert len(password) >= 12
    assert out.count(password) == 1
    user = User.objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.reseller_id is None
    assert authenticate(username="admin", password=password) == user
    assert Client().login(username="admin", password=password)


def test_createadmin_takes_the_password_from_the_environment_and_does_not_print_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Correct-Horse-Battery-9"
    monkeypatch.setenv("BILLCORE_ADMIN_PASSWORD", secret)

    code, out, err = run(capsys, "createadmin", "--username", "root")

    assert code == 0 and err == ""
    assert secret not in out
    assert PASSWORD_LINE.search(out) is None
    assert "BILLCORE_ADMIN_PASSWORD" in out
    assert Client().login(username="root", password=secret)


def test_createadmin_if_missing_leaves_an_existing_admin_alone(
    capsys: pytest.CaptureFixture[str], admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLCORE_ADMIN_PASSWORD", "Another-Password-42")
    before = (User.objects.count(), User.objects.get(username="admin").password)

    code, out, err = run(capsys, "createadmin", "--if-missing")

    assert code == 0 and err == ""
    assert "exists" in out
    assert (User.objects.count(), User.objects.get(username="admin").password) == before
    assert authenticate(username="admin", password="admin-pass-1234") is not None


def test_createadmin_without_if_missing_refuses_an_existing_user(
    capsys: pytest.CaptureFixture[str], admin: User
) -> None:
    code, out, err = run(capsys, "createadmin")

    assert code == 2 and out == ""
    assert "'admin' already exists" in err


def test_createadmin_sees_an_existing_name_in_another_letter_case(
    capsys: pytest.CaptureFixture[str], admin: User
) -> None:
    """Usernames are unique regardless of case (issue 10 §3): ``ADMIN`` is the ``admin``
    that exists, refused with the reason (never the unique index's error)."""
    code, out, err = run(capsys, "createadmin", "--username", "ADMIN")

    assert (code, out, err) == (2, "", "error: user 'ADMIN' already exists\n")
    assert User.objects.count() == 1


# --- demo -------------------------------------------------------------------------------


def _state() -> dict[str, Any]:
    return {
        "customers": Customer.objects.count(),
        "transactions": Transaction.objects.count(),
        "classes": CustomerClass.objects.count(),
        "users": User.objects.count(),
        "audit": AuditEntry.objects.count(),
        "business_models": BusinessModel.objects.count(),
        "currencies": Currency.objects.count(),
        "custom_fields": CustomField.objects.count(),
        "balances": sorted(Customer.objects.values_list("pk", "balance")),
    }


def test_demo_loads_a_consistent_data_set_once(capsys: pytest.CaptureFixture[str]) -> None:
    started = timezone.now()

    code, out, err = run(capsys, "demo", "--customers", "40")

    assert code == 0 and err == ""
    transactions = Transaction.objects.count()
    assert out.splitlines()[0] == (
        "Demo loaded: 5 business models, 9 classes, 2 resellers, 40 customers, "
        f"{transactions} transactions."
    )
    assert BusinessModel.objects.count() == 5
    assert set(Currency.objects.values_list("code", flat=True)) == {
        "USD",
        "EUR",
        "GBP",
        "CAD",
        "MYR",
    }
    assert set(CustomField.objects.values_list("name", flat=True)) == {"tax_id", "contract_date"}
    assert CustomerClass.objects.count() == 9
    resellers = Customer.objects.filter(customer_type=CustomerType.RESELLER)
    assert sorted(resellers.values_list("name", flat=True)) == [
        "Blue Fibre Networks",
        "Northwind Telecom",
    ]
    assert Customer.objects.filter(customer_type=CustomerType.RETAIL).count() == 40
    # Sum of the ledger = balance, for every customer (DESIGN rule 1); 1-6 balance
    # adjustments each, besides usage, fees, invoices and payments (issue 17 item 14).
    for c in Customer.objects.all():
        assert ledger_sum(customer_id=c.pk) == c.balance, c.name
        posted = c.transactions.exclude(action="opening_balance").count()
        assert posted >= 1, c.name
        if c.is_prepaid:
            assert c.credit_limit is None, c.name
        # (A postpaid balance may pass its credit limit: the engine's fees and taxes are not
        # refused by it, only usage is.)
    # No superuser existed: a system user without a usable password did the work.
    system = User.objects.get(username="demo-admin")
    assert not system.has_usable_password()
    # Each reseller has a user without a password, its own class and sub-customers that
    # the user created (CC-07).
    for username, reseller_name in (
        ("northwind", "Northwind Telecom"),
        ("bluefibre", "Blue Fibre Networks"),
    ):
        user = User.objects.get(username=username)
        assert not user.has_usable_password()
        assert user.reseller.name == reseller_name  # type: ignore[union-attr]
        own = CustomerClass.objects.get(managed_by=user.reseller)
        subs = Customer.objects.filter(reseller=user.reseller)
        assert subs.exists()
        assert set(subs.values_list("customer_class", flat=True)) == {own.pk}
        assert not subs.exclude(currency=own.currency_id).exists()
        created_by = AuditEntry.objects.filter(
            object_type="customer",
            object_id__in=[str(pk) for pk in subs.values_list("pk", flat=True)],
        )
        assert set(created_by.values_list("actor_name", flat=True)) == {username}
    # Currencies and countries fit the classes; mandatory custom fields are filled.
    business = Customer.objects.filter(customer_class__name="Business EUR")
    assert all(c.currency_id == "EUR" and c.custom_fields.get("tax_id") for c in business)
    assert not Customer.objects.filter(currency="MYR").exclude(country="MY").exists()
    # A history over the last 90 days.
    first, last = (
        Transaction.objects.order_by("created_at").first(),
        Transaction.objects.order_by("created_at").last(),
    )
    assert first is not None and last is not None
    assert first.created_at >= started - dt.timedelta(days=91)
    assert last.created_at <= timezone.now()
    assert Customer.objects.filter(blocked=True).count() < 40

    # A second run changes nothing.
    before = _state()
    code, out, err = run(capsys, "demo")

    assert code == 0 and err == ""
    assert "already loaded" in out
    assert _state() == before


def test_demo_acts_as_the_existing_superuser(admin: User) -> None:
    from billcore.demo import load_demo

    now = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    summary = load_demo(customers=3, seed=11, now=now)

    assert "Loaded as administrator 'admin'." in summary.splitlines()
    assert not User.objects.filter(username="demo-admin").exists()
    assert set(AuditEntry.objects.values_list("actor_name", flat=True)) <= {
        "admin",
        "northwind",
        "bluefibre",
    }
    assert Customer.objects.filter(customer_type=CustomerType.RETAIL).count() == 3
    dates = Transaction.objects.values_list("created_at", flat=True)
    assert min(dates) >= now - dt.timedelta(days=90) and max(dates) <= now
    assert sum(Customer.objects.values_list("balance", flat=True), Decimal(0)) == sum(
        Transaction.objects.values_list("amount", flat=True), Decimal(0)
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        (
            "a",
            "This password is too short. It must contain at least 8 characters. "
            "This password is too common.",
        ),
        ("password", "This password is too common."),
        ("Zq9!xw", "This password is too short. It must contain at least 8 characters."),
    ],
)
def test_createadmin_refuses_a_password_the_validators_refuse_and_creates_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    reason: str,
) -> None:
    """Issue 10 §2: BILLCORE_ADMIN_PASSWORD goes through AUTH_PASSWORD_VALIDATORS."""
    monkeypatch.setenv("BILLCORE_ADMIN_PASSWORD", password)
    audit = AuditEntry.objects.count()

    code, out, err = run(capsys, "createadmin")

    assert (code, out) == (2, "")
    assert err == f"error: BILLCORE_ADMIN_PASSWORD: {reason}\n"
    assert User.objects.count() == 0
    assert AuditEntry.objects.count() == audit


def test_check_password_names_the_field_and_every_reason() -> None:
    from billcore.accounts.passwords import check_password, set_password
    from billcore.errors import ValidationFailed

    user = User(username="someone")
    with pytest.raises(ValidationFailed) as refused:
        check_password("1234567", user=user)
    assert (refused.value.field, refused.value.message) == (
        "password",
        "This password is too short. It must contain at least 8 characters. "
        "This password is too common.",
    )
    with pytest.raises(ValidationFailed) as missing:
        set_password(user, "", field="new_password")
    assert (missing.value.field, missing.value.message) == (
        "new_password",
        "new_password is required",
    )
    set_password(user, "Tangerine-Kite-77")
    assert user.check_password("Tangerine-Kite-77")

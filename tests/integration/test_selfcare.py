"""Issue 16 §1 and §3: the customer's self-care login (CU-13 Web Self-Care) and what the
signed-in customer reads and does (``billcore.portal``), on SQLite and PostgreSQL.

Sign-in rules: CU-02 (blocked), CU-15 (suspended: can, to pay), CU-16 (provisionally
terminated: read-only, pays its last invoice), CU-17 (permanently terminated), CU-18 (exported);
TOTP with a real code generator (pyotp); passwords under Django's validators; CC-12 (a hidden
balance reset never shows); CC-21 (transfers when the class allows them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyotp
import pytest
from django.test import override_settings

from billcore.audit.models import AuditEntry
from billcore.customers import logins
from billcore.customers.models import Customer, CustomerLogin, CustomerToken
from billcore.errors import NotAllowed, NotFound, ValidationFailed
from billcore.invoicing.models import Invoice, PaymentAttempt
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.portal import services as portal
from tests.selfcare_support import PASSWORD_A, T0, make_world

pytestmark = pytest.mark.django_db
NOW = T0 + dt.timedelta(hours=1)
D = Decimal


@pytest.fixture
def w(admin):
    return make_world(admin)


def _status(customer, **fields):
    Customer.objects.filter(pk=customer.pk).update(**fields)


# --------------------------------------------------------------------------- sign-in rules


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({}, "full"),
        ({"status": "suspended", "suspension_reason": "overdue"}, "full"),  # CU-15: to pay
        ({"status": "provisionally_terminated"}, "read_only"),  # CU-16
        ({"blocked": True}, "blocked"),  # CU-02
        ({"status": "closed"}, "permanently terminated"),  # CU-17
        ({"status": "exported"}, "exported"),  # CU-18
    ],
)
def test_status_matrix_for_sign_in(w, fields, outcome):
    _status(w["a"], **fields)
    if outcome in ("full", "read_only"):
        login = logins.check_credentials(name="alice", password=PASSWORD_A, now=NOW)
        assert logins.access(login).value == outcome
        return
    with pytest.raises(logins.SignInRefused) as info:
        logins.check_credentials(name="alice", password=PASSWORD_A, now=NOW)
    assert outcome in info.value.message
    assert info.value.status == 403


def test_wrong_password_unknown_login_and_disabled_login(w, admin):
    with pytest.raises(logins.SignInFailed):
        logins.check_credentials(name="alice", password="nope-nope-nope", now=NOW)
    with pytest.raises(logins.SignInFailed):
        logins.check_credentials(name="nobody", password=PASSWORD_A, now=NOW)
    # Letter case of the login does not matter (one name key).
    assert logins.check_credentials(name="ALICE", password=PASSWORD_A, now=NOW).pk == (
        w["login_a"].pk
    )
    logins.save_login(actor=admin, now=NOW, customer_id=w["a"].pk, data={"enabled": False})
    with pytest.raises(logins.SignInRefused) as info:
        logins.check_credentials(name="alice", password=PASSWORD_A, now=NOW)
    assert info.value.code == "disabled"


def test_totp_with_a_real_code_generator(w, admin):
    secret, uri = logins.enable_totp(actor=admin, now=NOW, customer_id=w["a"].pk)
    assert uri.startswith("otpauth://totp/billcore:alice?secret=" + secret)
    # The password alone is not enough.
    with pytest.raises(logins.CodeRequired):
        logins.check_credentials(name="alice", password=PASSWORD_A, now=NOW)
    good = pyotp.TOTP(secret).at(NOW)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(logins.SignInFailed) as info:
        logins.check_credentials(name="alice", password=PASSWORD_A, code=wrong, now=NOW)
    assert info.value.code == "wrong_code"
    # A code of ten minutes earlier is refused; the current one (and the previous step) pass.
    stale = pyotp.TOTP(secret).at(NOW - dt.timedelta(minutes=10))
    if stale != good:
        with pytest.raises(logins.SignInFailed):
            logins.check_credentials(name="alice", password=PASSWORD_A, code=stale, now=NOW)
    assert logins.check_credentials(name="alice", password=PASSWORD_A, code=good, now=NOW)
    previous = pyotp.TOTP(secret).at(NOW - dt.timedelta(seconds=30))
    assert logins.check_credentials(name="alice", password=PASSWORD_A, code=previous, now=NOW)
    # Off again: the password suffices, and the secret is gone.
    logins.disable_totp(actor=admin, now=NOW, customer_id=w["a"].pk)
    assert CustomerLogin.objects.get(pk=w["login_a"].pk).totp_secret == ""
    assert logins.check_credentials(name="alice", password=PASSWORD_A, now=NOW)


def test_passwords_go_through_django_validators_and_are_hashed(w, admin):
    before = CustomerLogin.objects.get(pk=w["login_a"].pk).password
    for weak in ("short", "password123"):
        with pytest.raises(ValidationFailed) as info:
            logins.save_login(actor=admin, now=NOW, customer_id=w["a"].pk, data={"password": weak})
        assert info.value.field == "password"
    assert CustomerLogin.objects.get(pk=w["login_a"].pk).password == before  # nothing saved
    assert PASSWORD_A not in before
    generated = logins.generate_password(actor=admin, now=NOW, customer_id=w["a"].pk)
    assert len(generated) == 16
    assert logins.check_credentials(name="alice", password=generated, now=NOW)
    with pytest.raises(logins.SignInFailed):
        logins.check_credentials(name="alice", password=PASSWORD_A, now=NOW)
    rows = AuditEntry.objects.filter(object_type="customer_login").order_by("id")
    assert [r.operation for r in rows] == ["create", "create", "update"]
    assert all(
        "password" not in (r.after or {}) or r.after["password"] == "(changed)" for r in rows
    )


def test_login_names_are_unique_and_scoped_to_what_the_actor_sees(w, world):
    with pytest.raises(ValidationFailed) as info:
        logins.save_login(
            actor=world["admin"], now=NOW, customer_id=w["b"].pk, data={"login": "Alice"}
        )
    assert (info.value.field, info.value.code) == ("login", "taken")
    # A reseller's user cannot see (or touch) a customer that is not its own.
    with pytest.raises(NotFound):
        logins.save_login(
            actor=world["ua"], now=NOW, customer_id=w["a"].pk, data={"login": "mallory"}
        )
    with pytest.raises(NotFound):
        logins.sign_in_as_ticket(actor=world["ua"], now=NOW, customer_id=w["a"].pk)
    assert CustomerLogin.objects.get(customer=w["a"]).login == "alice"


def test_sign_in_as_ticket_is_audited_signed_and_short_lived(w, admin):
    ticket = logins.sign_in_as_ticket(actor=admin, now=NOW, customer_id=w["a"].pk)
    entry = AuditEntry.objects.get(object_type="selfcare_sign_in_as")
    assert (entry.actor_name, entry.after) == (
        "admin",
        {"customer_id": w["a"].pk, "login": "alice"},
    )
    login, by = logins.redeem_ticket(ticket, now=NOW + dt.timedelta(seconds=60))
    assert (login.pk, by) == (w["login_a"].pk, "admin")
    with pytest.raises(NotFound):
        logins.redeem_ticket(ticket, now=NOW + dt.timedelta(seconds=121))
    with pytest.raises(NotFound):
        logins.redeem_ticket(ticket[:-2] + "xx", now=NOW)


def test_customer_tokens_are_their_own_kind(w, admin):
    from billcore.accounts.tokens import create_token, user_for_token

    secret, expires = logins.create_token(
        login=w["login_a"], kind="api", now=NOW, lifetime=logins.API_TOKEN_LIFETIME
    )
    assert expires == NOW + dt.timedelta(hours=12)
    assert secret.startswith("bcc_")
    assert logins.login_for_token(secret, kind="api", now=NOW).pk == w["login_a"].pk
    assert logins.login_for_token(secret, kind="porta", now=NOW) is None
    assert logins.login_for_token(secret, kind="api", now=expires) is None
    assert user_for_token(secret, now=NOW) is None  # never an administrator's token
    admin_token = create_token(user=admin, now=NOW)
    assert logins.login_for_token(admin_token, kind="api", now=NOW) is None
    # A password change ends every token of the login.
    logins.generate_password(actor=admin, now=NOW, customer_id=w["a"].pk)
    assert CustomerToken.objects.count() == 0


# --------------------------------------------------------------------------- what A sees


def test_overview_exact_figures_and_the_balance_chart(w):
    me = portal.me_for(w["login_a"])
    o = portal.overview(me, now=NOW)
    # 2.50 + 1.25 invoiced (3.75 unpaid), then 0.40 unbilled: balance 4.15 of a 100 limit.
    assert (o.balance, o.credit_limit, o.status, o.unpaid_count, o.unpaid_total) == (
        D("4.15000"),
        D("100.00000"),
        "Open",
        1,
        D("3.75000"),
    )
    assert o.available_funds is None and o.prepaid is False
    assert len(o.chart_values) == 30 and o.chart_labels[-1] == "11-02"
    assert (o.chart_values[-2], o.chart_values[-1]) == (D(0), D("4.15000"))


def test_hidden_balance_reset_never_appears(w):
    """CC-12: a balance-reset row the class hides from end users is left out."""
    post_locked(
        customer_id=w["a"].pk,
        action=Action.MANUAL_CREDIT,
        amount=D("-4.15"),
        now=NOW,
        visible_comment="Balance reset at the end of the billing period",
        hidden=True,
        balance_reset=True,
    )
    me = portal.me_for(w["login_a"])
    shown = list(portal.transactions(me))
    assert all(not t.hidden for t in shown)
    assert Transaction.objects.filter(customer=w["a"], hidden=True).count() == 1
    assert [t.action for t in shown] == ["usage", "usage", "usage"]


def test_a_never_reaches_b(w):
    me = portal.me_for(w["login_a"])
    with pytest.raises(NotFound):
        portal.invoice(me, w["inv_b"].pk)
    with pytest.raises(NotFound):
        portal.pdf(me, w["inv_b"].pk)
    with pytest.raises(NotFound):
        portal.pay_invoice(me, now=NOW, invoice_id=w["inv_b"].pk, idempotency_key="k")
    with pytest.raises(NotFound):
        portal.xdrs(me, account_id=w["b1"].pk)
    with pytest.raises(NotFound):
        portal.transfer(me, now=NOW, from_account=w["b1"].pk, to_account=w["a1"].pk, amount="1")
    with pytest.raises(NotFound) as info:
        portal.transfer(me, now=NOW, from_account=w["a2"].pk, to_account=w["b1"].pk, amount="1")
    assert info.value.field == "to_account"
    assert [x.external_id for x in portal.xdrs(me)] == ["a-3", "a-2", "a-1"]
    assert [a.identifier for a in portal.accounts(me)] == ["+15550001", "+15550002"]
    assert [i.pk for i in portal.invoices(me)] == [w["inv_a"].pk]
    assert Transaction.objects.filter(customer=w["b"]).count() == 1  # B untouched


# --------------------------------------------------------------------------- actions


@override_settings(BILLCORE_PAYMENT_GATEWAY="test")
def test_pay_an_invoice_with_the_saved_card_once(w):
    me = portal.me_for(w["login_a"])
    with pytest.raises(ValidationFailed) as info:
        portal.pay_invoice(me, now=NOW, invoice_id=w["inv_a"].pk, idempotency_key="p1")
    assert info.value.code == "no_card"
    portal.save_card(
        me,
        now=NOW,
        data={"card_number": "4242424242424242", "exp_month": "12", "exp_year": "2030"},
    )
    paid = portal.pay_invoice(me, now=NOW, invoice_id=w["inv_a"].pk, idempotency_key="p1")
    assert (paid.status, paid.amount_due) == ("paid", D("0.00000"))
    again = portal.pay_invoice(me, now=NOW, invoice_id=w["inv_a"].pk, idempotency_key="p1")
    assert again.status == "paid"
    pay = Transaction.objects.get(customer=w["a"], action=Action.ECOMMERCE_PAYMENT)
    assert (pay.amount, pay.balance_after) == (D("-3.75000"), D("0.40000"))
    assert pay.visible_comment == f"Card payment of invoice {paid.number} (self-care)"
    attempt = PaymentAttempt.objects.get(invoice=paid)
    assert (attempt.amount, attempt.approved, attempt.transaction_id) == (
        D("3.75000"),
        True,
        pay.pk,
    )
    assert AuditEntry.objects.filter(actor_name="alice (self-care)", object_type="transaction")


@override_settings(BILLCORE_PAYMENT_GATEWAY="test")
def test_declined_card_and_top_up(w):
    me = portal.me_for(w["login_a"])
    portal.save_card(
        me,
        now=NOW,
        data={"card_number": "4000000000000002", "exp_month": "1", "exp_year": "2031"},
    )
    with pytest.raises(ValidationFailed) as info:
        portal.top_up(me, now=NOW, amount="10", idempotency_key="t1")
    assert (info.value.field, info.value.code) == ("card", "declined")
    assert Customer.objects.get(pk=w["a"].pk).balance == D("4.15000")  # nothing changed
    portal.save_card(
        me,
        now=NOW,
        data={"card_number": "4242424242424242", "exp_month": "1", "exp_year": "2031"},
    )
    assert portal.top_up(me, now=NOW, amount="10", idempotency_key="t1") == D("-5.85000")
    assert portal.top_up(me, now=NOW, amount="10", idempotency_key="t1") == D("-5.85000")
    # The top-up settled the open invoice (oldest first).
    assert Invoice.objects.get(pk=w["inv_a"].pk).status == "paid"


def test_transfer_between_own_accounts(w):
    me = portal.me_for(w["login_a"])
    portal.transfer(me, now=NOW, from_account=w["a2"].pk, to_account=w["a1"].pk, amount="1.50")
    a1 = portal.own_account(me, w["a1"].pk)
    a2 = portal.own_account(me, w["a2"].pk)
    assert (a1.balance, a1.available_funds) == (D("-1.50000"), D("1.50000"))
    assert (a2.balance, a2.available_funds) == (D("4.00000"), D("1.00000"))
    with pytest.raises(ValidationFailed) as info:
        portal.transfer(me, now=NOW, from_account=w["a2"].pk, to_account=w["a1"].pk, amount="2")
    assert info.value.code == "insufficient_funds"
    assert Customer.objects.get(pk=w["a"].pk).balance == D("4.15000")  # customer unchanged


def test_transfers_refused_when_the_class_does_not_allow_them(w):
    from billcore.classes.models import CustomerClass

    CustomerClass.objects.filter(pk=w["cls"].pk).update(s2s_transfers_allowed=False)
    me = portal.me_for(w["login_a"])
    assert portal.transfers_allowed(me) is False
    with pytest.raises(ValidationFailed) as info:
        portal.transfer(me, now=NOW, from_account=w["a2"].pk, to_account=w["a1"].pk, amount="1")
    assert info.value.code == "not_allowed"


@override_settings(BILLCORE_PAYMENT_GATEWAY="test")
def test_provisionally_terminated_is_read_only_but_pays_its_last_invoice(w, admin):
    from billcore.invoicing.issuing import issue_out_of_turn_invoice

    later = NOW + dt.timedelta(minutes=1)
    second = issue_out_of_turn_invoice(actor=admin, now=later, customer_id=w["a"].pk)  # 0.40
    _status(w["a"], status="provisionally_terminated")
    me = portal.me_for(w["login_a"])
    assert me.read_only
    portal.save_card(
        me,
        now=NOW,
        data={"card_number": "4242424242424242", "exp_month": "1", "exp_year": "2031"},
    )
    for action in (
        lambda: portal.top_up(me, now=NOW, amount="5", idempotency_key="x"),
        lambda: portal.transfer(
            me, now=NOW, from_account=w["a2"].pk, to_account=w["a1"].pk, amount="1"
        ),
        lambda: portal.update_profile(me, now=NOW, data={"phone": "+1555"}),
        lambda: portal.pay_invoice(me, now=NOW, invoice_id=w["inv_a"].pk, idempotency_key="x"),
    ):
        with pytest.raises(NotAllowed) as info:
            action()
        assert info.value.code == "read_only"
    paid = portal.pay_invoice(me, now=NOW, invoice_id=second.pk, idempotency_key="last")
    assert paid.pk == second.pk
    # 0.40 paid; the oldest-first settlement applied it to the older invoice (3.75 due).
    assert Customer.objects.get(pk=w["a"].pk).balance == D("3.75000")


def test_profile_edits_only_contact_details(w):
    me = portal.me_for(w["login_a"])
    portal.update_profile(me, now=NOW, data={"phone": "+1 555 0100", "city": "Springfield"})
    c = Customer.objects.get(pk=w["a"].pk)
    assert (c.phone, c.city, c.name) == ("+1 555 0100", "Springfield", "Alpha Ltd")
    with pytest.raises(ValidationFailed) as info:
        portal.update_profile(me, now=NOW, data={"credit_limit": "1000"})
    assert info.value.field == "credit_limit"
    assert Customer.objects.get(pk=w["a"].pk).credit_limit == D("100.00000")


def test_change_own_password(w):
    me = portal.me_for(w["login_a"])
    with pytest.raises(ValidationFailed) as info:
        logins.change_own_password(
            login=me.login, now=NOW, old_password="wrong", new_password="Another-pass-99"
        )
    assert info.value.field == "old_password"
    with pytest.raises(ValidationFailed) as info:
        logins.change_own_password(
            login=me.login, now=NOW, old_password=PASSWORD_A, new_password="short"
        )
    assert info.value.field == "new_password"
    version = me.login.credentials_version
    logins.change_own_password(
        login=me.login, now=NOW, old_password=PASSWORD_A, new_password="Another-pass-99"
    )
    assert me.login.credentials_version == version + 1
    assert logins.check_credentials(name="alice", password="Another-pass-99", now=NOW)

"""The ledger (CU-12, DESIGN rules 1 and 2), on SQLite and PostgreSQL."""

import random
from decimal import Decimal

import pytest

from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer, Status
from billcore.errors import Conflict, ValidationFailed
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from tests.support import ledger_sum


def _customer(admin, now, control="postpaid", **extra):
    data = {
        "name": f"C-{control}",
        "currency": "USD",
        "balance_control": control,
        "customer_class": CustomerClass.objects.get(is_default=True).pk,
    }
    data.update(extra)
    return create_customer(actor=admin, now=now, data=data)


@pytest.mark.parametrize(
    ("action", "postpaid_balance", "prepaid_funds"),
    [
        ("Manual charge", "10.12345", "89.87655"),
        ("Manual credit", "-10.12345", "110.12345"),
        ("Promotional credit", "-10.12345", "110.12345"),
        ("Manual payment", "-10.12345", "110.12345"),
        ("E-commerce payment", "-10.12345", "110.12345"),
        ("Refund", "10.12345", "89.87655"),
        ("E-commerce refund", "10.12345", "89.87655"),
    ],
)
def test_effect_of_each_action(admin, now, action, postpaid_balance, prepaid_funds):
    """portabilling.md: the effect table, for postpaid balance and prepaid available funds."""
    post = _customer(admin, now)
    pre = _customer(admin, now, "prepaid", available_funds="100")
    r1 = record_transaction(
        actor=admin, now=now, customer_id=post.pk, action=action, amount="10.12345"
    )
    r2 = record_transaction(
        actor=admin, now=now, customer_id=pre.pk, action=action.upper(), amount="10.12345"
    )
    assert (r1.balance, r1.available_funds) == (Decimal(postpaid_balance), None)
    assert r2.available_funds == Decimal(prepaid_funds)
    assert r2.balance == -Decimal(prepaid_funds)
    post.refresh_from_db()
    pre.refresh_from_db()
    assert post.balance == Decimal(postpaid_balance)
    assert pre.available_funds == Decimal(prepaid_funds)


def test_action_codes_are_accepted(admin, now):
    c = _customer(admin, now)
    r = record_transaction(
        actor=admin, now=now, customer_id=c.pk, action="manual_charge", amount="1"
    )
    assert (r.action, r.amount) == ("manual_charge", Decimal("1.00000"))


def test_ledger_sum_equals_balance_after_many_operations(admin, now):
    """Sum of the ledger = balance, always (DESIGN rule 1)."""
    rng = random.Random(42)
    c = _customer(admin, now, "prepaid", available_funds="1000")
    actions = [
        "Manual charge",
        "Manual credit",
        "Manual payment",
        "Refund",
        "Promotional credit",
        "E-commerce payment",
        "E-commerce refund",
    ]
    expected = Decimal("-1000")
    for _ in range(150):
        action = rng.choice(actions)
        amount = Decimal(rng.randint(1, 10_000_000)) / Decimal(100_000)
        r = record_transaction(
            actor=admin, now=now, customer_id=c.pk, action=action, amount=str(amount)
        )
        expected += (
            amount if action in ("Manual charge", "Refund", "E-commerce refund") else -amount
        )
        assert r.balance == expected
    c.refresh_from_db()
    assert c.balance == expected
    assert ledger_sum(customer_id=c.pk) == expected
    rows = list(Transaction.objects.filter(customer=c).order_by("id"))
    running = Decimal(0)
    for row in rows:
        running += row.amount
        assert row.balance_after == running


def test_idempotency_key_replays_first_result(admin, now):
    """DESIGN rule 2."""
    c = _customer(admin, now)
    first = record_transaction(
        actor=admin,
        now=now,
        customer_id=c.pk,
        action="Manual charge",
        amount="5",
        idempotency_key="k-1",
    )
    again = record_transaction(
        actor=admin,
        now=now,
        customer_id=c.pk,
        action="manual charge",
        amount="5.00",
        idempotency_key="k-1",
    )
    assert (again.transaction_id, again.balance, again.replayed) == (
        first.transaction_id,
        Decimal("5.00000"),
        True,
    )
    assert first.replayed is False
    assert Transaction.objects.filter(customer=c).count() == 1
    with pytest.raises(Conflict) as info:
        record_transaction(
            actor=admin,
            now=now,
            customer_id=c.pk,
            action="Manual charge",
            amount="6",
            idempotency_key="k-1",
        )
    assert info.value.code == "idempotency_key_reused"
    c.refresh_from_db()
    assert c.balance == Decimal("5.00000")


@pytest.mark.parametrize(
    ("field", "kwargs", "code"),
    [
        ("amount", {"amount": "0"}, "invalid"),
        ("amount", {"amount": "-3"}, "invalid"),
        ("amount", {"amount": "1.123456"}, "invalid"),
        ("amount", {"amount": "2E+1"}, "invalid"),
        ("amount", {"amount": 1.5}, "invalid"),
        ("action", {"action": "Gift"}, "invalid_choice"),
    ],
)
def test_bad_transactions_change_nothing(admin, now, field, kwargs, code):
    c = _customer(admin, now)
    args = {"action": "Manual charge", "amount": "1"} | kwargs
    with pytest.raises(ValidationFailed) as info:
        record_transaction(actor=admin, now=now, customer_id=c.pk, **args)
    assert (info.value.field, info.value.code) == (field, code)
    c.refresh_from_db()
    assert c.balance == Decimal("0.00000")
    assert Transaction.objects.filter(customer=c).count() == 0


def test_no_transaction_for_closed_customer(admin, now):
    """CU-17: no operation is possible after permanent termination."""
    c = _customer(admin, now)
    Customer.objects.filter(pk=c.pk).update(status=Status.CLOSED)
    with pytest.raises(ValidationFailed) as info:
        record_transaction(
            actor=admin, now=now, customer_id=c.pk, action="Manual charge", amount="1"
        )
    assert info.value.code == "not_operational"
    assert Transaction.objects.filter(customer=c).count() == 0


def test_money_is_exact_at_the_extremes(admin, now):
    """Stored as integer units: no float rounding on either database."""
    c = _customer(admin, now, credit_limit="9999999999999.99999")
    record_transaction(
        actor=admin, now=now, customer_id=c.pk, action="Manual charge", amount="9999999999999.99999"
    )
    record_transaction(
        actor=admin, now=now, customer_id=c.pk, action="Manual payment", amount="0.00001"
    )
    c.refresh_from_db()
    assert c.balance == Decimal("9999999999999.99998")
    assert c.credit_limit == Decimal("9999999999999.99999")
    assert ledger_sum(customer_id=c.pk) == Decimal("9999999999999.99998")


def test_card_steps(admin, now):
    """portabilling.md: authorisation changes nothing until captured; void cancels."""
    c = _customer(admin, now, credit_limit="100")
    record_transaction(actor=admin, now=now, customer_id=c.pk, action="Manual charge", amount="30")
    auth = record_transaction(
        actor=admin, now=now, customer_id=c.pk, action="Authorization only", amount="25"
    )
    assert (auth.amount, auth.balance) == (Decimal("0.00000"), Decimal("30.00000"))
    cap = record_transaction(
        actor=admin,
        now=now,
        customer_id=c.pk,
        action="capture payment",
        amount="10",
        reference_id=auth.transaction_id,
    )
    assert (cap.amount, cap.balance) == (Decimal("-10.00000"), Decimal("20.00000"))
    with pytest.raises(ValidationFailed) as info:
        record_transaction(
            actor=admin,
            now=now,
            customer_id=c.pk,
            action="Capture payment",
            amount="15.00001",
            reference_id=auth.transaction_id,
        )
    assert info.value.code == "exceeds_authorisation"
    with pytest.raises(ValidationFailed) as info:
        record_transaction(
            actor=admin,
            now=now,
            customer_id=c.pk,
            action="Void",
            amount="15",
            reference_id=auth.transaction_id,
        )
    assert info.value.code == "captured"
    second = record_transaction(
        actor=admin, now=now, customer_id=c.pk, action="Authorization only", amount="5"
    )
    void = record_transaction(
        actor=admin,
        now=now,
        customer_id=c.pk,
        action="VOID",
        amount="5",
        reference_id=second.transaction_id,
    )
    assert (void.amount, void.balance) == (Decimal("0.00000"), Decimal("20.00000"))
    with pytest.raises(ValidationFailed) as info:
        record_transaction(
            actor=admin,
            now=now,
            customer_id=c.pk,
            action="Capture payment",
            amount="1",
            reference_id=second.transaction_id,
        )
    assert info.value.code == "voided"
    for kwargs, code in (
        ({"action": "Capture payment"}, "required"),
        ({"action": "Manual charge", "reference_id": auth.transaction_id}, "not_applicable"),
        ({"action": "Void", "reference_id": cap.transaction_id}, "not_found"),
    ):
        with pytest.raises(ValidationFailed) as info:
            record_transaction(actor=admin, now=now, customer_id=c.pk, amount="1", **kwargs)
        assert (info.value.field, info.value.code) == ("reference", code)
    c.refresh_from_db()
    assert c.balance == Decimal("20.00000")
    assert ledger_sum(customer_id=c.pk) == Decimal("20.00000")
    rows = Transaction.objects.filter(
        customer=c, action__in=["authorization_only", "capture_payment", "void"]
    )
    assert sorted((r.action, r.card_amount) for r in rows) == [
        ("authorization_only", Decimal("5.00000")),
        ("authorization_only", Decimal("25.00000")),
        ("capture_payment", Decimal("10.00000")),
        ("void", Decimal("5.00000")),
    ]

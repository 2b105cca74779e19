from decimal import Decimal

from billcore.classes.models import CustomerClass
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from tests.support import ledger_sum


def test_default_class_exists_after_migrate(db):
    """CC-02."""
    default = CustomerClass.objects.get(is_default=True)
    assert default.name == "Default"
    assert default.termination_delay_days == 30


def test_prepaid_opening_funds_and_payment(admin, now):
    default = CustomerClass.objects.get(is_default=True)
    c = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Alice",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "100.10",
            "customer_class": default.pk,
        },
    )
    assert c.balance == Decimal("-100.10000")
    assert c.available_funds == Decimal("100.10000")
    r = record_transaction(
        actor=admin, now=now, customer_id=c.pk, action="Manual charge", amount="0.00001"
    )
    assert r.balance == Decimal("-100.09999")
    assert ledger_sum(customer_id=c.pk) == Decimal("-100.09999")

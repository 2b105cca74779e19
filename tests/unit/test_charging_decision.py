"""The pure charging decision (issue 3): status, funds, limits, account rules, fraud."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billcore.core.charging import (
    AccountState,
    CustomerState,
    Decision,
    FraudState,
    decide,
)


def cust(*, prepaid=True, balance="-10", reserved="0", limit=None, status="open", blocked=False):
    return CustomerState(
        status=status,
        blocked=blocked,
        prepaid=prepaid,
        balance=D(balance),
        reserved=D(reserved),
        credit_limit=None if limit is None else D(limit),
    )


def test_prepaid_spends_exactly_its_funds():
    assert decide(amount=D("10"), customer=cust()) == Decision(True)
    assert decide(amount=D("10.00001"), customer=cust()) == Decision(False, "insufficient_funds")


def test_reservations_count_against_funds():
    assert decide(amount=D("6"), customer=cust(reserved="4.5")).reason == "insufficient_funds"
    assert decide(amount=D("5.5"), customer=cust(reserved="4.5")).allowed


def test_postpaid_credit_limit():
    c = cust(prepaid=False, balance="90", limit="100", reserved="5")
    assert decide(amount=D("5"), customer=c).allowed
    assert decide(amount=D("5.00001"), customer=c).reason == "credit_limit_exceeded"
    assert decide(amount=D("1000000"), customer=cust(prepaid=False, balance="90")).allowed


@pytest.mark.parametrize(
    ("status", "blocked", "reason"),
    [
        ("closed", False, "customer_closed"),
        ("exported", False, "customer_exported"),
        ("provisionally_terminated", False, "customer_terminated"),
        ("suspended", False, "customer_suspended"),
        ("open", True, "customer_blocked"),
        ("closed", True, "customer_closed"),
    ],
)
def test_status_denies_first(status, blocked, reason):
    d = decide(amount=D("0"), customer=cust(balance="-1000", status=status, blocked=blocked))
    assert (d.allowed, d.reason) == (False, reason)
    assert d.message


@pytest.mark.parametrize(
    ("suspension_reason", "reason", "message"),
    [
        ("overdue", "customer_suspended", "the customer is suspended for an overdue invoice"),
        (
            "insufficient_funds",
            "customer_suspended_funds",
            "the customer is suspended: insufficient funds for subscriptions",
        ),
        ("manual", "customer_suspended_manual", "the customer is suspended by an operator"),
    ],
)
def test_a_suspension_says_why(suspension_reason, reason, message):
    """CU-15, CC-19 (issue 10 §4): the denial names the suspension's own reason."""
    c = CustomerState(
        status="suspended",
        blocked=True,
        prepaid=True,
        balance=D("-1000"),
        reserved=D("0"),
        credit_limit=None,
        suspension_reason=suspension_reason,
    )
    d = decide(amount=D("1"), customer=c)
    assert (d.allowed, d.reason, d.message) == (False, reason, message)


def test_account_rules():
    c = cust(balance="-100")
    debit = AccountState(
        debit=True, blocked=False, balance=D("-3"), reserved=D("1"), credit_limit=None
    )
    assert decide(amount=D("2"), customer=c, account=debit).allowed
    assert decide(amount=D("2.1"), customer=c, account=debit).reason == (
        "account_insufficient_funds"
    )
    credit = AccountState(
        debit=False, blocked=False, balance=D("8"), reserved=D("0"), credit_limit=D("10")
    )
    assert decide(amount=D("2"), customer=c, account=credit).allowed
    assert decide(amount=D("2.5"), customer=c, account=credit).reason == ("account_limit_exceeded")
    blocked = AccountState(
        debit=False, blocked=True, balance=D(0), reserved=D(0), credit_limit=None
    )
    assert decide(amount=D("1"), customer=c, account=blocked).reason == "account_blocked"


def test_fraud_limit_block_and_notify():
    c = cust(balance="-100")
    block = FraudState(daily_limit=D("20"), spent_today=D("15"), blocks=True)
    assert decide(amount=D("5"), customer=c, fraud=block) == Decision(True)
    assert decide(amount=D("5.01"), customer=c, fraud=block).reason == "fraud_daily_limit"
    notify = FraudState(daily_limit=D("20"), spent_today=D("15"), blocks=False)
    assert decide(amount=D("6"), customer=c, fraud=notify) == Decision(True, fraud_alert=True)


money = st.decimals(min_value=0, max_value=10**6, places=5, allow_nan=False)


@given(funds=money, reserved=money, amount=money)
def test_prepaid_never_overspends(funds, reserved, amount):
    d = decide(amount=amount, customer=cust(balance=str(-funds), reserved=str(reserved)))
    assert d.allowed == (amount <= funds - reserved)


def test_negative_amount_is_a_programming_error():
    with pytest.raises(ValueError):
        decide(amount=D("-1"), customer=cust())

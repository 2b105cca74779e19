"""Whether a charge may go through: the pure decision behind real-time charging.

Sign convention (portabilling.md): ``balance`` is what is owed; ``reserved`` is held by open
reservations. A postpaid customer may spend while ``balance + reserved + amount <= limit``
(no limit: no cap); a prepaid customer while ``amount <= -balance - reserved`` (its available
funds). An account adds its own rules: a debit account spends only its own funds; a credit
account with an individual limit stays within it. Fraud protection caps what a customer
spends in one day of its time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

ZERO: Final = Decimal(0)

# Reason codes, in the order they are checked, with the sentence an operator reads.
REASONS: Final[dict[str, str]] = {
    "customer_closed": "the customer is permanently terminated",
    "customer_exported": "the customer is exported to another installation",
    "customer_terminated": "the customer is provisionally terminated",
    "customer_suspended": "the customer is suspended for an overdue invoice",
    "customer_suspended_funds": "the customer is suspended: insufficient funds for subscriptions",
    "customer_suspended_manual": "the customer is suspended by an operator",
    "customer_blocked": "the customer is blocked",
    "account_blocked": "the account is blocked",
    "insufficient_funds": "the customer's available funds do not cover the amount",
    "credit_limit_exceeded": "the amount would take the customer past its credit limit",
    "account_insufficient_funds": "the debit account's funds do not cover the amount",
    "account_limit_exceeded": "the amount would take the account past its credit limit",
    "fraud_daily_limit": "the customer's daily spending limit (fraud protection) is reached",
    # Service configuration (issue 14): one more session would pass a simultaneous-call limit.
    "concurrent_calls_limit": "the account's or the customer's simultaneous-call limit is reached",
    # Rating (issue 12 §2): a record that cannot be priced (``rating.pricing.REFUSALS``) …
    "no_product": "the account has no product that rates this service",
    "no_rate": "the tariff has no rate for the called number",
    "forbidden_destination": "the called number is a forbidden destination",
    "reseller_no_rate": "the reseller's tariff has no rate for the called number",
    "reseller_forbidden_destination": "the called number is forbidden by the reseller's tariff",
    # … and a reseller's customer whose reseller cannot take the wholesale charge.
    "reseller_closed": "the customer's reseller is permanently terminated",
    "reseller_exported": "the customer's reseller is exported to another installation",
    "reseller_terminated": "the customer's reseller is provisionally terminated",
    "reseller_suspended": "the customer's reseller is suspended",
    "reseller_blocked": "the customer's reseller is blocked",
    "reseller_funds": "the reseller's available funds do not cover its charge for the usage",
    "reseller_credit_limit": "the reseller's charge would take the reseller past its credit limit",
}

# A reseller's decision (``decide`` on the reseller's row) as the reason its sub-customer's
# usage is denied with.
RESELLER_REASONS: Final[dict[str, str]] = {
    "customer_closed": "reseller_closed",
    "customer_exported": "reseller_exported",
    "customer_terminated": "reseller_terminated",
    "customer_suspended": "reseller_suspended",
    "customer_suspended_funds": "reseller_suspended",
    "customer_suspended_manual": "reseller_suspended",
    "customer_blocked": "reseller_blocked",
    "insufficient_funds": "reseller_funds",
    "credit_limit_exceeded": "reseller_credit_limit",
}

STATUS_REASONS: Final[dict[str, str]] = {
    "closed": "customer_closed",
    "exported": "customer_exported",
    "provisionally_terminated": "customer_terminated",
    "suspended": "customer_suspended",
}
# Why a suspended customer is suspended (customers.lifecycle): an overdue invoice (CU-15), a
# prepaid customer short of funds for its subscriptions (CC-19), or by hand.
SUSPENSION_REASONS: Final[dict[str, str]] = {
    "overdue": "customer_suspended",
    "insufficient_funds": "customer_suspended_funds",
    "manual": "customer_suspended_manual",
}


@dataclass(frozen=True)
class CustomerState:
    status: str
    blocked: bool
    prepaid: bool
    balance: Decimal
    reserved: Decimal
    credit_limit: Decimal | None  # the limit in force now (postpaid); ignored for prepaid
    suspension_reason: str = ""  # overdue | insufficient_funds | manual, when suspended


@dataclass(frozen=True)
class AccountState:
    debit: bool
    blocked: bool
    balance: Decimal
    reserved: Decimal
    credit_limit: Decimal | None


@dataclass(frozen=True)
class FraudState:
    daily_limit: Decimal | None
    spent_today: Decimal
    blocks: bool  # True: deny past the limit; False: allow and notify


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    fraud_alert: bool = False  # allowed, but past the daily limit with the "notify" action

    @property
    def message(self) -> str:
        return REASONS.get(self.reason, "")


def status_reason(*, status: str, blocked: bool, suspension_reason: str = "") -> str:
    """The reason a customer in this state cannot use services, or ``""``."""
    if status == "suspended":
        return SUSPENSION_REASONS.get(suspension_reason, STATUS_REASONS[status])
    if status in STATUS_REASONS:
        return STATUS_REASONS[status]
    if blocked:
        return "customer_blocked"
    return ""


def decide(
    *,
    amount: Decimal,
    customer: CustomerState,
    account: AccountState | None = None,
    fraud: FraudState | None = None,
) -> Decision:
    """May ``amount`` (>= 0) be spent now? Checks status, then funds/limits, then fraud."""
    if amount < ZERO:
        raise ValueError("amount must not be negative")
    reason = status_reason(
        status=customer.status,
        blocked=customer.blocked,
        suspension_reason=customer.suspension_reason,
    )
    if reason:
        return Decision(False, reason)
    if account is not None and account.blocked:
        return Decision(False, "account_blocked")
    if customer.prepaid:
        if amount > -customer.balance - customer.reserved:
            return Decision(False, "insufficient_funds")
    elif (
        customer.credit_limit is not None
        and customer.balance + customer.reserved + amount > customer.credit_limit
    ):
        return Decision(False, "credit_limit_exceeded")
    if account is not None:
        if account.debit:
            if amount > -account.balance - account.reserved:
                return Decision(False, "account_insufficient_funds")
        elif (
            account.credit_limit is not None
            and account.balance + account.reserved + amount > account.credit_limit
        ):
            return Decision(False, "account_limit_exceeded")
    if fraud is not None and fraud.daily_limit is not None:
        if fraud.spent_today + amount > fraud.daily_limit:
            if fraud.blocks:
                return Decision(False, "fraud_daily_limit")
            return Decision(True, fraud_alert=True)
    return Decision(True)

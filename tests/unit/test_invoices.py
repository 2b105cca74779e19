"""Invoice arithmetic (core/invoices.py): totals, lines, status and the oldest-first
allocation of payments, with exact values (CC-10, CC-14, CC-17)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billcore.core.invoices import (
    CUSTOM,
    FIXED_VAT,
    GST_MY,
    ISSUED,
    OVERDUE,
    PAID,
    PARTLY_PAID,
    Group,
    Payable,
    TaxRule,
    Totals,
    allocate,
    invoice_status,
    invoice_totals,
    line_order,
    line_values,
    rounding_pattern,
    taxes_of,
)

D = Decimal
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _totals(charges: str, *, rule: TaxRule, decimals: int = 2, custom: str | None = None) -> Totals:
    pattern, mode = rounding_pattern(custom_pattern=custom, decimals=decimals)
    return invoice_totals(
        charges=D(charges),
        decimals=decimals,
        pattern=pattern,
        mode=mode,
        taxes=lambda base: taxes_of(base, rule=rule, decimals=decimals),
        inclusive=rule.inclusive,
    )


def _figures(t: Totals) -> tuple[str, ...]:
    return tuple(str(v) for v in (t.base, t.tax_added, t.special, t.total, t.rounding, t.net))


# --------------------------------------------------------------------------------------------
# Totals


def test_no_tax_the_currency_default_rounds_the_total_up_and_the_rest_is_a_rounding_line() -> None:
    t = _totals("12.345", rule=TaxRule(method="none"))
    assert _figures(t) == ("12.35", "0", "0", "12.35000", "0.00500", "12.35")
    assert (t.tax, t.inclusive, t.tax_total) == (None, False, D(0))


def test_exclusive_vat_is_added_then_the_custom_pattern_rounds_the_total_not_the_base() -> None:
    # base 10.06 (half-up for a custom pattern); VAT 20% = 2.012 -> 2.02 (up);
    # 12.08 by XXXXX.X5000: digit 8 at 0.01 -> 12.10.
    t = _totals("10.06", rule=TaxRule(method=FIXED_VAT, rate=D(20)), custom="XXXXX.X5000")
    assert _figures(t) == ("10.06", "2.02", "0.00", "12.10000", "0.02000", "10.06")
    assert t.total == t.charges + t.tax_added + t.special + t.rounding


def test_inclusive_vat_is_shown_not_added_and_the_net_absorbs_the_residue() -> None:
    t = _totals("10.00", rule=TaxRule(method=FIXED_VAT, rate=D(20), inclusive=True))
    assert _figures(t) == ("10.00", "0", "0.00", "10.00000", "0.00000", "8.33")
    assert (t.inclusive, t.tax_total) == (True, D("1.67"))


def test_gst_malaysia_takes_its_0_05_rounding_as_a_line_of_its_own() -> None:
    # 10.01 + 6% (0.6006 -> 0.60) = 10.61 -> 10.60 by the Malaysian 0.05 rounding.
    t = _totals("10.01", rule=TaxRule(method=GST_MY))
    assert _figures(t) == ("10.01", "0.60", "-0.01", "10.60000", "0.00000", "10.01")


def test_custom_taxes_each_on_the_same_base() -> None:
    rule = TaxRule(method=CUSTOM, taxes=(("State", D(5)), ("City", D("1.5"))))
    t = _totals("10.00", rule=rule)
    assert _figures(t) == ("10.00", "0.65", "0.00", "10.65000", "0.00000", "10.00")


def test_a_pattern_finer_than_the_currency_then_rounds_to_the_currency_unit() -> None:
    # A class without currency: XXXXX.X0000 (0.1) for a 0-decimal currency: 100.26 -> 100.3
    # by the pattern, then up to the unit -> 101.
    t = _totals("100.26", rule=TaxRule(method="none"), decimals=0, custom="XXXXX.X0000")
    assert _figures(t) == ("100", "0", "0", "101.00000", "0.74000", "100")


def test_nothing_taxed_is_never_inclusive() -> None:
    t = _totals("5.00", rule=TaxRule(method=FIXED_VAT, rate=None, inclusive=True))
    assert (t.tax, t.inclusive, t.total) == (None, False, D("5.00000"))


# --------------------------------------------------------------------------------------------
# Lines


def test_lines_in_order_with_taxes_and_roundings() -> None:
    groups = sorted(
        [
            Group("manual_credit", "", D("-1.00000"), 1, None, ""),
            Group("subscription", "", D("3.00000"), 1, None, ""),
            Group("usage", "voice", D("2.00100"), 4, D("120"), "second"),
            Group("manual_charge", "", D("5.00000"), 2, None, ""),
        ],
        key=line_order,
    )
    t = _totals("9.001", rule=TaxRule(method=FIXED_VAT, rate=D(10)))
    lines = line_values(groups, t)
    assert [(x["kind"], x["description"], str(x["amount"])) for x in lines] == [
        ("usage", "Voice calls", "2.00100"),
        ("subscription", "Subscription fees", "3.00000"),
        ("fee", "Other fees", "5.00000"),
        ("adjustment", "Credits", "-1.00000"),
        ("tax", "VAT 10%", "0.91"),
        ("rounding", "Invoice rounding", "0.00900"),
    ]
    assert lines[0]["count"] == 4 and lines[0]["quantity"] == D(120)
    assert sum(x["amount"] for x in lines) == t.total == D("9.92000")


def test_included_taxes_are_shown_as_included() -> None:
    t = _totals("10.00", rule=TaxRule(method=FIXED_VAT, rate=D(20), inclusive=True))
    lines = line_values([Group("usage", "data", D("10.00"), 1, None, "")], t)
    assert [(x["kind"], x["description"], str(x["amount"])) for x in lines] == [
        ("usage", "Data", "10.00"),
        ("tax_included", "VAT 20% (included)", "1.67"),
    ]


# --------------------------------------------------------------------------------------------
# Status


@pytest.mark.parametrize(
    ("total", "paid", "due_days", "paid_at", "expected"),
    [
        ("10", "10", 5, None, (PAID, NOW)),
        ("10", "12", 5, NOW - dt.timedelta(days=3), (PAID, NOW - dt.timedelta(days=3))),
        ("-4", "0", 5, None, (PAID, NOW)),  # a credit is paid at once
        ("10", "4", 5, None, (PARTLY_PAID, None)),
        ("10", "4", 0, None, (OVERDUE, None)),  # due now: overdue
        ("10", "0", 5, None, (ISSUED, None)),
    ],
)
def test_invoice_status(
    total: str, paid: str, due_days: int, paid_at: dt.datetime | None, expected: tuple[str, object]
) -> None:
    due_at = NOW + dt.timedelta(days=due_days)
    got = invoice_status(total=D(total), paid=D(paid), due_at=due_at, paid_at=paid_at, now=NOW)
    assert got == expected


# --------------------------------------------------------------------------------------------
# Allocation


def test_payments_pay_the_oldest_invoice_first_credits_add_to_the_pool() -> None:
    # pool 150 + credit 20 - the recurring invoice's own card payment 50 = 120 for the rest.
    paid = allocate(
        pool=D(150),
        invoices=[
            Payable(D(100)),
            Payable(D(-20)),
            Payable(D(80)),
            Payable(D(50), dedicated=D(50)),
            Payable(D(30)),
        ],
    )
    assert paid == [D(100), D(0), D(20), D(50), D(0)]


def test_a_recurring_invoice_is_never_paid_by_the_pool() -> None:
    paid = allocate(pool=D(500), invoices=[Payable(D(40), dedicated=D(0)), Payable(D(60))])
    assert paid == [D(0), D(60)]


def test_a_negative_pool_pays_nothing() -> None:
    assert allocate(pool=D(-5), invoices=[Payable(D(10)), Payable(D(1))]) == [D(0), D(0)]


money = st.decimals(min_value=-500, max_value=500, places=2, allow_nan=False)


@given(pool=money, totals=st.lists(money, max_size=8))
def test_allocation_is_oldest_first_and_never_pays_more_than_the_pool(
    pool: Decimal, totals: list[Decimal]
) -> None:
    invoices = [Payable(t) for t in totals]
    paid = allocate(pool=pool, invoices=invoices)
    available = max(pool + sum((-t for t in totals if t < 0), D(0)), D(0))
    assert sum(paid, D(0)) == min(available, sum((t for t in totals if t > 0), D(0)))
    short = False
    for total, part in zip(totals, paid, strict=True):
        assert D(0) <= part <= max(total, D(0))
        if short and total > 0:
            assert part == 0  # a later invoice is paid only once the earlier ones are
        short = short or part < total

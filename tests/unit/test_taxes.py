"""Tax calculators (CC-10; portabilling.md "Taxes")."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billcore.core.money import AmountError
from billcore.core.taxes import (
    TaxableLine,
    TaxEngine,
    TaxEngineNotConfigured,
    TaxLine,
    TaxResult,
    custom_taxes,
    fixed_vat,
    gst_malaysia,
)

D = Decimal


def _exact(result: Decimal, expected: str) -> None:
    """Value and digits: ``expected`` is written with exactly the expected places."""
    assert str(result) == expected


def _check_sums(result: TaxResult) -> None:
    assert sum((t.amount for t in result.taxes), D(0)) == result.total_tax
    assert result.net + result.total_tax + result.rounding_adjustment == result.gross
    assert result.gross_before_rounding == result.net + result.total_tax


# --- fixed VAT -------------------------------------------------------------------------------


def test_exclusive_rounds_the_tax_up_by_default() -> None:
    result = fixed_vat(amount=D("10.02"), rate=D("20"), inclusive=False, decimals=2)
    assert result == TaxResult(
        net=D("10.02"),
        taxes=[TaxLine(name="VAT", rate=D("20"), base=D("10.02"), amount=D("2.01"))],
        total_tax=D("2.01"),
        gross=D("12.03"),
        rounding_adjustment=D("0.00"),
    )
    _exact(result.total_tax, "2.01")  # 2.004 up
    _exact(result.gross, "12.03")
    _exact(result.rounding_adjustment, "0.00")


def test_exclusive_half_up_option() -> None:
    result = fixed_vat(amount=D("10.02"), rate=D("20"), inclusive=False, decimals=2, half_up=True)
    _exact(result.total_tax, "2.00")
    _exact(result.gross, "12.02")
    half = fixed_vat(amount=D("10.025"), rate=D("20"), inclusive=False, decimals=3, half_up=True)
    _exact(half.total_tax, "2.005")
    tie = fixed_vat(amount=D("0.25"), rate=D("10"), inclusive=False, decimals=2, half_up=True)
    _exact(tie.total_tax, "0.03")  # 0.025 -> ties away from zero


def test_portabilling_example_1204_rounds_to_121() -> None:
    result = fixed_vat(amount=D("6.02"), rate=D("20"), inclusive=False, decimals=2)
    _exact(result.total_tax, "1.21")  # 1.204 -> 1.21


def test_exact_tax_is_not_rounded() -> None:
    result = fixed_vat(amount=D("10.00"), rate=D("20"), inclusive=False, decimals=2)
    _exact(result.total_tax, "2.00")


def test_inclusive_21_percent_in_121() -> None:
    result = fixed_vat(amount=D("121.00"), rate=D("21"), inclusive=True, decimals=2)
    _exact(result.total_tax, "21.00")
    _exact(result.net, "100.00")
    _exact(result.gross, "121.00")
    _check_sums(result)


def test_inclusive_rounds_the_tax_and_derives_the_net() -> None:
    result = fixed_vat(amount=D("10.00"), rate=D("20"), inclusive=True, decimals=2)
    _exact(result.total_tax, "1.67")  # 1.6666... up
    _exact(result.net, "8.33")
    _exact(result.taxes[0].base, "8.33")
    half = fixed_vat(amount=D("10.00"), rate=D("20"), inclusive=True, decimals=2, half_up=True)
    _exact(half.total_tax, "1.67")
    low = fixed_vat(amount=D("10.01"), rate=D("20"), inclusive=True, decimals=2, half_up=True)
    _exact(low.total_tax, "1.67")  # 1.668333...
    _exact(low.net, "8.34")


def test_inclusive_directed_rounding_is_exact_far_beyond_precision() -> None:
    # 100 x 1/(100 + 1/3 x 10**-10 ...) style quotients: a long non-terminating value that
    # sits a hair above a cent must still round up.
    result = fixed_vat(amount=D("100.00"), rate=D("0.0000000001"), inclusive=True, decimals=2)
    _exact(result.total_tax, "0.01")  # exact 0.0000000000999...
    _exact(result.net, "99.99")
    zero = fixed_vat(amount=D("100.00"), rate=D("0"), inclusive=True, decimals=2)
    _exact(zero.total_tax, "0.00")


def test_decimals_zero_and_three() -> None:
    yen = fixed_vat(amount=D("1001"), rate=D("10"), inclusive=False, decimals=0)
    _exact(yen.total_tax, "101")  # 100.1 up
    _exact(yen.gross, "1102")
    dinar = fixed_vat(amount=D("1.001"), rate=D("5"), inclusive=False, decimals=3)
    _exact(dinar.total_tax, "0.051")  # 0.05005 up
    five = fixed_vat(amount=D("1.00001"), rate=D("5"), inclusive=True, decimals=5)
    _exact(five.total_tax, "0.04762")


def test_amount_with_five_places_but_currency_precision_is_accepted() -> None:
    result = fixed_vat(amount=D("10.02000"), rate=D("20"), inclusive=False, decimals=2)
    _exact(result.net, "10.02")


# --- credits ---------------------------------------------------------------------------------


def test_negative_amounts_round_by_magnitude() -> None:
    result = fixed_vat(amount=D("-10.02"), rate=D("20"), inclusive=False, decimals=2)
    _exact(result.total_tax, "-2.01")
    _exact(result.gross, "-12.03")
    inclusive = fixed_vat(amount=D("-10.00"), rate=D("20"), inclusive=True, decimals=2)
    _exact(inclusive.total_tax, "-1.67")
    _exact(inclusive.net, "-8.33")
    half = fixed_vat(amount=D("-0.25"), rate=D("10"), inclusive=False, decimals=2, half_up=True)
    _exact(half.total_tax, "-0.03")
    gst = gst_malaysia(amount=D("-10.01"))
    _exact(gst.gross, "-10.60")
    _exact(gst.rounding_adjustment, "0.01")


def test_zero_amount_has_no_negative_zero() -> None:
    result = fixed_vat(amount=D("-0.00"), rate=D("20"), inclusive=True, decimals=2)
    for value in (result.net, result.total_tax, result.gross, result.rounding_adjustment):
        _exact(value, "0.00")


# --- custom taxes ----------------------------------------------------------------------------

STATE_CITY = [("State", D("6.25")), ("City", D("1.5"))]


def test_custom_taxes_exclusive_each_on_the_net() -> None:
    result = custom_taxes(amount=D("19.99"), taxes=STATE_CITY, inclusive=False, decimals=2)
    assert [(t.name, str(t.amount), str(t.base)) for t in result.taxes] == [
        ("State", "1.25", "19.99"),  # 1.249375 up
        ("City", "0.30", "19.99"),  # 0.29985 up
    ]
    _exact(result.total_tax, "1.55")
    _exact(result.gross, "21.54")
    half = custom_taxes(
        amount=D("19.99"), taxes=STATE_CITY, inclusive=False, decimals=2, half_up=True
    )
    assert [str(t.amount) for t in half.taxes] == ["1.25", "0.30"]


def test_custom_taxes_inclusive_net_takes_the_residue() -> None:
    result = custom_taxes(amount=D("19.99"), taxes=STATE_CITY, inclusive=True, decimals=2)
    # Exact net 19.99 / 1.0775 = 18.5522...; State 1.15951... -> 1.16; City 0.27828... -> 0.28.
    assert [str(t.amount) for t in result.taxes] == ["1.16", "0.28"]
    _exact(result.net, "18.55")
    _exact(result.gross, "19.99")
    _check_sums(result)


def test_custom_taxes_inclusive_never_flip_the_net() -> None:
    # Both taxes would round up to 0.01 out of 0.01: the last one is lowered.
    result = custom_taxes(amount=D("0.01"), taxes=STATE_CITY, inclusive=True, decimals=2)
    assert [str(t.amount) for t in result.taxes] == ["0.01", "0.00"]
    _exact(result.net, "0.00")
    many = custom_taxes(
        amount=D("-0.02"),
        taxes=[(f"T{i}", D("1")) for i in range(5)],
        inclusive=True,
        decimals=2,
    )
    assert [str(t.amount) for t in many.taxes] == ["-0.01", "-0.01", "0.00", "0.00", "0.00"]
    _exact(many.net, "0.00")


def test_custom_taxes_empty_list_is_no_tax() -> None:
    result = custom_taxes(amount=D("5.00"), taxes=[], inclusive=True, decimals=2)
    assert result.taxes == []
    assert (result.net, result.total_tax, result.gross) == (D("5.00"), D("0.00"), D("5.00"))


def test_custom_taxes_names_are_checked() -> None:
    with pytest.raises(ValueError, match="more than once"):
        custom_taxes(
            amount=D("1"), taxes=[("A", D("1")), ("A", D("2"))], inclusive=False, decimals=2
        )
    with pytest.raises(ValueError, match="non-empty"):
        custom_taxes(amount=D("1"), taxes=[(" ", D("1"))], inclusive=False, decimals=2)


# --- GST Malaysia ----------------------------------------------------------------------------


def test_gst_malaysia_rounds_the_total_to_five_sen() -> None:
    result = gst_malaysia(amount=D("10.01"))
    _exact(result.total_tax, "0.60")  # 0.6006 half-up
    _exact(result.gross_before_rounding, "10.61")
    _exact(result.gross, "10.60")
    _exact(result.rounding_adjustment, "-0.01")
    assert result.taxes[0].name == "GST"
    assert result.taxes[0].rate == D("6")
    _check_sums(result)


@pytest.mark.parametrize(
    ("amount", "tax", "gross", "adjustment"),
    [
        ("10.00", "0.60", "10.60", "0.00"),
        ("10.05", "0.60", "10.65", "0.00"),  # 0.603
        ("10.09", "0.61", "10.70", "0.00"),  # 10.70 exactly
        ("10.03", "0.60", "10.65", "0.02"),  # 10.63 -> 10.65
        ("10.04", "0.60", "10.65", "0.01"),  # 10.64 -> 10.65
        ("10.18", "0.61", "10.80", "0.01"),  # 10.79 -> 10.80
        ("10.17", "0.61", "10.80", "0.02"),  # 10.78 -> 10.80
    ],
)
def test_gst_malaysia_table(amount: str, tax: str, gross: str, adjustment: str) -> None:
    result = gst_malaysia(amount=D(amount))
    _exact(result.total_tax, tax)
    _exact(result.gross, gross)
    _exact(result.rounding_adjustment, adjustment)
    _check_sums(result)


def test_gst_malaysia_inclusive() -> None:
    result = gst_malaysia(amount=D("10.62"), inclusive=True)
    _exact(result.total_tax, "0.60")  # 0.601132... half-up
    _exact(result.net, "10.02")
    _exact(result.gross, "10.60")
    _exact(result.rounding_adjustment, "-0.02")
    _check_sums(result)


def test_gst_malaysia_needs_sen() -> None:
    with pytest.raises(AmountError, match="more than 2 decimal places"):
        gst_malaysia(amount=D("10.015"))


# --- validation ------------------------------------------------------------------------------


def test_amount_must_fit_the_currency() -> None:
    with pytest.raises(AmountError, match="round it to the currency first"):
        fixed_vat(amount=D("10.025"), rate=D("20"), inclusive=False, decimals=2)
    with pytest.raises(AmountError, match="must be a Decimal"):
        fixed_vat(amount=10.0, rate=D("20"), inclusive=False, decimals=2)  # type: ignore[arg-type]
    with pytest.raises(AmountError):
        fixed_vat(amount=D("NaN"), rate=D("20"), inclusive=False, decimals=2)


@pytest.mark.parametrize("rate", [D("-1"), D("1000.1"), D("Infinity"), D("1.00000000001")])
def test_bad_rates(rate: Decimal) -> None:
    with pytest.raises(ValueError, match="rate of 'VAT'"):
        fixed_vat(amount=D("1"), rate=rate, inclusive=False, decimals=2)


def test_rate_must_be_decimal() -> None:
    with pytest.raises(TypeError, match="must be a Decimal"):
        fixed_vat(amount=D("1"), rate=20, inclusive=False, decimals=2)  # type: ignore[arg-type]


@pytest.mark.parametrize("decimals", [-1, 6])
def test_bad_decimals(decimals: int) -> None:
    with pytest.raises(ValueError, match="decimals"):
        fixed_vat(amount=D("1"), rate=D("1"), inclusive=False, decimals=decimals)


def test_gross_must_stay_a_money_value() -> None:
    with pytest.raises(AmountError, match="too large"):
        fixed_vat(amount=D("9999999999999"), rate=D("20"), inclusive=False, decimals=0)


# --- external engines ------------------------------------------------------------------------


class _FakeEngine:
    def calculate(
        self,
        *,
        lines: list[TaxableLine],
        currency: str,
        decimals: int,
        customer_country: str,
    ) -> TaxResult:
        total = sum((line.amount for line in lines), D(0))
        return fixed_vat(amount=total, rate=D("10"), inclusive=False, decimals=decimals)


def test_tax_engine_protocol() -> None:
    engine: TaxEngine = _FakeEngine()
    assert isinstance(engine, TaxEngine)
    result = engine.calculate(
        lines=[TaxableLine(amount=D("1.00"), description="Calls", service_code="VOICE")],
        currency="USD",
        decimals=2,
        customer_country="US",
    )
    _exact(result.total_tax, "0.10")


def test_tax_engine_not_configured_message() -> None:
    error = TaxEngineNotConfigured("EZTax")
    assert error.engine == "EZTax"
    assert str(error).startswith("tax engine 'EZTax' is not configured")
    assert "endpoint" in str(error)


# --- properties ------------------------------------------------------------------------------

decimals_st = st.integers(min_value=0, max_value=5)
rates_st = st.decimals(min_value=0, max_value=100, places=4)


@st.composite
def amounts(draw: st.DrawFn, decimals: int) -> Decimal:
    units = draw(st.integers(min_value=-(10**12), max_value=10**12))
    return Decimal(units).scaleb(-decimals)


def _within_one_unit(rounded: Decimal, exact: Fraction, decimals: int) -> None:
    assert abs(Fraction(rounded) - exact) < Fraction(1, 10**decimals)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


@settings(max_examples=200, deadline=None)
@given(data=st.data(), decimals=decimals_st, rate=rates_st, inclusive=st.booleans())
def test_fixed_vat_properties(
    data: st.DataObject, decimals: int, rate: Decimal, inclusive: bool
) -> None:
    amount = data.draw(amounts(decimals))
    half_up = data.draw(st.booleans())
    result = fixed_vat(
        amount=amount, rate=rate, inclusive=inclusive, decimals=decimals, half_up=half_up
    )
    _check_sums(result)
    for value in (result.net, result.total_tax, result.gross, result.rounding_adjustment):
        assert _places(value) == decimals
    divisor = 100 + Fraction(rate) if inclusive else Fraction(100)
    exact = Fraction(amount) * Fraction(rate) / divisor
    _within_one_unit(result.total_tax, exact, decimals)
    if not half_up:
        assert abs(Fraction(result.total_tax)) >= abs(exact)  # up: never below the exact value
    else:
        assert abs(Fraction(result.total_tax) - exact) <= Fraction(1, 2 * 10**decimals)
    if inclusive:
        assert result.gross == amount
    else:
        assert result.net == amount
    negated = fixed_vat(
        amount=-amount, rate=rate, inclusive=inclusive, decimals=decimals, half_up=half_up
    )
    assert negated.total_tax == -result.total_tax


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    decimals=decimals_st,
    rates=st.lists(rates_st, max_size=5),
    inclusive=st.booleans(),
    half_up=st.booleans(),
)
def test_custom_taxes_properties(
    data: st.DataObject, decimals: int, rates: list[Decimal], inclusive: bool, half_up: bool
) -> None:
    amount = data.draw(amounts(decimals))
    taxes = [(f"Tax {i}", rate) for i, rate in enumerate(rates)]
    result = custom_taxes(
        amount=amount, taxes=taxes, inclusive=inclusive, decimals=decimals, half_up=half_up
    )
    _check_sums(result)
    assert [t.name for t in result.taxes] == [name for name, _ in taxes]
    divisor = 100 + sum(map(Fraction, rates), Fraction(0)) if inclusive else Fraction(100)
    for line, rate in zip(result.taxes, rates, strict=True):
        assert _places(line.amount) == decimals
        exact = Fraction(amount) * Fraction(rate) / divisor
        _within_one_unit(line.amount, exact, decimals)
        if not half_up and not inclusive:
            assert abs(Fraction(line.amount)) >= abs(exact)
    for value in (result.net, result.total_tax, result.gross):
        assert _places(value) == decimals
    if inclusive:
        assert result.gross == amount
        assert result.net * amount >= 0  # the net never changes sign
    else:
        assert result.net == amount


@settings(max_examples=200, deadline=None)
@given(
    amount=amounts(2),
    rate=st.decimals(min_value=0, max_value=30, places=2),
    inclusive=st.booleans(),
)
def test_gst_malaysia_properties(amount: Decimal, rate: Decimal, inclusive: bool) -> None:
    result = gst_malaysia(amount=amount, rate=rate, inclusive=inclusive)
    _check_sums(result)
    for value in (result.net, result.total_tax, result.gross, result.rounding_adjustment):
        assert _places(value) == 2
    assert result.gross % D("0.05") == 0
    assert abs(result.rounding_adjustment) <= D("0.02")
    divisor = 100 + Fraction(rate) if inclusive else Fraction(100)
    exact = Fraction(amount) * Fraction(rate) / divisor
    assert abs(Fraction(result.total_tax) - exact) <= Fraction(1, 200)  # half-up

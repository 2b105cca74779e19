"""Invoice rounding patterns (CC-17) and tax rounding helpers (CC-10)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billcore.core.money import AmountError
from billcore.core.rounding import (
    InvalidPatternError,
    RoundingMode,
    RoundingPattern,
    currency_default_pattern,
    parse_pattern,
    round_currency_default,
    round_down,
    round_half_up,
    round_invoice_total,
    round_malaysian_005,
    round_up,
)

D = Decimal


def _assert_exact(result: Decimal, expected: str) -> None:
    """Value and digits: ``expected`` is written with exactly 5 decimal places."""
    assert result == D(expected)
    assert str(result) == expected


def custom(amount: str, pattern: str) -> Decimal:
    return round_invoice_total(D(amount), pattern=pattern, mode="custom")


def default(amount: str, pattern: str) -> Decimal:
    return round_invoice_total(D(amount), pattern=pattern, mode="currency_default")


# --- the seed's examples (CC-17), one test each ------------------------------------------


def test_spec_currency_default_usd_100_146() -> None:
    _assert_exact(default("100.146", "XXXXX.XX000"), "100.15000")


def test_spec_currency_default_usd_100_142() -> None:
    _assert_exact(default("100.142", "XXXXX.XX000"), "100.15000")


def test_spec_currency_default_usd_1_2345() -> None:
    _assert_exact(default("1.2345", "XXXXX.XX000"), "1.24000")


def test_spec_custom_0_rounds_down_for_0_to_4() -> None:
    _assert_exact(custom("100.142", "XXXXX.XX000"), "100.14000")


def test_spec_custom_0_rounds_up_for_5_to_9() -> None:
    _assert_exact(custom("100.148", "XXXXX.XX000"), "100.15000")


def test_spec_custom_5_digit_0_to_2_rounds_down() -> None:
    _assert_exact(custom("100.142", "XXXXX.XX500"), "100.14000")


def test_spec_custom_5_digit_3_to_7_becomes_5() -> None:
    _assert_exact(custom("100.144", "XXXXX.XX500"), "100.14500")


def test_spec_custom_5_digit_8_to_9_rounds_up() -> None:
    _assert_exact(custom("100.148", "XXXXX.XX500"), "100.15000")


def test_spec_whole_pattern_covers_lowest_five_integer_places() -> None:
    _assert_exact(custom("7654321.2345", "00000.00000"), "7700000.00000")


def test_spec_dinar_currency_default() -> None:
    assert currency_default_pattern(decimals=3) == "XXXXX.XXX00"
    _assert_exact(default("12.3451", "XXXXX.XXX00"), "12.34600")
    _assert_exact(round_currency_default(D("12.3451"), decimals=3), "12.34600")


# --- edge cases ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "pattern", "mode", "expected"),
    [
        # currency default: no rounding when every removed digit is zero
        ("100.140", "XXXXX.XX000", "currency_default", "100.14000"),
        ("100.14001", "XXXXX.XX000", "currency_default", "100.15000"),
        # carries
        ("99.999", "XXXXX.XX000", "currency_default", "100.00000"),
        ("99.999", "XXXXX.XX000", "custom", "100.00000"),
        ("99.998", "XXXXX.XX500", "custom", "100.00000"),
        ("99999.99", "XXXXX.X0000", "custom", "100000.00000"),
        ("199999.5", "XXXXX.00000", "custom", "200000.00000"),
        # zero
        ("0", "XXXXX.XX000", "currency_default", "0.00000"),
        ("0", "XXXXX.XX500", "custom", "0.00000"),
        ("0", "00000.00000", "custom", "0.00000"),
        # negative amounts round by magnitude
        ("-100.148", "XXXXX.XX000", "custom", "-100.15000"),
        ("-100.148", "XXXXX.XX500", "custom", "-100.15000"),
        ("-100.144", "XXXXX.XX500", "custom", "-100.14500"),
        ("-100.142", "XXXXX.XX000", "currency_default", "-100.15000"),
        ("-0.001", "XXXXX.XX000", "custom", "0.00000"),
        # already rounded values stay
        ("100.15", "XXXXX.XX000", "currency_default", "100.15000"),
        ("100.15", "XXXXX.XX000", "custom", "100.15000"),
        ("100.145", "XXXXX.XX500", "custom", "100.14500"),
        ("7700000", "00000.00000", "custom", "7700000.00000"),
        # identity pattern
        ("123.45678", "XXXXX.XXXXX", "custom", "123.45678"),
        ("-0.00001", "XXXXX.XXXXX", "custom", "-0.00001"),
        ("123.45678", "XXXXX.XXXXX", "currency_default", "123.45678"),
        # decisions use the digit at the first acting place only
        ("100.1429", "XXXXX.XX500", "custom", "100.14000"),
        ("100.1479", "XXXXX.XX500", "custom", "100.14500"),
        ("100.1449", "XXXXX.XX000", "custom", "100.14000"),
        # boundaries of the 5 rule
        ("100.143", "XXXXX.XX500", "custom", "100.14500"),
        ("100.147", "XXXXX.XX500", "custom", "100.14500"),
        ("100.145", "XXXXX.XX000", "custom", "100.15000"),
        # acting places in the integer part
        ("1234.5", "XXX00.00000", "custom", "1200.00000"),
        ("1250", "XXX00.00000", "custom", "1300.00000"),
        ("1234", "XXX50.00000", "custom", "1250.00000"),
        ("1284", "XXX50.00000", "custom", "1300.00000"),
        ("7654321.2345", "X0000.00000", "custom", "7650000.00000"),
        # JPY: no decimals
        ("1500.00001", "XXXXX.00000", "currency_default", "1501.00000"),
        ("1500.4", "XXXXX.00000", "custom", "1500.00000"),
        ("1500.5", "XXXXX.50000", "custom", "1500.50000"),
        # five decimals kept by a currency-default pattern
        ("1.23456", "XXXXX.XXXXX", "currency_default", "1.23456"),
        ("1.23456", "XXXXX.XXXX0", "currency_default", "1.23460"),
        ("1.23456", "XXXXX.XXXX5", "custom", "1.23455"),
        ("1.23458", "XXXXX.XXXX5", "custom", "1.23460"),
    ],
)
def test_edge_cases(amount: str, pattern: str, mode: RoundingMode, expected: str) -> None:
    _assert_exact(round_invoice_total(D(amount), pattern=pattern, mode=mode), expected)


@pytest.mark.parametrize(
    ("decimals", "pattern"),
    [
        (0, "XXXXX.00000"),
        (1, "XXXXX.X0000"),
        (2, "XXXXX.XX000"),
        (3, "XXXXX.XXX00"),
        (4, "XXXXX.XXXX0"),
        (5, "XXXXX.XXXXX"),
    ],
)
def test_currency_default_pattern(decimals: int, pattern: str) -> None:
    assert currency_default_pattern(decimals=decimals) == pattern


@pytest.mark.parametrize("decimals", [-1, 6])
def test_currency_default_pattern_rejects_bad_decimals(decimals: int) -> None:
    with pytest.raises(ValueError, match="decimals"):
        currency_default_pattern(decimals=decimals)


def test_round_currency_default_jpy_and_usd() -> None:
    _assert_exact(round_currency_default(D("100.01"), decimals=0), "101.00000")
    _assert_exact(round_currency_default(D("100.142"), decimals=2), "100.15000")


@pytest.mark.parametrize("pattern", ["XXXXX.XX500", "XXX00.00000", "00000.00000", "XXXXX.X5000"])
def test_currency_default_mode_requires_a_currency_default_pattern(pattern: str) -> None:
    with pytest.raises(InvalidPatternError, match="not a currency default pattern"):
        round_invoice_total(D("1"), pattern=pattern, mode="currency_default")


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="rounding mode"):
        round_invoice_total(D("1"), pattern="XXXXX.XX000", mode="banker")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [D("0.000001"), D("NaN"), D("1E+13"), 1.5])
def test_invalid_amounts(amount: Decimal) -> None:
    with pytest.raises(AmountError):
        round_invoice_total(amount, pattern="XXXXX.XX000", mode="custom")


def test_rounding_past_storage_limit() -> None:
    with pytest.raises(AmountError, match="too large after rounding"):
        custom("9999999999999.9", "00000.00000")


# --- pattern parsing and validation --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exponent", "char"),
    [
        ("XXXXX.XX500", -3, "5"),
        ("XXXXX.XX000", -3, "0"),
        ("XXXXX.X0000", -2, "0"),
        ("XXXXX.X5000", -2, "5"),
        ("XXX00.00000", 1, "0"),
        ("00000.00000", 4, "0"),
        ("50000.00000", 4, "5"),
        ("XXXXX.XXXX0", -5, "0"),
        ("XXXXX.XXXXX", None, None),
    ],
)
def test_parse_pattern(text: str, exponent: int | None, char: str | None) -> None:
    parsed = parse_pattern(text)
    assert parsed == RoundingPattern(text=text, acting_exponent=exponent, acting_char=char)  # type: ignore[arg-type]
    assert parsed.is_identity is (exponent is None)


def test_pattern_places() -> None:
    parsed = parse_pattern("XXXXX.XX500")
    assert parsed.acting_place == D("0.001")
    assert parsed.kept_unit == D("0.01")
    assert parsed.step == D("0.005")
    assert parse_pattern("XXXXX.XX000").step == D("0.01")
    identity = parse_pattern("XXXXX.XXXXX")
    assert identity.acting_place is None
    assert identity.kept_unit is None
    assert identity.step is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("XXXXXXXX500", "missing '.' between the integer and decimal parts"),
        ("", "missing '.'"),
        ("XXXX.X.XX500", "expected exactly one '.', found 2"),
        ("XXXX.XX500", "integer part must be exactly 5 characters, got 4"),
        ("XXXXXX.XX500", "integer part must be exactly 5 characters, got 6"),
        ("XXXXX.XX50", "decimal part must be exactly 5 characters, got 4"),
        ("XXXXX.XX5000", "decimal part must be exactly 5 characters, got 6"),
        (" XXXX.XX500", "bad character ' ' at position 1"),
        ("XXXXX.XX100", "bad character '1' at position 9"),
        ("xxxxx.xx500", "bad character 'x' at position 1"),
        ("XXXXX.XX50#", "bad character '#' at position 11"),
        ("XXXXX.X0X00", "'X' at position 9 follows an acting digit"),
        ("0XXXX.XXXXX", "'X' at position 2 follows an acting digit"),
        ("XXXXX.0000X", "'X' at position 11 follows an acting digit"),
        ("XXXXX.XX550", "'5' at position 10 is not in the first acting place"),
        ("XXXXX.XX005", "'5' at position 11 is not in the first acting place"),
        ("00500.00000", "'5' at position 3 is not in the first acting place"),
    ],
)
def test_invalid_patterns(text: str, reason: str) -> None:
    with pytest.raises(InvalidPatternError) as info:
        parse_pattern(text)
    assert info.value.reason.startswith(reason)
    assert info.value.pattern == text
    assert str(info.value) == f"invalid rounding pattern {text!r}: {info.value.reason}"


def test_invalid_pattern_type() -> None:
    with pytest.raises(InvalidPatternError, match="must be a string"):
        parse_pattern(None)  # type: ignore[arg-type]


def test_invalid_pattern_in_round_invoice_total() -> None:
    with pytest.raises(InvalidPatternError, match="bad character"):
        custom("1", "XXXXX.XX100")


# --- properties (hypothesis) ---------------------------------------------------------------


@st.composite
def custom_patterns(draw: st.DrawFn) -> str:
    """Every valid custom pattern: X's, then an optional first acting '0'/'5', then '0's."""
    n_x = draw(st.integers(min_value=0, max_value=10))
    chars = ["X"] * n_x
    if n_x < 10:
        chars.append(draw(st.sampled_from("05")))
        chars.extend("0" * (10 - n_x - 1))
    return "".join(chars[:5]) + "." + "".join(chars[5:])


amounts = st.decimals(min_value=D("-999999999.99999"), max_value=D("999999999.99999"), places=5)
default_patterns = st.integers(min_value=0, max_value=5).map(
    lambda d: currency_default_pattern(decimals=d)
)
cases = st.one_of(
    st.tuples(custom_patterns(), st.just("custom")),
    st.tuples(default_patterns, st.just("currency_default")),
)


def _round(amount: Decimal, case: tuple[str, RoundingMode]) -> Decimal:
    pattern, mode = case
    return round_invoice_total(amount, pattern=pattern, mode=mode)


@given(custom_patterns())
def test_generated_patterns_are_valid(pattern: str) -> None:
    parse_pattern(pattern)


@given(amounts, cases)
def test_result_has_five_places(amount: Decimal, case: tuple[str, RoundingMode]) -> None:
    assert _round(amount, case).as_tuple().exponent == -5


@given(amounts, cases)
def test_idempotent(amount: Decimal, case: tuple[str, RoundingMode]) -> None:
    once = _round(amount, case)
    assert _round(once, case) == once


@given(amounts, cases)
def test_moves_less_than_one_kept_unit(amount: Decimal, case: tuple[str, RoundingMode]) -> None:
    pattern, mode = case
    k = parse_pattern(pattern).kept_unit
    moved = abs(_round(amount, case) - amount)
    if k is None:
        assert moved == 0
    elif mode == "custom":
        assert moved < k
    else:
        assert moved <= k


@given(amounts, cases)
def test_places_left_of_pattern_change_only_by_carry(
    amount: Decimal, case: tuple[str, RoundingMode]
) -> None:
    """floor(|x| / 10^5) and floor(|round(x)| / 10^5) differ by 0 or 1; 1 only via a carry.

    Stronger, for every pattern: floor(|round(x)| / k) - floor(|x| / k) is 0 or 1, i.e. the
    kept digits change only by a carry of one kept unit. The brief's "equal when the integer
    part is all X" is not true as stated (99999.99 with XXXXX.X0000 carries into 10^5); it
    holds whenever the result is not a multiple of 10^5 reached by rounding up.
    """
    pattern, _ = case
    result = _round(amount, case)
    high = D(10) ** 5
    before = abs(amount) // high
    after = abs(result) // high
    assert after - before in (0, 1)
    if after != before:
        assert abs(result) % high == 0  # a carry lands exactly on a multiple of 10^5
    k = parse_pattern(pattern).kept_unit
    if k is not None:
        assert abs(result) // k - abs(amount) // k in (0, 1)


@given(amounts, cases)
def test_symmetric(amount: Decimal, case: tuple[str, RoundingMode]) -> None:
    assert _round(-amount, case) == -_round(amount, case)


@given(amounts, cases)
def test_result_is_a_multiple_of_the_step(amount: Decimal, case: tuple[str, RoundingMode]) -> None:
    pattern, _ = case
    step = parse_pattern(pattern).step
    result = _round(amount, case)
    if step is None:
        assert result == amount
    else:
        assert result % step == 0


@given(amounts, default_patterns)
def test_currency_default_is_a_ceiling_by_magnitude(amount: Decimal, pattern: str) -> None:
    result = round_invoice_total(amount, pattern=pattern, mode="currency_default")
    assert abs(result) >= abs(amount)


@given(amounts, st.integers(min_value=0, max_value=5))
def test_currency_default_matches_round_up(amount: Decimal, decimals: int) -> None:
    assert round_currency_default(amount, decimals=decimals) == round_up(amount, places=decimals)


@given(amounts, st.integers(min_value=-4, max_value=-1))
def test_custom_zero_matches_half_up_on_digit(amount: Decimal, exponent: int) -> None:
    """With a '0' first acting place, the result equals HALF-UP of x truncated after place p."""
    decimals = -exponent - 1
    pattern = "XXXXX." + "X" * decimals + "0" * (5 - decimals)
    truncated = round_down(amount, places=decimals + 1)
    expected = round_half_up(truncated, places=decimals)
    assert round_invoice_total(amount, pattern=pattern, mode="custom") == expected


# --- tax helpers (CC-10) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "amount", "places", "expected"),
    [
        (round_half_up, "1.205", 2, "1.21"),
        (round_half_up, "1.2049", 2, "1.20"),
        (round_half_up, "-1.205", 2, "-1.21"),
        (round_half_up, "2.5", 0, "3"),
        (round_half_up, "-0.004", 2, "0.00"),
        (round_up, "1.204", 2, "1.21"),
        (round_up, "1.200", 2, "1.20"),
        (round_up, "-1.204", 2, "-1.21"),
        (round_up, "0.00001", 2, "0.01"),
        (round_down, "1.209", 2, "1.20"),
        (round_down, "-1.209", 2, "-1.20"),
        (round_down, "-0.009", 2, "0.00"),
        (round_down, "7", 3, "7.000"),
        (round_up, "12345678901234567890123456.7891", 2, "12345678901234567890123456.79"),
    ],
)
def test_tax_helpers(func: object, amount: str, places: int, expected: str) -> None:
    result = func(D(amount), places=places)  # type: ignore[operator]
    assert result == D(expected)
    assert str(result) == expected


@pytest.mark.parametrize("func", [round_half_up, round_up, round_down])
def test_tax_helpers_reject_bad_input(func: object) -> None:
    with pytest.raises(AmountError):
        func(1.5, places=2)  # type: ignore[operator]
    with pytest.raises(AmountError):
        func(D("NaN"), places=2)  # type: ignore[operator]
    with pytest.raises(ValueError, match="places"):
        func(D("1"), places=-1)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("10.00", "10.00"),
        ("10.01", "10.00"),
        ("10.02", "10.00"),
        ("10.03", "10.05"),
        ("10.04", "10.05"),
        ("10.05", "10.05"),
        ("10.06", "10.05"),
        ("10.07", "10.05"),
        ("10.08", "10.10"),
        ("10.09", "10.10"),
        ("9.99", "10.00"),
        ("10.025", "10.05"),  # half-up to 10.03 first
        ("10.0249", "10.00"),  # half-up to 10.02 first
        ("-10.03", "-10.05"),
        ("-10.08", "-10.10"),
        ("-0.02", "0.00"),
        ("0", "0.00"),
    ],
)
def test_round_malaysian_005(amount: str, expected: str) -> None:
    result = round_malaysian_005(D(amount))
    assert result == D(expected)
    assert str(result) == expected


@given(amounts)
def test_malaysian_is_nearest_005_of_cents(amount: Decimal) -> None:
    result = round_malaysian_005(amount)
    cents = round_half_up(amount, places=2)
    assert result % D("0.05") == 0
    assert abs(result - cents) <= D("0.02")
    assert round_malaysian_005(-amount) == -result


@pytest.mark.parametrize(
    ("pattern", "decimals"),
    [
        ("XXXXX.XXXXX", 5),
        ("XXXXX.XX500", 3),
        ("XXXXX.XXX00", 3),
        ("XXXXX.XX000", 2),
        ("XXXXX.X5000", 2),
        ("XXXXX.X0000", 1),
        ("XXXXX.50000", 1),
        ("XXXXX.00000", 0),
        ("XXXX5.00000", 0),
        ("00000.00000", 0),
    ],
)
def test_pattern_decimals(pattern, decimals):
    """CC-17: the decimal places a rounded total can have; a class with a currency accepts a
    pattern only when this does not exceed the currency's decimals."""
    assert parse_pattern(pattern).decimals == decimals

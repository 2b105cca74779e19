"""ISO 4217 currency catalogue (CC-06, CU-06)."""

from __future__ import annotations

import dataclasses

import pytest

from billcore.core.currencies import Currency, UnknownCurrencyError, all_currencies, get_currency


@pytest.mark.parametrize(
    ("code", "decimals"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("JOD", 3),
        ("TND", 3),
        ("IQD", 3),
        ("LYD", 3),
        ("OMR", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("MYR", 2),
        ("CAD", 2),
        ("UAH", 2),
    ],
)
def test_decimals(code: str, decimals: int) -> None:
    currency = get_currency(code)
    assert currency.code == code
    assert currency.decimals == decimals
    assert currency.name


def test_currency_is_frozen() -> None:
    currency = get_currency("USD")
    assert currency == Currency(code="USD", name="US Dollar", decimals=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        currency.decimals = 3  # type: ignore[misc]


def test_unknown_code() -> None:
    with pytest.raises(UnknownCurrencyError, match="'XYZ' is not an ISO 4217 currency code"):
        get_currency("XYZ")


def test_lower_case_is_an_error() -> None:
    with pytest.raises(UnknownCurrencyError, match="upper case") as info:
        get_currency("usd")
    assert "'usd'" in str(info.value)
    assert info.value.code == "usd"


@pytest.mark.parametrize("code", ["", "US", "USDD", " USD", "US1", "ÜSD", "Usd"])
def test_malformed_codes(code: str) -> None:
    with pytest.raises(UnknownCurrencyError, match="not an ISO 4217 currency code"):
        get_currency(code)


@pytest.mark.parametrize("code", ["HRK", "CUC", "XAU", "XXX", "XTS"])
def test_withdrawn_and_unit_less_codes_are_absent(code: str) -> None:
    with pytest.raises(UnknownCurrencyError):
        get_currency(code)


def test_unknown_currency_error_is_value_error() -> None:
    assert issubclass(UnknownCurrencyError, ValueError)


def test_catalogue_size_order_and_uniqueness() -> None:
    currencies = all_currencies()
    codes = [c.code for c in currencies]
    assert len(currencies) >= 150
    assert len(set(codes)) == len(codes)
    assert codes == sorted(codes)
    for currency in currencies:
        assert get_currency(currency.code) is currency
        assert 0 <= currency.decimals <= 4
        assert len(currency.code) == 3
        assert currency.code.isupper()


def test_all_currencies_returns_a_fresh_list() -> None:
    first = all_currencies()
    first.clear()
    assert len(all_currencies()) >= 150

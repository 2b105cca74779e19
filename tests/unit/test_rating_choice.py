"""Rate choice of core.rating (rating-and-tabs.md §1.4): longest prefix, effective date,
forbidden, the catch-all, and override tariffs with the documented example."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billcore.core.rating import (
    CATCH_ALL,
    PrefixIndex,
    RatingError,
    candidate_prefixes,
    choose_in_rows,
    choose_rate,
)

D = Decimal
JAN = datetime(2026, 1, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
ZERO = D(0)


@dataclass(frozen=True)
class Row:
    prefix: str
    price: Decimal = ZERO
    effective_from: datetime = JAN
    forbidden: bool = False
    discontinued: bool = False


MASTER = PrefixIndex([Row("12", D("0.02")), Row("420", D("0.20"))])
OVERRIDE = PrefixIndex([Row("1204", D("0.01"))])


@pytest.mark.parametrize(
    ("number", "source", "price"),
    [
        ("12033768900", "master", "0.02"),
        ("120456777844", "override", "0.01"),
        ("420998764456", "master", "0.20"),
    ],
)
def test_the_documented_override_example(number: str, source: str, price: str) -> None:
    choice = choose_rate(number, at=FEB, tariff=MASTER, override=OVERRIDE)
    assert choice is not None
    assert choice.source == source
    assert choice.row.price == D(price)
    assert not choice.forbidden


def test_no_rate_anywhere() -> None:
    assert choose_rate("33123456", at=FEB, tariff=MASTER, override=OVERRIDE) is None
    assert choose_rate("33123456", at=FEB, tariff=MASTER) is None


def test_a_shorter_override_prefix_does_not_beat_a_longer_master_prefix() -> None:
    master = PrefixIndex([Row("447", D("0.15")), Row("44", D("0.05"))])
    override = PrefixIndex([Row("44", D("0.01"))])
    choice = choose_rate("447700900123", at=FEB, tariff=master, override=override)
    assert choice is not None
    assert (choice.source, choice.prefix) == ("master", "447")
    choice = choose_rate("442071234567", at=FEB, tariff=master, override=override)
    assert choice is not None
    assert (choice.source, choice.prefix, choice.row.price) == ("override", "44", D("0.01"))


def test_a_shorter_forbidden_override_prefix_does_not_block_a_longer_master_prefix() -> None:
    master = PrefixIndex([Row("1900555", D("0.50"))])
    override = PrefixIndex([Row("1900", forbidden=True)])
    allowed = choose_rate("19005551234", at=FEB, tariff=master, override=override)
    assert allowed is not None
    assert (allowed.source, allowed.forbidden) == ("master", False)
    refused = choose_rate("19001234567", at=FEB, tariff=master, override=override)
    assert refused is not None
    assert (refused.source, refused.forbidden) == ("override", True)


def test_forbidden_is_a_result_not_skipped() -> None:
    tariff = PrefixIndex([Row("1", D("0.02")), Row("1900", forbidden=True)])
    choice = choose_rate("19001234567", at=FEB, tariff=tariff)
    assert choice is not None
    assert choice.forbidden
    assert choice.prefix == "1900"


def test_the_catch_all_comes_last() -> None:
    tariff = PrefixIndex([Row(CATCH_ALL, D("0.99")), Row("49", D("0.03"))])
    assert (c := choose_rate("4930123", at=FEB, tariff=tariff)) is not None
    assert c.prefix == "49"
    assert (c := choose_rate("3312345", at=FEB, tariff=tariff)) is not None
    assert c.prefix == CATCH_ALL
    # An override's catch-all is shorter than any master prefix, and ties a master catch-all.
    override = PrefixIndex([Row(CATCH_ALL, D("0.50"))])
    assert (c := choose_rate("4930123", at=FEB, tariff=tariff, override=override)) is not None
    assert (c.source, c.prefix) == ("master", "49")
    assert (c := choose_rate("3312345", at=FEB, tariff=tariff, override=override)) is not None
    assert (c.source, c.row.price) == ("override", D("0.50"))


def test_the_latest_effective_version_at_the_session_start() -> None:
    tariff = PrefixIndex(
        [Row("44", D("0.05"), JAN), Row("44", D("0.07"), JUN), Row("44", D("0.06"), MAR)]
    )
    at_feb = choose_rate("44123", at=FEB, tariff=tariff)
    at_mar = choose_rate("44123", at=MAR, tariff=tariff)  # effective_from <= at: inclusive
    at_jul = choose_rate("44123", at=datetime(2026, 7, 1, tzinfo=UTC), tariff=tariff)
    assert [c.row.price if c else None for c in (at_feb, at_mar, at_jul)] == [
        D("0.05"),
        D("0.06"),
        D("0.07"),
    ]
    assert choose_rate("44123", at=datetime(2025, 12, 31, tzinfo=UTC), tariff=tariff) is None


def test_a_future_longer_prefix_does_not_apply_yet() -> None:
    tariff = PrefixIndex([Row("44", D("0.05")), Row("447", D("0.15"), JUN)])
    assert (c := choose_rate("447700", at=FEB, tariff=tariff)) is not None
    assert c.prefix == "44"
    assert (c := choose_rate("447700", at=JUN, tariff=tariff)) is not None
    assert c.prefix == "447"


def test_a_discontinued_version_ends_the_prefix_from_its_date() -> None:
    # The latest version in force decides; discontinued means no rate at this prefix, so the
    # search goes on with shorter prefixes (not back to an older version).
    tariff = PrefixIndex(
        [
            Row("4", D("0.30")),
            Row("44", D("0.05"), JAN),
            Row("44", D("0.05"), MAR, discontinued=True),
        ]
    )
    assert (c := choose_rate("44123", at=FEB, tariff=tariff)) is not None
    assert c.prefix == "44"
    assert (c := choose_rate("44123", at=MAR, tariff=tariff)) is not None
    assert (c.prefix, c.row.price) == ("4", D("0.30"))


def test_duplicate_prefix_and_effective_from_is_refused() -> None:
    with pytest.raises(RatingError) as caught:
        PrefixIndex([Row("44", D("0.05")), Row("44", D("0.06"))])
    assert caught.value.field == "prefix"


@pytest.mark.parametrize("number", ["", CATCH_ALL, 12345])
def test_bad_number(number: object) -> None:
    with pytest.raises(RatingError) as caught:
        choose_rate(number, at=FEB, tariff=MASTER)  # type: ignore[arg-type]
    assert caught.value.field == "cld"


def test_candidate_prefixes_longest_first_then_catch_all() -> None:
    assert candidate_prefixes("4420") == ["4420", "442", "44", "4", CATCH_ALL]


def test_choose_in_rows_is_the_same_as_with_indexes() -> None:
    rows = [Row("12", D("0.02")), Row("420", D("0.20"))]
    choice = choose_in_rows("120456777844", at=FEB, rows=rows, override_rows=[Row("1204")])
    assert choice is not None
    assert choice.source == "override"


def test_a_large_index_walks_only_the_numbers_prefixes() -> None:
    rows = [Row(str(100_000 + i), D(i) / 100_000) for i in range(100_000)]
    tariff = PrefixIndex(rows)
    assert len(tariff) == 100_000
    choice = choose_rate("1234567890", at=FEB, tariff=tariff)
    assert choice is not None
    assert choice.prefix == "123456"


# --- properties ----------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=6)


def _brute(number: str, rows: list[Row]) -> Row | None:
    matching = [r for r in rows if r.prefix == CATCH_ALL or number.startswith(r.prefix)]
    return max(matching, key=lambda r: 0 if r.prefix == CATCH_ALL else len(r.prefix), default=None)


@given(
    number=st.text(alphabet="0123456789", min_size=1, max_size=12),
    master=st.lists(digits, max_size=8, unique=True),
    override=st.lists(digits, max_size=8, unique=True),
    forbidden=st.sets(digits, max_size=4),
)
def test_override_rule_matches_the_definition(
    number: str, master: list[str], override: list[str], forbidden: set[str]
) -> None:
    """Symmetric with the documented example: the longer prefix wins wherever it is, the
    override wins a tie, no override match leaves the master's, forbidden is kept."""
    master_rows = [Row(p, forbidden=p in forbidden) for p in master]
    override_rows = [Row(p, forbidden=p in forbidden) for p in override]
    choice = choose_rate(
        number, at=FEB, tariff=PrefixIndex(master_rows), override=PrefixIndex(override_rows)
    )
    best_master, best_override = _brute(number, master_rows), _brute(number, override_rows)
    if best_master is None and best_override is None:
        assert choice is None
        return
    assert choice is not None
    if best_override is not None and (
        best_master is None or len(best_override.prefix) >= len(best_master.prefix)
    ):
        assert (choice.source, choice.row) == ("override", best_override)
    else:
        assert (choice.source, choice.row) == ("master", best_master)
    assert choice.forbidden == (choice.prefix in forbidden)
    # Without an override the master's own longest prefix decides.
    alone = choose_rate(number, at=FEB, tariff=PrefixIndex(master_rows))
    assert (alone.row if alone else None) == best_master

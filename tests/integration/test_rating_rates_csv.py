"""Rate CSV upload and download (issue 12 §1): merge keyed by (prefix, effective_from),
``replace`` discontinues the absent prefixes from the file's date, a reject list (line,
field, reason) with nothing of a rejected line saved, a re-upload changes nothing, a
download uploads back unchanged, a 100,000-line file loads in seconds."""

from __future__ import annotations

import datetime as dt
import io
import time
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from billcore.errors import NotFound, ValidationFailed
from billcore.rating import services
from billcore.rating.models import Rate

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db

HEADER = "prefix,interval_first,interval_next,price_first,price_next,effective_from\n"


@pytest.fixture
def tariff(world: dict[str, Any]) -> Any:
    return services.create_tariff(
        actor=world["admin"], now=T0, data={"name": "Wholesale", "currency": "USD"}
    )


def _upload(world: Any, tariff: Any, text: str, *, replace: bool = False) -> Any:
    return services.import_rates(
        actor=world["admin"],
        now=T0,
        tariff_id=tariff.pk,
        file=io.StringIO(text),
        replace=replace,
    )


def _rows(tariff: Any) -> list[tuple[Any, ...]]:
    return list(
        Rate.objects.filter(tariff=tariff)
        .order_by("prefix", "effective_from")
        .values_list("prefix", "effective_from", "interval_first", "price_first", "discontinued")
    )


def _counts(result: Any) -> tuple[int, ...]:
    return (result.added, result.updated, result.unchanged, result.discontinued, result.rejected)


FILE = HEADER + (
    "12,60,6,0.02,0.02,2026-11-01\n"
    "420,60,60,0.20,0.20,2026-11-01\n"
    "1204,1,1,0.01,0.01,2026-11-01T00:00:00+00:00\n"
    "|,60,60,0.5,0.5,2026-11-01\n"
)


def test_upload_then_the_same_file_again_changes_nothing(world: Any, tariff: Any) -> None:
    assert _counts(_upload(world, tariff, FILE)) == (4, 0, 0, 0, 0)
    first = _rows(tariff)
    ids = sorted(Rate.objects.values_list("pk", flat=True))
    assert _counts(_upload(world, tariff, FILE)) == (0, 0, 4, 0, 0)
    assert _rows(tariff) == first
    assert sorted(Rate.objects.values_list("pk", flat=True)) == ids
    assert _counts(_upload(world, tariff, FILE, replace=True)) == (0, 0, 4, 0, 0)


def test_merge_keeps_absent_prefixes_and_versions(world: Any, tariff: Any) -> None:
    _upload(world, tariff, FILE)
    second = HEADER + "12,60,6,0.03,0.03,2026-11-01\n12,60,6,0.04,0.04,2026-12-01\n"
    assert _counts(_upload(world, tariff, second)) == (1, 1, 0, 0, 0)
    rows = _rows(tariff)
    assert [(r[0], r[1].date().isoformat(), r[3]) for r in rows if r[0] == "12"] == [
        ("12", "2026-11-01", Decimal("0.03")),
        ("12", "2026-12-01", Decimal("0.04")),
    ]
    assert {r[0] for r in rows} == {"12", "420", "1204", "|"}
    assert not any(r[4] for r in rows)


def test_replace_discontinues_absent_prefixes_from_the_files_date(world: Any, tariff: Any) -> None:
    _upload(world, tariff, FILE)
    replacing = HEADER + "12,60,6,0.03,0.03,2026-12-01\n|,60,60,0.5,0.5,2026-12-01\n"
    result = _upload(world, tariff, replacing, replace=True)
    assert _counts(result) == (2, 0, 0, 2, 0)
    rows = _rows(tariff)
    dec = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    for prefix in ("420", "1204"):
        versions = [(r[1], r[4]) for r in rows if r[0] == prefix]
        assert versions == [(T0, False), (dec, True)], prefix
    # The discontinued version keeps the prices it replaces (history reads well).
    stopped = Rate.objects.get(tariff=tariff, prefix="420", effective_from=dec)
    assert (stopped.price_first, stopped.interval_first) == (Decimal("0.2"), 60)
    # Idempotent: the same replacing upload again changes nothing.
    assert _counts(_upload(world, tariff, replacing, replace=True)) == (0, 0, 2, 0, 0)
    assert _rows(tariff) == rows


def test_rejected_lines_are_listed_and_nothing_of_them_is_saved(world: Any, tariff: Any) -> None:
    text = HEADER + (
        "12,60,6,0.02,0.02,2026-11-01\n"  # line 2: fine
        "13,0,6,0.02,0.02,2026-11-01\n"  # 3: interval 0
        "14,60,6,-0.02,0.02,2026-11-01\n"  # 4: negative price
        "15,60,6,0.02,0.02,someday\n"  # 5: bad date
        "12,60,6,0.05,0.05,2026-11-01\n"  # 6: the same key twice in the file
        "1a,60,6,0.02,0.02,2026-11-01\n"  # 7: bad prefix
        "16,60,6,0.02\n"  # 8: too few fields
        "17,60,6,0.020001,0.02,2026-11-01\n"  # 9: six decimals
        "18,60,6,0.02,0.02,2026-11-01\n"  # 10: fine
    )
    result = _upload(world, tariff, text)
    assert _counts(result) == (2, 0, 0, 0, 7)
    assert [(r.line, r.field) for r in result.rejects] == [
        (3, "interval_first"),
        (4, "price_first"),
        (5, "effective_from"),
        (6, "effective_from"),
        (7, "prefix"),
        (8, "file"),
        (9, "price_first"),
    ]
    assert all(r.reason for r in result.rejects)
    assert [r[0] for r in _rows(tariff)] == ["12", "18"]
    assert Rate.objects.get(tariff=tariff, prefix="12").price_first == Decimal("0.02")


@pytest.mark.parametrize("prefill", [False, True], ids=["empty-tariff", "re-upload"])
def test_a_key_given_twice_in_different_batches(
    world: Any, tariff: Any, monkeypatch: Any, prefill: bool
) -> None:
    """A key repeated in a later batch is refused though the first batch is already written:
    an empty tariff's fast insert meets it and falls back; a re-upload recognises the row it
    updated. Nothing of the repeat is saved."""
    from billcore.rating import rates

    monkeypatch.setattr(rates, "BATCH", 2)
    if prefill:
        _upload(world, tariff, HEADER + "12,60,6,0.01,0.01,2026-11-01\n")
    text = HEADER + (
        "12,60,6,0.02,0.02,2026-11-01\n"  # line 2: batch 1
        "13,60,6,0.03,0.03,2026-11-01\n"  # 3: batch 1
        "14,60,6,0.04,0.04,2026-11-01\n"  # 4: batch 2
        "12,60,6,0.09,0.09,2026-11-01\n"  # 5: batch 2, the key of line 2 again
    )
    result = _upload(world, tariff, text)
    added, updated = (2, 1) if prefill else (3, 0)
    assert _counts(result)[:2] == (added, updated)
    assert [(r.line, r.field) for r in result.rejects] == [(5, "effective_from")]
    assert "already given on an earlier line" in result.rejects[0].reason
    prices = dict(Rate.objects.filter(tariff=tariff).values_list("prefix", "price_first"))
    assert prices == {"12": Decimal("0.02"), "13": Decimal("0.03"), "14": Decimal("0.04")}


def test_optional_columns(world: Any, tariff: Any) -> None:
    text = (
        "Prefix,Interval_First,interval_next,price_first,price_next,effective_from,"
        "offpeak_price_first,offpeak_price_next,offpeak2_price_first,offpeak2_price_next,"
        "offpeak2_interval_first,forbidden,hidden\n"
        "1900,60,60,1,1,2026-11-01,,,,,,yes,\n"
        "44,60,6,0.1,0.05,2026-11-01,0.05,0.02,0.01,0.01,1,,true\n"
        "45,60,6,0.1,0.05,2026-11-01,0.05,,,,,,\n"
    )
    result = _upload(world, tariff, text)
    assert _counts(result) == (2, 0, 0, 0, 1)
    assert (result.rejects[0].line, result.rejects[0].field) == (4, "offpeak_price_next")
    forbidden = Rate.objects.get(prefix="1900")
    assert (forbidden.forbidden, forbidden.offpeak_price_first) == (True, None)
    r = Rate.objects.get(prefix="44")
    assert (r.offpeak_interval_first, r.offpeak_interval_next) == (60, 6)
    assert (r.offpeak2_interval_first, r.offpeak2_interval_next) == (1, 6)
    assert (r.offpeak2_price_first, r.hidden) == (Decimal("0.01"), True)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("prefix,price_first\n1,1\n", "missing_column"),
        (HEADER.strip() + ",colour\n", "unknown_column"),
        (
            "prefix,prefix,interval_first,interval_next,price_first,price_next,effective_from\n",
            "duplicate_column",
        ),
    ],
)
def test_a_file_that_cannot_be_read_saves_nothing(
    world: Any, tariff: Any, text: str, code: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        _upload(world, tariff, text)
    assert (info.value.field, info.value.code) == ("file", code)
    assert not Rate.objects.exists()


def test_bytes_that_are_not_utf8_save_nothing(world: Any, tariff: Any) -> None:
    def lines() -> Iterator[str]:
        yield HEADER
        yield "12,60,6,0.02,0.02,2026-11-01\n"
        yield b"13,60,6,0.02,0.02,2026-11-01\xff\n".decode("utf-8")

    with pytest.raises(ValidationFailed) as info:
        services.import_rates(actor=world["admin"], now=T0, tariff_id=tariff.pk, file=lines())
    assert info.value.field == "file"
    assert not Rate.objects.exists()


def test_download_uploads_back_unchanged(world: Any, tariff: Any) -> None:
    text = HEADER.strip() + ",offpeak_price_first,offpeak_price_next,forbidden\n"
    text += "12,60,6,0.02,0.01,2026-11-01,0.01,0.005,\n44,1,1,0.1,0.1,2026-11-02T10:30:00Z,,,1\n"
    _upload(world, tariff, text)
    exported = "".join(services.export_rates(actor=world["admin"], tariff_id=tariff.pk))
    lines = exported.splitlines()
    assert lines[0].startswith("prefix,interval_first,interval_next,price_first,price_next,")
    assert lines[1].startswith("12,60,6,0.02000,0.01000,2026-11-01T00:00:00+00:00,")
    assert len(lines) == 3
    result = _upload(world, tariff, exported)
    assert _counts(result) == (0, 0, 2, 0, 0)


def test_a_reseller_uploads_only_to_its_own_tariffs(world: Any, tariff: Any) -> None:
    with pytest.raises(NotFound):
        services.import_rates(
            actor=world["ua"], now=T0, tariff_id=tariff.pk, file=io.StringIO(FILE)
        )


def _big(n: int) -> Iterator[str]:
    yield HEADER
    for i in range(n):
        yield f"{1000000 + i},60,6,0.0{i % 10}123,0.01,2026-11-01\n"


def test_a_100000_line_file_loads_in_seconds(world: Any, tariff: Any) -> None:
    started = time.perf_counter()
    result = services.import_rates(
        actor=world["admin"], now=T0, tariff_id=tariff.pk, file=_big(100_000)
    )
    seconds = time.perf_counter() - started
    assert _counts(result) == (100_000, 0, 0, 0, 0)
    assert Rate.objects.filter(tariff=tariff).count() == 100_000
    print(f"\n100,000 rates uploaded in {seconds:.1f} s")
    assert seconds < 60  # about 5 s on a quiet machine; generous for a shared CI runner
    started = time.perf_counter()
    again = services.import_rates(
        actor=world["admin"], now=T0, tariff_id=tariff.pk, file=_big(100_000)
    )
    assert _counts(again) == (0, 0, 100_000, 0, 0)
    print(f"re-upload (nothing to change) in {time.perf_counter() - started:.1f} s")


def test_memory_stays_flat_on_a_large_file(world: Any, tariff: Any) -> None:
    """Python's allocations while uploading 30,000 lines: one batch of rows and the keys
    seen, never a list of the file's rows or model objects."""
    tracemalloc.start()
    try:
        services.import_rates(actor=world["admin"], now=T0, tariff_id=tariff.pk, file=_big(30_000))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\npeak {peak / 2**20:.1f} MiB traced for 30,000 lines")
    assert peak < 24 * 2**20


def test_replace_marks_versions_from_the_files_date_on(world: Any, tariff: Any) -> None:
    """An absent prefix with a version at the file's date and a later one: both are marked
    discontinued (no copy added); one already discontinued before is left alone."""
    dec, jan = "2026-12-01", "2027-01-01"
    _upload(
        world,
        tariff,
        HEADER
        + f"44,60,60,0.1,0.1,{dec}\n44,60,60,0.2,0.2,{jan}\n"
        + "45,60,60,0.1,0.1,2026-11-01\n"
        + "46,60,60,0.1,0.1,2026-11-01\n"
        + f"46,60,60,0.1,0.1,{dec}\n",
    )
    services.update_rate(
        actor=world["admin"],
        now=T0,
        rate_id=Rate.objects.get(prefix="46", effective_from__date=dt.date(2026, 12, 1)).pk,
        changes={"discontinued": True},
    )
    result = _upload(world, tariff, HEADER + f"12,60,6,0.03,0.03,{dec}\n", replace=True)
    assert _counts(result) == (1, 0, 0, 2, 0)  # 44 and 45; 46 was already discontinued
    flags = {(r[0], r[1].date().isoformat()): r[4] for r in _rows(tariff)}
    assert flags == {
        ("12", dec): False,
        ("44", dec): True,
        ("44", jan): True,
        ("45", "2026-11-01"): False,
        ("45", dec): True,
        ("46", "2026-11-01"): False,
        ("46", dec): True,
    }

"""Pricing one usage record from the catalogue (issue 12 §2, rating-and-tabs.md §1.5).

The steps, for an account, a service code, a called number (``cld``), a quantity as the
network reports it, a start instant and an access code:

1. the account's products: add-ons by precedence (highest first), then the main product;
   the first whose rating table has an entry for the service and the access code gives the
   **tariff** (and, for a reseller's customer, the entry's reseller tariff). An access code
   ``OUTGOING`` with no entry of its own falls back to the empty (ordinary outgoing) entry,
   as PortaBilling treats both as outgoing;
2. the customer's override tariff for that tariff, if any;
3. the rate: longest prefix in force at the start, the override searched too (§1.4,
   ``core.rating.choose_rate``); none, or a forbidden one, refuses;
4. the price set (peak / off-peak 1 / off-peak 2) from the tariff's off-peak periods in the
   customer's billing time zone at the start (§1.3, §7.6);
5. the quantity in whole base units (rounded up) and the charged quantity and amount (§1.7,
   ``core.rating.rate_usage``).

The result is a :class:`Priced` (what to charge and what to store on the xDR) or a
:class:`Refusal` with the reason the xDR is denied with. A :class:`Pricer` reads the
catalogue: per call (a few small indexed queries, for the real-time path) or, with
``whole_tariffs=True``, each tariff's rates loaded once into a ``PrefixIndex`` (for batches
and imports, where the same tariffs price thousands of records). A pricer is a snapshot: make
a new one per request or per import so that catalogue changes are seen.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from billcore.core.offpeak import OffpeakPeriod as ParsedPeriod
from billcore.core.offpeak import PriceSet, parse_offpeak, price_set
from billcore.core.rating import (
    PrefixIndex,
    PriceTerms,
    RatingError,
    Reported,
    choose_rate,
    rate_usage,
    to_base_units,
)
from billcore.db import CompiledQuery
from billcore.errors import ValidationFailed
from billcore.rating.models import (
    AccountProduct,
    OverrideTariff,
    Rate,
    RatingBase,
    RatingEntry,
    Service,
    Tariff,
)

ZERO: Final = Decimal(0)

#: Why a record could not be priced: the reason stored on the denied xDR, and its words.
REFUSALS: Final[dict[str, str]] = {
    "no_product": "the account has no product that rates this service",
    "no_rate": "the tariff has no rate for the called number",
    "forbidden_destination": "the called number is a forbidden destination",
    "reseller_no_rate": "the reseller's tariff has no rate for the called number",
    "reseller_forbidden_destination": "the called number is forbidden by the reseller's tariff",
}

#: The units usage may be reported in, per rating base (the xDR's ``unit``; empty = the
#: first, the natural one). Anything else is refused naming ``unit``.
REPORTED_UNITS: Final[dict[str, dict[str, Reported]]] = {
    RatingBase.TIME: {
        "": "second",
        "s": "second",
        "sec": "second",
        "second": "second",
        "seconds": "second",
        "ms": "millisecond",
        "millisecond": "millisecond",
        "milliseconds": "millisecond",
    },
    RatingBase.DATA: {"": "byte", "b": "byte", "byte": "byte", "bytes": "byte"},
    RatingBase.MESSAGES: {"": "message", "message": "message", "messages": "message"},
    RatingBase.OTHER: {"": "unit", "unit": "unit", "units": "unit"},
}

# The catalogue's base-unit codes (lower case) as ``core.rating.BaseUnit`` spells them.
_CORE_UNIT: Final[dict[str, str]] = {
    "second": "second",
    "byte": "byte",
    "kb": "KB",
    "mb": "MB",
    "gb": "GB",
    "kib": "KiB",
    "mib": "MiB",
    "gib": "GiB",
    "message": "message",
    "unit": "unit",
}

Source = Literal["master", "override"]
_PREFETCH_CHUNK: Final = 500

# The per-call reads (one record, the real-time path) are compiled once per process and
# database (``db.CompiledQuery``): the ORM spent ~1.5 ms building each of a price's six to
# eight queries, more than running them (bench/rating.py, the quote over HTTP).
_S_ID: Final = -987_654_301
_S_ID2: Final = -987_654_302
_S_CODE: Final = "\x00billcore-sentinel-code"
_S_CODE2: Final = "\x00billcore-sentinel-code-2"
# A number has at most 32 digits: its candidate prefixes and "|" fill at most 33 slots; the
# unused ones get "", which no rate's prefix is.
_S_PREFIXES: Final = tuple(f"\x00billcore-sentinel-prefix-{i}" for i in range(33))
_TARIFF_COLUMNS: Final = (
    "pk",
    "currency_id",
    "connection_fee",
    "free_seconds",
    "grace_period",
    "post_call_surcharge",
    "offpeak_period__expression",
    "second_offpeak_period__expression",
)


def _builders() -> dict[str, Any]:
    return {
        "service": lambda: Service.objects.filter(code=_S_CODE).values_list(
            "pk", "code", "name", "rating_base", "base_unit"
        ),
        "account": lambda: AccountProduct.objects.filter(account_id=_S_ID)
        .order_by("is_main", "-product__precedence", "product_id")
        .values_list(
            "product_id",
            "account__customer_id",
            "account__customer__time_zone",
            "account__customer__reseller_id",
            "account__customer__reseller__time_zone",
        ),
        "entries": lambda: RatingEntry.objects.filter(
            product__assignments__account_id=_S_ID,
            service_id=_S_ID2,
            access_code__in=[_S_CODE, _S_CODE2],
        ).values_list("product_id", "access_code", "tariff_id", "reseller_tariff_id"),
        "override": lambda: OverrideTariff.objects.filter(
            customer_id=_S_ID, master_tariff_id=_S_ID2
        ).values_list("override_tariff_id"),
        "tariff": lambda: Tariff.objects.filter(pk=_S_ID).values_list(*_TARIFF_COLUMNS),
        "rates": lambda: Rate.objects.filter(
            tariff_id=_S_ID, prefix__in=list(_S_PREFIXES)
        ).values_list(*_RATE_COLUMNS),
    }


_compiled: dict[tuple[str, str], CompiledQuery] = {}


def _query(name: str) -> CompiledQuery:
    from django.db import connection

    key = (connection.vendor, name)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = CompiledQuery(_builders()[name]())
    return found


@dataclass(frozen=True, slots=True)
class Priced:
    """One priced record: what the xDR stores and the terms its price came from (the
    maximum duration of ``/authorize`` inverts them)."""

    tariff_id: int
    rate_id: int
    source: Source
    prefix: str
    price_set: PriceSet
    currency: str
    quantity: int  # whole base units, rounded up
    charged_quantity: int
    amount: Decimal
    terms: PriceTerms


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str

    @property
    def message(self) -> str:
        return REFUSALS[self.reason]


@dataclass(frozen=True, slots=True)
class Pricing:
    """The customer's price (or refusal) and, for a reseller's customer whose rating entry
    names a reseller tariff, the reseller's (its wholesale price, in its currency)."""

    customer: Priced | Refusal
    reseller: Priced | Refusal | None = None
    reseller_id: int | None = None
    base_quantity: int = 0

    @property
    def refusal(self) -> Refusal | None:
        """The first refusal: the customer's, else the reseller's (denies the record)."""
        if isinstance(self.customer, Refusal):
            return self.customer
        if isinstance(self.reseller, Refusal):
            return self.reseller
        return None


@dataclass(frozen=True, slots=True)
class _Entry:
    """A rating entry as rating reads it, with the account's customer."""

    tariff_id: int
    reseller_tariff_id: int | None
    override_tariff_id: int | None
    customer_tz: str
    reseller_id: int | None
    reseller_tz: str | None


@dataclass(frozen=True, slots=True)
class _Tariff:
    pk: int
    currency: str
    connection_fee: Decimal
    free_seconds: int
    grace_period: int
    surcharge: Decimal
    offpeak1: str | None
    offpeak2: str | None


@dataclass(frozen=True, slots=True)
class RateRow:
    """A rate as rating reads it (a plain row: a tariff of 100,000 prefixes is held in
    memory as these, not as model instances)."""

    pk: int
    tariff_id: int
    prefix: str
    effective_from: dt.datetime
    forbidden: bool
    discontinued: bool
    interval_first: int
    interval_next: int
    price_first: Decimal
    price_next: Decimal
    offpeak_interval_first: int | None
    offpeak_interval_next: int | None
    offpeak_price_first: Decimal | None
    offpeak_price_next: Decimal | None
    offpeak2_interval_first: int | None
    offpeak2_interval_next: int | None
    offpeak2_price_first: Decimal | None
    offpeak2_price_next: Decimal | None


_RATE_COLUMNS: Final = tuple(RateRow.__dataclass_fields__)


def rate_rows(queryset: Any) -> Iterable[RateRow]:
    """The rows of a ``Rate`` queryset as :class:`RateRow`, streamed."""
    for values in queryset.values_list(*_RATE_COLUMNS).iterator(chunk_size=5000):
        yield RateRow(*values)


@functools.lru_cache(maxsize=256)
def _parsed(expression: str) -> ParsedPeriod:
    return parse_offpeak(expression)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def digits_of(number: str) -> str:
    """The digits of a called number (``+420 601-234`` → ``420601234``); what prefixes match."""
    return "".join(ch for ch in number if ch.isdigit())


def check_cld(value: Any) -> str:
    """A called number as rating needs it: 1 to 32 digits once ``+``, spaces and dashes are
    dropped. Raises ``ValidationFailed`` naming ``cld``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("cld: the called number is required to rate usage", field="cld")
    if len(value) > 64 or any(not (ch.isdigit() or ch in "+-() .") for ch in value):
        raise ValidationFailed(
            "cld: a called number has digits only (a leading + and spaces are allowed)",
            field="cld",
        )
    digits = digits_of(value)
    if not 1 <= len(digits) <= 32:
        raise ValidationFailed("cld: a called number has 1 to 32 digits", field="cld")
    return digits


def terms_of(rate: RateRow, tariff: _Tariff, which: PriceSet, *, per_minute: bool) -> PriceTerms:
    """The price terms of one of ``rate``'s price sets with its tariff's parameters. An
    off-peak set the rate does not carry falls back to the peak prices."""
    first, nxt = rate.interval_first, rate.interval_next
    p_first, p_next = rate.price_first, rate.price_next
    if which is PriceSet.OFFPEAK1 and rate.offpeak_price_first is not None:
        first = rate.offpeak_interval_first or first
        nxt = rate.offpeak_interval_next or nxt
        p_first, p_next = rate.offpeak_price_first, rate.offpeak_price_next or ZERO
    elif which is PriceSet.OFFPEAK2 and rate.offpeak2_price_first is not None:
        first = rate.offpeak2_interval_first or first
        nxt = rate.offpeak2_interval_next or nxt
        p_first, p_next = rate.offpeak2_price_first, rate.offpeak2_price_next or ZERO
    return PriceTerms(
        interval_first=first,
        interval_next=nxt,
        price_first=p_first,
        price_next=p_next,
        connection_fee=tariff.connection_fee,
        free_seconds=tariff.free_seconds if per_minute else 0,
        grace_period=tariff.grace_period if per_minute else 0,
        surcharge_percent=tariff.surcharge,
        per_minute=per_minute,
    )


class Pricer:
    """Prices usage records from the catalogue; one per request or per import (a snapshot).

    ``whole_tariffs`` loads each tariff's rates once into a prefix index (batches, imports);
    without it each record reads only the rates of its number's prefixes.
    """

    def __init__(self, *, whole_tariffs: bool = False) -> None:
        self.whole_tariffs = whole_tariffs
        self._services: dict[str, Service | None] = {}
        self._entries: dict[tuple[int, int, str], _Entry | None] = {}
        self._tariffs: dict[int, _Tariff] = {}
        self._indexes: dict[int, PrefixIndex[RateRow]] = {}
        # Filled by ``prefetch`` (batches, imports): an account's products as
        # (product, customer, its zone, reseller, its zone), in order; a product's rating
        # entries by (service, access code); a customer's override tariffs by master tariff.
        self._accounts: dict[int, list[tuple[int, int, str, int | None, str | None]]] = {}
        self._product_entries: dict[int, dict[tuple[int, str], RatingEntry]] = {}
        self._customer_overrides: dict[int, dict[int, int]] = {}

    # -- catalogue reads ------------------------------------------------------------------

    def prefetch(self, account_ids: Iterable[int]) -> None:
        """Read the products, rating entries and override tariffs of many accounts at once
        (a batch, an import chunk): a few queries per 500 accounts instead of three per
        account; pricing their records then reads none of these again."""
        wanted = sorted({a for a in account_ids if a not in self._accounts})
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            chunk = wanted[start : start + _PREFETCH_CHUNK]
            for account_id in chunk:
                self._accounts[account_id] = []
            rows = (
                AccountProduct.objects.filter(account_id__in=chunk)
                .order_by("account_id", "is_main", "-product__precedence", "product_id")
                .values_list(
                    "account_id",
                    "product_id",
                    "account__customer_id",
                    "account__customer__time_zone",
                    "account__customer__reseller_id",
                    "account__customer__reseller__time_zone",
                )
            )
            for account_id, *rest in rows:
                self._accounts[account_id].append(
                    (rest[0], rest[1], rest[2], rest[3], rest[4])  # type: ignore[arg-type]
                )
        rows_of = [self._accounts[a] for a in wanted]
        products = sorted({r[0] for rs in rows_of for r in rs} - self._product_entries.keys())
        for start in range(0, len(products), _PREFETCH_CHUNK):
            pchunk = products[start : start + _PREFETCH_CHUNK]
            for product_id in pchunk:
                self._product_entries[product_id] = {}
            for e in RatingEntry.objects.filter(product_id__in=pchunk):
                self._product_entries[e.product_id][(e.service_id, e.access_code)] = e
        customers = sorted({r[1] for rs in rows_of for r in rs} - self._customer_overrides.keys())
        for start in range(0, len(customers), _PREFETCH_CHUNK):
            cchunk = customers[start : start + _PREFETCH_CHUNK]
            for customer_id in cchunk:
                self._customer_overrides[customer_id] = {}
            for cid, master, override in OverrideTariff.objects.filter(
                customer_id__in=cchunk
            ).values_list("customer_id", "master_tariff_id", "override_tariff_id"):
                self._customer_overrides[cid][master] = override

    def service(self, code: str) -> Service:
        """The catalogue service of ``code``; ``ValidationFailed`` naming ``service``."""
        if code not in self._services:
            row = _query("service").row({_S_CODE: code})
            self._services[code] = (
                None
                if row is None
                else Service(
                    pk=row[0], code=row[1], name=row[2], rating_base=row[3], base_unit=row[4]
                )
            )
        found = self._services[code]
        if found is None:
            raise ValidationFailed(f"service: no service with code {code!r}", field="service")
        return found

    def _entry(self, account_id: int, service: Service, access_code: str) -> _Entry | None:
        key = (account_id, service.pk, access_code)
        if key not in self._entries:
            self._entries[key] = self._find_entry(account_id, service, access_code)
        return self._entries[key]

    def _find_entry(self, account_id: int, service: Service, access_code: str) -> _Entry | None:
        codes = [access_code] + ([""] if access_code == "OUTGOING" else [])
        if account_id in self._accounts:
            return self._prefetched_entry(account_id, service, codes)
        rows = _query("account").rows({_S_ID: account_id})
        if not rows:
            return None
        entries = {
            (product_id, code): (tariff_id, reseller_tariff_id)
            for product_id, code, tariff_id, reseller_tariff_id in _query("entries").rows(
                {_S_ID: account_id, _S_ID2: service.pk, _S_CODE: codes[0], _S_CODE2: codes[-1]}
            )
        }
        for product_id, customer_id, tz, reseller_id, reseller_tz in rows:
            for code in codes:
                found = entries.get((product_id, code))
                if found is None:
                    continue
                override = _query("override").row({_S_ID: customer_id, _S_ID2: found[0]})
                return _Entry(
                    tariff_id=found[0],
                    reseller_tariff_id=found[1],
                    override_tariff_id=override[0] if override is not None else None,
                    customer_tz=tz,
                    reseller_id=reseller_id,
                    reseller_tz=reseller_tz,
                )
        return None

    def _prefetched_entry(
        self, account_id: int, service: Service, codes: list[str]
    ) -> _Entry | None:
        """``_find_entry`` from what ``prefetch`` read: the same answer, no query."""
        for product_id, customer_id, tz, reseller_id, reseller_tz in self._accounts[account_id]:
            entries = self._product_entries.get(product_id, {})
            for code in codes:
                entry = entries.get((service.pk, code))
                if entry is None:
                    continue
                return _Entry(
                    tariff_id=entry.tariff_id,
                    reseller_tariff_id=entry.reseller_tariff_id,
                    override_tariff_id=self._customer_overrides.get(customer_id, {}).get(
                        entry.tariff_id
                    ),
                    customer_tz=tz,
                    reseller_id=reseller_id,
                    reseller_tz=reseller_tz,
                )
        return None

    def _tariff(self, pk: int) -> _Tariff:
        if pk not in self._tariffs:
            self._load_tariffs([pk])
        return self._tariffs[pk]

    def _load_tariffs(self, pks: Iterable[int]) -> None:
        wanted = [pk for pk in pks if pk not in self._tariffs]
        if not wanted:
            return
        rows: Iterable[Any]
        if len(wanted) <= 3:  # one record's: compiled reads
            rows = [r for pk in wanted if (r := _query("tariff").row({_S_ID: pk})) is not None]
        else:
            rows = Tariff.objects.filter(pk__in=wanted).values_list(*_TARIFF_COLUMNS)
        for pk, currency, fee, free, grace, surcharge, off1, off2 in rows:
            self._tariffs[pk] = _Tariff(
                pk=pk,
                currency=currency,
                connection_fee=Decimal(fee),
                free_seconds=free,
                grace_period=grace,
                surcharge=Decimal(surcharge),
                offpeak1=off1,
                offpeak2=off2,
            )

    def _index(self, tariff_id: int, number: str, at: dt.datetime) -> PrefixIndex[RateRow]:
        if self.whole_tariffs:
            if tariff_id not in self._indexes:
                self._indexes[tariff_id] = PrefixIndex(
                    rate_rows(Rate.objects.filter(tariff_id=tariff_id))
                )
            return self._indexes[tariff_id]
        prefixes = [number[:n] for n in range(len(number), 0, -1)] + ["|"]
        values: dict[Any, Any] = {_S_ID: tariff_id}
        values.update(
            zip(_S_PREFIXES, prefixes + [""] * (len(_S_PREFIXES) - len(prefixes)), strict=True)
        )
        rows = _query("rates").rows(values)
        # The versions in force by then (a later one cannot price a session started before).
        return PrefixIndex(r for r in (RateRow(*row) for row in rows) if r.effective_from <= at)

    # -- pricing ----------------------------------------------------------------------------

    def base_quantity(self, service: Service, quantity: Decimal, unit: str) -> int:
        """``quantity`` reported in ``unit`` as whole base units of ``service``, rounded up;
        ``ValidationFailed`` naming ``unit`` or ``quantity``."""
        units = REPORTED_UNITS[service.rating_base]
        reported = units.get(unit.strip().lower())
        if reported is None:
            allowed = ", ".join(repr(u) for u in units if u)
            raise ValidationFailed(
                f"unit: {service.code} usage is reported in one of {allowed} (or empty)",
                field="unit",
            )
        try:
            return to_base_units(
                quantity, base_unit=_CORE_UNIT[service.base_unit], reported=reported
            )
        except RatingError as error:
            raise ValidationFailed(f"quantity: {error.reason}", field="quantity") from None

    def _price_on(
        self,
        tariff_id: int,
        override_id: int | None,
        *,
        number: str,
        at: dt.datetime,
        zone: str,
        quantity: int,
        per_minute: bool,
        refusal_prefix: str = "",
    ) -> Priced | Refusal:
        tariff = self._tariff(tariff_id)
        master = self._index(tariff_id, number, at)
        override = self._index(override_id, number, at) if override_id is not None else None
        choice = choose_rate(number, at=at, tariff=master, override=override)
        if choice is None:
            return Refusal(f"{refusal_prefix}no_rate")
        if choice.forbidden:
            return Refusal(f"{refusal_prefix}forbidden_destination")
        rate = choice.row
        # The override tariff's own parameters (fee, free seconds, …) apply to its rates.
        source_tariff = tariff if choice.source == "master" else self._tariff(rate.tariff_id)
        local = at.astimezone(_zone(zone))
        which = price_set(
            local,
            offpeak1=_parsed(source_tariff.offpeak1) if source_tariff.offpeak1 else None,
            offpeak2=_parsed(source_tariff.offpeak2) if source_tariff.offpeak2 else None,
        )
        terms = terms_of(rate, source_tariff, which, per_minute=per_minute)
        rated = rate_usage(quantity, terms)
        return Priced(
            tariff_id=source_tariff.pk,
            rate_id=rate.pk,
            source=choice.source,
            prefix=rate.prefix,
            price_set=which,
            currency=source_tariff.currency,
            quantity=quantity,
            charged_quantity=rated.charged_quantity,
            amount=rated.amount,
            terms=terms,
        )

    def price(
        self,
        *,
        account_id: int,
        service: str,
        cld: str,
        quantity: Decimal,
        unit: str = "",
        started_at: dt.datetime,
        access_code: str = "",
    ) -> Pricing:
        """Price one record of ``account_id`` (see the module docstring). Bad input (unknown
        service, unit, called number) raises ``ValidationFailed`` naming the field; a record
        that cannot be priced gives a :class:`Refusal`."""
        svc = self.service(service)
        number = check_cld(cld)
        base = self.base_quantity(svc, quantity, unit)
        entry = self._entry(account_id, svc, access_code)
        if entry is None:
            return Pricing(customer=Refusal("no_product"), base_quantity=base)
        per_minute = svc.rating_base == RatingBase.TIME
        wanted = [entry.tariff_id]
        if entry.override_tariff_id is not None:
            wanted.append(entry.override_tariff_id)
        if entry.reseller_tariff_id is not None and entry.reseller_id is not None:
            wanted.append(entry.reseller_tariff_id)
        self._load_tariffs(wanted)
        customer = self._price_on(
            entry.tariff_id,
            entry.override_tariff_id,
            number=number,
            at=started_at,
            zone=entry.customer_tz,
            quantity=base,
            per_minute=per_minute,
        )
        if entry.reseller_id is None or entry.reseller_tariff_id is None:
            return Pricing(customer=customer, base_quantity=base)
        reseller = self._price_on(
            entry.reseller_tariff_id,
            None,
            number=number,
            at=started_at,
            zone=entry.reseller_tz or "UTC",
            quantity=base,
            per_minute=per_minute,
            refusal_prefix="reseller_",
        )
        return Pricing(
            customer=customer,
            reseller=reseller,
            reseller_id=entry.reseller_id,
            base_quantity=base,
        )

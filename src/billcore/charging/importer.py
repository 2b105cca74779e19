"""Bulk import of usage records (xDRs) from a CSV file (``billcore xdrs import``).

The file has a header row. Columns, in any order and letter case:

* ``account`` (an account's identifier, e.g. a phone number) and/or ``customer`` (a
  customer's id when all digits, otherwise its name in any letter case): at least one of the
  two columns, and a value in at least one of them on every line;
* ``service``, ``started_at`` (ISO 8601 with a zone), ``external_id`` (the idempotency key:
  importing the same file twice charges nothing twice): required;
* ``amount``, ``quantity``, ``unit``, ``cld`` (the called number), ``access_code``: optional.
  A line without an amount (no column, or an empty value) is rated by billcore (issue 12
  §2): ``cld`` and ``quantity`` are then required, and the line is priced on its account's
  products; a line that cannot be priced (no product, no rate, a forbidden destination) is
  kept as a denied xDR like other denials. The lines of a batch are priced before its
  transaction with one ``Pricer(whole_tariffs=True)`` for the whole import;
* any other column goes into the xDR's ``details`` (``cli``, …; empty values left out);
  ``cld`` goes there too, as it always has, besides the xDR's own ``cld``.

The file is streamed (a ``csv.reader`` over the open file, one batch of lines in memory) and
every line is charged through ``charging.services`` (``parse_usage`` + ``charge_many``, which
gives exactly the results of ``charge`` line by line), so the rules are the same as for
``POST /api/v1/xdrs``. A bad line (unknown account, bad amount, missing value, bad date, …) is
reported with its line number and reason and written to the reject file (the original fields
plus ``line`` and ``error``); it never half-applies. Denied charges (insufficient funds, …)
are not errors: they are recorded xDRs, counted apart.

Transactions: the lines of one batch (``DEFAULT_BATCH``) are charged in one database
transaction by ``charge_many``: targets, earlier ``external_id``s and the locked balances are
read once, every line is decided in memory in file order, and the rows are written in bulk.
The outcomes of a batch are counted and reported only once its transaction has committed.
Should the batch fail as a whole (a value the database refuses, a deadlock with another
writer, a concurrent import of the same ``external_id``), it is rolled back and its lines are
charged again one transaction each (``charge``), so the line to blame is rejected alone.
``batch=1`` gives one transaction per line.

Account and customer identifiers are resolved once per batch with one query per kind, and
remembered in a bounded cache, so a file with few customers costs few look-ups.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

from django.db import DatabaseError, DataError, IntegrityError, transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.charging import services
from billcore.core.text import name_key
from billcore.customers.models import Customer
from billcore.errors import BillcoreError, ValidationFailed
from billcore.rating.pricing import Pricer
from billcore.subscribers.models import Account

TARGET_COLUMNS = ("account", "customer")
REQUIRED_COLUMNS = ("service", "started_at", "external_id")
OPTIONAL_COLUMNS = ("amount", "quantity", "unit", "cld", "access_code")
# Known columns that also go into ``details`` (what earlier files put there).
DETAIL_COLUMNS = ("cld",)
KNOWN_COLUMNS = (*TARGET_COLUMNS, *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
DEFAULT_BATCH = 1000
CACHE_LIMIT = 100_000
PROGRESS_EVERY_SECONDS = 0.2
_LOOKUP_CHUNK = 500

CHARGED, DENIED, REPLAYED, REJECTED = "charged", "denied", "replayed", "rejected"


class ImportFailed(ValidationFailed):
    """The file cannot be imported at all (missing, unreadable, a header without the
    required columns): nothing was charged. The CLI exits with 2."""

    default_code = "import_failed"


@dataclass(frozen=True)
class ImportProgress:
    """Counts so far (``on_progress`` receives one after every batch, at most five times a
    second, and once at the end)."""

    rows: int
    charged: int
    denied: int
    rejected: int
    replayed: int
    seconds: float
    line: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Reject:
    line: int
    error: str
    field: str | None


@dataclass(frozen=True)
class ImportSummary:
    path: Path
    rows: int
    charged: int
    denied: int
    rejected: int
    replayed: int
    seconds: float
    reject_path: Path | None  # where the rejected lines were written; None when there were none

    def line(self) -> str:
        return (
            f"Imported {self.path}: {self.rows} rows, {self.charged} charged, "
            f"{self.denied} denied, {self.rejected} rejected, "
            f"{self.replayed} already imported (replayed)"
        )


class ImportAborted(Exception):
    """The database failed in a way a line cannot be blamed for (a lost connection, a lock
    timeout): the import stopped at ``line``. Every batch before it is committed; running the
    same import again charges nothing twice and continues."""

    def __init__(self, *, line: int, cause: BaseException, progress: ImportProgress):
        super().__init__(f"line {line}: {cause}")
        self.line = line
        self.cause = cause
        self.progress = progress


def default_reject_path(path: Path) -> Path:
    """``calls.csv`` → ``calls.rejects.csv``."""
    if path.suffix.lower() == ".csv":
        return path.with_name(path.stem + ".rejects.csv")
    return path.with_name(path.name + ".rejects.csv")


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Header:
    names: list[str]  # as written in the file (stripped)
    index: dict[str, int]  # known column (lower case) → position
    details: list[tuple[int, str]]  # position, name of the columns that go into details


def _read_header(fields: list[str] | None) -> _Header:
    if not fields or not any(f.strip() for f in fields):
        raise ImportFailed("the file is empty: a header row is required", field="header")
    names = [f.strip() for f in fields]
    index: dict[str, int] = {}
    details: list[tuple[int, str]] = []
    seen: set[str] = set()
    for position, name in enumerate(names):
        key = name.lower()
        if not key:
            raise ImportFailed(
                f"header: column {position + 1} has no name", field="header", code="header"
            )
        if key in seen:
            raise ImportFailed(
                f"header: column {name!r} appears twice", field="header", code="header"
            )
        seen.add(key)
        if key in KNOWN_COLUMNS:
            index[key] = position
        if key not in KNOWN_COLUMNS or key in DETAIL_COLUMNS:
            details.append((position, name))
    missing = [c for c in REQUIRED_COLUMNS if c not in index]
    if not any(c in index for c in TARGET_COLUMNS):
        missing.insert(0, "account or customer")
    if missing:
        raise ImportFailed(
            f"header: required column{'s' if len(missing) > 1 else ''} missing: "
            f"{', '.join(missing)} (the header has: {', '.join(names)})",
            field="header",
            code="missing_columns",
        )
    return _Header(names=names, index=index, details=details)


def _decoded(raw: IO[bytes], bad_lines: set[int]) -> Iterator[str]:
    """The file's lines as text. A line that is not UTF-8 is decoded with surrogate escapes
    (so the reject file gets its bytes back unchanged) and its number noted."""
    for number, data in enumerate(raw, 1):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines.add(number)
            text = data.decode("utf-8", "surrogateescape")
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


@dataclass
class _Line:
    number: int
    fields: list[str]
    error: str | None = None  # a reason found while reading (short line, bad bytes, …)
    field: str | None = None


def _lines(reader: Any, bad_lines: set[int], names: list[str]) -> Iterator[_Line]:
    """Data lines with the number of the file line each starts on; blank lines skipped."""
    width = len(names)
    last = reader.line_num
    while True:
        start = last + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last = reader.line_num
            yield _Line(start, [], f"not readable as CSV: {exc}")
            continue
        last = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        line = _Line(start, fields)
        if bad_lines:
            if any(n in bad_lines for n in range(start, last + 1)):
                line.error = "the line is not valid UTF-8"
            bad_lines.difference_update([n for n in bad_lines if n <= last])
        if line.error is None and len(fields) != width:
            line.error = f"the line has {len(fields)} fields but the header has {width}"
            if len(fields) < width:
                missing = names[len(fields) :]
                line.error = (
                    f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
                    + line.error
                )
        yield line


# --------------------------------------------------------------------------- targets


class _Targets:
    """Account identifiers and customer names or ids → (customer id, account id), as the
    actor may see them (a reseller's user: its own customers only). Looked up in bulk per
    batch; hits and misses are remembered in a bounded cache."""

    def __init__(self, actor: Actor) -> None:
        self.reseller_id = None if is_admin(actor) else require_user(actor).reseller_id
        self.scoped = not is_admin(actor)
        self.accounts: dict[str, tuple[int, int] | None] = {}
        self.customer_ids: dict[int, int | None] = {}
        self.customer_names: dict[str, int | None] = {}

    @staticmethod
    def _bound(cache: dict[Any, Any], incoming: int, keep: set[Any]) -> None:
        """Make room for ``incoming`` entries by forgetting the oldest ones, never those
        the current batch needs (``keep``)."""
        excess = len(cache) + incoming - CACHE_LIMIT
        if excess > 0:
            old = [k for k in islice(cache, excess + len(keep)) if k not in keep][:excess]
            for key in old:
                del cache[key]

    def prefetch(self, accounts: set[str], customers: set[str]) -> None:
        new_accounts = [a for a in accounts if a not in self.accounts]
        ids: list[int] = []
        names: list[str] = []
        keep_ids: set[int] = set()
        keep_names: set[str] = set()
        for text in customers:
            number = _as_id(text)
            if number is not None:
                keep_ids.add(number)
                if number not in self.customer_ids:
                    ids.append(number)
            else:
                keep_names.add(name_key(text))
                if name_key(text) not in self.customer_names:
                    names.append(text)
        if new_accounts:
            self._bound(self.accounts, len(new_accounts), accounts)
            for chunk in _chunks(new_accounts):
                for a in chunk:
                    self.accounts[a] = None
                qs = Account.objects.filter(identifier__in=chunk)
                if self.scoped:
                    qs = qs.filter(customer__reseller_id=self.reseller_id)
                for identifier, aid, cid in qs.values_list("identifier", "id", "customer_id"):
                    self.accounts[identifier] = (cid, aid)
        if ids:
            self._bound(self.customer_ids, len(ids), keep_ids)
            for id_chunk in _chunks(ids):
                for i in id_chunk:
                    self.customer_ids[i] = None
                cqs = Customer.objects.filter(pk__in=id_chunk)
                if self.scoped:
                    cqs = cqs.filter(reseller_id=self.reseller_id)
                for cid in cqs.values_list("id", flat=True):
                    self.customer_ids[cid] = cid
        if names:
            self._bound(self.customer_names, len(names), keep_names)
            for name_chunk in _chunks(names):
                keys = [name_key(n) for n in name_chunk]
                for key in keys:
                    self.customer_names[key] = None
                # The unique name_key (NFKC, case-folded) matches names regardless of case,
                # the same way on SQLite and PostgreSQL, through its index.
                nqs = Customer.objects.filter(name_key__in=keys)
                if self.scoped:
                    nqs = nqs.filter(reseller_id=self.reseller_id)
                for found, cid in nqs.values_list("name_key", "id"):
                    if found is not None:
                        self.customer_names[found] = cid

    def account(self, identifier: str) -> tuple[int, int] | None:
        return self.accounts.get(identifier)

    def customer(self, text: str) -> int | None:
        number = _as_id(text)
        if number is not None:
            return self.customer_ids.get(number)
        return self.customer_names.get(name_key(text))


def _as_id(text: str) -> int | None:
    """A customer given by id: ASCII digits that fit a 64-bit key."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _LOOKUP_CHUNK):
        yield items[start : start + _LOOKUP_CHUNK]


# --------------------------------------------------------------------------- the import


@dataclass
class _Charge:
    customer_id: int | None
    account_id: int | None
    usage: services.UsageInput
    now: dt.datetime


@dataclass
class _Outcome:
    kind: str
    error: str = ""
    field: str | None = None


def _outcome(result: services.ChargeResult | BillcoreError) -> _Outcome:
    if isinstance(result, BillcoreError):
        return _Outcome(REJECTED, result.message, result.field)
    if result.replayed:
        return _Outcome(REPLAYED)
    return _Outcome(CHARGED if result.allowed else DENIED)


class _Importer:
    def __init__(
        self,
        *,
        path: Path,
        actor: Actor,
        now_fn: Callable[[], dt.datetime],
        batch: int,
        reject_path: Path,
        on_progress: Callable[[ImportProgress], None] | None,
        on_reject: Callable[[Reject], None] | None,
    ) -> None:
        self.path = path
        self.actor = actor
        self.now_fn = now_fn
        self.batch = batch
        self.reject_path = reject_path
        self.on_progress = on_progress
        self.on_reject = on_reject
        self.targets = _Targets(actor)
        # One snapshot of the catalogue for the whole import (each tariff read once).
        self.pricer = Pricer(whole_tariffs=True)
        self.counts = {CHARGED: 0, DENIED: 0, REPLAYED: 0, REJECTED: 0}
        self.rows = 0
        self.last_line = 1
        self.started = time.perf_counter()
        self.last_progress = 0.0
        self.last_progress_rows = -1
        self.reject_file: IO[str] | None = None
        self.reject_writer: Any = None
        self.header: _Header | None = None
        self.stopped_at: int | None = None

    # -- progress and rejects

    def progress(self) -> ImportProgress:
        return ImportProgress(
            rows=self.rows,
            charged=self.counts[CHARGED],
            denied=self.counts[DENIED],
            rejected=self.counts[REJECTED],
            replayed=self.counts[REPLAYED],
            seconds=time.perf_counter() - self.started,
            line=self.last_line,
        )

    def _tick(self, *, final: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.perf_counter()
        if (final and self.rows != self.last_progress_rows) or (
            now - self.last_progress >= PROGRESS_EVERY_SECONDS
        ):
            self.last_progress, self.last_progress_rows = now, self.rows
            self.on_progress(self.progress())

    def _reject(self, line: _Line, error: str, field: str | None) -> None:
        assert self.header is not None
        if self.reject_writer is None:
            self.reject_file = self.reject_path.open(
                "w", newline="", encoding="utf-8", errors="surrogateescape"
            )
            self.reject_writer = csv.writer(self.reject_file)
            self.reject_writer.writerow([*self.header.names, "line", "error"])
        width = len(self.header.names)
        fields = line.fields[:width] + [""] * (width - len(line.fields))
        if len(line.fields) > width:
            error += "; extra values: " + ", ".join(repr(v) for v in line.fields[width:])
        self.reject_writer.writerow([*fields, line.number, error])
        if self.on_reject is not None:
            self.on_reject(Reject(line=line.number, error=error, field=field))

    # -- one batch

    def _prepare(self, line: _Line) -> _Charge | _Outcome:
        """Validate a line (nothing written): the charge to make, or why not."""
        if line.error is not None:
            return _Outcome(REJECTED, line.error, line.field)
        assert self.header is not None
        f, at = line.fields, self.header.index

        def value(name: str) -> str:
            return f[at[name]].strip() if name in at else ""

        for name in REQUIRED_COLUMNS:
            if not value(name):
                why = (
                    " (the idempotency key: without it a re-import would charge twice)"
                    if name == "external_id"
                    else ""
                )
                return _Outcome(REJECTED, f"{name} is required{why}", name)
        account_text, customer_text = value("account"), value("customer")
        if not account_text and not customer_text:
            return _Outcome(REJECTED, "account or customer is required", "account")
        now = self.now_fn()
        try:
            usage = services.parse_usage(
                service=value("service"),
                amount=value("amount"),
                cld=value("cld"),
                access_code=value("access_code"),
                quantity=value("quantity"),
                unit=value("unit"),
                started_at=value("started_at"),
                details={name: f[i] for i, name in self.header.details if f[i] != ""},
                external_id=value("external_id"),
                now=now,
            )
        except BillcoreError as exc:
            return _Outcome(REJECTED, exc.message, exc.field)
        account_id = customer_id = None
        if account_text:
            target = self.targets.account(account_text)
            if target is None:
                return _Outcome(REJECTED, f"account: no account {account_text!r}", "account")
            account_id = target[1]
        if customer_text:
            customer_id = self.targets.customer(customer_text)
            if customer_id is None:
                kind = "" if _as_id(customer_text) is not None else " named"
                return _Outcome(
                    REJECTED, f"customer: no customer{kind} {customer_text!r}", "customer"
                )
        return _Charge(customer_id=customer_id, account_id=account_id, usage=usage, now=now)

    def _charge(self, c: _Charge) -> _Outcome:
        try:
            result = services.charge(
                actor=self.actor,
                now=c.now,
                account_id=c.account_id,
                customer_id=c.customer_id,
                usage=c.usage,
                pricer=self.pricer,
            )
        except BillcoreError as exc:
            return _outcome(exc)
        return _outcome(result)

    def _charge_alone(self, c: _Charge) -> _Outcome:
        """One line in one transaction: a database error that belongs to the line (a value
        the database refuses) rejects it; any other propagates."""
        try:
            return self._charge(c)
        except (IntegrityError, DataError) as exc:
            return _Outcome(REJECTED, f"the database refused the line: {exc}".strip(), None)

    def _record(self, lines: list[_Line], outcomes: list[_Outcome | None]) -> None:
        for line, outcome in zip(lines, outcomes, strict=True):
            assert outcome is not None
            self.rows += 1
            self.counts[outcome.kind] += 1
            if outcome.kind == REJECTED:
                self._reject(line, outcome.error, outcome.field)
            self.last_line = line.number

    def run_batch(self, lines: list[_Line]) -> None:
        try:
            self._run_batch(lines)
        except DatabaseError as exc:
            raise ImportAborted(
                line=self.stopped_at or lines[0].number, cause=exc, progress=self.progress()
            ) from exc
        self._tick()

    def _run_batch(self, lines: list[_Line]) -> None:
        self.stopped_at = None
        assert self.header is not None
        accounts: set[str] = set()
        customers: set[str] = set()
        a_at, c_at = self.header.index.get("account"), self.header.index.get("customer")
        for line in lines:
            if line.error is None:
                if a_at is not None and line.fields[a_at].strip():
                    accounts.add(line.fields[a_at].strip())
                if c_at is not None and line.fields[c_at].strip():
                    customers.add(line.fields[c_at].strip())
        self.targets.prefetch(accounts, customers)
        prepared = [self._prepare(line) for line in lines]
        outcomes: list[_Outcome | None] = [p if isinstance(p, _Outcome) else None for p in prepared]
        todo = [(i, p) for i, p in enumerate(prepared) if isinstance(p, _Charge)]
        done = False
        if len(todo) > 1:
            try:
                # Targets and prices first, outside the batch's transaction (its write lock).
                ready = services.prepare_charges(
                    actor=self.actor,
                    requests=[
                        services.ChargeRequest(
                            usage=c.usage,
                            now=c.now,
                            account_id=c.account_id,
                            customer_id=c.customer_id,
                        )
                        for _, c in todo
                    ],
                    pricer=self.pricer,
                )
                with transaction.atomic():
                    charged = services.charge_prepared(actor=self.actor, prepared=ready)
                for (i, _), result in zip(todo, charged, strict=True):
                    outcomes[i] = _outcome(result)
                done = True
            except DatabaseError:
                # The batch as a whole failed (e.g. a deadlock): nothing of it is kept.
                # Charge its lines again, one transaction each.
                for i, _ in todo:
                    outcomes[i] = None
        if not done:
            for i, c in todo:
                try:
                    outcomes[i] = self._charge_alone(c)
                except DatabaseError:
                    # The lines before this one are committed: count them, then stop.
                    self._record(lines[:i], outcomes[:i])
                    self.stopped_at = lines[i].number
                    raise
        self._record(lines, outcomes)

    # -- the file

    def run(self) -> ImportSummary:
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise ImportFailed(
                f"cannot read {self.path}: {exc.strerror or exc}", field="path"
            ) from exc
        bad_lines: set[int] = set()
        try:
            with raw:
                reader = csv.reader(_decoded(raw, bad_lines))
                try:
                    first = next(reader, None)
                except csv.Error as exc:
                    raise ImportFailed(
                        f"header: not readable as CSV: {exc}", field="header"
                    ) from exc
                if bad_lines:
                    raise ImportFailed("header: the line is not valid UTF-8", field="header")
                self.header = _read_header(first)
                pending: list[_Line] = []
                for line in _lines(reader, bad_lines, self.header.names):
                    pending.append(line)
                    if len(pending) >= self.batch:
                        self.run_batch(pending)
                        pending = []
                if pending:
                    self.run_batch(pending)
        finally:
            if self.reject_file is not None:
                self.reject_file.close()
        self._tick(final=True)
        p = self.progress()
        return ImportSummary(
            path=self.path,
            rows=p.rows,
            charged=p.charged,
            denied=p.denied,
            rejected=p.rejected,
            replayed=p.replayed,
            seconds=p.seconds,
            reject_path=self.reject_path if self.reject_file is not None else None,
        )


def import_xdrs(
    *,
    path: str | Path,
    actor: Actor,
    now_fn: Callable[[], dt.datetime],
    on_progress: Callable[[ImportProgress], None] | None = None,
    reject_path: str | Path | None = None,
    on_reject: Callable[[Reject], None] | None = None,
    batch: int = DEFAULT_BATCH,
) -> ImportSummary:
    """Charge every line of the CSV file at ``path`` as ``actor``; ``now_fn`` gives the
    time of each charge. Rejected lines go to ``reject_path`` (default: ``FILE.rejects.csv``
    next to the file; written only when a line is rejected) and to ``on_reject``.

    Raises ``ImportFailed`` before anything is charged when the file cannot be imported at
    all, and ``ImportAborted`` when the database fails mid-way (the batches before are kept).
    """
    require_user(actor)
    if batch < 1:
        raise ValueError("batch must be at least 1")
    source = Path(path)
    rejects = Path(reject_path) if reject_path else default_reject_path(source)
    if rejects.resolve() == source.resolve():
        raise ImportFailed("the reject file cannot be the file being imported", field="reject_path")
    folder = rejects.resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ImportFailed(
            f"cannot write the reject file {rejects}: {folder} is not a writable folder",
            field="reject_path",
        )
    return _Importer(
        path=source,
        actor=actor,
        now_fn=now_fn,
        batch=batch,
        reject_path=rejects,
        on_progress=on_progress,
        on_reject=on_reject,
    ).run()

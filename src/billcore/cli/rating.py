"""``billcore rates import|export``: a tariff's rates from and to a CSV file, through
``rating.rates`` (the upload's rules and format are documented there and in docs/rating.md).

Loaded by ``billcore.cli.main`` after ``django.setup()``, so models import at module level."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from django.utils import timezone

from billcore.accounts.models import User
from billcore.charging.rerating import rerate
from billcore.errors import BillcoreError
from billcore.rating.models import Tariff
from billcore.rating.rates import MAX_REJECTS_KEPT, RateFileError, export_rates, import_rates
from billcore.rating.selectors import visible_tariffs

PROGRESS_EVERY_LINES = 1000
REJECTS_SHOWN = 20


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _user(name: str | None) -> User | str:
    """The acting user (``--user``, else the first administrator), or the error to print."""
    if name:
        user = User.objects.filter(username=name).first()
        if user is None or not user.is_active:
            return f"--user: no active user named {name!r}"
        return user
    user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
    if user is None:
        return "no administrator to act as: create one (billcore createadmin) or give --user NAME"
    return user


def _tariff(user: User, text: str) -> Tariff | str:
    """TARIFF: an id, or else a tariff's exact name, as ``user`` may see it."""
    qs = visible_tariffs(actor=user)
    if text.isascii() and text.isdigit() and len(text) < 19:
        found = qs.filter(pk=int(text)).first()
        if found is not None:
            return found
    found = qs.filter(name=text).first()
    if found is None:
        what = f"id or name {text!r}" if text.isdigit() else f"name {text!r}"
        return f"TARIFF: no tariff with the {what}"
    return found


def default_reject_path(path: Path) -> Path:
    """``rates.csv`` → ``rates.rejects.csv``."""
    if path.suffix.lower() == ".csv":
        return path.with_name(path.stem + ".rejects.csv")
    return path.with_name(path.name + ".rejects.csv")


class _Progress:
    """The lines of the file, counted; a progress line on stderr when it is a terminal."""

    def __init__(self, file: TextIO, size: int, show: bool):
        self.file = file
        self.size = size
        self.show = show
        self.lines = 0
        self.started = time.perf_counter()
        self.shown = False

    def __iter__(self) -> Iterator[str]:
        for line in self.file:
            self.lines += 1
            if self.show and self.lines % PROGRESS_EVERY_LINES == 0:
                self._draw()
            yield line

    def _draw(self) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        done = self.file.buffer.tell() if hasattr(self.file, "buffer") else 0
        share = f"  {min(100, done * 100 // self.size)}%" if self.size else ""
        sys.stderr.write(
            f"\r\x1b[K  {self.lines:,} lines{share}  {self.lines / elapsed:,.0f} lines/s"
        )
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def cmd_rates_import(args: argparse.Namespace) -> int:
    """Exit 0: every line saved or unchanged; 1: some lines rejected (the others are saved);
    2: nothing saved (an argument, the file or its header is wrong)."""
    user = _user(args.user)
    if isinstance(user, str):
        return _error(user)
    tariff = _tariff(user, args.tariff)
    if isinstance(tariff, str):
        return _error(tariff)
    path = Path(args.file)
    if not path.is_file():
        return _error(f"FILE.csv: {args.file}: no such file")
    reject_path = Path(args.reject_file) if args.reject_file else default_reject_path(path)
    show = sys.stderr.isatty() and not args.no_progress
    with path.open(encoding="utf-8", newline="") as file:
        lines = _Progress(file, path.stat().st_size, show)
        try:
            result = import_rates(
                actor=user,
                now=timezone.now(),
                tariff_id=tariff.pk,
                file=lines,
                replace=args.replace,
            )
        except RateFileError as exc:
            lines.clear()
            return _error(f"{args.file}: {exc.message} (nothing was saved)")
        except BillcoreError as exc:
            lines.clear()
            return _error(f"TARIFF: {exc.message} (nothing was saved)")
        lines.clear()
    print(
        f"Imported {args.file} into tariff {tariff.name!r} (id {tariff.pk}): "
        f"{result.lines} lines, {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.discontinued} discontinued, "
        f"{result.rejected} rejected"
    )
    if result.rejected:
        _write_rejects(reject_path, result.rejects)
        for r in result.rejects[:REJECTS_SHOWN]:
            print(f"{args.file}:{r.line}: {r.reason}", file=sys.stderr)
        if result.rejected > REJECTS_SHOWN:
            print(f"… and {result.rejected - REJECTS_SHOWN} more", file=sys.stderr)
        kept = (
            f" (the first {MAX_REJECTS_KEPT:,} of {result.rejected:,})"
            if result.rejected > len(result.rejects)
            else ""
        )
        print(f"Rejected lines written to {reject_path}{kept}", file=sys.stderr)
    return 1 if result.rejected else 0


def _write_rejects(path: Path, rejects: Iterable[Any]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["line", "field", "reason"])
        for r in rejects:
            writer.writerow([r.line, r.field or "", r.reason])


def cmd_rates_export(args: argparse.Namespace) -> int:
    """The tariff's rates as CSV, to FILE or to standard output (``-``, the default)."""
    user = _user(args.user)
    if isinstance(user, str):
        return _error(user)
    tariff = _tariff(user, args.tariff)
    if isinstance(tariff, str):
        return _error(tariff)
    lines = export_rates(actor=user, tariff_id=tariff.pk)
    if args.file == "-":
        count = _write(sys.stdout, lines)
        return 0
    try:
        with Path(args.file).open("w", encoding="utf-8", newline="") as out:
            count = _write(out, lines)
    except OSError as exc:
        return _error(f"FILE: {args.file}: {exc.strerror or exc}")
    print(
        f"Exported {count} rates of tariff {tariff.name!r} (id {tariff.pk}) to {args.file}",
        file=sys.stderr,
    )
    return 0


def cmd_rates_rerate(args: argparse.Namespace) -> int:
    """Re-rate a customer's or a tariff's open period; print what changed and the money moved."""
    user = _user(args.user)
    if isinstance(user, str):
        return _error(user)
    tariff_id = None
    if args.tariff is not None:
        tariff = _tariff(user, args.tariff)
        if isinstance(tariff, str):
            return _error(tariff.replace("TARIFF:", "--tariff:"))
        tariff_id = tariff.pk
    try:
        summary = rerate(
            actor=user, now=timezone.now(), customer_id=args.customer, tariff_id=tariff_id
        )
    except BillcoreError as exc:
        field = "--customer" if exc.field in ("customer", "id") else exc.field
        return _error(f"{field}: {exc.message}" if field else exc.message)
    print(
        f"Re-rated {summary.examined} xDRs of the open period: {summary.changed} changed, "
        f"{summary.charged} charged now, {summary.reversed} reversed, "
        f"{summary.unchanged} unchanged, {summary.still_denied} still denied."
    )
    for customer_id, amount in sorted(summary.moved.items()):
        print(f"customer {customer_id}: {amount:+f}")
    return 0


def _write(out: TextIO, lines: Iterable[str]) -> int:
    """Write the CSV lines; the number of rates (lines after the header)."""
    count = -1
    for line in lines:
        out.write(line)
        count += 1
    return max(count, 0)

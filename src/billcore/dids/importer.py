"""Uploading numbers from CSV (issue 14; rating-and-tabs.md §3.1 "Upload file columns").

The file is UTF-8 CSV with a header row naming its columns (any order, letter case ignored):
``number`` and ``vendor_batch`` required; ``activation_cost``, ``periodic_cost``,
``currency``, ``country``, ``area``, ``description``, ``free_of_charge``, ``group``,
``pricing_batch``, ``frozen`` optional. ``currency`` defaults to the one given to the import.

* A file that cannot be read (not UTF-8, no header, no ``number`` / ``vendor_batch`` column,
  an unknown column, more than ``MAX_LINES`` lines) is refused whole, naming the field
  ``file``; nothing is saved.
* Otherwise each line is saved or refused on its own (a savepoint per line: a refused line
  leaves nothing behind); refused lines are reported with their line number (the header is
  line 1) and reason.
* Idempotent: a number already in the inventory with the same values is counted
  ``unchanged``; with other values it is updated (``updated``); a new one is ``created``. A
  group named in the file is created when missing; a pricing batch must exist.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor
from billcore.audit.services import snapshot
from billcore.core.text import name_key
from billcore.dids import services
from billcore.dids.models import Did, DidGroup
from billcore.errors import BillcoreError, ValidationFailed

MAX_LINES = 100_000
COLUMNS = (
    "number",
    "vendor_batch",
    "activation_cost",
    "periodic_cost",
    "currency",
    "country",
    "area",
    "description",
    "free_of_charge",
    "group",
    "pricing_batch",
    "frozen",
)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [{"line": n, "field": f, "message": m} for n, f, m in self.errors],
        }


def _rows(content: bytes | str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                f"file: not UTF-8 text (byte {exc.start})", field="file", code="encoding"
            ) from None
    else:
        text = content.removeprefix("\ufeff")
    if "\x00" in text:
        raise ValidationFailed("file: not a text file", field="file", code="encoding")
    try:
        reader = csv.reader(io.StringIO(text))
        rows = [(reader.line_num, row) for row in reader if row and any(c.strip() for c in row)]
    except csv.Error as exc:
        raise ValidationFailed(f"file: not CSV ({exc})", field="file") from None
    if not rows:
        raise ValidationFailed("file: empty (a header row is required)", field="file")
    if len(rows) > MAX_LINES + 1:
        raise ValidationFailed(
            f"file: more than {MAX_LINES} lines; split it", field="file", code="too_large"
        )
    header = [c.strip().lower().replace(" ", "_") for c in rows[0][1]]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ValidationFailed(
            f"file: unknown column {unknown[0]!r} in the header; columns are {', '.join(COLUMNS)}",
            field="file",
        )
    for needed in ("number", "vendor_batch"):
        if needed not in header:
            raise ValidationFailed(
                f"file: the header has no {needed!r} column", field="file", code="required"
            )
    if len(set(header)) != len(header):
        raise ValidationFailed("file: a column is named twice in the header", field="file")
    return header, rows[1:]


def _group(actor: Actor, now: dt.datetime, name: str) -> str:
    if name and not DidGroup.objects.filter(name_key=name_key(name)).exists():
        services.create_group(actor=actor, now=now, data={"name": name})
    return name


def import_csv(
    *, actor: Actor, now: dt.datetime, content: bytes | str, currency: str | None = None
) -> ImportResult:
    """Import ``content`` (see the module docstring)."""
    services._admin(actor)
    header, rows = _rows(content)
    result = ImportResult()
    seen: dict[str, int] = {}
    for line, row in rows:
        if len(row) != len(header):
            result.errors.append((line, "file", f"{len(row)} values for {len(header)} columns"))
            continue
        data: dict[str, Any] = {k: v.strip() for k, v in zip(header, row, strict=True)}
        if not data.get("currency") and currency:
            data["currency"] = currency
        try:
            number = services.as_number(data.get("number"))
            if number in seen:
                raise ValidationFailed(
                    f"number: {number} is also on line {seen[number]}", field="number"
                )
            seen[number] = line
            with transaction.atomic():
                if data.get("group"):
                    _group(actor, now, data["group"])
                existing = Did.objects.filter(number=number).first()
                if existing is None:
                    services.create_did(actor=actor, now=now, data=data)
                    result.created += 1
                    continue
                changes = {k: v for k, v in data.items() if k != "number"}
                with transaction.atomic():
                    before = snapshot(existing)
                    probe = Did.objects.get(pk=existing.pk)
                    services._apply_did(actor, now, probe, changes)
                    after = snapshot(probe)
                    after["updated_at"] = before["updated_at"]
                    same = after == before
                    transaction.set_rollback(True)
                if same:
                    result.unchanged += 1
                else:
                    services.update_did(actor=actor, now=now, did_id=existing.pk, changes=changes)
                    result.updated += 1
        except BillcoreError as exc:
            result.errors.append((line, exc.field or "", exc.message))
    return result

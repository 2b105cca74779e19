"""What the command modules share: plain-text tables, CSV and JSON output."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

# The environment variable a new user's password is taken from (billcore user create|password).
PASSWORD_ENV = "BILLCORE_USER_PASSWORD"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    numeric = [
        all(_is_number(row[i]) for row in cells if row[i]) and any(row[i] for row in cells)
        for i in range(len(headers))
    ]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(row)
        ).rstrip()

    lines = [fmt(list(headers)), "  ".join("-" * w for w in widths)]
    lines += [fmt(row) for row in cells]
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    """A number, also with thousands grouped by commas (money: ``2,064.81``)."""
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


FORMATS = ("table", "json", "csv")


def emit(
    fmt: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    records: Sequence[dict[str, Any]],
) -> str:
    """``rows`` as a table (``headers``) or CSV (the same headers and values), or
    ``records`` as JSON (a list of objects that keep codes where the table shows words)."""
    if fmt == "json":
        return json.dumps(list(records), indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([["" if v is None else v for v in r] for r in rows])
        return out.getvalue().rstrip("\n")
    return table(headers, rows)


def more_rows_note(what: str, *, total: int, offset: int, shown: int) -> str:
    """The line that says a list stops before its end ('' when nothing is left out)."""
    if offset + shown >= total:
        return ""
    first, last = (offset + 1, offset + shown) if shown else (offset, offset)
    return (
        f"{what} {first}-{last} of {total}; more: --offset {offset + shown} (or a larger --limit)"
    )

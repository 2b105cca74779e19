"""CSV exports of the list pages (issue 17, item 4): one helper every list uses.

A list's "Export CSV" link is the page's own address with its current query string (its
filters and order) plus ``format=csv`` and without the page number; the view answers it with
``csv_response`` instead of the page: every matching row, not one page of them, streamed (a
``StreamingHttpResponse`` reading the query set in chunks) so memory stays flat whatever
the count.

Cells: a header row first; money as a plain decimal in the currency's precision (``money``:
as invoices show it, without the thousands separator, so 1234.5 EUR is ``1234.50``); dates
and times ISO 8601 (UTC for a time); None empty; booleans ``yes``/``no``. A text cell that a
spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) gets a leading ``'`` (CSV formula injection). Numbers are never escaped:
a negative amount stays ``-12.50``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, cast

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from billcore.core.money import format_money
from billcore.web.base import query

FORMAT_PARAM = "format"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 1000


class Number(str):
    """A cell already formatted as a number (``money``): written as it is, never escaped."""


def wanted(request: HttpRequest) -> bool:
    """Whether the list was asked for as CSV (``?format=csv``)."""
    return query(request, FORMAT_PARAM) == "csv"


def money(value: Decimal | None, decimals: int) -> Number | None:
    """``value`` in a currency of ``decimals`` places: "1234.50", "-0.25", "10.00123"."""
    if value is None:
        return None
    return Number(format_money(value, decimals).replace(",", ""))


def cell(value: Any) -> str:
    """One cell's text (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo is not None else value
        return moment.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Line:
    """A file-like object whose ``write`` gives the line back (``csv.writer`` into a stream)."""

    def write(self, value: str) -> str:
        return value


def rows_of(items: Iterable[Any]) -> Iterator[Any]:
    """A query set read in chunks (``iterator``); any other iterable as it is."""
    if isinstance(items, QuerySet):
        return items.iterator(chunk_size=CHUNK)
    return iter(items)


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text, one line at a time: the header, then each row's cells."""
    writer = csv.writer(_Line())
    yield writer.writerow([cell(h) for h in header])
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> HttpResponse:
    """The streamed download ``filename`` (``customers.csv``) of ``header`` and ``rows``: a
    ``StreamingHttpResponse``, cast to the ``HttpResponse`` the list views (and ``page``)
    are typed to return; Django serves both alike."""
    response = StreamingHttpResponse(lines(header, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return cast(HttpResponse, response)

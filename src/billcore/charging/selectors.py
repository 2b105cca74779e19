"""Reads of usage records and the statistics built from them (CC-11), scoped through the
customer the actor may see."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from billcore.accounts.access import Actor
from billcore.charging.models import Xdr, XdrStatus
from billcore.customers.selectors import get_customer

CSV_COLUMNS = (
    "id",
    "started_at",
    "account",
    "service",
    "quantity",
    "unit",
    "amount",
    "status",
    "deny_reason",
    "external_id",
    "details",
)


def customer_xdrs(
    *,
    actor: Actor,
    customer_id: int,
    service: str | None = None,
    status: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    account_id: int | None = None,
) -> QuerySet[Xdr]:
    """The customer's xDRs, newest first; ``start`` inclusive, ``end`` exclusive."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    qs = Xdr.objects.filter(customer=customer).select_related("account")
    if service:
        qs = qs.filter(service=service)
    if status:
        qs = qs.filter(status=status)
    if start is not None:
        qs = qs.filter(started_at__gte=start)
    if end is not None:
        qs = qs.filter(started_at__lt=end)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    return qs.order_by("-started_at", "-id")


def xdrs_csv(rows: QuerySet[Xdr]) -> Iterator[str]:
    """The full statistics file (CC-11 "Full"): a header, then one line per xDR, streamed in
    chunks so memory stays flat whatever the count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for x in rows.iterator(chunk_size=2000):
        buffer.seek(0)
        buffer.truncate()
        details = ";".join(f"{k}={v}" for k, v in sorted(x.details.items()))
        writer.writerow(
            [
                x.pk,
                x.started_at.isoformat(),
                x.account.identifier if x.account else "",
                x.service,
                x.quantity,
                x.unit,
                x.amount,
                x.status,
                x.deny_reason,
                x.external_id or "",
                details,
            ]
        )
        yield buffer.getvalue()


def summary(rows: QuerySet[Xdr]) -> dict[str, Any]:
    """CC-11 "Summary only": per service, how many records, their quantity and the charged
    amount; denied records are counted apart and never in the totals."""
    per_service: dict[str, dict[str, Any]] = {}
    total = Decimal("0.00000")
    grouped = (
        rows.order_by()
        .values("service", "status")
        .annotate(n=Count("id"), qty=Sum("quantity"), amount=Sum("amount"))
    )
    for g in grouped:
        entry = per_service.setdefault(
            g["service"],
            {
                "service": g["service"],
                "charged": 0,
                "denied": 0,
                "quantity": Decimal("0.00000"),
                "amount": Decimal("0.00000"),
            },
        )
        if g["status"] == XdrStatus.CHARGED:
            entry["charged"] += g["n"]
            entry["quantity"] += g["qty"] or 0
            entry["amount"] += g["amount"] or 0
            total += g["amount"] or 0
        else:
            entry["denied"] += g["n"]
    return {
        "services": sorted(per_service.values(), key=lambda e: e["service"]),
        "total_amount": total,
    }

"""Writing the plans' counters fast (issue 13): the rows a charging transaction created are
inserted in one statement, the rows it moved updated by one ``executemany`` (the ORM's
``bulk_update`` builds a ``CASE`` per row, which costs more than the charge itself), and the
xDRs' parts inserted in one multi-row statement. The caller holds the counters' rows locked
(``billcore.locks`` stage 3) inside its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from billcore.ledger.batch import datetime_adapter, insert_returning_ids, units
from billcore.plans.models import PlanCounter, XdrPart

COUNTER_COLUMNS = (
    "rule_id",
    "customer_id",
    "account_id",
    "period_start",
    "period_end",
    "expires_at",
    "volume",
    "used",
    "scale",
    "updated_at",
)
PART_COLUMNS = (
    "xdr_id",
    "position",
    "kind",
    "split",
    "rule_id",
    "counter_id",
    "wallet_id",
    "units",
    "money",
    "percent",
    "amount",
)


def save_counters(created: Sequence[PlanCounter], moved: Sequence[PlanCounter]) -> None:
    """Insert ``created`` (their ids are set) and write ``used``, ``expires_at`` and
    ``updated_at`` of ``moved``."""
    adapt = datetime_adapter()
    if created:

        def when(value: Any) -> Any:
            return adapt(value) if value is not None else None

        ids = insert_returning_ids(
            PlanCounter,
            COUNTER_COLUMNS,
            [
                (
                    c.rule_id,
                    c.customer_id,
                    c.account_id,
                    when(c.period_start),
                    when(c.period_end),
                    when(c.expires_at),
                    None if c.volume is None else units(c.volume),
                    units(c.used),
                    units(c.scale),
                    when(c.updated_at),
                )
                for c in created
            ],
        )
        for c, pk in zip(created, ids, strict=True):
            c.pk = pk
    if not moved:
        return
    qn = connection.ops.quote_name
    table = qn(PlanCounter._meta.db_table)
    sql = (
        f"UPDATE {table} SET {qn('used')} = %s, {qn('expires_at')} = %s, "  # noqa: S608
        f"{qn('updated_at')} = %s WHERE {qn('id')} = %s"
    )
    rows = [
        (
            units(c.used),
            adapt(c.expires_at) if c.expires_at is not None else None,
            adapt(c.updated_at),
            c.pk,
        )
        for c in sorted(moved, key=lambda c: c.pk)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_parts(rows: list[tuple[Any, ...]]) -> None:
    """XdrPart rows (values of ``PART_COLUMNS``, Decimals as they are) in one insert."""
    if not rows:
        return
    insert_returning_ids(
        XdrPart,
        PART_COLUMNS,
        [(*r[:7], units(r[7]), units(r[8]), units(r[9]), units(r[10])) for r in rows],
    )

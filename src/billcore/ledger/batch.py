"""The ledger's fast SQL paths: the same writes as ``ledger.balances`` and
``ledger.postings`` (a ledger row and ``balance = balance + δ``), for the hot paths that
cannot afford the ORM's query building (issue 3: charging; issue 4: period closing).

* ``move_usage_balances`` then ``insert_ledger_rows``: one usage charge — the customer's
  balance (and its day's spending, in the same statement), the account's, one ledger row:
  at most three statements;
* ``insert_ledger_rows`` and ``move_usage_balances_many``: many charges decided in memory —
  the ledger rows in one multi-row ``INSERT … RETURNING id`` and one ``balance = balance + δ``
  per customer and account (one statement over arrays on PostgreSQL);
* ``CloseSql``: the ledger rows and the balance move of a period close (``invoicing.fastclose``),
  on its DB-API cursor.

Every writer here moves balances by a delta, never to an absolute value, under the locks
the caller holds (``billcore.locks``: customer rows, then account rows, by id). The helpers
``insert_returning_ids``, ``units`` and ``datetime_adapter`` serve the callers' own rows too
(the xDRs of charging).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection

from billcore.core.money import MAX_ABS_UNITS, MONEY_PLACES, to_units
from billcore.customers.models import Customer
from billcore.db import RowInsert, exact_units
from billcore.ledger.models import Action, Transaction
from billcore.subscribers.models import Account

# The columns of a usage row the fast paths write (attribute names); every other column
# takes its default.
LEDGER_COLUMNS = (
    "customer_id",
    "action",
    "amount",
    "balance_after",
    "account_id",
    "account_amount",
    "actor_id",
    "created_at",
    "internal_comment",
)


def units(amount: Decimal) -> int:
    """``to_units`` (exact, or an error) with a fast path for the amounts a batch writes."""
    scaled = amount.scaleb(MONEY_PLACES)
    units = int(scaled)
    if units != scaled or not -MAX_ABS_UNITS < units < MAX_ABS_UNITS:
        return to_units(amount)  # raises, saying why
    return units


def datetime_adapter() -> Any:
    """``connection.ops.adapt_datetimefield_value``, with a fast path for SQLite in UTC
    (where Django writes an aware datetime as its naive UTC text)."""
    if connection.vendor == "sqlite" and connection.timezone_name == "UTC":

        def adapt(value: dt.datetime) -> str:
            if value.tzinfo is None:  # pragma: no cover - aware datetimes only
                return str(connection.ops.adapt_datetimefield_value(value))
            return str(value.astimezone(dt.UTC).replace(tzinfo=None))

        return adapt
    return connection.ops.adapt_datetimefield_value


def _max_params() -> int:
    if connection.vendor == "sqlite":
        try:
            raw = connection.connection
            return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        except (AttributeError, sqlite3.Error):
            return 999
    return 30_000


def insert_returning_ids(
    model: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> list[int]:
    """Multi-row ``INSERT … RETURNING id`` of ``rows`` (values of ``columns``, attribute
    names, already adapted for the database), in order; the ids in the same order. Every
    other column of the model gets its default."""
    if not rows:
        return []
    qn = connection.ops.quote_name
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    names = [qn(by_attname[c].column) for c in columns]
    defaults: list[Any] = []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.attname in columns:
            continue
        names.append(qn(f.column))
        defaults.append(f.get_db_prep_save(f.get_default(), connection))
    table = qn(model._meta.db_table)
    if connection.vendor == "postgresql":
        # One array per column: a statement with thousands of placeholders costs more to
        # compose and send than to run.
        given = [f"%s::{by_attname[c].db_type(connection)}[]" for c in columns]
        consts = [
            f"%s::{f.db_type(connection)}"
            for f in model._meta.concrete_fields
            if not (f.primary_key or f.attname in columns)
        ]
        sql = (
            f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 - quoted identifiers
            f"SELECT {', '.join(['u.*', *consts])} FROM unnest({', '.join(given)}) AS u "
            f"RETURNING {qn('id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*defaults, *(list(column) for column in zip(*rows, strict=True))])
            returned = [r[0] for r in cursor.fetchall()]
        if len(returned) != len(rows):  # pragma: no cover
            raise DatabaseError(f"{table}: {len(returned)} ids for {len(rows)} rows")
        return returned
    width = len(names)
    per = max(1, min(1000, _max_params() // width))
    one = "(" + ", ".join(["%s"] * width) + ")"
    # Identifiers from the model, quoted; every value is a parameter.
    head = f"INSERT INTO {table} ({', '.join(names)}) VALUES "  # noqa: S608
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            params = [v for row in chunk for v in (*row, *defaults)]
            cursor.execute(head + ", ".join([one] * len(chunk)) + f" RETURNING {qn('id')}", params)
            ids.extend(r[0] for r in cursor.fetchall())
    if len(ids) != len(rows):  # pragma: no cover - a database that does not return every id
        raise DatabaseError(f"{model._meta.db_table}: {len(ids)} ids for {len(rows)} rows")
    return ids


def add_to_balances(model: Any, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
    """Per row (id, δ balance, then the other ``columns``' new values): ``balance = balance +
    δ`` and the others set, for rows of ``model`` (customers, accounts) the caller holds
    locked. ``columns``: the column names and their SQL types, ``balance`` first.
    PostgreSQL: one statement over arrays; SQLite: executemany."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    names = list(columns)
    sets = [f"{qn('balance')} = t.{qn('balance')} + v.{qn('balance')}"] + [
        f"{qn(n)} = v.{qn(n)}" for n in names[1:]
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(["%s::bigint[]"] + [f"%s::{t}[]" for t in columns.values()])
            alias = ", ".join(qn(n) for n in ["id", *names])
            cursor.execute(
                f"UPDATE {table} AS t SET {', '.join(sets)} "  # noqa: S608 - quoted identifiers
                f"FROM unnest({arrays}) AS v({alias}) WHERE t.{qn('id')} = v.{qn('id')}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        plain = [f"{qn('balance')} = {qn('balance')} + %s"] + [f"{qn(n)} = %s" for n in names[1:]]
        cursor.executemany(
            f"UPDATE {table} SET {', '.join(plain)} WHERE {qn('id')} = %s",  # noqa: S608
            [(*row[1:], row[0]) for row in rows],
        )


def usage_row(
    *,
    customer_id: int,
    amount_units: int,
    balance_after_units: int,
    account_id: int | None,
    actor_id: int | None,
    created: Any,
    internal_comment: str,
) -> tuple[Any, ...]:
    """The values of ``LEDGER_COLUMNS`` for a usage charge of ``amount_units``, the balance
    after it ``balance_after_units`` (``created``: already adapted for the database)."""
    return (
        customer_id,
        Action.USAGE.value,
        amount_units,
        balance_after_units,
        account_id,
        amount_units if account_id is not None else 0,
        actor_id,
        created,
        internal_comment,
    )


def insert_ledger_rows(rows: list[tuple[Any, ...]]) -> list[int]:
    """Ledger rows (values of ``LEDGER_COLUMNS``) in one multi-row insert; their ids."""
    return insert_returning_ids(Transaction, LEDGER_COLUMNS, rows)


def _execute(model: Any, sql: str, params: Sequence[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=connection.ops.quote_name(model._meta.db_table)), params)


def move_usage_balances(
    *,
    customer_id: int,
    amount_units: int,
    fraud_day: dt.date,
    fraud_day_spent_units: int,
    account_id: int | None,
) -> None:
    """One usage charge's balance moves: the customer's ``balance = balance + δ`` with its
    day's spending set in the same statement, then the account's."""
    _execute(
        Customer,
        "UPDATE {table} SET balance = balance + %s, fraud_day = %s, fraud_day_spent = %s "
        "WHERE id = %s",
        (
            amount_units,
            connection.ops.adapt_datefield_value(fraud_day),
            fraud_day_spent_units,
            customer_id,
        ),
    )
    if account_id is not None:
        _execute(
            Account,
            "UPDATE {table} SET balance = balance + %s WHERE id = %s",
            (amount_units, account_id),
        )


class CloseSql:
    """The ledger's writes of a period close on the fast path (``invoicing.fastclose``): its
    ledger rows (taxes, invoice rounding) in one insert and the customer's balance moved by
    their sum (``balance = balance + δ``) in the statement that also moves the customer's
    billing dates. Prepared once per engine run; the caller holds the customer locked."""

    def __init__(self, conn: Any) -> None:
        self.insert = RowInsert(Transaction, conn)
        self.update_customer = (
            f"UPDATE {Customer._meta.db_table} SET balance = balance + %s, "  # noqa: S608
            "billed_to = %s, next_billed_to = %s, updated_at = %s WHERE id = %s"
        )

    def post(
        self,
        cursor: Any,
        *,
        customer_id: int,
        rows: Sequence[tuple[str, Decimal, Decimal, str]],
        period_id: int,
        invoice_id: int,
        now: dt.datetime,
        billed_to: Any,
        next_billed_to: Any,
        updated_at: Any,
    ) -> list[int]:
        """``rows``: (action, amount, balance after, visible comment) in order; the balance
        moves by the sum of the amounts. The three dates come adapted for the database.
        Returns the rows' ids in the order of ``rows`` (ids are given in insertion order)."""
        params: list[Any] = []
        for action, amount, after, comment in rows:
            params += self.insert.params(
                {
                    "customer_id": customer_id,
                    "action": action,
                    "amount": amount,
                    "balance_after": after,
                    "visible_comment": comment,
                    "created_at": now,
                    "period_id": period_id,
                    "invoice_id": invoice_id,
                }
            )
        cursor.execute(self.insert.sql(len(rows), returning=True), params)
        ids = sorted(int(r[0]) for r in cursor.fetchall())
        delta = sum((amount for _, amount, _, _ in rows), Decimal(0))
        cursor.execute(
            self.update_customer,
            [exact_units(delta), billed_to, next_billed_to, updated_at, customer_id],
        )
        return ids


def move_usage_balances_many(
    *,
    customers: Sequence[tuple[int, int, dt.date | None, int]],
    accounts: Sequence[tuple[int, int]],
) -> None:
    """A batch's balance moves, one per customer and account touched: ``customers`` as (id,
    δ units, the day's spending: its day and units), ``accounts`` as (id, δ units)."""
    if customers:
        add_to_balances(
            Customer,
            {"balance": "bigint", "fraud_day": "date", "fraud_day_spent": "bigint"},
            [
                (pk, delta, connection.ops.adapt_datefield_value(day), spent)
                for pk, delta, day, spent in customers
            ],
        )
    if accounts:
        add_to_balances(Account, {"balance": "bigint"}, list(accounts))

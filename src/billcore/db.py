"""Database helpers shared by every app.

Money and rates are stored exactly as integers of 10⁻⁵ units (``DecimalUnitsField``), so
SQLite (which has no exact decimal type and sums NUMERIC as floating point) and PostgreSQL
hold, compare and ``SUM`` the same exact values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Value
from django.db.models.expressions import Combinable

from billcore.core.money import MONEY_PLACES, AmountError, from_units, to_units
from billcore.core.text import name_key
from billcore.errors import ValidationFailed

if TYPE_CHECKING:
    _Base = models.BigIntegerField[Decimal | int | Combinable | None, Any]
else:
    _Base = models.BigIntegerField


class DecimalUnitsField(_Base):
    """A Decimal with exactly 5 places, stored as a 64-bit integer count of 10⁻⁵."""

    description = "Exact decimal with 5 places stored as integer units"

    def get_default(self) -> Any:
        default = super().get_default()
        if isinstance(default, Decimal | int) and not isinstance(default, bool):
            return Decimal(default).quantize(Decimal(1).scaleb(-MONEY_PLACES))
        return default

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        return from_units(int(value))

    def to_python(self, value: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, int):
            return Decimal(value).quantize(Decimal(1).scaleb(-MONEY_PLACES))
        try:
            return Decimal(str(value)).quantize(Decimal(1).scaleb(-MONEY_PLACES))
        except Exception as exc:
            raise ValidationError(f"{value!r} is not a decimal number") from exc

    def get_prep_value(self, value: Any) -> int | None:
        if value is None:
            return None
        if hasattr(value, "resolve_expression"):
            return value  # type: ignore[no-any-return]
        if isinstance(value, float):
            raise TypeError("money is never a float")
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        try:
            return to_units(Decimal(value))
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]
        from django import forms

        kwargs.setdefault("decimal_places", MONEY_PLACES)
        return models.Field.formfield(self, form_class=forms.DecimalField, **kwargs)


MoneyField = DecimalUnitsField


def money_value(amount: Decimal) -> Value:
    """An SQL literal for ``amount`` that a ``DecimalUnitsField`` expression can add to."""
    return Value(amount, output_field=DecimalUnitsField())


class NameKeyed(models.Model):
    """A model whose ``name`` is unique regardless of letter case, in every script: the
    unique ``name_key`` (``core.text.name_key``: NFKC, case-folded) is computed in Python on
    every save, so SQLite (whose ``lower()`` folds only ASCII) and PostgreSQL refuse the same
    names. Rows written without ``save()`` (benchmarks' bulk inserts) have no key."""

    name: Any
    name_key = models.CharField(max_length=400, null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = name_key(self.name)
        fields = kwargs.get("update_fields")
        if fields is not None and "name" in fields:
            kwargs["update_fields"] = {*fields, "name_key"}
        super().save(*args, **kwargs)


def name_taken(model: type[NameKeyed], name: str, *, exclude: int | None = None) -> bool:
    """Whether another row of ``model`` has a name equal to ``name`` regardless of case."""
    key = name_key(name)
    if len(key) > NAME_KEY_LENGTH:
        raise ValidationFailed(
            f"name is too long once normalised ({len(key)} > {NAME_KEY_LENGTH} characters)",
            field="name",
            code="too_long",
        )
    clash = model._default_manager.filter(name_key=key)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    return bool(clash.exists())


NAME_KEY_LENGTH = 400


def fill_name_keys(app_label: str, model_name: str) -> Any:
    """A migration step that computes ``name_key`` for every existing row. Names that
    clash once case-folded (SQLite's ASCII-only ``lower()`` let "Äb" and "äb" both in) keep
    the first row's name; each later one gets " (id N)" appended, and is printed."""

    def run(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        seen: set[str] = set()
        for row in model._default_manager.order_by("pk").only("pk", "name"):
            key = name_key(row.name)
            if key in seen:
                old = row.name
                row.name = f"{old[: 100 - 20]} (id {row.pk})"
                key = name_key(row.name)
                print(f"\n  {model_name} {row.pk}: {old!r} clashed regardless of case; renamed")
            seen.add(key)
            row.name_key = key
            row.save(update_fields=["name", "name_key"])

    return run


class RowInsert:
    """``INSERT INTO table (every concrete column but the id) VALUES … [RETURNING id]`` for a
    model, on a DB-API cursor taking ``%s`` (the plain-SQL paths: ``ledger.batch``,
    ``invoicing.fastclose``). Values are prepared the way the model's fields prepare them
    (money as integer units, date-times adapted by the backend, defaults from the fields),
    with the converters chosen once instead of per value."""

    def __init__(self, model: type[models.Model], conn: Any) -> None:
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.table = model._meta.db_table
        self.columns = ", ".join(conn.ops.quote_name(f.column) for f in self.fields)
        self.row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self.prepare: list[tuple[str, Any, Any]] = []
        for f in self.fields:
            if isinstance(f, DecimalUnitsField):
                convert: Any = exact_units
            elif isinstance(f, models.DateTimeField):
                convert = conn.ops.adapt_datetimefield_value
            else:
                convert = None
            default = f.get_default()
            prepared_default = convert(default) if convert and default is not None else default
            self.prepare.append((f.attname, convert, prepared_default))

    def sql(self, rows: int, *, returning: bool = False) -> str:
        values = ", ".join([self.row] * rows)
        sql = f"INSERT INTO {self.table} ({self.columns}) VALUES {values}"  # noqa: S608
        return sql + (" RETURNING id" if returning else "")

    def params(self, values: dict[str, Any]) -> list[Any]:
        out = []
        for name, convert, default in self.prepare:
            if name in values:
                value = values[name]
                out.append(convert(value) if convert is not None and value is not None else value)
            else:
                out.append(default)
        return out


def exact_units(value: Any) -> int:
    """A money value (Decimal, or its text) as integer 10⁻⁵ units, exactly."""
    return to_units(value if isinstance(value, Decimal) else Decimal(value))


class CompiledQuery:
    """A query of a hot path compiled once per process and database: its SQL and the
    converters Django applies to its values (money units, SQLite dates, …). Built from a
    queryset whose parameters are sentinels (ints and strings that no row holds), replaced
    by the real values on each call: the ORM's query building (about 1.5 ms a query) is paid
    once, not per request."""

    def __init__(self, queryset: Any) -> None:
        self.compiler = queryset.query.get_compiler(using=queryset.db)
        self.sql, self.params = self.compiler.as_sql()
        self.converters = self.compiler.get_converters([s[0] for s in self.compiler.select])

    def _execute(self, values: dict[Any, Any]) -> list[Any]:
        params = [values.get(p, p) if isinstance(p, int | str) else p for p in self.params]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows: list[Any] = cursor.fetchall()
        if rows and self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        return rows

    def row(self, values: dict[Any, Any]) -> tuple[Any, ...] | None:
        """The first row (the query should select one), or None."""
        rows = self._execute(values)
        return tuple(rows[0]) if rows else None

    def rows(self, values: dict[Any, Any]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._execute(values)]

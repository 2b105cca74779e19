"""Database helpers shared by every app.

Money and rates are stored exactly as integers of 10⁻⁵ units (``DecimalUnitsField``), so
SQLite (which has no exact decimal type and sums NUMERIC as floating point) and PostgreSQL
hold, compare and ``SUM`` the same exact values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Value
from django.db.models.expressions import Combinable

from billcore.core.money import MONEY_PLACES, AmountError, from_units, to_units

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

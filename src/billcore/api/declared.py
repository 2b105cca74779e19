"""The API's types of declared settings (``billcore.classes.settings``,
``billcore.customers.settings``): a request gives each setting as its type or null (money and
rates as decimal strings); a reply returns each as its type, null where the setting may be
empty, and a relation by its key (``managed_by`` is ``managed_by_id``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field

from billcore.classes.settings import Kind, Setting


class TaxOut(Schema):
    name: str
    rate: Decimal


class TaxIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    rate: str


IN_TYPES: dict[Kind, Any] = {
    Kind.TEXT: str,
    Kind.EMAIL: str,
    Kind.BOOL: bool,
    Kind.CHOICE: str,
    Kind.CHOICES: list[str],
    Kind.INT: int,
    Kind.MONEY: str,
    Kind.PERCENT: str,
    Kind.TAXES: list[TaxIn],
    Kind.TIME_ZONE: str,
    Kind.DATETIME: dt.datetime,
    Kind.MAPPING: dict[str, Any],
    Kind.REF: int,
    Kind.CODE: str,
    Kind.NAMES: list[str],
}
OUT_TYPES: dict[Kind, Any] = {
    **IN_TYPES,
    Kind.MONEY: Decimal,
    Kind.PERCENT: Decimal,
    Kind.TAXES: list[TaxOut],
}
KEYED = (Kind.REF, Kind.CODE)  # returned as the foreign key: managed_by = managed_by_id


def in_field(setting: Setting) -> tuple[Any, Any]:
    """A request field: the setting's type or null, not required."""
    return IN_TYPES[setting.kind] | None, Field(None, description=setting.api_help or None)


def out_field(setting: Setting) -> tuple[Any, Any]:
    """A reply field: always there (a relation that may be empty defaults to null)."""
    kind = setting.kind
    out = OUT_TYPES[kind] | None if setting.optional else OUT_TYPES[kind]
    if kind in KEYED:
        return out, Field(None if setting.optional else ..., alias=f"{setting.name}_id")
    return out, ...

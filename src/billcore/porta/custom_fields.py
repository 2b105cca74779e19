"""Custom field values as PortaBilling clients read and write them, for customers and
accounts: ``custom_fields_values`` lists of ``{name or i_custom_field, db_value or
text_value}``. Values are stored as text; every rule (types, list values, mandatory fields)
stays in the services that store them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billcore.errors import ValidationFailed
from billcore.installation.models import CustomField
from billcore.validation import as_int

FIELD = "custom_fields_values"
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _key(text: str) -> str:
    """Names as operators write them: "Cost Center", "cost-center" and "cost_center" alike."""
    return _NOT_WORD.sub("_", text.strip().lower()).strip("_")


def values_out(values: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every defined custom field with its value (``db_value`` = ``text_value`` = the stored
    text; null when unset)."""
    values = values or {}
    return [
        {
            "i_custom_field": cf.pk,
            "name": cf.name,
            "label": cf.label,
            "type": cf.field_type,
            "db_value": values.get(cf.name),
            "text_value": values.get(cf.name),
        }
        for cf in CustomField.objects.order_by("name")
    ]


def _text(where: str, value: Any) -> str | None:
    """A value as stored: booleans as 1/0, numbers as written; null clears."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or not -100 <= value.adjusted() <= 100:
            raise ValidationFailed(f"{where} is not a usable number", field=FIELD)
        return format(value, "f")
    if isinstance(value, str):
        return value
    raise ValidationFailed(
        f"{where} must be text, a number, a boolean or null (got {type(value).__name__})",
        field=FIELD,
    )


def _resolve(where: str, item: Mapping[str, Any], fields: list[CustomField]) -> str:
    """The custom field an item names: ``i_custom_field``, else ``name`` as the field's name
    or label, in any letter case, with spaces, dashes or underscores alike."""
    if item.get("i_custom_field") not in (None, ""):
        cf_id = as_int(f"{where}.i_custom_field", item["i_custom_field"])
        for cf in fields:
            if cf.pk == cf_id:
                return cf.name
        raise ValidationFailed(
            f"{where}.i_custom_field: no custom field {cf_id}", field=FIELD, code="not_found"
        )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(f"{where} needs a name or an i_custom_field", field=FIELD)
    exact = [cf for cf in fields if cf.name == name]
    if exact:
        return exact[0].name
    key = _key(name)
    found = {cf.name for cf in fields if key in (_key(cf.name), _key(cf.label))}
    if len(found) == 1:
        return found.pop()
    if found:
        raise ValidationFailed(
            f"{where}.name: {name!r} matches several custom fields ({', '.join(sorted(found))}); "
            "use the exact name or i_custom_field",
            field=FIELD,
            code="ambiguous",
        )
    raise ValidationFailed(
        f"{where}.name: no custom field named {name!r}", field=FIELD, code="not_found"
    )


def changes_in(items: Any) -> dict[str, str | None]:
    """``custom_fields_values`` as ``{field name: text}`` for the services. An item must say
    which field (``name`` or ``i_custom_field``) and the value (``db_value`` or
    ``text_value``; both must then agree); anything else is refused, never guessed."""
    if not isinstance(items, list):
        raise ValidationFailed(
            f"{FIELD} must be a list of {{name or i_custom_field, db_value}}", field=FIELD
        )
    fields = list(CustomField.objects.all())
    values: dict[str, str | None] = {}
    for i, item in enumerate(items):
        where = f"{FIELD}[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationFailed(f"{where} must be an object", field=FIELD)
        name = _resolve(where, item, fields)
        given = [k for k in ("db_value", "text_value") if k in item]
        if not given:
            keys = ", ".join(sorted(str(k) for k in item)) or "none"
            raise ValidationFailed(
                f"{where} needs db_value (or text_value) with the value; its keys: {keys}",
                field=FIELD,
                code="required",
            )
        texts = {k: _text(f"{where}.{k}", item[k]) for k in given}
        if len(set(texts.values())) > 1:
            raise ValidationFailed(
                f"{where}: db_value {item['db_value']!r} and text_value {item['text_value']!r} "
                "differ; send one of them",
                field=FIELD,
                code="conflict",
            )
        if name in values and values[name] != texts[given[0]]:
            raise ValidationFailed(
                f"{where}: custom field {name!r} is given twice with different values",
                field=FIELD,
                code="conflict",
            )
        values[name] = texts[given[0]]
    return values

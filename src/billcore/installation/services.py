"""Installation settings, currencies in use, business models and custom fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor, is_admin
from billcore.audit.services import record, snapshot
from billcore.core.countries import is_country_code
from billcore.core.currencies import UnknownCurrencyError, get_currency
from billcore.db import name_taken
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.models import (
    DEFAULT_MAX_SESSION_SECONDS,
    MAX_SESSION_SECONDS_RANGE,
    BusinessModel,
    Currency,
    CustomField,
    InstallationSettings,
)
from billcore.validation import as_bool, as_choice, as_email, as_int, as_str, reject_unknown


def _require_admin(actor: Actor) -> None:
    if not is_admin(actor):
        raise NotFound("not found")


def get_settings() -> InstallationSettings:
    settings, _ = InstallationSettings.objects.get_or_create(pk=1)
    return settings


def max_session_seconds() -> int:
    """The longest session authorised (seconds): the installation's setting, else 3 hours."""
    value = (
        InstallationSettings.objects.filter(pk=1)
        .values_list("max_session_seconds", flat=True)
        .first()
    )
    return DEFAULT_MAX_SESSION_SECONDS if value is None else int(value)


SETTINGS_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "legal_name": lambda f, v: as_str(f, v, max_length=200),
    "notification_from_name": lambda f, v: as_str(f, v, max_length=200),
    "notification_from_address": as_email,
    "seller_address_line1": lambda f, v: as_str(f, v, max_length=200),
    "seller_address_line2": lambda f, v: as_str(f, v, max_length=200),
    "seller_city": lambda f, v: as_str(f, v, max_length=100),
    "seller_postal_code": lambda f, v: as_str(f, v, max_length=20),
    "seller_country": lambda f, v: _country(f, v),
    "seller_tax_number": lambda f, v: as_str(f, v, max_length=50),
    "payment_instructions": lambda f, v: as_str(f, v, max_length=2000, single_line=False),
    "allow_external_billing": as_bool,
    "show_financial_documents_page": as_bool,
    "eztax_endpoint": lambda f, v: _url(f, v),
    "suretax_endpoint": lambda f, v: _url(f, v),
    "tax_rounding_half_up": as_bool,
    "test_mode": as_bool,
    "max_session_seconds": lambda f, v: as_int(
        f, v, minimum=MAX_SESSION_SECONDS_RANGE[0], maximum=MAX_SESSION_SECONDS_RANGE[1]
    ),
}


def _country(field: str, value: Any) -> str:
    code = as_str(field, value, max_length=100)
    if code and not is_country_code(code):
        raise ValidationFailed(
            f"{field}: {code!r} is not an ISO 3166-1 alpha-2 code (e.g. US, DE)",
            field=field,
            code="unknown_country",
        )
    return code


def _url(field: str, value: Any) -> str:
    text = as_str(field, value, max_length=200)
    if text and not text.startswith(("http://", "https://")):
        raise ValidationFailed(f"{field} must be an http:// or https:// URL", field=field)
    return text


@transaction.atomic
def update_settings(
    *, actor: Actor, now: dt.datetime, changes: Mapping[str, Any]
) -> InstallationSettings:
    _require_admin(actor)
    reject_unknown(dict(changes), SETTINGS_FIELDS)
    settings = InstallationSettings.objects.select_for_update().get(pk=get_settings().pk)
    before = snapshot(settings)
    for name, coerce in SETTINGS_FIELDS.items():
        if name in changes:
            setattr(settings, name, coerce(name, changes[name]))
    settings.updated_at = now
    settings.save()
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=settings,
        before=before,
        after=snapshot(settings),
    )
    return settings


def get_currency_in_use(code: Any, *, field: str = "currency") -> Currency:
    """The installation's currency ``code``; a clear error for an unknown or unused code."""
    if not isinstance(code, str) or not code:
        raise ValidationFailed(
            f"{field} is required (an ISO 4217 code such as USD)", field=field, code="required"
        )
    try:
        get_currency(code)
    except UnknownCurrencyError as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field, code="unknown_currency") from exc
    try:
        return Currency.objects.get(code=code)
    except Currency.DoesNotExist:
        raise ValidationFailed(
            f"{field}: {code} is an ISO 4217 currency but not in use on this installation; "
            "an administrator adds it under Settings → Currencies",
            field=field,
            code="currency_not_in_use",
        ) from None


@transaction.atomic
def add_currency(
    *, actor: Actor, now: dt.datetime, code: str, decimals: int | None = None
) -> Currency:
    _require_admin(actor)
    try:
        iso = get_currency(code)
    except UnknownCurrencyError as exc:
        raise ValidationFailed(f"code: {exc}", field="code", code="unknown_currency") from exc
    if Currency.objects.filter(code=iso.code).exists():
        raise ValidationFailed(
            f"code: {iso.code} is already in use", field="code", code="duplicate"
        )
    places = (
        iso.decimals if decimals is None else as_int("decimals", decimals, minimum=0, maximum=5)
    )
    currency = Currency.objects.create(code=iso.code, name=iso.name, decimals=places)
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=currency,
        before=None,
        after=snapshot(currency),
    )
    return currency


@transaction.atomic
def remove_currency(*, actor: Actor, now: dt.datetime, code: str) -> None:
    _require_admin(actor)
    currency = Currency.objects.filter(code=code).first()
    if currency is None:
        raise NotFound(f"currency {code} is not in use", field="code")
    # Customers and classes sit above installation: they are counted through the reverse
    # relations of their currency foreign keys, not imported.
    users = currency.customer_set.count() + currency.customerclass_set.count()
    if users:
        raise ValidationFailed(
            f"code: {code} is used by {users} customers or classes and cannot be removed",
            field="code",
            code="in_use",
        )
    before = snapshot(currency)
    currency.delete()
    record(
        actor=actor,
        now=now,
        operation="delete",
        obj=Currency(code=code, name=before["name"], decimals=before["decimals"]),
        before=before,
        after=None,
    )


def _business_model_name(name: Any, *, exclude: int | None = None) -> str:
    text = as_str("name", name, max_length=100, required=True)
    if name_taken(BusinessModel, text, exclude=exclude):
        raise ValidationFailed(
            f"name: a business model named {text!r} already exists", field="name", code="duplicate"
        )
    return text


@transaction.atomic
def create_business_model(
    *, actor: Actor, now: dt.datetime, name: Any, description: Any = ""
) -> BusinessModel:
    """CC-05: the administrator maintains the catalogue."""
    _require_admin(actor)
    bm = BusinessModel.objects.create(
        name=_business_model_name(name),
        description=as_str("description", description, max_length=500, single_line=False),
    )
    record(actor=actor, now=now, operation="create", obj=bm, before=None, after=snapshot(bm))
    return bm


@transaction.atomic
def update_business_model(
    *, actor: Actor, now: dt.datetime, business_model_id: int, changes: Mapping[str, Any]
) -> BusinessModel:
    _require_admin(actor)
    reject_unknown(dict(changes), ("name", "description"))
    bm = BusinessModel.objects.select_for_update().filter(pk=business_model_id).first()
    if bm is None:
        raise NotFound(f"business model {business_model_id} not found", field="id")
    before = snapshot(bm)
    if "name" in changes:
        bm.name = _business_model_name(changes["name"], exclude=bm.pk)
    if "description" in changes:
        bm.description = as_str(
            "description", changes["description"], max_length=500, single_line=False
        )
    bm.save()
    record(actor=actor, now=now, operation="update", obj=bm, before=before, after=snapshot(bm))
    return bm


@transaction.atomic
def delete_business_model(*, actor: Actor, now: dt.datetime, business_model_id: int) -> None:
    _require_admin(actor)
    bm = BusinessModel.objects.filter(pk=business_model_id).first()
    if bm is None:
        raise NotFound(f"business model {business_model_id} not found", field="id")
    used = bm.customerclass_set.count()
    if used:
        raise ValidationFailed(
            f"business model {bm.name!r} is used by {used} customer classes and cannot be deleted",
            field="id",
            code="in_use",
        )
    before = snapshot(bm)
    bm.delete()
    bm.pk = business_model_id
    record(actor=actor, now=now, operation="delete", obj=bm, before=before, after=None)


def custom_field_value(cf: CustomField, value: Any, *, field: str) -> str:
    """A value for custom field ``cf`` as stored (text; "" = unset), checked against its
    type; ``field`` names it in errors."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.strip()
    if not text:
        return ""
    if cf.field_type == CustomField.Type.NUMBER:
        try:
            Decimal(text)
        except InvalidOperation:
            raise ValidationFailed(f"{field} must be a number", field=field) from None
    elif cf.field_type == CustomField.Type.DATE:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed(f"{field} must be a date YYYY-MM-DD", field=field) from None
    elif cf.field_type == CustomField.Type.LIST and text not in cf.choices:
        raise ValidationFailed(f"{field} must be one of: {', '.join(cf.choices)}", field=field)
    if len(text) > 500:
        raise ValidationFailed(f"{field} is longer than 500 characters", field=field)
    return text


def custom_field_values(current: Mapping[str, Any], value: Any) -> dict[str, str]:
    """``current`` values (name: text) with the changes of ``value`` (an object of name:
    value) applied; every name must be a defined custom field; "" or null clears."""
    if not isinstance(value, Mapping):
        raise ValidationFailed(
            "custom_fields must be an object of name: value", field="custom_fields"
        )
    values = dict(current or {})
    defined = {cf.name: cf for cf in CustomField.objects.filter(name__in=list(value))}
    for name, raw in value.items():
        if name not in defined:
            raise ValidationFailed(
                f"custom_fields.{name}: no custom field with this name",
                field=f"custom_fields.{name}",
                code="unknown",
            )
        values[name] = custom_field_value(defined[name], raw, field=f"custom_fields.{name}")
    return {k: v for k, v in values.items() if v != ""}


@transaction.atomic
def create_custom_field(
    *,
    actor: Actor,
    now: dt.datetime,
    name: Any,
    label: Any,
    field_type: Any = "text",
    choices: Any = None,
) -> CustomField:
    _require_admin(actor)
    slug = as_str("name", name, max_length=60, required=True)
    if not slug.replace("_", "").isalnum() or not slug.isascii() or slug != slug.lower():
        raise ValidationFailed("name must use lower-case letters, digits and _", field="name")
    if CustomField.objects.filter(name=slug).exists():
        raise ValidationFailed(
            f"name: custom field {slug!r} already exists", field="name", code="duplicate"
        )
    ftype = as_choice("field_type", field_type, CustomField.Type.values)
    values = list(choices or [])
    if ftype == CustomField.Type.LIST and not values:
        raise ValidationFailed("choices: a list field needs its values", field="choices")
    cf = CustomField.objects.create(
        name=slug,
        label=as_str("label", label, max_length=100, required=True),
        field_type=ftype,
        choices=[as_str("choices", v, max_length=100) for v in values],
    )
    record(actor=actor, now=now, operation="create", obj=cf, before=None, after=snapshot(cf))
    return cf

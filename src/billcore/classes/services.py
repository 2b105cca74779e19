"""Every write to customer classes, and the rules of their settings (CC-02 … CC-22).

Services take the acting user and ``now``; each runs in one transaction and writes an audit
row. Input may be raw (strings from a form or the CLI) or typed (the API); it is coerced
here, by the parsers and dependency rules of the settings' declaration
(``classes.settings``), and every error names its field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.db import IntegrityError, transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.classes.models import CustomerClass, PeriodCloseMode, RoundingMode, TaxationMethod
from billcore.classes.selectors import get_class
from billcore.classes.settings import DEPENDENTS, RULES, SETTINGS, parser
from billcore.core.rounding import InvalidPatternError, currency_default_pattern, parse_pattern
from billcore.db import name_taken
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.installation.models import BusinessModel, CustomField
from billcore.installation.services import get_currency_in_use, get_settings
from billcore.validation import as_int, as_str, reject_unknown

# Field name -> coercion, from the declaration (classes.settings). Relations (name,
# business_model, currency, managed_by, mandatory_custom_fields) are resolved below.
SIMPLE_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    s.name: parser(s) for s in SETTINGS if s.simple
}
RELATION_FIELDS = tuple(s.name for s in SETTINGS if not s.simple)
EDITABLE_FIELDS = (*RELATION_FIELDS, *SIMPLE_FIELDS)


def _apply_rules(cls: CustomerClass, changes: Mapping[str, Any]) -> None:
    """The dependency rules of the declaration (classes.settings.RULES), in their order: when a
    rule does not hold, a setting that needs it given in this change with another value than
    its off value is an error naming it; one not given is reset to its off value. Then the
    requirements that hold when a feature is on."""
    settings = get_settings()
    for rule in RULES:
        if rule.holds(cls, settings):
            continue
        for setting in DEPENDENTS[rule]:
            name, off_value = setting.name, setting.off_value
            if name in changes and getattr(cls, name) != off_value:
                raise ValidationFailed(f"{name} {rule.why}", field=name, code="unavailable")
            setattr(cls, name, off_value)
    if cls.period_close == PeriodCloseMode.APPROVAL and cls.approval_max_days is None:
        raise ValidationFailed(
            "approval_max_days is required when the period is closed upon administrator's "
            "approval: no later than N days after the period is over (CC-18)",
            field="approval_max_days",
            code="required",
        )
    if cls.taxation_method == TaxationMethod.FIXED_VAT and cls.vat_rate is None:
        raise ValidationFailed(
            "vat_rate is required for the Fixed VAT rate taxation method",
            field="vat_rate",
            code="required",
        )
    if cls.taxation_method == TaxationMethod.CUSTOM and not cls.taxes:
        raise ValidationFailed(
            "taxes: custom taxation needs at least one named tax", field="taxes", code="required"
        )
    engine = {
        TaxationMethod.EZTAX: settings.eztax_endpoint,
        TaxationMethod.SURETAX: settings.suretax_endpoint,
    }
    if cls.taxation_method in engine and not engine[TaxationMethod(cls.taxation_method)]:
        label = TaxationMethod(cls.taxation_method).label
        raise ValidationFailed(
            f"taxation_method: {label} is an external tax engine and no endpoint is configured "
            "for it in the installation settings",
            field="taxation_method",
            code="not_configured",
        )
    if cls.invoice_rounding == RoundingMode.CUSTOM:
        if not cls.invoice_rounding_pattern:
            raise ValidationFailed(
                "invoice_rounding_pattern is required for Custom rounding (e.g. XXXXX.X5000)",
                field="invoice_rounding_pattern",
                code="required",
            )
        try:
            parsed = parse_pattern(cls.invoice_rounding_pattern)
        except InvalidPatternError as exc:
            raise ValidationFailed(
                f"invoice_rounding_pattern: {exc}", field="invoice_rounding_pattern"
            ) from exc
        currency = cls.currency if cls.currency_id is not None else None
        if currency is not None and parsed.decimals > currency.decimals:
            unit = currency_default_pattern(decimals=currency.decimals)
            raise ValidationFailed(
                f"invoice_rounding_pattern: {cls.invoice_rounding_pattern} rounds to "
                f"{parsed.decimals} decimal places, finer than the class's currency "
                f"{currency.code} ({currency.decimals}); a class with a currency rounds "
                f"invoice totals to its minor unit or coarser (CC-17), e.g. {unit}",
                field="invoice_rounding_pattern",
                code="finer_than_currency",
            )
    for prefix, tab in (("", "Regular Invoices"), ("oot_", "Out-of-Turn Invoices")):
        # Collections (issue 5): a late-payment fee needs its amount; termination comes last.
        if getattr(cls, f"{prefix}late_fee_after_days") is not None and not getattr(
            cls, f"{prefix}late_fee_amount"
        ):
            raise ValidationFailed(
                f"{prefix}late_fee_amount is required when a late-payment fee is charged "
                f"({tab} tab)",
                field=f"{prefix}late_fee_amount",
                code="required",
            )
        suspend = getattr(cls, f"{prefix}suspend_after_days")
        terminate = getattr(cls, f"{prefix}terminate_after_days")
        if suspend is not None and terminate is not None and terminate < suspend:
            raise ValidationFailed(
                f"{prefix}terminate_after_days must not come before the suspension "
                f"({prefix}suspend_after_days = {suspend}; {tab} tab)",
                field=f"{prefix}terminate_after_days",
            )
    if cls.notification_from_override and not cls.notification_from_address:
        raise ValidationFailed(
            "notification_from_address is required when the Override toggle is on (CC-08)",
            field="notification_from_address",
            code="required",
        )


def _set_name(cls: CustomerClass, value: Any) -> None:
    name = as_str("name", value, max_length=100, required=True)
    if name_taken(CustomerClass, name, exclude=cls.pk):
        raise ValidationFailed(
            f"name: a customer class named {name!r} already exists (names are unique "
            "regardless of letter case)",
            field="name",
            code="duplicate",
        )
    cls.name = name


def _is_reseller(cls: CustomerClass, reseller_id: int) -> bool:
    """Whether ``reseller_id`` is a reseller. Customers sit above classes, so the check goes
    through the ``managed_by`` foreign key, which declares what it may point to (a customer
    of the reseller type: ``limit_choices_to``), not through an import of customers."""
    try:
        CustomerClass._meta.get_field("managed_by").validate(reseller_id, cls)
    except ModelValidationError:
        return False
    return True


def _set_managed_by(actor: Actor, cls: CustomerClass, value: Any) -> None:
    if not is_admin(actor):
        # A reseller's user always creates classes for its own reseller.
        if value not in (None, "", require_user(actor).reseller_id):
            raise ValidationFailed(
                "managed_by: a reseller's user can only manage its own classes",
                field="managed_by",
                code="not_found",
            )
        cls.managed_by_id = require_user(actor).reseller_id
        return
    if value in (None, ""):
        if cls.pk and cls.managed_by_id is not None and cls.customers.exists():
            raise ValidationFailed(
                "managed_by cannot change while the reseller's customers use this class",
                field="managed_by",
                code="in_use",
            )
        cls.managed_by_id = None
        return
    reseller_id = as_int("managed_by", value, minimum=1)
    if not _is_reseller(cls, reseller_id):
        raise ValidationFailed(
            f"managed_by: reseller {reseller_id} does not exist",
            field="managed_by",
            code="not_found",
        )
    if cls.pk and cls.managed_by_id != reseller_id and cls.customers.exists():
        raise ValidationFailed(
            "managed_by cannot change while customers use this class",
            field="managed_by",
            code="in_use",
        )
    cls.managed_by_id = reseller_id


def _apply_changes(actor: Actor, cls: CustomerClass, data: Mapping[str, Any]) -> list[int] | None:
    reject_unknown(dict(data), EDITABLE_FIELDS)
    if "name" in data or not cls.pk:
        _set_name(cls, data.get("name"))
    if "currency" in data:
        code = data["currency"] or None
        if cls.pk:
            if code != cls.currency_id:
                raise ValidationFailed(
                    "currency cannot be changed once the class is saved (CC-06)",
                    field="currency",
                    code="immutable",
                )
        else:
            cls.currency_id = get_currency_in_use(code).code if code else None
    if "business_model" in data:
        bm = data["business_model"]
        if bm in (None, ""):
            cls.business_model_id = None
        else:
            bm_id = as_int("business_model", bm, minimum=1)
            if not BusinessModel.objects.filter(pk=bm_id).exists():
                raise ValidationFailed(
                    f"business_model: business model {bm_id} does not exist",
                    field="business_model",
                    code="not_found",
                )
            cls.business_model_id = bm_id
    if "managed_by" in data or not cls.pk:
        _set_managed_by(actor, cls, data.get("managed_by"))
    for name, coerce in SIMPLE_FIELDS.items():
        if name in data:
            setattr(cls, name, coerce(name, data[name]))
    custom_field_ids = None
    if "mandatory_custom_fields" in data:
        names = data["mandatory_custom_fields"] or []
        if not isinstance(names, list | tuple):
            raise ValidationFailed(
                "mandatory_custom_fields must be a list of custom field names",
                field="mandatory_custom_fields",
            )
        found = dict(CustomField.objects.filter(name__in=names).values_list("name", "pk"))
        for n in names:
            if n not in found:
                raise ValidationFailed(
                    f"mandatory_custom_fields: no custom field named {n!r}",
                    field="mandatory_custom_fields",
                    code="not_found",
                )
        custom_field_ids = sorted(found.values())
    _apply_rules(cls, data)
    return custom_field_ids


def _save(cls: CustomerClass) -> None:
    try:
        cls.save()  # the caller's transaction rolls back on the error raised below
    except IntegrityError as exc:
        raise Conflict(
            f"name: a customer class named {cls.name!r} already exists",
            field="name",
            code="duplicate",
        ) from exc


@transaction.atomic
def create_class(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> CustomerClass:
    """Create a class from ``data`` (field name → value); unspecified fields take defaults."""
    if actor is None:
        raise NotFound("not found")
    cls = CustomerClass(created_at=now, updated_at=now)
    custom_field_ids = _apply_changes(actor, cls, data)
    _save(cls)
    if custom_field_ids is not None:
        cls.mandatory_custom_fields.set(custom_field_ids)
    record(actor=actor, now=now, operation="create", obj=cls, before=None, after=snapshot(cls))
    return cls


@transaction.atomic
def update_class(
    *, actor: Actor, now: dt.datetime, class_id: int, changes: Mapping[str, Any]
) -> CustomerClass:
    """Apply ``changes`` (only the given fields); the currency never changes (CC-06)."""
    cls = get_class(actor=actor, class_id=class_id)
    cls = CustomerClass.objects.select_for_update().get(pk=cls.pk)
    before = snapshot(cls)
    custom_field_ids = _apply_changes(actor, cls, changes)
    cls.updated_at = now
    _save(cls)
    if custom_field_ids is not None:
        cls.mandatory_custom_fields.set(custom_field_ids)
    after = snapshot(cls)
    record(actor=actor, now=now, operation="update", obj=cls, before=before, after=after)
    return cls


@transaction.atomic
def delete_class(*, actor: Actor, now: dt.datetime, class_id: int) -> None:
    """CC-02: Default cannot be deleted; neither can a class that customers use."""
    cls = get_class(actor=actor, class_id=class_id)
    if cls.is_default:
        raise ValidationFailed(
            "The Default customer class cannot be deleted (CC-02)", field="id", code="protected"
        )
    used = cls.customers.count()
    if used:
        raise ValidationFailed(
            f"Customer class {cls.name!r} is used by {used} customer{'s' if used != 1 else ''} "
            "and cannot be deleted; move them to another class first",
            field="id",
            code="in_use",
        )
    before = snapshot(cls)
    pk = cls.pk
    cls.delete()
    cls.pk = pk
    record(actor=actor, now=now, operation="delete", obj=cls, before=before, after=None)


COPY_EXCLUDED = {"name", "currency"}


def copy_data(cls: CustomerClass) -> dict[str, Any]:
    """The class's settings as input data for a new class, name cleared (CC-03 "Save & Add a
    copy"). The currency is copied too: it is settable on a new class."""
    data: dict[str, Any] = {name: getattr(cls, name) for name in SIMPLE_FIELDS}
    data["business_model"] = cls.business_model_id
    data["currency"] = cls.currency_id
    data["managed_by"] = cls.managed_by_id
    data["mandatory_custom_fields"] = sorted(
        cls.mandatory_custom_fields.values_list("name", flat=True)
    )
    data["name"] = ""
    return data


def copy_class(*, actor: Actor, now: dt.datetime, class_id: int, name: str) -> CustomerClass:
    """A new class with every setting of ``class_id`` and a new name."""
    source = get_class(actor=actor, class_id=class_id)
    data = copy_data(source)
    data["name"] = name
    if not is_admin(actor):
        data.pop("managed_by")
    return create_class(actor=actor, now=now, data=data)


def get_default_class() -> CustomerClass:
    try:
        return CustomerClass.objects.get(is_default=True)
    except CustomerClass.DoesNotExist:
        raise NotFound("the Default customer class is missing; run migrate") from None

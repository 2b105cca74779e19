"""Every write to the rating catalogue (issue 12 §1).

Services take the acting user and ``now``; each runs in one transaction and writes an audit
row; every error names its field. Input may be raw (strings) or typed (the API).

* Services, destinations, destination groups and off-peak periods are the installation's:
  only administrators change them (a reseller's user gets a 403). The four standard
  services (``voice``, ``data``, ``messaging``, ``other``) are read-only.
* Tariffs and products belong to the administrator (``managed_by`` empty) or to one
  reseller, like customer classes (CC-07): a reseller's user creates and sees only its own.
* A rating entry's tariff has the product's currency, owner and the entry's service; its
  optional ``reseller_tariff`` (the wholesale price of a reseller's product) is an
  administrator's tariff of the same service in the reseller's currency, set by an
  administrator.
* An account gets one main product and any add-ons of its customer's owner, in its
  customer's currency, each with at least one rating entry.
* An override tariff pair (master → override) belongs to a customer; both tariffs are of
  the customer's owner and of one service; the override is in the customer's currency.

Rates (add, edit, CSV upload and download) are in ``rating.rates``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.core.countries import is_country_code
from billcore.core.offpeak import OffpeakSyntaxError, parse_offpeak
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.customers.services import existing_reseller
from billcore.db import NameKeyed, name_taken
from billcore.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from billcore.installation.services import get_currency_in_use
from billcore.rating import selectors
from billcore.rating.models import (
    UNITS_OF_BASE,
    AccessCode,
    AccountProduct,
    BaseUnit,
    Destination,
    DestinationGroup,
    OffpeakPeriod,
    OverrideTariff,
    Product,
    ProductKind,
    RatingBase,
    RatingEntry,
    Service,
    Tariff,
)
from billcore.rating.rates import (
    RateFileError,
    RateImportResult,
    RateReject,
    as_prefix,
    create_rate,
    delete_rate,
    export_rates,
    import_rates,
    update_rate,
)
from billcore.subscribers.services import get_account
from billcore.validation import as_choice, as_int, as_money, as_str, reject_unknown

__all__ = [
    "RateFileError",
    "RateImportResult",
    "RateReject",
    "create_rate",
    "delete_rate",
    "export_rates",
    "import_rates",
    "update_rate",
]

M = TypeVar("M", bound=models.Model)
ZERO = Decimal(0)
SURCHARGE_MAX = Decimal(1000)  # percent
SECONDS_MAX = 86_400
EXPRESSION_MAX = 2000
CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _admin_only(actor: Actor, what: str) -> None:
    if not is_admin(require_user(actor)):
        raise NotAllowed(
            f"{what} belong to the installation: only an administrator changes them",
            field="id",
            code="admin_only",
        )


def _name(model: type[NameKeyed], obj: NameKeyed, value: Any, label: str) -> None:
    name = as_str("name", value, max_length=100, required=True)
    if name_taken(model, name, exclude=obj.pk):
        raise ValidationFailed(
            f"name: a {label} named {name!r} already exists (names are unique regardless of "
            "letter case)",
            field="name",
            code="duplicate",
        )
    obj.name = name


def _save(obj: M, label: str, field: str = "name") -> M:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(
            f"{field}: this {label} already exists", field=field, code="duplicate"
        ) from exc
    return obj


def _created(actor: Actor, now: dt.datetime, obj: M) -> M:
    record(actor=actor, now=now, operation="create", obj=obj, before=None, after=snapshot(obj))
    return obj


def _updated(actor: Actor, now: dt.datetime, obj: M, before: dict[str, Any]) -> M:
    record(actor=actor, now=now, operation="update", obj=obj, before=before, after=snapshot(obj))
    return obj


def _deleted(actor: Actor, now: dt.datetime, obj: models.Model) -> None:
    before = snapshot(obj)
    pk = obj.pk
    try:
        with transaction.atomic():
            obj.delete()
    except models.ProtectedError as exc:
        raise ValidationFailed(
            f"{obj._meta.verbose_name} {pk} is in use and cannot be deleted",
            field="id",
            code="in_use",
        ) from exc
    obj.pk = pk
    record(actor=actor, now=now, operation="delete", obj=obj, before=before, after=None)


def _description(obj: Any, data: Mapping[str, Any]) -> None:
    if "description" in data:
        obj.description = as_str(
            "description", data["description"], max_length=500, single_line=False
        )


def _in_use(field: str, what: str) -> ValidationFailed:
    return ValidationFailed(f"{field} cannot change while {what}", field=field, code="in_use")


# --------------------------------------------------------------------------------------------
# Services

SERVICE_FIELDS = ("code", "name", "rating_base", "base_unit", "description")


def _apply_service(service: Service, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), SERVICE_FIELDS)
    if "code" in data or not service.pk:
        code = as_str("code", data.get("code"), max_length=32, required=True)
        if not CODE_RE.fullmatch(code):
            raise ValidationFailed(
                "code: lower-case letters, digits, - and _ (up to 32), starting with a letter "
                "or digit",
                field="code",
            )
        if Service.objects.filter(code=code).exclude(pk=service.pk).exists():
            raise ValidationFailed(
                f"code: a service with code {code!r} already exists",
                field="code",
                code="duplicate",
            )
        if service.pk and code != service.code and service.tariffs.exists():
            raise _in_use("code", "tariffs use this service")
        service.code = code
    if "name" in data or not service.pk:
        _name(Service, service, data.get("name"), "service")
    if "rating_base" in data or not service.pk:
        base = as_choice("rating_base", data.get("rating_base"), RatingBase.values)
        if service.pk and base != service.rating_base and service.tariffs.exists():
            raise _in_use("rating_base", "tariffs use this service")
        service.rating_base = base
    allowed = UNITS_OF_BASE[service.rating_base]
    if data.get("base_unit") not in (None, ""):
        unit = as_choice("base_unit", data["base_unit"], BaseUnit.values)
        if unit not in allowed:
            raise ValidationFailed(
                f"base_unit: a {service.rating_base} service is rated in "
                f"{', '.join(allowed)}; got {unit!r}",
                field="base_unit",
            )
        if service.pk and unit != service.base_unit and service.tariffs.exists():
            raise _in_use("base_unit", "tariffs use this service")
        service.base_unit = unit
    elif service.base_unit not in allowed:
        service.base_unit = allowed[0]
    _description(service, data)


def _standard(service: Service) -> None:
    if service.standard:
        raise NotAllowed(
            f"service {service.code!r} is a standard service and read-only",
            field="id",
            code="read_only",
        )


@transaction.atomic
def create_service(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> Service:
    _admin_only(actor, "services")
    service = Service(created_at=now, updated_at=now)
    _apply_service(service, data)
    return _created(actor, now, _save(service, "service"))


@transaction.atomic
def update_service(
    *, actor: Actor, now: dt.datetime, service_id: Any, changes: Mapping[str, Any]
) -> Service:
    service = selectors.get_service(actor=actor, service_id=service_id)
    _admin_only(actor, "services")
    _standard(service)
    before = snapshot(service)
    _apply_service(service, changes)
    service.updated_at = now
    return _updated(actor, now, _save(service, "service"), before)


@transaction.atomic
def delete_service(*, actor: Actor, now: dt.datetime, service_id: Any) -> None:
    service = selectors.get_service(actor=actor, service_id=service_id)
    _admin_only(actor, "services")
    _standard(service)
    _deleted(actor, now, service)


# --------------------------------------------------------------------------------------------
# Destinations and destination groups

DESTINATION_FIELDS = ("prefix", "country", "description")


def _apply_destination(destination: Destination, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), DESTINATION_FIELDS)
    if "prefix" in data or not destination.pk:
        prefix = as_prefix("prefix", data.get("prefix"))
        if Destination.objects.filter(prefix=prefix).exclude(pk=destination.pk).exists():
            raise ValidationFailed(
                f"prefix: destination {prefix} already exists", field="prefix", code="duplicate"
            )
        destination.prefix = prefix
    if "country" in data:
        country = as_str("country", data["country"], max_length=2).upper()
        if country and not is_country_code(country):
            raise ValidationFailed(
                f"country: {country!r} is not an ISO 3166-1 alpha-2 code", field="country"
            )
        destination.country = country
    _description(destination, data)


@transaction.atomic
def create_destination(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> Destination:
    _admin_only(actor, "destinations")
    destination = Destination(created_at=now, updated_at=now)
    _apply_destination(destination, data)
    return _created(actor, now, _save(destination, "destination", "prefix"))


@transaction.atomic
def update_destination(
    *, actor: Actor, now: dt.datetime, destination_id: Any, changes: Mapping[str, Any]
) -> Destination:
    destination = selectors.get_destination(actor=actor, destination_id=destination_id)
    _admin_only(actor, "destinations")
    before = snapshot(destination)
    _apply_destination(destination, changes)
    destination.updated_at = now
    return _updated(actor, now, _save(destination, "destination", "prefix"), before)


@transaction.atomic
def delete_destination(*, actor: Actor, now: dt.datetime, destination_id: Any) -> None:
    destination = selectors.get_destination(actor=actor, destination_id=destination_id)
    _admin_only(actor, "destinations")
    _deleted(actor, now, destination)


GROUP_FIELDS = ("name", "description", "prefixes")


def _group_prefixes(data: Mapping[str, Any]) -> list[int] | None:
    if "prefixes" not in data:
        return None
    given = data["prefixes"] or []
    if not isinstance(given, list | tuple):
        raise ValidationFailed("prefixes must be a list of prefixes", field="prefixes")
    prefixes = [as_prefix("prefixes", p) for p in given]
    found = dict(Destination.objects.filter(prefix__in=prefixes).values_list("prefix", "pk"))
    for prefix in prefixes:
        if prefix not in found:
            raise ValidationFailed(
                f"prefixes: no destination {prefix} (add it under destinations first)",
                field="prefixes",
                code="not_found",
            )
    return sorted(set(found.values()))


@transaction.atomic
def create_destination_group(
    *, actor: Actor, now: dt.datetime, data: Mapping[str, Any]
) -> DestinationGroup:
    _admin_only(actor, "destination groups")
    reject_unknown(dict(data), GROUP_FIELDS)
    group = DestinationGroup(created_at=now, updated_at=now)
    _name(DestinationGroup, group, data.get("name"), "destination group")
    _description(group, data)
    ids = _group_prefixes(data)
    _save(group, "destination group")
    if ids is not None:
        group.destinations.set(ids)
    return _created(actor, now, group)


@transaction.atomic
def update_destination_group(
    *, actor: Actor, now: dt.datetime, group_id: Any, changes: Mapping[str, Any]
) -> DestinationGroup:
    group = selectors.get_destination_group(actor=actor, group_id=group_id)
    _admin_only(actor, "destination groups")
    reject_unknown(dict(changes), GROUP_FIELDS)
    before = snapshot(group)
    if "name" in changes:
        _name(DestinationGroup, group, changes["name"], "destination group")
    _description(group, changes)
    ids = _group_prefixes(changes)
    group.updated_at = now
    _save(group, "destination group")
    if ids is not None:
        group.destinations.set(ids)
    return _updated(actor, now, group, before)


@transaction.atomic
def delete_destination_group(*, actor: Actor, now: dt.datetime, group_id: Any) -> None:
    group = selectors.get_destination_group(actor=actor, group_id=group_id)
    _admin_only(actor, "destination groups")
    _deleted(actor, now, group)


# --------------------------------------------------------------------------------------------
# Off-peak periods

OFFPEAK_FIELDS = ("name", "expression", "description")


def _apply_offpeak(period: OffpeakPeriod, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), OFFPEAK_FIELDS)
    if "name" in data or not period.pk:
        _name(OffpeakPeriod, period, data.get("name"), "off-peak period")
    if "expression" in data or not period.pk:
        expression = as_str(
            "expression", data.get("expression"), max_length=EXPRESSION_MAX, required=True
        )
        try:
            parse_offpeak(expression)  # §1.3: rejected here, never at rating time
        except OffpeakSyntaxError as exc:
            raise ValidationFailed(
                f"expression: position {exc.position}: {exc.reason}",
                field="expression",
                code="invalid",
            ) from None
        period.expression = expression
    _description(period, data)


@transaction.atomic
def create_offpeak_period(
    *, actor: Actor, now: dt.datetime, data: Mapping[str, Any]
) -> OffpeakPeriod:
    _admin_only(actor, "off-peak periods")
    period = OffpeakPeriod(created_at=now, updated_at=now)
    _apply_offpeak(period, data)
    return _created(actor, now, _save(period, "off-peak period"))


@transaction.atomic
def update_offpeak_period(
    *, actor: Actor, now: dt.datetime, period_id: Any, changes: Mapping[str, Any]
) -> OffpeakPeriod:
    period = selectors.get_offpeak_period(actor=actor, period_id=period_id)
    _admin_only(actor, "off-peak periods")
    before = snapshot(period)
    _apply_offpeak(period, changes)
    period.updated_at = now
    return _updated(actor, now, _save(period, "off-peak period"), before)


@transaction.atomic
def delete_offpeak_period(*, actor: Actor, now: dt.datetime, period_id: Any) -> None:
    period = selectors.get_offpeak_period(actor=actor, period_id=period_id)
    _admin_only(actor, "off-peak periods")
    _deleted(actor, now, period)


# --------------------------------------------------------------------------------------------
# Owners (tariffs, products)


def _owner(actor: Actor, value: Any, *, in_use: Callable[[], bool], current: int | None) -> Any:
    """The ``managed_by`` a tariff or product gets: a reseller's user always its own
    reseller; an administrator None or an existing reseller."""
    me = require_user(actor)
    if not is_admin(me):
        if value not in (None, "", me.reseller_id, str(me.reseller_id)):
            raise ValidationFailed(
                "managed_by: a reseller's user manages only its own reseller's objects",
                field="managed_by",
                code="not_found",
            )
        return me.reseller_id
    reseller_id = None
    if value not in (None, ""):
        reseller_id = existing_reseller(value, field="managed_by")
    if reseller_id != current and in_use():
        raise _in_use("managed_by", "it is in use")
    return reseller_id


# --------------------------------------------------------------------------------------------
# Tariffs

TARIFF_FIELDS = (
    "name",
    "currency",
    "service",
    "managed_by",
    "connection_fee",
    "free_seconds",
    "grace_period",
    "post_call_surcharge",
    "offpeak_period",
    "second_offpeak_period",
    "description",
)


def _tariff_in_use(tariff: Tariff) -> bool:
    if not tariff.pk:
        return False
    return bool(
        RatingEntry.objects.filter(
            models.Q(tariff=tariff) | models.Q(reseller_tariff=tariff)
        ).exists()
        or OverrideTariff.objects.filter(
            models.Q(master_tariff=tariff) | models.Q(override_tariff=tariff)
        ).exists()
    )


def _service_by_code(field: str, value: Any) -> Service:
    code = as_str(field, value, max_length=32, required=True)
    try:
        return Service.objects.get(code=code)
    except Service.DoesNotExist:
        raise ValidationFailed(
            f"{field}: no service with code {code!r}", field=field, code="not_found"
        ) from None


def _period(field: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    period_id = as_int(field, value, minimum=1)
    if not OffpeakPeriod.objects.filter(pk=period_id).exists():
        raise ValidationFailed(
            f"{field}: off-peak period {period_id} does not exist", field=field, code="not_found"
        )
    return period_id


def _apply_tariff(actor: Actor, tariff: Tariff, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), TARIFF_FIELDS)
    if "name" in data or not tariff.pk:
        _name(Tariff, tariff, data.get("name"), "tariff")
    if "currency" in data or not tariff.pk:
        code = get_currency_in_use(data.get("currency")).code
        if tariff.pk and code != tariff.currency_id:
            if _tariff_in_use(tariff):
                raise _in_use("currency", "products or override tariffs use this tariff")
            if tariff.rates.exists():
                raise _in_use("currency", "the tariff has rates (prices are in its currency)")
        tariff.currency_id = code
    if "service" in data or not tariff.pk:
        service = _service_by_code("service", data.get("service", "voice"))
        if tariff.pk and service.pk != tariff.service_id and _tariff_in_use(tariff):
            raise _in_use("service", "products or override tariffs use this tariff")
        tariff.service = service
    if "managed_by" in data or not tariff.pk:
        tariff.managed_by_id = _owner(
            actor,
            data.get("managed_by"),
            in_use=lambda: _tariff_in_use(tariff),
            current=tariff.managed_by_id,
        )
    if "connection_fee" in data:
        fee = as_money("connection_fee", data["connection_fee"], allow_none=False, minimum=ZERO)
        tariff.connection_fee = fee
    for name in ("free_seconds", "grace_period"):
        if name in data:
            setattr(tariff, name, as_int(name, data[name], minimum=0, maximum=SECONDS_MAX))
    if "post_call_surcharge" in data:
        surcharge = as_money(
            "post_call_surcharge", data["post_call_surcharge"], allow_none=False, minimum=ZERO
        )
        assert surcharge is not None
        if surcharge > SURCHARGE_MAX:
            raise ValidationFailed(
                f"post_call_surcharge must be at most {SURCHARGE_MAX} (percent)",
                field="post_call_surcharge",
            )
        tariff.post_call_surcharge = surcharge
    for name in ("offpeak_period", "second_offpeak_period"):
        if name in data:
            setattr(tariff, f"{name}_id", _period(name, data[name]))
    _description(tariff, data)


@transaction.atomic
def create_tariff(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> Tariff:
    """A tariff (name and currency required; service defaults to ``voice``)."""
    require_user(actor)
    tariff = Tariff(created_at=now, updated_at=now)
    _apply_tariff(actor, tariff, data)
    return _created(actor, now, _save(tariff, "tariff"))


@transaction.atomic
def update_tariff(
    *, actor: Actor, now: dt.datetime, tariff_id: Any, changes: Mapping[str, Any]
) -> Tariff:
    tariff = selectors.get_tariff(actor=actor, tariff_id=tariff_id)
    before = snapshot(tariff)
    _apply_tariff(actor, tariff, changes)
    tariff.updated_at = now
    return _updated(actor, now, _save(tariff, "tariff"), before)


@transaction.atomic
def delete_tariff(*, actor: Actor, now: dt.datetime, tariff_id: Any) -> None:
    """A tariff that no product or override uses; its rates go with it."""
    tariff = selectors.get_tariff(actor=actor, tariff_id=tariff_id)
    if _tariff_in_use(tariff):
        raise ValidationFailed(
            f"tariff {tariff.name!r} is used by a product or an override tariff and cannot be "
            "deleted",
            field="id",
            code="in_use",
        )
    _deleted(actor, now, tariff)


# --------------------------------------------------------------------------------------------
# Products and their rating entries

PRODUCT_FIELDS = ("name", "kind", "precedence", "currency", "managed_by", "description")


def _apply_product(actor: Actor, product: Product, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), PRODUCT_FIELDS)
    if "name" in data or not product.pk:
        _name(Product, product, data.get("name"), "product")
    assigned = product.pk is not None and product.assignments.exists()
    if "kind" in data:
        kind = as_choice("kind", data["kind"], ProductKind.values)
        if assigned and kind != product.kind:
            raise _in_use("kind", "accounts have this product")
        product.kind = kind
    if "precedence" in data:
        product.precedence = as_int("precedence", data["precedence"], minimum=0, maximum=32767)
    if "currency" in data or not product.pk:
        code = get_currency_in_use(data.get("currency")).code
        if product.pk and code != product.currency_id and product.entries.exists():
            raise _in_use("currency", "the product has rating entries (delete them first)")
        product.currency_id = code
    if "managed_by" in data or not product.pk:
        product.managed_by_id = _owner(
            actor,
            data.get("managed_by"),
            in_use=lambda: product.pk is not None
            and (product.assignments.exists() or product.entries.exists()),
            current=product.managed_by_id,
        )
    _description(product, data)


@transaction.atomic
def create_product(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> Product:
    require_user(actor)
    product = Product(created_at=now, updated_at=now)
    _apply_product(actor, product, data)
    return _created(actor, now, _save(product, "product"))


@transaction.atomic
def update_product(
    *, actor: Actor, now: dt.datetime, product_id: Any, changes: Mapping[str, Any]
) -> Product:
    product = selectors.get_product(actor=actor, product_id=product_id)
    before = snapshot(product)
    _apply_product(actor, product, changes)
    product.updated_at = now
    return _updated(actor, now, _save(product, "product"), before)


@transaction.atomic
def delete_product(*, actor: Actor, now: dt.datetime, product_id: Any) -> None:
    product = selectors.get_product(actor=actor, product_id=product_id)
    if product.assignments.exists():
        raise ValidationFailed(
            f"product {product.name!r} is given to accounts and cannot be deleted",
            field="id",
            code="in_use",
        )
    _deleted(actor, now, product)


ENTRY_FIELDS = ("service", "access_code", "tariff", "reseller_tariff")


def _entry_tariff(actor: Actor, product: Product, service: Service, value: Any) -> Tariff:
    tariff_id = as_int("tariff", value, minimum=1)
    try:
        tariff = selectors.get_tariff(actor=actor, tariff_id=tariff_id)
    except NotFound:
        raise ValidationFailed(
            f"tariff: tariff {tariff_id} does not exist", field="tariff", code="not_found"
        ) from None
    if tariff.managed_by_id != product.managed_by_id:
        raise ValidationFailed(
            "tariff: a product uses tariffs of its own owner (the administrator's or the same "
            "reseller's)",
            field="tariff",
            code="other_owner",
        )
    if tariff.currency_id != product.currency_id:
        raise ValidationFailed(
            f"tariff: tariff {tariff.name!r} is in {tariff.currency_id}, the product in "
            f"{product.currency_id}",
            field="tariff",
            code="currency_mismatch",
        )
    if tariff.service_id != service.pk:
        raise ValidationFailed(
            f"tariff: tariff {tariff.name!r} prices {tariff.service.code}, the entry is for "
            f"{service.code}",
            field="tariff",
            code="service_mismatch",
        )
    return tariff


def _reseller_tariff(actor: Actor, product: Product, service: Service, value: Any) -> int | None:
    if value in (None, ""):
        return None
    if not is_admin(require_user(actor)):
        raise NotAllowed(
            "reseller_tariff: the wholesale tariff is set by an administrator",
            field="reseller_tariff",
        )
    if product.managed_by_id is None:
        raise ValidationFailed(
            "reseller_tariff: only a reseller's product has a reseller tariff",
            field="reseller_tariff",
        )
    tariff_id = as_int("reseller_tariff", value, minimum=1)
    tariff = Tariff.objects.filter(pk=tariff_id, managed_by__isnull=True).first()
    if tariff is None:
        raise ValidationFailed(
            f"reseller_tariff: administrator's tariff {tariff_id} does not exist",
            field="reseller_tariff",
            code="not_found",
        )
    reseller_currency = Customer.objects.filter(pk=product.managed_by_id).values_list(
        "currency_id", flat=True
    )[0]
    if tariff.currency_id != reseller_currency:
        raise ValidationFailed(
            f"reseller_tariff: tariff {tariff.name!r} is in {tariff.currency_id}, the reseller "
            f"in {reseller_currency}",
            field="reseller_tariff",
            code="currency_mismatch",
        )
    if tariff.service_id != service.pk:
        raise ValidationFailed(
            f"reseller_tariff: tariff {tariff.name!r} prices another service",
            field="reseller_tariff",
            code="service_mismatch",
        )
    return tariff.pk


def _apply_entry(
    actor: Actor, product: Product, entry: RatingEntry, data: Mapping[str, Any]
) -> None:
    reject_unknown(dict(data), ENTRY_FIELDS)
    if "service" in data or not entry.pk:
        entry.service = _service_by_code("service", data.get("service"))
    if "access_code" in data:
        code = data["access_code"] or ""
        entry.access_code = as_choice(
            "access_code", code.upper() if isinstance(code, str) else code, AccessCode.values
        )
    clash = RatingEntry.objects.filter(
        product=product, service=entry.service, access_code=entry.access_code
    ).exclude(pk=entry.pk)
    if clash.exists():
        raise ValidationFailed(
            f"access_code: the product already has an entry for {entry.service.code} with "
            f"access code {entry.access_code or '(empty)'!r}",
            field="access_code",
            code="duplicate",
        )
    if "tariff" in data or not entry.pk or "service" in data:
        tariff_value = data.get("tariff", entry.tariff_id if entry.pk else None)
        if tariff_value in (None, ""):
            raise ValidationFailed("tariff is required", field="tariff", code="required")
        entry.tariff = _entry_tariff(actor, product, entry.service, tariff_value)
    if "reseller_tariff" in data:
        entry.reseller_tariff_id = _reseller_tariff(
            actor, product, entry.service, data["reseller_tariff"]
        )
    elif "service" in data and entry.reseller_tariff_id is not None:
        entry.reseller_tariff_id = _reseller_tariff(
            actor, product, entry.service, entry.reseller_tariff_id
        )


@transaction.atomic
def create_entry(
    *, actor: Actor, now: dt.datetime, product_id: Any, data: Mapping[str, Any]
) -> RatingEntry:
    product = selectors.get_product(actor=actor, product_id=product_id)
    entry = RatingEntry(product=product, created_at=now, updated_at=now)
    _apply_entry(actor, product, entry, data)
    return _created(actor, now, _save(entry, "rating entry", "access_code"))


@transaction.atomic
def update_entry(
    *,
    actor: Actor,
    now: dt.datetime,
    product_id: Any,
    entry_id: Any,
    changes: Mapping[str, Any],
) -> RatingEntry:
    entry = selectors.get_entry(actor=actor, product_id=product_id, entry_id=entry_id)
    before = snapshot(entry)
    _apply_entry(actor, entry.product, entry, changes)
    entry.updated_at = now
    return _updated(actor, now, _save(entry, "rating entry", "access_code"), before)


@transaction.atomic
def delete_entry(*, actor: Actor, now: dt.datetime, product_id: Any, entry_id: Any) -> None:
    entry = selectors.get_entry(actor=actor, product_id=product_id, entry_id=entry_id)
    _deleted(actor, now, entry)


# --------------------------------------------------------------------------------------------
# An account's products


def _assignable(actor: Actor, field: str, product_id: Any, customer: Customer) -> Product:
    pk = as_int(field, product_id, minimum=1)
    try:
        product = selectors.get_product(actor=actor, product_id=pk)
    except NotFound:
        raise ValidationFailed(
            f"{field}: product {pk} does not exist", field=field, code="not_found"
        ) from None
    if product.managed_by_id != customer.reseller_id:
        raise ValidationFailed(
            f"{field}: product {product.name!r} is not one of the customer's owner's products",
            field=field,
            code="other_owner",
        )
    if product.currency_id != customer.currency_id:
        raise ValidationFailed(
            f"{field}: product {product.name!r} is in {product.currency_id}, the account's "
            f"customer in {customer.currency_id}",
            field=field,
            code="currency_mismatch",
        )
    if not product.entries.exists():
        raise ValidationFailed(
            f"{field}: product {product.name!r} has no rating entries yet (work in progress) "
            "and cannot be given to an account",
            field=field,
            code="no_rating_entries",
        )
    return product


@transaction.atomic
def set_account_products(
    *,
    actor: Actor,
    now: dt.datetime,
    account_id: Any,
    product: Any,
    addons: list[Any],
) -> list[AccountProduct]:
    """Give the account its main ``product`` (None: none) and exactly these ``addons``."""
    account = get_account(actor=actor, account_id=account_id)
    customer = account.customer
    main = None
    if product not in (None, ""):
        main = _assignable(actor, "product", product, customer)
        if main.kind != ProductKind.MAIN:
            raise ValidationFailed(
                f"product: {main.name!r} is an add-on; the main product must be a main one",
                field="product",
                code="not_main",
            )
    if not isinstance(addons, list | tuple):
        raise ValidationFailed("addons must be a list of product ids", field="addons")
    extra: dict[int, Product] = {}
    for value in addons:
        addon = _assignable(actor, "addons", value, customer)
        if addon.kind != ProductKind.ADDON:
            raise ValidationFailed(
                f"addons: {addon.name!r} is a main product, not an add-on",
                field="addons",
                code="not_addon",
            )
        extra[addon.pk] = addon
    rows = AccountProduct.objects.filter(account=account)
    before = {
        "product": next((r.product_id for r in rows if r.is_main), None),
        "addons": sorted(r.product_id for r in rows if not r.is_main),
    }
    rows.delete()
    wanted = []
    if main is not None:
        wanted.append(AccountProduct(account=account, product=main, is_main=True, created_at=now))
    wanted += [
        AccountProduct(account=account, product=p, is_main=False, created_at=now)
        for p in extra.values()
    ]
    AccountProduct.objects.bulk_create(wanted)
    after = {"product": main.pk if main else None, "addons": sorted(extra)}
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=account,
        object_type="account products",
        before=before,
        after=after,
    )
    return wanted


# --------------------------------------------------------------------------------------------
# Override tariffs

OVERRIDE_FIELDS = ("master_tariff", "override_tariff")


def _owned_tariff(actor: Actor, field: str, value: Any, customer: Customer) -> Tariff:
    pk = as_int(field, value, minimum=1)
    try:
        tariff = selectors.get_tariff(actor=actor, tariff_id=pk)
    except NotFound:
        raise ValidationFailed(
            f"{field}: tariff {pk} does not exist", field=field, code="not_found"
        ) from None
    if tariff.managed_by_id != customer.reseller_id:
        raise ValidationFailed(
            f"{field}: tariff {tariff.name!r} is not one of the customer's owner's tariffs",
            field=field,
            code="other_owner",
        )
    return tariff


def _apply_override(
    actor: Actor, override: OverrideTariff, customer: Customer, data: Mapping[str, Any]
) -> None:
    reject_unknown(dict(data), OVERRIDE_FIELDS)
    if "master_tariff" in data or not override.pk:
        if data.get("master_tariff") in (None, ""):
            raise ValidationFailed(
                "master_tariff is required", field="master_tariff", code="required"
            )
        master = _owned_tariff(actor, "master_tariff", data["master_tariff"], customer)
        clash = OverrideTariff.objects.filter(customer=customer, master_tariff=master).exclude(
            pk=override.pk
        )
        if clash.exists():
            raise ValidationFailed(
                f"master_tariff: the customer already overrides tariff {master.name!r}",
                field="master_tariff",
                code="duplicate",
            )
        override.master_tariff = master
    if "override_tariff" in data or not override.pk:
        if data.get("override_tariff") in (None, ""):
            raise ValidationFailed(
                "override_tariff is required", field="override_tariff", code="required"
            )
        override.override_tariff = _owned_tariff(
            actor, "override_tariff", data["override_tariff"], customer
        )
    master, other = override.master_tariff, override.override_tariff
    if other.pk == master.pk:
        raise ValidationFailed(
            "override_tariff must differ from the master tariff", field="override_tariff"
        )
    if other.currency_id != customer.currency_id:
        raise ValidationFailed(
            f"override_tariff: tariff {other.name!r} is in {other.currency_id}, the customer "
            f"in {customer.currency_id}",
            field="override_tariff",
            code="currency_mismatch",
        )
    if other.service_id != master.service_id:
        raise ValidationFailed(
            "override_tariff: the override prices another service than the master tariff",
            field="override_tariff",
            code="service_mismatch",
        )


@transaction.atomic
def create_override(
    *, actor: Actor, now: dt.datetime, customer_id: Any, data: Mapping[str, Any]
) -> OverrideTariff:
    customer = get_customer(actor=actor, customer_id=customer_id)
    override = OverrideTariff(customer=customer, created_at=now, updated_at=now)
    _apply_override(actor, override, customer, data)
    return _created(actor, now, _save(override, "override tariff", "master_tariff"))


@transaction.atomic
def update_override(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: Any,
    override_id: Any,
    changes: Mapping[str, Any],
) -> OverrideTariff:
    override = selectors.get_override(actor=actor, customer_id=customer_id, override_id=override_id)
    before = snapshot(override)
    _apply_override(actor, override, override.customer, changes)
    override.updated_at = now
    return _updated(actor, now, _save(override, "override tariff", "master_tariff"), before)


@transaction.atomic
def delete_override(*, actor: Actor, now: dt.datetime, customer_id: Any, override_id: Any) -> None:
    override = selectors.get_override(actor=actor, customer_id=customer_id, override_id=override_id)
    _deleted(actor, now, override)

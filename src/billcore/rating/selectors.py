"""Reads of the rating catalogue, already scoped to what the actor may see.

* Services, destinations, destination groups and off-peak periods are the installation's:
  every signed-in user reads them; only administrators change them (``rating.services``).
* Tariffs and products belong to the administrator (``managed_by`` empty) or to one reseller:
  administrators see all of them, a reseller's user only its reseller's own (another's is a
  404, as for customer classes).
* Override tariffs and an account's products are seen through their customer / account.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Length

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound
from billcore.rating.models import (
    AccountProduct,
    Destination,
    DestinationGroup,
    OffpeakPeriod,
    OverrideTariff,
    Product,
    Rate,
    RatingEntry,
    Service,
    Tariff,
)
from billcore.subscribers.models import Account
from billcore.subscribers.services import get_account


def _get(qs: QuerySet[Any], pk: Any, what: str) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (qs.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"{what} {pk} not found", field="id") from None


# --------------------------------------------------------------------------------------------
# The installation's catalogue


def list_services(*, actor: Actor, search: str = "") -> QuerySet[Service]:
    require_user(actor)
    qs = Service.objects.all()
    if search:
        qs = qs.filter(Q(code__icontains=search) | Q(name__icontains=search))
    return qs.order_by("code", "id")


def get_service(*, actor: Actor, service_id: Any) -> Service:
    require_user(actor)
    service: Service = _get(Service.objects.all(), service_id, "service")
    return service


def list_destinations(
    *, actor: Actor, prefix: str = "", country: str = "", search: str = ""
) -> QuerySet[Destination]:
    require_user(actor)
    qs = Destination.objects.all()
    if prefix:
        qs = qs.filter(prefix__startswith=prefix)
    if country:
        qs = qs.filter(country=country.upper())
    if search:
        qs = qs.filter(description__icontains=search)
    return qs.order_by("prefix", "id")


def get_destination(*, actor: Actor, destination_id: Any) -> Destination:
    require_user(actor)
    destination: Destination = _get(Destination.objects.all(), destination_id, "destination")
    return destination


def list_destination_groups(*, actor: Actor, search: str = "") -> QuerySet[DestinationGroup]:
    require_user(actor)
    qs = DestinationGroup.objects.prefetch_related("destinations")
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return qs.order_by("name", "id")


def get_destination_group(*, actor: Actor, group_id: Any) -> DestinationGroup:
    require_user(actor)
    group: DestinationGroup = _get(
        DestinationGroup.objects.prefetch_related("destinations"), group_id, "destination group"
    )
    return group


def list_offpeak_periods(*, actor: Actor, search: str = "") -> QuerySet[OffpeakPeriod]:
    require_user(actor)
    qs = OffpeakPeriod.objects.all()
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return qs.order_by("name", "id")


def get_offpeak_period(*, actor: Actor, period_id: Any) -> OffpeakPeriod:
    require_user(actor)
    period: OffpeakPeriod = _get(OffpeakPeriod.objects.all(), period_id, "off-peak period")
    return period


# --------------------------------------------------------------------------------------------
# Tariffs and rates


def visible_tariffs(*, actor: Actor) -> QuerySet[Tariff]:
    """Administrators see every tariff; a reseller's user only the reseller's own."""
    me = require_user(actor)
    qs = Tariff.objects.select_related("service", "currency")
    if is_admin(me):
        return qs
    return qs.filter(managed_by_id=me.reseller_id)


def get_tariff(*, actor: Actor, tariff_id: Any) -> Tariff:
    tariff: Tariff = _get(visible_tariffs(actor=actor), tariff_id, "tariff")
    return tariff


def list_tariffs(
    *,
    actor: Actor,
    search: str = "",
    currency: str | None = None,
    service: str | None = None,
    managed_by: int | None = None,
) -> QuerySet[Tariff]:
    qs = visible_tariffs(actor=actor)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if currency:
        qs = qs.filter(currency_id=currency)
    if service:
        qs = qs.filter(service__code=service)
    if managed_by is not None:
        qs = qs.filter(managed_by_id=managed_by)
    return qs.order_by("name", "id")


def number_prefixes(number: str) -> list[str]:
    """Every prefix a rate may have to match ``number``, longest first, then ``|``."""
    digits = "".join(ch for ch in number if ch.isdigit())[:32]
    return [digits[:n] for n in range(len(digits), 0, -1)] + ["|"]


def list_rates(
    *,
    actor: Actor,
    tariff_id: Any,
    prefix: str = "",
    number: str = "",
    at: dt.datetime | None = None,
    include_discontinued: bool = True,
) -> QuerySet[Rate]:
    """The rates of a tariff: ``prefix`` (those starting with it), ``number`` (those whose
    prefix matches the number, longest first: the rate search "by number"), ``at`` (only the
    version of each prefix in force at that instant)."""
    tariff = get_tariff(actor=actor, tariff_id=tariff_id)
    qs = Rate.objects.filter(tariff=tariff)
    if prefix:
        qs = qs.filter(prefix__startswith=prefix)
    if number:
        qs = qs.filter(prefix__in=number_prefixes(number))
    if at is not None:
        latest = (
            Rate.objects.filter(
                tariff_id=OuterRef("tariff_id"),
                prefix=OuterRef("prefix"),
                effective_from__lte=at,
            )
            .order_by("-effective_from")
            .values("effective_from")[:1]
        )
        qs = qs.filter(effective_from=Subquery(latest))
    if not include_discontinued:
        qs = qs.filter(discontinued=False)
    if number:
        return qs.order_by(Length("prefix").desc(), "-effective_from", "id")
    return qs.order_by("prefix", "effective_from", "id")


def get_rate(*, actor: Actor, rate_id: Any) -> Rate:
    qs = Rate.objects.select_related("tariff").filter(
        tariff__in=visible_tariffs(actor=actor).values("pk")
    )
    rate: Rate = _get(qs, rate_id, "rate")
    return rate


# --------------------------------------------------------------------------------------------
# Products


def visible_products(*, actor: Actor) -> QuerySet[Product]:
    me = require_user(actor)
    qs = Product.objects.select_related("currency")
    if is_admin(me):
        return qs
    return qs.filter(managed_by_id=me.reseller_id)


def get_product(*, actor: Actor, product_id: Any) -> Product:
    product: Product = _get(
        visible_products(actor=actor).prefetch_related("entries__service"), product_id, "product"
    )
    return product


def list_products(
    *,
    actor: Actor,
    search: str = "",
    currency: str | None = None,
    kind: str | None = None,
    managed_by: int | None = None,
) -> QuerySet[Product]:
    qs = visible_products(actor=actor).prefetch_related("entries__service")
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if currency:
        qs = qs.filter(currency_id=currency)
    if kind:
        qs = qs.filter(kind=kind)
    if managed_by is not None:
        qs = qs.filter(managed_by_id=managed_by)
    return qs.order_by("name", "id")


def get_entry(*, actor: Actor, product_id: Any, entry_id: Any) -> RatingEntry:
    product = get_product(actor=actor, product_id=product_id)
    entry: RatingEntry = _get(
        RatingEntry.objects.select_related("service").filter(product=product),
        entry_id,
        "rating entry",
    )
    return entry


def account_products(*, actor: Actor, account_id: Any) -> tuple[Account, list[AccountProduct]]:
    """The account (as the actor may see it) and its products, the main one first, then the
    add-ons by precedence (highest first)."""
    account = get_account(actor=actor, account_id=account_id)
    rows = list(
        AccountProduct.objects.filter(account=account)
        .select_related("product")
        .order_by("-is_main", "-product__precedence", "product__name", "id")
    )
    return account, rows


# --------------------------------------------------------------------------------------------
# Override tariffs


def customer_overrides(*, actor: Actor, customer_id: Any) -> QuerySet[OverrideTariff]:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return OverrideTariff.objects.filter(customer=customer).order_by("master_tariff_id", "id")


def get_override(*, actor: Actor, customer_id: Any, override_id: Any) -> OverrideTariff:
    override: OverrideTariff = _get(
        customer_overrides(actor=actor, customer_id=customer_id), override_id, "override tariff"
    )
    return override

"""The rating catalogue pages (issue 12 §1): services, destinations, destination groups,
off-peak periods, tariffs (with their rates: search by prefix or by number, add, edit, CSV
upload and download) and products (with their rating table), and the customer page's
Override Tariffs tab (CU-13).

Same rule as ``base``: parse what was posted, call ``rating.services`` / ``rating.rates``
with ``actor=request.user`` and the time, show what came back. The installation's objects
(services, destinations, groups, off-peak periods) are shown to every user and changed by
administrators only: a reseller's user sees them read-only (and a post gets the service's
403). Tariffs and products are the administrator's or one reseller's: another reseller's is
the 404 page (the selectors scope them).
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billcore.accounts.access import Actor, is_admin
from billcore.charging.rerating import rerate
from billcore.core.rating import RatingError, choose_in_rows
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound
from billcore.installation.models import Currency
from billcore.rating import selectors, services
from billcore.rating.models import (
    BaseUnit,
    OverrideTariff,
    Product,
    ProductKind,
    Rate,
    RatingBase,
    RatingEntry,
    Service,
    Tariff,
)
from billcore.rating.rates import COLUMNS, RateImportResult
from billcore.web import base, confirm, exports
from billcore.web.base import fail, local_time, page, paginate, query, reseller_choices
from billcore.web.customer_page import customer_page, customer_tab
from billcore.web.forms import clerk_text, input_amount
from billcore.web.forms_rating import (
    DestinationForm,
    DestinationGroupForm,
    EntryForm,
    OffpeakForm,
    OverrideForm,
    ProductForm,
    RateForm,
    RateUploadForm,
    RatingForm,
    ServiceForm,
    TariffForm,
)

UTC = dt.UTC
MINUTE = "%Y-%m-%dT%H:%M"


# --------------------------------------------------------------------------- choices


def _currencies() -> list[tuple[str, str]]:
    return [(c.code, c.code) for c in Currency.objects.order_by("code")]


def _services() -> list[tuple[str, str]]:
    return [(s.code, f"{s.name} ({s.code})") for s in Service.objects.order_by("code")]


def _periods(actor: Actor) -> list[tuple[int, str]]:
    return list(selectors.list_offpeak_periods(actor=actor).values_list("pk", "name"))


def _resellers(actor: Actor) -> list[tuple[Any, str]] | None:
    return reseller_choices(actor) if is_admin(actor) else None


def _owner(obj: Tariff | Product) -> str:
    return obj.managed_by.name if obj.managed_by is not None else "Administrator"


def _flag(value: bool) -> str:
    return "Yes" if value else "No"


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Kind:
    """One kind of catalogue object: how its list, form and services are reached."""

    slug: str
    title: str  # "Services"
    one: str  # "service"
    subtitle: str
    columns: tuple[str, ...]
    cells: Callable[[Any], list[str]]
    listing: Callable[[Actor, str], Any]
    get: Callable[[Actor, Any], Any]
    create: Callable[[Actor, dt.datetime, dict[str, Any]], Any]
    update: Callable[[Actor, dt.datetime, Any, dict[str, Any]], Any]
    delete: Callable[[Actor, dt.datetime, Any], None]
    form: Callable[[Actor, Any, Any], RatingForm]
    installation: bool = False
    details: Callable[..., dict[str, Any]] | None = None
    extra_template: str = ""

    def label(self, obj: Any) -> str:
        return str(getattr(obj, "name", None) or obj)

    def writable(self, actor: Actor, obj: Any) -> bool:
        if self.installation and not is_admin(actor):
            return False
        return not (isinstance(obj, Service) and obj.standard)


def _service_initial(s: Service) -> dict[str, Any]:
    return {
        "code": s.code,
        "name": s.name,
        "rating_base": s.rating_base,
        "base_unit": s.base_unit,
        "description": s.description,
    }


def _tariff_initial(t: Tariff) -> dict[str, Any]:
    return {
        "name": t.name,
        "currency": t.currency_id,
        "service": t.service.code,
        "managed_by": t.managed_by_id or "",
        "connection_fee": input_amount(t.connection_fee),
        "free_seconds": t.free_seconds,
        "grace_period": t.grace_period,
        "post_call_surcharge": input_amount(t.post_call_surcharge),
        "offpeak_period": t.offpeak_period_id or "",
        "second_offpeak_period": t.second_offpeak_period_id or "",
        "description": t.description,
    }


def _product_initial(p: Product) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind,
        "precedence": p.precedence,
        "currency": p.currency_id,
        "managed_by": p.managed_by_id or "",
        "description": p.description,
    }


def _simple(
    cls: type[RatingForm], initial: Callable[[Any], dict[str, Any]]
) -> Callable[[Actor, Any, Any], RatingForm]:
    def build(actor: Actor, data: Any, obj: Any) -> RatingForm:
        return cls(data, initial=initial(obj) if obj is not None else None)

    return build


def _tariff_form(actor: Actor, data: Any, obj: Tariff | None) -> RatingForm:
    return TariffForm(
        data,
        initial=_tariff_initial(obj) if obj is not None else None,
        currencies=_currencies(),
        services=_services(),
        periods=_periods(actor),
        resellers=_resellers(actor),
    )


def _product_form(actor: Actor, data: Any, obj: Product | None) -> RatingForm:
    return ProductForm(
        data,
        initial=_product_initial(obj) if obj is not None else None,
        currencies=_currencies(),
        resellers=_resellers(actor),
    )


def _service_cells(s: Service) -> list[str]:
    unit = BaseUnit(s.base_unit).label
    return [s.code, RatingBase(s.rating_base).label, unit, "Standard" if s.standard else "Own"]


KINDS: dict[str, Kind] = {}


def _register(kind: Kind) -> Kind:
    KINDS[kind.slug] = kind
    return kind


_register(
    Kind(
        slug="services",
        title="Services",
        one="service",
        subtitle="What usage is rated as, and the unit it is rounded up to. The four standard "
        "services are read-only.",
        columns=("Code", "Rating base", "Base unit", "Kind"),
        cells=_service_cells,
        listing=lambda actor, q: selectors.list_services(actor=actor, search=q),
        get=lambda actor, pk: selectors.get_service(actor=actor, service_id=pk),
        create=lambda a, n, d: services.create_service(actor=a, now=n, data=d),
        update=lambda a, n, pk, c: services.update_service(
            actor=a, now=n, service_id=pk, changes=c
        ),
        delete=lambda a, n, pk: services.delete_service(actor=a, now=n, service_id=pk),
        form=_simple(ServiceForm, _service_initial),
        installation=True,
    )
)
_register(
    Kind(
        slug="destinations",
        title="Destinations",
        one="destination",
        subtitle="Number prefixes rates are given for; | matches any number nothing longer "
        "matches.",
        columns=("Country", "Description"),
        cells=lambda d: [d.country or "—", d.description],
        listing=lambda actor, q: selectors.list_destinations(actor=actor, prefix=q)
        if q.isdigit() or q == "|"
        else selectors.list_destinations(actor=actor, search=q),
        get=lambda actor, pk: selectors.get_destination(actor=actor, destination_id=pk),
        create=lambda a, n, d: services.create_destination(actor=a, now=n, data=d),
        update=lambda a, n, pk, c: services.update_destination(
            actor=a, now=n, destination_id=pk, changes=c
        ),
        delete=lambda a, n, pk: services.delete_destination(actor=a, now=n, destination_id=pk),
        form=_simple(
            DestinationForm,
            lambda d: {"prefix": d.prefix, "country": d.country, "description": d.description},
        ),
        installation=True,
    )
)
_register(
    Kind(
        slug="destination-groups",
        title="Destination groups",
        one="destination group",
        subtitle="Named sets of destinations.",
        columns=("Destinations", "Description"),
        cells=lambda g: [" ".join(d.prefix for d in g.destinations.all()) or "—", g.description],
        listing=lambda actor, q: selectors.list_destination_groups(actor=actor, search=q),
        get=lambda actor, pk: selectors.get_destination_group(actor=actor, group_id=pk),
        create=lambda a, n, d: services.create_destination_group(actor=a, now=n, data=d),
        update=lambda a, n, pk, c: services.update_destination_group(
            actor=a, now=n, group_id=pk, changes=c
        ),
        delete=lambda a, n, pk: services.delete_destination_group(actor=a, now=n, group_id=pk),
        form=_simple(
            DestinationGroupForm,
            lambda g: {
                "name": g.name,
                "description": g.description,
                "prefixes": " ".join(d.prefix for d in g.destinations.all()),
            },
        ),
        installation=True,
    )
)
_register(
    Kind(
        slug="offpeak-periods",
        title="Off-peak periods",
        one="off-peak period",
        subtitle="When a tariff's off-peak prices apply, in the customer's billing time zone.",
        columns=("Period", "Description"),
        cells=lambda p: [p.expression, p.description],
        listing=lambda actor, q: selectors.list_offpeak_periods(actor=actor, search=q),
        get=lambda actor, pk: selectors.get_offpeak_period(actor=actor, period_id=pk),
        create=lambda a, n, d: services.create_offpeak_period(actor=a, now=n, data=d),
        update=lambda a, n, pk, c: services.update_offpeak_period(
            actor=a, now=n, period_id=pk, changes=c
        ),
        delete=lambda a, n, pk: services.delete_offpeak_period(actor=a, now=n, period_id=pk),
        form=_simple(
            OffpeakForm,
            lambda p: {"name": p.name, "expression": p.expression, "description": p.description},
        ),
        installation=True,
    )
)


def _tariff_cells(t: Tariff) -> list[str]:
    return [t.currency_id, t.service.code, input_amount(t.connection_fee), _owner(t)]


def _product_cells(p: Product) -> list[str]:
    entries = ", ".join(
        f"{e.service.code}{'/' + e.access_code if e.access_code else ''}" for e in p.entries.all()
    )
    return [ProductKind(p.kind).label, p.currency_id, entries or "—", _owner(p)]


# --------------------------------------------------------------------------- generic pages


def _kind(slug: str) -> Kind:
    return KINDS[slug]


def _object_page(
    request: HttpRequest,
    kind: Kind,
    form: RatingForm,
    obj: Any,
    *,
    status: int = 200,
    **parts: Any,
) -> HttpResponse:
    writable = kind.writable(request.user, obj) if obj is not None else True
    if not writable:
        form.read_only()
    context: dict[str, Any] = {
        "kind": kind,
        "form": form,
        "obj": obj,
        "obj_label": kind.label(obj) if obj is not None else "",
        "writable": writable,
        "rating_section": kind.slug,
        "list_url": reverse(f"rating-{kind.slug}-list"),
    }
    if obj is not None:
        context["delete_url"] = reverse(f"rating-{kind.slug}-delete", args=[obj.pk])
        if kind.details is not None:
            context.update(kind.details(request, obj, **parts))
            context["extra_template"] = kind.extra_template
    return render(request, "web/rating/object_form.html", context, status=status)


@page
@require_GET
def object_list(request: HttpRequest, kind: str) -> HttpResponse:
    k = _kind(kind)
    search = query(request, "q").strip()
    listing = k.listing(request.user, search)
    if exports.wanted(request):  # the whole filtered list as CSV (issue 17 item 4)
        first = "Prefix" if k.slug == "destinations" else "Name"
        return exports.csv_response(
            f"{k.slug}.csv",
            ["Id", first, *k.columns],
            ((obj.pk, k.label(obj), *k.cells(obj)) for obj in exports.rows_of(listing)),
        )
    items = paginate(request, listing)
    rows = [
        (reverse(f"rating-{k.slug}-edit", args=[obj.pk]), k.label(obj), k.cells(obj))
        for obj in items
    ]
    context = {
        "kind": k,
        "page": items,
        "rows": rows,
        "q": search,
        "can_add": not k.installation or is_admin(request.user),
        "rating_section": k.slug,
    }
    return render(request, "web/rating/object_list.html", context)


@page
@require_http_methods(["GET", "POST"])
def object_add(request: HttpRequest, kind: str) -> HttpResponse:
    k = _kind(kind)
    actor = request.user
    if k.installation and not is_admin(actor):
        return base.not_found(request)
    if request.method == "POST":
        form = k.form(actor, request.POST, None)
        try:
            obj = k.create(actor, base.now(), form.posted())
        except BillcoreError as exc:
            return _object_page(request, k, form, None, status=fail(form, exc))
        messages.success(request, f"{k.one.capitalize()} “{k.label(obj)}” saved.")
        if k.details is not None:  # tariffs and products: on to their rates / rating table
            return redirect(f"rating-{k.slug}-edit", obj_id=obj.pk)
        return redirect(f"rating-{k.slug}-list")
    return _object_page(request, k, k.form(actor, None, None), None)


@page
@require_http_methods(["GET", "POST"])
def object_edit(request: HttpRequest, kind: str, obj_id: int) -> HttpResponse:
    k = _kind(kind)
    actor = request.user
    obj = k.get(actor, obj_id)
    if request.method == "POST":
        form = k.form(actor, request.POST, obj)
        try:
            obj = k.update(actor, base.now(), obj.pk, form.posted())
        except BillcoreError as exc:
            return _object_page(request, k, form, k.get(actor, obj_id), status=fail(form, exc))
        messages.success(request, f"{k.one.capitalize()} “{k.label(obj)}” saved.")
        return redirect(f"rating-{k.slug}-edit", obj_id=obj.pk)
    return _object_page(request, k, k.form(actor, None, obj), obj)


def _ask_then(
    request: HttpRequest,
    *,
    title: str,
    question: str,
    button: str,
    back: str,
    act: Callable[[], Any],
    done: Callable[[Any], str],
    after: str,
) -> HttpResponse:
    """A destructive or money-moving action of these pages: ask first (the confirmation
    page works without JavaScript), then ``act``; a refusal goes back to ``back`` with its
    message, success to ``after`` with ``done(result)``."""
    if not confirm.confirmed(request):
        return confirm.ask(request, title=title, question=question, button=button, back_url=back)
    try:
        result = act()
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return redirect(back)
    messages.success(request, done(result))
    return redirect(after)


@page
@require_POST
def object_delete(request: HttpRequest, kind: str, obj_id: int) -> HttpResponse:
    k = _kind(kind)
    obj = k.get(request.user, obj_id)
    label = k.label(obj)
    return _ask_then(
        request,
        title=f"Delete {k.one}",
        question=f"Delete the {k.one} “{label}”? This cannot be undone.",
        button="Delete",
        back=reverse(f"rating-{k.slug}-edit", args=[obj.pk]),
        act=lambda: k.delete(request.user, base.now(), obj.pk),
        done=lambda _: f"{k.one.capitalize()} “{label}” deleted.",
        after=reverse(f"rating-{k.slug}-list"),
    )


@page
def rating_home(request: HttpRequest) -> HttpResponse:
    return redirect("rating-tariffs-list")


# --------------------------------------------------------------------------- tariff: rates


@dataclass(frozen=True)
class RateRow:
    rate: Rate
    effective: str
    peak: str
    offpeak: str
    offpeak2: str
    applies: bool = False


def _price_set(rate: Rate, set_: str) -> str:
    first = getattr(rate, f"{set_}price_first")
    if first is None:
        return ""
    return (
        f"{getattr(rate, f'{set_}interval_first')}/{getattr(rate, f'{set_}interval_next')} s · "
        f"{input_amount(first)} / {input_amount(getattr(rate, f'{set_}price_next'))}"
    )


def _rate_row(rate: Rate, applies: bool = False) -> RateRow:
    return RateRow(
        rate=rate,
        effective=local_time(rate.effective_from, UTC),
        peak=_price_set(rate, ""),
        offpeak=_price_set(rate, "offpeak_"),
        offpeak2=_price_set(rate, "offpeak2_"),
        applies=applies,
    )


def _tariff_extra(
    request: HttpRequest,
    tariff: Tariff,
    *,
    upload_form: RateUploadForm | None = None,
    upload_result: RateImportResult | None = None,
) -> dict[str, Any]:
    actor = request.user
    prefix = query(request, "prefix").strip()
    number = query(request, "number").strip()
    rates = selectors.list_rates(actor=actor, tariff_id=tariff.pk, prefix=prefix, number=number)
    applying: Rate | None = None
    number_note = ""
    if number:
        digits = "".join(ch for ch in number if ch.isdigit())
        try:
            choice = choose_in_rows(digits, at=base.now(), rows=list(rates)) if digits else None
        except RatingError:
            choice = None
        if not digits:
            number_note = "A number is digits."
        elif choice is None:
            number_note = f"No rate applies to {digits} now."
        else:
            applying = choice.row
            state = "is forbidden" if choice.forbidden else "applies"
            number_note = (
                f"Prefix {choice.row.prefix} from {local_time(choice.row.effective_from, UTC)} "
                f"UTC {state} to {digits} now."
            )
    rate_page = paginate(request, rates, param="rates_page")
    return {
        "tariff": tariff,
        "rate_rows": [
            _rate_row(r, applying is not None and r.pk == applying.pk) for r in rate_page
        ],
        "rate_page": rate_page,
        "rate_prefix": prefix,
        "rate_number": number,
        "number_note": number_note,
        "upload_form": upload_form or RateUploadForm(),
        "upload_result": upload_result,
    }


def _product_extra(
    request: HttpRequest,
    product: Product,
    *,
    entry_forms: dict[str, EntryForm] | None = None,
) -> dict[str, Any]:
    given = entry_forms or {}
    rows = [
        (entry, given.get(f"entry-{entry.pk}") or _entry_form(request.user, product, entry=entry))
        for entry in product.entries.select_related("service", "tariff", "reseller_tariff")
    ]
    return {
        "product": product,
        "entry_rows": rows,
        "entry_add_form": given.get("entry-add") or _entry_form(request.user, product),
    }


_register(
    Kind(
        slug="tariffs",
        title="Tariffs",
        one="tariff",
        subtitle="Price lists: the rates of one service in one currency.",
        columns=("Currency", "Service", "Connection fee", "Managed by"),
        cells=_tariff_cells,
        listing=lambda actor, q: selectors.list_tariffs(actor=actor, search=q).select_related(
            "managed_by"
        ),
        get=lambda actor, pk: selectors.get_tariff(actor=actor, tariff_id=pk),
        create=lambda a, n, d: services.create_tariff(actor=a, now=n, data=d),
        update=lambda a, n, pk, c: services.update_tariff(actor=a, now=n, tariff_id=pk, changes=c),
        delete=lambda a, n, pk: services.delete_tariff(actor=a, now=n, tariff_id=pk),
        form=_tariff_form,
        details=_tariff_extra,
        extra_template="web/rating/tariff_rates.html",
    )
)
_register(
    Kind(
        slug="products",
        title="Products",
        one="product",
        subtitle="What accounts are given: a rating table of service and access code → tariff.",
        columns=("Kind", "Currency", "Rating entries", "Managed by"),
        cells=_product_cells,
        listing=lambda actor, q: selectors.list_products(actor=actor, search=q).select_related(
            "managed_by"
        ),
        get=lambda actor, pk: selectors.get_product(actor=actor, product_id=pk),
        create=lambda a, n, d: services.create_product(actor=a, now=n, data=d),
        update=lambda a, n, pk, c: services.update_product(
            actor=a, now=n, product_id=pk, changes=c
        ),
        delete=lambda a, n, pk: services.delete_product(actor=a, now=n, product_id=pk),
        form=_product_form,
        details=_product_extra,
        extra_template="web/rating/product_entries.html",
    )
)

TARIFFS = KINDS["tariffs"]
PRODUCTS = KINDS["products"]


def _tariff_page(
    request: HttpRequest, tariff: Tariff, *, status: int = 200, **extra: Any
) -> HttpResponse:
    form = _tariff_form(request.user, None, tariff)
    return _object_page(request, TARIFFS, form, tariff, status=status, **extra)


def _rate_initial(rate: Rate) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for name in COLUMNS:
        value = getattr(rate, name)
        if name == "effective_from":
            initial[name] = local_time(value, UTC, MINUTE)
        elif isinstance(value, Decimal):
            initial[name] = input_amount(value)
        elif value is None or isinstance(value, bool):
            initial[name] = value
        else:
            initial[name] = str(value)
    return initial


def _rate_page(
    request: HttpRequest, tariff: Tariff, form: RateForm, rate: Rate | None, status: int = 200
) -> HttpResponse:
    context = {
        "tariff": tariff,
        "form": form,
        "rate": rate,
        "rating_section": "tariffs",
        "effective": local_time(rate.effective_from, UTC) if rate else "",
    }
    return render(request, "web/rating/rate_form.html", context, status=status)


@page
@require_http_methods(["GET", "POST"])
def rate_add(request: HttpRequest, tariff_id: int) -> HttpResponse:
    tariff = selectors.get_tariff(actor=request.user, tariff_id=tariff_id)
    if request.method == "POST":
        form = RateForm(request.POST)
        try:
            rate = services.create_rate(
                actor=request.user, now=base.now(), tariff_id=tariff.pk, data=form.posted()
            )
        except BillcoreError as exc:
            return _rate_page(request, tariff, form, None, fail(form, exc))
        messages.success(request, f"Rate for prefix {rate.prefix} saved.")
        return redirect(reverse("rating-tariffs-edit", args=[tariff.pk]) + "#rates")
    return _rate_page(
        request, tariff, RateForm(initial={"interval_first": 1, "interval_next": 1}), None
    )


def _tariff_rate(request: HttpRequest, tariff_id: int, rate_id: int) -> tuple[Tariff, Rate]:
    tariff = selectors.get_tariff(actor=request.user, tariff_id=tariff_id)
    rate = selectors.get_rate(actor=request.user, rate_id=rate_id)
    if rate.tariff_id != tariff.pk:
        raise NotFound(f"rate {rate_id} not found", field="id")
    return tariff, rate


@page
@require_http_methods(["GET", "POST"])
def rate_edit(request: HttpRequest, tariff_id: int, rate_id: int) -> HttpResponse:
    tariff, rate = _tariff_rate(request, tariff_id, rate_id)
    if request.method == "POST":
        form = RateForm(request.POST)
        try:
            rate = services.update_rate(
                actor=request.user, now=base.now(), rate_id=rate.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            return _rate_page(request, tariff, form, rate, fail(form, exc))
        messages.success(request, f"Rate for prefix {rate.prefix} saved.")
        return redirect(reverse("rating-tariffs-edit", args=[tariff.pk]) + "#rates")
    return _rate_page(request, tariff, RateForm(initial=_rate_initial(rate)), rate)


@page
@require_POST
def rate_delete(request: HttpRequest, tariff_id: int, rate_id: int) -> HttpResponse:
    tariff, rate = _tariff_rate(request, tariff_id, rate_id)
    when = local_time(rate.effective_from, UTC)
    return _ask_then(
        request,
        title="Delete rate",
        question=f"Delete the rate for prefix {rate.prefix} from {when} UTC? This cannot "
        "be undone.",
        button="Delete",
        back=reverse("rating-rate-edit", args=[tariff.pk, rate.pk]),
        act=lambda: services.delete_rate(actor=request.user, now=base.now(), rate_id=rate.pk),
        done=lambda _: f"Rate for prefix {rate.prefix} from {when} UTC deleted.",
        after=reverse("rating-tariffs-edit", args=[tariff.pk]) + "#rates",
    )


def _uploaded_lines(upload: Any) -> Iterator[str]:
    """The uploaded file's lines as text (a UTF-8 error surfaces in ``import_rates``)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for line in upload:
        yield decoder.decode(line)


@page
@require_POST
def rates_upload(request: HttpRequest, tariff_id: int) -> HttpResponse:
    """CSV upload (merge, or replace): the tariff page again with the summary and rejects."""
    tariff = selectors.get_tariff(actor=request.user, tariff_id=tariff_id)
    form = RateUploadForm(request.POST)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise services.RateFileError(
                "file: choose a CSV file to upload", field="file", code="required"
            )
        replace = form.posted().get("replace") in ("on", "true")
        result = services.import_rates(
            actor=request.user,
            now=base.now(),
            tariff_id=tariff.pk,
            file=_uploaded_lines(upload),
            replace=replace,
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _tariff_page(request, tariff, status=status, upload_form=form)
    return _tariff_page(request, tariff, upload_result=result)


@page
@require_GET
def rates_csv(request: HttpRequest, tariff_id: int) -> HttpResponse:
    tariff = selectors.get_tariff(actor=request.user, tariff_id=tariff_id)
    lines = services.export_rates(actor=request.user, tariff_id=tariff.pk)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tariff-{tariff.pk}-rates.csv"'
    return response  # type: ignore[return-value]


@page
@require_POST
def tariff_rerate(request: HttpRequest, tariff_id: int) -> HttpResponse:
    """Re-rate the open period of every customer this tariff prices (after a correction of
    its rates), confirmed first; the result in words."""
    tariff = selectors.get_tariff(actor=request.user, tariff_id=tariff_id)
    back = reverse("rating-tariffs-edit", args=[tariff.pk]) + "#rerate"
    return _ask_then(
        request,
        title="Re-rate the open period",
        question=f"Price again the usage of the open period (and of periods awaiting "
        f"approval) that tariff {tariff.name!r} prices? Each difference is posted to the "
        "customer as its own ledger row; closed periods are not touched.",
        button="Re-rate",
        back=back,
        act=lambda: rerate(actor=request.user, now=base.now(), tariff_id=tariff.pk),
        done=lambda summary: (
            f"Re-rated {summary.examined} usage records: {summary.changed} changed, "
            f"{summary.charged} charged now, {summary.reversed} reversed, "
            f"{summary.unchanged} unchanged; the balances of {len(summary.moved)} customers "
            "moved (their transactions show each difference)."
        ),
        after=back,
    )


# --------------------------------------------------------------------------- product: entries


def _entry_form(
    actor: Actor, product: Product, data: Any = None, *, entry: RatingEntry | None = None
) -> EntryForm:
    tariffs = selectors.list_tariffs(actor=actor, currency=product.currency_id)
    tariffs = tariffs.filter(managed_by_id=product.managed_by_id)
    reseller_tariffs = None
    if is_admin(actor) and product.managed_by_id is not None:
        reseller_tariffs = [
            (t.pk, f"{t.name} ({t.currency_id}, {t.service.code})")
            for t in selectors.list_tariffs(actor=actor).filter(managed_by__isnull=True)
        ]
    initial: dict[str, Any] = {}
    if entry is not None:
        initial = {
            "service": entry.service.code,
            "access_code": entry.access_code,
            "tariff": entry.tariff_id,
            "reseller_tariff": entry.reseller_tariff_id or "",
        }
    return EntryForm(
        data,
        initial=initial,
        services=_services(),
        tariffs=[(t.pk, f"{t.name} ({t.service.code})") for t in tariffs],
        reseller_tariffs=reseller_tariffs,
        prefix=f"entry-{entry.pk}" if entry is not None else "entry-add",
    )


def _product_page(
    request: HttpRequest, product: Product, *, status: int = 200, **extra: Any
) -> HttpResponse:
    form = _product_form(request.user, None, product)
    return _object_page(request, PRODUCTS, form, product, status=status, **extra)


def _back_to_entries(product: Product) -> HttpResponse:
    return redirect(reverse("rating-products-edit", args=[product.pk]) + "#entries")


@page
@require_POST
def entry_add(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.get_product(actor=request.user, product_id=product_id)
    form = _entry_form(request.user, product, request.POST)
    try:
        services.create_entry(
            actor=request.user, now=base.now(), product_id=product.pk, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _product_page(request, product, status=status, entry_forms={"entry-add": form})
    messages.success(request, "Rating entry added.")
    return _back_to_entries(product)


@page
@require_POST
def entry_edit(request: HttpRequest, product_id: int, entry_id: int) -> HttpResponse:
    entry = selectors.get_entry(actor=request.user, product_id=product_id, entry_id=entry_id)
    product = entry.product
    form = _entry_form(request.user, product, request.POST, entry=entry)
    try:
        services.update_entry(
            actor=request.user,
            now=base.now(),
            product_id=product.pk,
            entry_id=entry.pk,
            changes=form.posted(),
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _product_page(
            request, product, status=status, entry_forms={f"entry-{entry.pk}": form}
        )
    messages.success(request, "Rating entry saved.")
    return _back_to_entries(product)


@page
@require_POST
def entry_delete(request: HttpRequest, product_id: int, entry_id: int) -> HttpResponse:
    entry = selectors.get_entry(actor=request.user, product_id=product_id, entry_id=entry_id)
    product = entry.product
    what = f"{entry.service.code} ({entry.get_access_code_display()})"
    entries = reverse("rating-products-edit", args=[product.pk]) + "#entries"
    return _ask_then(
        request,
        title="Delete rating entry",
        question=f"Delete the rating entry {what} of “{product.name}”?",
        button="Delete",
        back=entries,
        act=lambda: services.delete_entry(
            actor=request.user, now=base.now(), product_id=product.pk, entry_id=entry.pk
        ),
        done=lambda _: f"Rating entry {what} deleted.",
        after=entries,
    )


# --------------------------------------------------------------------------- Override Tariffs


def _override_tariffs(request: HttpRequest, customer: Customer) -> list[tuple[int, str]]:
    """The customer's owner's tariffs (what the service accepts as master or override)."""
    tariffs = selectors.visible_tariffs(actor=request.user).filter(
        managed_by_id=customer.reseller_id
    )
    return [
        (t.pk, f"{t.name} ({t.currency_id}, {t.service.code})") for t in tariffs.order_by("name")
    ]


def _override_form(
    request: HttpRequest,
    customer: Customer,
    data: Any = None,
    *,
    override: OverrideTariff | None = None,
    tariffs: list[tuple[int, str]] | None = None,
) -> OverrideForm:
    initial = {}
    if override is not None:
        initial = {
            "master_tariff": override.master_tariff_id,
            "override_tariff": override.override_tariff_id,
        }
    return OverrideForm(
        data,
        initial=initial,
        tariffs=tariffs if tariffs is not None else _override_tariffs(request, customer),
        prefix=f"override-{override.pk}" if override is not None else "override-add",
    )


@customer_tab
def override_tab_context(
    request: HttpRequest,
    customer: Customer,
    *,
    override_form: OverrideForm | None = None,
) -> dict[str, Any]:
    """What the Override Tariffs tab shows: the pairs, a form per pair and one to add."""
    tariffs = _override_tariffs(request, customer)
    pairs = selectors.customer_overrides(actor=request.user, customer_id=customer.pk)
    rows = []
    for pair in pairs.select_related("master_tariff", "override_tariff"):
        form = override_form
        if form is None or form.row_id != f"override-{pair.pk}":
            form = _override_form(request, customer, override=pair, tariffs=tariffs)
        rows.append((pair, form))
    add_form = (
        override_form
        if override_form is not None and override_form.row_id == ("override-add")
        else _override_form(request, customer, tariffs=tariffs)
    )
    return {"override_rows": rows, "override_add_form": add_form}


@page
@require_POST
def override_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = _override_form(request, customer, request.POST)
    try:
        services.create_override(
            actor=request.user, now=base.now(), customer_id=customer.pk, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, override_form=form, status=status)
    messages.success(request, "Override tariff added.")
    return base.back_to_tab(customer, "overrides")


@page
@require_POST
def override_edit(request: HttpRequest, customer_id: int, override_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    pair = selectors.get_override(
        actor=request.user, customer_id=customer.pk, override_id=override_id
    )
    form = _override_form(request, customer, request.POST, override=pair)
    try:
        services.update_override(
            actor=request.user,
            now=base.now(),
            customer_id=customer.pk,
            override_id=pair.pk,
            changes=form.posted(),
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, override_form=form, status=status)
    messages.success(request, "Override tariff saved.")
    return base.back_to_tab(customer, "overrides")


@page
@require_POST
def override_delete(request: HttpRequest, customer_id: int, override_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    pair = selectors.get_override(
        actor=request.user, customer_id=customer.pk, override_id=override_id
    )
    master = pair.master_tariff.name
    tab = reverse("customer-edit", args=[customer.pk]) + "#tab-overrides"
    return _ask_then(
        request,
        title="Delete override tariff",
        question=f"Stop overriding the tariff “{master}” for {customer.name}?",
        button="Delete",
        back=tab,
        act=lambda: services.delete_override(
            actor=request.user, now=base.now(), customer_id=customer.pk, override_id=pair.pk
        ),
        done=lambda _: f"Override of “{master}” deleted.",
        after=tab,
    )

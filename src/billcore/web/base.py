"""What every admin page shares (the bottom of ``billcore.web``; it imports no view module).

Every view parses the form, calls a service or a selector with ``actor=request.user,
now=now()`` and shows what came back: a saved object and a message, or the service's error
beside the input it names (``fail``). No view applies a business rule. ``NotFound``
(including another reseller's object) is the 404 page (``page``); nothing is a 500.

The modules above, one per concept: ``views_customers`` (and ``customer_page``, the customer
page's frame and its tab registry), ``views_customer_tabs``, ``views_invoicing``,
``views_subscriptions``, ``views_status``, ``views_classes``, ``views_installation``,
``views_audit``, ``views_users``, ``views_notifications``, ``lockouts``; ``urls`` names them.

Two things the pages do with what they are given, not rules: date-times are the customer's
wall clock (``customer_zone``, ``wall_clock``), and amounts are shown as invoices show them
(``customer_money``, ``billcore.core.money.format_money``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from functools import cache, wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from billcore.accounts.access import Actor, is_admin
from billcore.core.money import format_money
from billcore.customers.models import Customer, CustomerType
from billcore.customers.selectors import list_customers
from billcore.errors import BillcoreError, NotFound

PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)
MAX_ID = 2**63 - 1

View = Callable[..., HttpResponse]


# --------------------------------------------------------------------------- access


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 page (also Django's ``handler404``)."""
    return render(request, "web/404.html", status=404)


def page(view: View) -> View:
    """Signed-in users only; a ``NotFound`` from a service or selector is the 404 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            return not_found(request)

    return login_required(wrapper)


def admin_page(view: View) -> View:
    """Administrators only; a reseller's user gets the same 404 as for a missing page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            return not_found(request)
        return view(request, *args, **kwargs)

    return page(wrapper)


# --------------------------------------------------------------------------- the request


def now() -> dt.datetime:
    """The time a page passes to the services: the only clock of the web pages (tests set
    ``billcore.web.base.now``; every view module reads it as ``base.now()``)."""
    return timezone.now()


def query_id(value: str | None) -> int | None:
    """A query-string id, or None when it is not one."""
    if value and value.isascii() and value.isdigit() and int(value) <= MAX_ID:
        return int(value)
    return None


def query(request: HttpRequest, key: str, default: str = "") -> str:
    """A query-string value; NUL characters (which no database column takes) dropped."""
    return request.GET.get(key, default).replace("\x00", "")


def per_page_param(param: str) -> str:
    """The query key of a list's page size: ``per_page`` beside ``page``, ``tx_per_page``
    beside a tab's ``tx_page``."""
    return "per_page" if param == "page" else f"{param.removesuffix('page')}per_page"


def paginate(request: HttpRequest, items: Any, *, param: str = "page") -> Page[Any]:
    """One page of ``items``; its size is the query's choice of ``PAGE_SIZES`` (issue 17),
    otherwise ``PAGE_SIZE``. The page carries ``per_page`` and ``per_page_param`` for
    ``_pagination.html``."""
    size_param = per_page_param(param)
    size = query_id(query(request, size_param))
    if size not in PAGE_SIZES:
        size = PAGE_SIZE
    result = Paginator(items, size).get_page(query(request, param))
    result.per_page = size  # type: ignore[attr-defined]
    result.per_page_param = size_param  # type: ignore[attr-defined]
    result.page_sizes = PAGE_SIZES  # type: ignore[attr-defined]
    return result


def fail(form: Any, exc: BillcoreError) -> int:
    """Show ``exc`` on ``form`` and give the status to answer with; re-raise a NotFound (the
    404 page)."""
    if isinstance(exc, NotFound):
        raise exc
    form.attach_error(exc)
    return exc.status


# --------------------------------------------------------------------------- choices


@cache
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def reseller_choices(actor: Actor) -> list[tuple[Any, str]]:
    """(id, name) of the resellers ``actor`` sees, for a "Managed by" or "Role" choice."""
    rows = list_customers(actor=actor, customer_type=CustomerType.RESELLER).values_list(
        "id", "name"
    )
    return list(rows)


# --------------------------------------------------------------------------- a customer's page


def customer_zone(customer: Customer) -> zoneinfo.ZoneInfo:
    """The customer's time zone (UTC when its name is not one)."""
    try:
        return zoneinfo.ZoneInfo(customer.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def wall_clock(value: Any, zone: zoneinfo.ZoneInfo) -> Any:
    """A datetime-local input's value (the customer's wall clock) as an aware datetime.
    Anything that is not such a value goes to the service as posted, to be judged there."""
    if not isinstance(value, str) or not value.strip():
        return value
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def local_time(value: dt.datetime | None, zone: dt.tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` on the wall clock of ``zone`` ("2026-11-01 13:00"); None: ""."""
    return value.astimezone(zone).strftime(fmt) if value is not None else ""


def customer_money(customer: Customer, value: Decimal | None) -> str:
    """``value`` in the customer's currency, as its invoices show it: "1,234.50 EUR"."""
    return f"{format_money(value, customer.currency.decimals)} {customer.currency_id}"


def back_to_tab(customer: Customer, tab: str) -> HttpResponse:
    """Back to the customer page, on its tab ``tab``."""
    return redirect(reverse("customer-edit", args=[customer.pk]) + f"#tab-{tab}")

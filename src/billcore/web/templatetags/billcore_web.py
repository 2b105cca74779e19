"""Display helpers of the admin pages: money, on/off badges, sortable column headers."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from billcore.core.money import format_money
from billcore.customers.models import Status
from billcore.web.forms import clerk_text

register = template.Library()


@register.filter
def money(value: Decimal | None, decimals: Any = 2) -> str:
    """``{{ amount|money:currency.decimals }}``: as invoices show it (``format_money``)."""
    try:
        places = int(decimals)
    except (TypeError, ValueError):
        places = 2
    return format_money(value, places)


@register.filter
def plain(value: Any) -> str:
    """``{{ message|plain }}``: a service's message as a clerk reads it, without the
    specification codes (CC-06, CU-14) it carries for the API and the docs."""
    return clerk_text(str(value))


STATUS_WORDS = dict(Status.choices)
CODE = re.compile(r"[a-z]+(?:_[a-z]+)+")


@register.filter
def status_words(value: Any) -> str:
    """``{{ h.to_status|status_words }}``: a customer status (or another snake_case code such
    as a suspension reason) in words: ``provisionally_terminated`` → "Provisionally
    terminated"; any other text is shown as it is."""
    text = "" if value is None else str(value)
    if text in STATUS_WORDS:
        return str(STATUS_WORDS[text])
    if CODE.fullmatch(text):
        words = text.replace("_", " ")
        return words[:1].upper() + words[1:]
    return text


@register.filter
def onoff(value: Any) -> SafeString:
    if value:
        return mark_safe('<span class="badge badge-on">On</span>')
    return mark_safe('<span class="badge badge-off">Off</span>')


@register.simple_tag(takes_context=True)
def sort_header(context: dict[str, Any], key: str, label: str) -> SafeString:
    """A ``<th>`` whose link sorts by ``key``; a second click reverses the order."""
    request: HttpRequest = context["request"]
    current = request.GET.get("order", context.get("default_order", "name"))
    params = request.GET.copy()
    params.pop("page", None)
    if current == key:
        params["order"] = f"-{key}"
        state, arrow = "ascending", "▲"
    elif current == f"-{key}":
        params["order"] = key
        state, arrow = "descending", "▼"
    else:
        params["order"] = key
        state, arrow = "none", ""
    return format_html(
        '<th aria-sort="{}" class="sortable"><a href="?{}">{}<span class="sort-arrow">{}'
        "</span></a></th>",
        state,
        params.urlencode(),
        label,
        arrow,
    )


@register.filter
def thousands(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.simple_tag(takes_context=True)
def page_query(context: dict[str, Any], param: str, number: Any) -> str:
    """The current query string with ``param`` set to ``number`` (pagination links)."""
    params = context["request"].GET.copy()
    params[param] = str(number)
    return "?" + str(params.urlencode())


@register.filter
def elided(page: Any) -> list[Any]:
    """Page numbers with gaps: 1 … 4 5 [6] 7 8 … 20."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))


@register.filter
def negate(value: Decimal | None) -> Decimal | None:
    return None if value is None else -value

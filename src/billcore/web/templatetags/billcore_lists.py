"""The list pages' "Export CSV" link and page-size choice (issue 17, item 4)."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag(takes_context=True)
def export_query(context: dict[str, Any], param: str = "page") -> str:
    """The current query string (filters, order) without the page, plus ``format=csv``."""
    request: HttpRequest = context["request"]
    params = request.GET.copy()
    for key in (param, "page", "format"):
        params.pop(key, None)
    params["format"] = "csv"
    return "?" + str(params.urlencode())


@register.simple_tag(takes_context=True)
def export_link(context: dict[str, Any], label: str = "Export CSV") -> SafeString:
    """The "Export CSV" link of a list page: every row the current filters match."""
    return format_html(
        '<a class="btn btn-ghost btn-sm export-link" href="{}" download>{}</a>',
        export_query(context),
        label,
    )


@register.simple_tag(takes_context=True)
def per_page_query(context: dict[str, Any], page: Any, size: int) -> str:
    """The current query string with the page size ``size``, back on the first page."""
    request: HttpRequest = context["request"]
    params = request.GET.copy()
    param = context.get("param") or "page"
    params.pop(param, None)
    params[page.per_page_param] = str(size)
    return "?" + str(params.urlencode())

"""The server-side SVG charts of ``core.charts`` (issue 17 §2), marked safe for templates:
every text inside them is escaped there."""

from __future__ import annotations

from typing import Any

from django.utils.safestring import SafeString, mark_safe

from billcore.core import charts as _charts
from billcore.core.charts import Scale, Series, scale, tick_label

__all__ = ["Scale", "Series", "bar_chart", "line_chart", "scale", "tick_label"]


def bar_chart(**kwargs: Any) -> SafeString:
    return mark_safe(_charts.bar_chart(**kwargs))  # noqa: S308 - core.charts escapes every text


def line_chart(**kwargs: Any) -> SafeString:
    return mark_safe(_charts.line_chart(**kwargs))  # noqa: S308 - core.charts escapes every text

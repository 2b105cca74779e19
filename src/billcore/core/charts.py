"""Charts as server-side SVG (issue 17 §2): a bar chart and a line chart, drawn in Python.
Pure (no Django): the admin pages (``web.charts`` marks the markup safe for templates) and
the customers' self-care (issue 16) both draw with it.

Written here rather than taken from a library because it is small (two chart kinds, one scale)
and because the pages must draw without any network and under the site's strict
Content-Security-Policy: the SVG is inline markup with no script, no ``style`` attribute and
no ``<style>`` element; colours come from classes in ``billcore.css``.

Every chart is accessible: ``role="img"`` labelled by its ``<title>`` and ``<desc>``, the desc
listing every value in words, and each bar or point carrying its own ``<title>``. Each bar or
point has ``data-label`` and ``data-value`` (the exact Decimal), so a test can check that the
picture draws the real numbers.

Geometry is exact: coordinates are Decimals rounded to 2 places (half-up), so a test can assert
a bar's height for given numbers. The value axis always includes 0 and runs over "nice" ticks
(1, 2, 2.5 or 5 x 10^n apart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from html import escape as _html_escape

WIDTH = 640
HEIGHT = 240
LEFT = 64  # room for the value axis's labels
RIGHT = 12
TOP = 12
BOTTOM = 28  # room for the category labels
TICKS = 4  # about this many intervals on the value axis
MAX_LABELS = 8  # category labels shown at most (every n-th one beyond)
CENT = Decimal("0.01")
NICE = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def escape(value: object) -> str:
    """HTML-escaped text (``&``, ``<``, ``>``, ``"`` and ``'``), as Django's ``escape``."""
    return _html_escape(str(value), quote=True)


@dataclass(frozen=True)
class Scale:
    """The value axis: ``low`` … ``high`` in steps of ``step``."""

    low: Decimal
    high: Decimal
    step: Decimal

    @property
    def ticks(self) -> list[Decimal]:
        count = int((self.high - self.low) / self.step)
        return [self.low + self.step * i for i in range(count + 1)]


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its name and one value per category (None: no value)."""

    name: str
    values: Sequence[Decimal | None]


def _px(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _nice_step(span: Decimal) -> Decimal:
    """The smallest nice step (1, 2, 2.5, 5 x 10^n) that covers ``span`` in ``TICKS`` steps."""
    raw = span / TICKS
    exponent = math.floor(math.log10(raw))
    power = Decimal(10) ** exponent
    for nice in NICE:
        if nice * power >= raw:
            return (nice * power).normalize()
    return (10 * power).normalize()  # pragma: no cover - NICE ends with 10


def scale(values: Sequence[Decimal]) -> Scale:
    """The axis for ``values``: from min(0, lowest) to max(0, highest), on nice ticks; all
    zero (or none): 0 … 1."""
    low = min([Decimal(0), *values])
    high = max([Decimal(0), *values])
    if low == high:
        return Scale(Decimal(0), Decimal(1), Decimal("0.25"))
    step = _nice_step(high - low)
    low = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
    high = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    return Scale(low.normalize() + 0, high.normalize() + 0, step)


def tick_label(value: Decimal) -> str:
    """A tick's label: thousands grouped, no trailing zeros ("1,250", "0.5", "-2,000")."""
    text = format(value.normalize() + 0, ",f")
    return "0" if text in ("-0", "0") else text


def _value_text(value: Decimal, unit: str) -> str:
    text = format(value.normalize() + 0, ",f")
    return f"{text} {unit}".strip()


class _Frame:
    """The plot area, the value axis with its gridlines and the category labels."""

    def __init__(
        self, *, labels: Sequence[str], axis: Scale, width: int, height: int, step_x: Decimal
    ) -> None:
        self.labels = labels
        self.axis = axis
        self.width = width
        self.height = height
        self.plot_w = Decimal(width - LEFT - RIGHT)
        self.plot_h = Decimal(height - TOP - BOTTOM)
        self.step_x = step_x

    def y(self, value: Decimal) -> Decimal:
        """The y coordinate of ``value`` (SVG's y grows downwards)."""
        span = self.axis.high - self.axis.low
        return _px(Decimal(TOP) + (self.axis.high - value) / span * self.plot_h)

    def grid(self) -> list[str]:
        parts = ['<g class="chart-axis" aria-hidden="true">']
        for tick in self.axis.ticks:
            y = self.y(tick)
            parts.append(
                f'<line class="chart-grid{" chart-zero" if tick == 0 else ""}" x1="{LEFT}" '
                f'y1="{y}" x2="{self.width - RIGHT}" y2="{y}"/>'
                f'<text class="chart-tick" x="{LEFT - 6}" y="{_px(y + Decimal(4))}" '
                f'text-anchor="end">{escape(tick_label(tick))}</text>'
            )
        every = max(1, math.ceil(len(self.labels) / MAX_LABELS))
        for i, label in enumerate(self.labels):
            if i % every:
                continue
            x = _px(Decimal(LEFT) + self.step_x * i + self.step_x / 2)
            parts.append(
                f'<text class="chart-label" x="{x}" y="{self.height - 8}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
        parts.append("</g>")
        return parts


def _svg(
    *, kind: str, chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]
) -> str:
    head = (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'class="chart chart-{kind}" id="{escape(chart_id)}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>'
    )
    return head + "".join(body) + "</svg>"  # every text in it is escaped


def bar_chart(
    *,
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, Decimal]],
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One bar per (label, value); a negative value hangs below the zero line."""
    values = [v for _, v in bars]
    axis = scale(values)
    n = max(len(bars), 1)
    frame = _Frame(
        labels=[label for label, _ in bars],
        axis=axis,
        width=width,
        height=height,
        step_x=Decimal(width - LEFT - RIGHT) / n,
    )
    bar_w = _px(frame.step_x * Decimal("0.7"))
    zero = frame.y(Decimal(0))
    body = frame.grid()
    body.append('<g class="chart-bars">')
    for i, (label, value) in enumerate(bars):
        x = _px(Decimal(LEFT) + frame.step_x * i + (frame.step_x - bar_w) / 2)
        top = frame.y(value)
        y, h = (top, zero - top) if value >= 0 else (zero, top - zero)
        text = f"{label}: {_value_text(value, unit)}"
        body.append(
            f'<rect class="chart-bar{" chart-negative" if value < 0 else ""}" x="{x}" y="{y}" '
            f'width="{bar_w}" height="{h}" data-label="{escape(label)}" '
            f'data-value="{value}"><title>{escape(text)}</title></rect>'
        )
    body.append("</g>")
    desc = "; ".join(f"{label}: {_value_text(v, unit)}" for label, v in bars) or "No data."
    return _svg(
        kind="bar",
        chart_id=chart_id,
        title=title,
        desc=desc,
        width=width,
        height=height,
        body=body,
    )


def line_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One line per series over the categories ``labels``; a point per known value."""
    values = [v for s in series for v in s.values if v is not None]
    axis = scale(values)
    n = max(len(labels), 1)
    frame = _Frame(
        labels=labels,
        axis=axis,
        width=width,
        height=height,
        step_x=Decimal(width - LEFT - RIGHT) / n,
    )
    body = frame.grid()
    descs = []
    for k, s in enumerate(series):
        points = [
            (i, _px(Decimal(LEFT) + frame.step_x * i + frame.step_x / 2), frame.y(v), v)
            for i, v in enumerate(s.values)
            if v is not None
        ]
        body.append(f'<g class="chart-series chart-series-{k % 6}" data-series="{escape(s.name)}">')
        if len(points) > 1:
            path = " ".join(f"{x},{y}" for _, x, y, _ in points)
            body.append(f'<polyline class="chart-line" points="{path}"/>')
        for i, x, y, v in points:
            text = f"{s.name + ' ' if s.name else ''}{labels[i]}: {_value_text(v, unit)}"
            body.append(
                f'<circle class="chart-point" cx="{x}" cy="{y}" r="2.5" '
                f'data-label="{escape(labels[i])}" data-value="{v}">'
                f"<title>{escape(text)}</title></circle>"
            )
        body.append("</g>")
        shown = ", ".join(f"{labels[i]}: {_value_text(v, unit)}" for i, _, _, v in points)
        descs.append(f"{s.name}: {shown}" if s.name else shown)
    return _svg(
        kind="line",
        chart_id=chart_id,
        title=title,
        desc="; ".join(d for d in descs if d) or "No data.",
        width=width,
        height=height,
        body=body,
    )

"""Issue 17 §2: the server-side SVG charts (billcore/web/charts.py) draw exact geometry for
given numbers: the value axis's nice ticks and their labels, each bar's height and place, each
point's coordinates, the data-value attributes, and the accessible title and description; no
inline style or script (the site's Content-Security-Policy forbids them)."""

from __future__ import annotations

import re
from decimal import Decimal as D

from billcore.web.charts import Scale, Series, bar_chart, line_chart, scale, tick_label


def attrs(svg: str, tag: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', m)) for m in re.findall(f"<{tag} ([^>]*)>", svg)]


def texts(svg: str, cls: str) -> list[str]:
    return re.findall(f'<text class="{cls}"[^>]*>([^<]*)</text>', svg)


def test_scale_runs_from_zero_over_nice_ticks() -> None:
    assert scale([D(100), D(50)]) == Scale(D(0), D(100), D(25))
    assert scale([D(120), D(45)]) == Scale(D(0), D(150), D(50))
    assert scale([D("-30.5"), D(900)]) == Scale(D(-250), D(1000), D(250))
    assert scale([D("0.003")]) == Scale(D(0), D("0.003"), D("0.001"))
    assert scale([D("-40"), D("-10")]) == Scale(D(-40), D(0), D(10))
    # Nothing but zero (or nothing): 0 to 1 in quarters.
    assert scale([D(0)]) == Scale(D(0), D(1), D("0.25"))
    assert scale([]) == Scale(D(0), D(1), D("0.25"))
    assert scale([D("1234567.89")]).ticks == [D(0), D(500000), D(1000000), D(1500000)]


def test_tick_labels_group_thousands_without_trailing_zeros() -> None:
    assert [tick_label(v) for v in (D("0.00"), D(250), D("1250.0"), D("0.50"), D(-2000))] == [
        "0",
        "250",
        "1,250",
        "0.5",
        "-2,000",
    ]


def test_bar_chart_geometry() -> None:
    svg = str(
        bar_chart(
            chart_id="rev",
            title="Invoiced per month, EUR",
            bars=[("Jan", D("100.00000")), ("Feb", D("50.00000")), ("Mar", D("0.00000"))],
            unit="EUR",
        )
    )
    # Plot area: x 64 … 628 (564 wide, 188 per bar, bars 70 % = 131.60), y 12 … 212 (200 high).
    # Axis 0 … 100 in steps of 25: 100 is 200 px, 50 is 100 px.
    assert texts(svg, "chart-tick") == ["0", "25", "50", "75", "100"]
    assert [a["y1"] for a in attrs(svg, "line")] == ["212.00", "162.00", "112.00", "62.00", "12.00"]
    assert texts(svg, "chart-label") == ["Jan", "Feb", "Mar"]
    bars = attrs(svg, "rect")
    assert [(b["data-label"], b["data-value"]) for b in bars] == [
        ("Jan", "100.00000"),
        ("Feb", "50.00000"),
        ("Mar", "0.00000"),
    ]
    assert [(b["x"], b["y"], b["width"], b["height"]) for b in bars] == [
        ("92.20", "12.00", "131.60", "200.00"),
        ("280.20", "112.00", "131.60", "100.00"),
        ("468.20", "212.00", "131.60", "0.00"),
    ]
    assert '<title id="rev-title">Invoiced per month, EUR</title>' in svg
    assert '<desc id="rev-desc">Jan: 100 EUR; Feb: 50 EUR; Mar: 0 EUR</desc>' in svg
    assert "<title>Feb: 50 EUR</title>" in svg
    assert 'role="img" aria-labelledby="rev-title rev-desc"' in svg
    assert "style" not in svg and "<script" not in svg


def test_a_negative_bar_hangs_below_zero() -> None:
    svg = str(bar_chart(chart_id="b", title="t", bars=[("a", D(-20)), ("b", D(60))], height=212))
    # Axis -20 … 60 in steps of 20 over 172 px (212 - 12 - 28): 21.5 px per unit of 10.
    assert texts(svg, "chart-tick") == ["-20", "0", "20", "40", "60"]
    neg, pos = attrs(svg, "rect")
    assert neg["class"] == "chart-bar chart-negative"
    assert (neg["y"], neg["height"]) == ("141.00", "43.00")
    assert (pos["class"], pos["y"], pos["height"]) == ("chart-bar", "12.00", "129.00")


def test_bar_chart_text_is_escaped() -> None:
    svg = str(bar_chart(chart_id="x", title="<b>&", bars=[("<i>", D(1))]))
    assert "<b>" not in svg and "<i>" not in svg
    assert "&lt;b&gt;&amp;" in svg and 'data-label="&lt;i&gt;"' in svg


def test_line_chart_geometry_and_series() -> None:
    svg = str(
        line_chart(
            chart_id="use",
            title="Usage",
            labels=["01 Nov", "02 Nov", "03 Nov", "04 Nov"],
            series=[
                Series("Voice", [D(10), D(0), D(40), D(20)]),
                Series("Data", [None, D(5), None, D(0)]),
            ],
            unit="USD",
        )
    )
    # Four categories of 141 px from x = 64: points at 134.5, 275.5, 416.5, 557.5.
    # Axis 0 … 40 in steps of 10: 5 px of value per 25 px.
    assert texts(svg, "chart-tick") == ["0", "10", "20", "30", "40"]
    points = attrs(svg, "circle")
    assert [(p["data-label"], p["data-value"], p["cx"], p["cy"]) for p in points] == [
        ("01 Nov", "10", "134.50", "162.00"),
        ("02 Nov", "0", "275.50", "212.00"),
        ("03 Nov", "40", "416.50", "12.00"),
        ("04 Nov", "20", "557.50", "112.00"),
        ("02 Nov", "5", "275.50", "187.00"),
        ("04 Nov", "0", "557.50", "212.00"),
    ]
    lines = attrs(svg, "polyline")
    assert [line["points"] for line in lines] == [
        "134.50,162.00 275.50,212.00 416.50,12.00 557.50,112.00",
        "275.50,187.00 557.50,212.00",
    ]
    assert 'data-series="Voice"' in svg and 'class="chart-series chart-series-1"' in svg
    assert (
        '<desc id="use-desc">Voice: 01 Nov: 10 USD, 02 Nov: 0 USD, 03 Nov: 40 USD, '
        "04 Nov: 20 USD; Data: 02 Nov: 5 USD, 04 Nov: 0 USD</desc>"
    ) in svg


def test_many_categories_label_every_nth() -> None:
    labels = [f"d{i}" for i in range(30)]
    svg = str(line_chart(chart_id="l", title="t", labels=labels, series=[Series("s", [D(1)] * 30)]))
    # 30 labels, at most 8 shown: every 4th.
    assert texts(svg, "chart-label") == ["d0", "d4", "d8", "d12", "d16", "d20", "d24", "d28"]
    assert len(attrs(svg, "circle")) == 30


def test_an_empty_chart_says_so() -> None:
    svg = str(bar_chart(chart_id="e", title="Nothing", bars=[]))
    assert '<desc id="e-desc">No data.</desc>' in svg
    assert attrs(svg, "rect") == []

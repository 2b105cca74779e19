"""What the measured-services parts of the pages show (issue 14): the class's Measured Service
tab (its defaults, CC-22) and the customer's Measured Services tab (inherited or overridden,
the samples as charts, the charges, CU-13). The views are in ``views_measured``; this module
imports no view module, so the class page (``views_classes``) can draw its tab from here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils.safestring import SafeString

from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer
from billcore.measured import selectors
from billcore.measured.models import ChargeBasis, MeasuredService, Metric
from billcore.rating.selectors import list_services
from billcore.web import base
from billcore.web.charts import Series, line_chart
from billcore.web.forms import Choice, input_amount
from billcore.web.forms_rating import NONE, RatingForm, amount, text, whole

CHART_DAYS = 31
RECENT_CHARGES = 12
CHARGE_CHOICES = [("true", "Apply charge"), ("false", "Statistics only")]
METRIC_HELP = {
    Metric.ACTIVE_CALLS: "Calls in progress (open reservations), sampled every 5 minutes.",
    Metric.CONCURRENT_CALLS: "The configured simultaneous-call limit (SIP trunks), sampled "
    "daily; not measured for resellers.",
    Metric.PBX_EXTENSIONS: "The customer's accounts that are not terminated, sampled daily.",
}


class MeasuredForm(RatingForm):
    """One metric's definition (a row of the tab): its inputs name the row's own ``<form>``."""

    def __init__(
        self,
        data: Any = None,
        *,
        metric: str,
        services: list[tuple[str, str]],
        initial: Mapping[str, Any] | None = None,
        prefix: str,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}), auto_id=f"{prefix}-%s")
        self.row_id = prefix
        self.metric = metric
        f = self.fields
        f["apply_charge"] = Choice("Charge", CHARGE_CHOICES)
        f["charge_basis"] = Choice("Charge based on", ChargeBasis.choices)
        f["price"] = amount("Price per item")
        f["free_items"] = amount("Free items")
        f["rate_code"] = text("Rate code", maxlength=32)
        f["service"] = Choice("Service", [("", NONE), *services])
        if metric == Metric.CONCURRENT_CALLS:
            f["configured_limit"] = whole("Limit")
        for field in f.values():
            field.widget.attrs["form"] = prefix


def _initial(definition: MeasuredService | None) -> dict[str, Any]:
    if definition is None:
        return {"apply_charge": "true", "charge_basis": ChargeBasis.MAXIMUM}
    return {
        "apply_charge": "true" if definition.apply_charge else "false",
        "charge_basis": definition.charge_basis,
        "price": input_amount(definition.price),
        "free_items": input_amount(definition.free_items),
        "rate_code": definition.rate_code,
        "service": definition.service,
        "configured_limit": (
            "" if definition.configured_limit is None else str(definition.configured_limit)
        ),
    }


def service_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(s.code, s.code) for s in list_services(actor=request.user)]


def measured_form(
    request: HttpRequest,
    *,
    owner: str,
    metric: str,
    definition: MeasuredService | None = None,
    data: Any = None,
    services: list[tuple[str, str]] | None = None,
) -> MeasuredForm:
    """The form of ``metric`` on the class page (``owner="class"``) or the customer's."""
    return MeasuredForm(
        data,
        metric=metric,
        services=services if services is not None else service_choices(request),
        initial=_initial(definition),
        prefix=f"measured-{owner}-{metric}",
    )


def _pick(bound: MeasuredForm | None, default: MeasuredForm) -> MeasuredForm:
    return bound if bound is not None and bound.row_id == default.row_id else default


def class_context(
    request: HttpRequest, cls: CustomerClass | None, *, form: MeasuredForm | None = None
) -> dict[str, Any]:
    """The class page's Measured Service tab: a row per metric (defined or not)."""
    if cls is None:
        return {"measured_class_rows": None}
    services = service_choices(request)
    rows = []
    for metric, definition in selectors.class_services(actor=request.user, class_id=cls.pk):
        default = measured_form(
            request, owner="class", metric=metric, definition=definition, services=services
        )
        rows.append(
            {
                "metric": metric,
                "label": Metric(metric).label,
                "help": METRIC_HELP[Metric(metric)],
                "definition": definition,
                "form": _pick(form, default),
            }
        )
    return {"measured_class_rows": rows}


def _day_label(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def sample_charts(
    request: HttpRequest, customer: Customer, *, today: dt.date
) -> list[dict[str, Any]]:
    """Per metric with samples: the highest sample of each of the last days (no point on a
    day without samples: nothing is drawn that was not read) and the number of samples."""
    first = today - dt.timedelta(days=CHART_DAYS - 1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    rows = (
        selectors.customer_samples(actor=request.user, customer_id=customer.pk, since=start)
        .order_by()
        .annotate(day=TruncDate("taken_at", tzinfo=dt.UTC))
        .values("metric", "day")
        .annotate(high=Max("value"), n=Count("id"))
    )
    by_metric: dict[str, dict[dt.date, tuple[int, int]]] = {}
    for r in rows:
        by_metric.setdefault(r["metric"], {})[r["day"]] = (r["high"], r["n"])
    days = [first + dt.timedelta(days=i) for i in range(CHART_DAYS)]
    charts = []
    for metric in Metric.values:
        found = by_metric.get(metric)
        if not found:
            continue
        label = Metric(metric).label
        chart: SafeString = line_chart(
            chart_id=f"measured-chart-{metric}",
            title=f"{label}: the highest sample of each day, last {CHART_DAYS} days (UTC)",
            labels=[_day_label(d) for d in days],
            series=[
                Series(
                    label,
                    [Decimal(found[d][0]) if d in found else None for d in days],
                )
            ],
        )
        charts.append(
            {
                "metric": metric,
                "label": label,
                "chart": chart,
                "samples": sum(n for _, n in found.values()),
            }
        )
    return charts


def customer_context(
    request: HttpRequest, customer: Customer, *, form: MeasuredForm | None = None
) -> dict[str, Any]:
    """The customer's Measured Services tab."""
    services = service_choices(request)
    rows = []
    for e in selectors.customer_services(actor=request.user, customer_id=customer.pk):
        default = measured_form(
            request,
            owner="customer",
            metric=e.metric,
            definition=e.definition,
            services=services,
        )
        rows.append(
            {
                "metric": e.metric,
                "label": e.label,
                "help": METRIC_HELP[Metric(e.metric)],
                "effective": e,
                "form": _pick(form, default),
            }
        )
    today = base.now().astimezone(dt.UTC).date()
    charges = selectors.customer_charges(actor=request.user, customer_id=customer.pk)
    return {
        "measured_rows": rows,
        "measured_charts": sample_charts(request, customer, today=today),
        "measured_chart_days": CHART_DAYS,
        "measured_charges": list(charges.select_related("transaction")[:RECENT_CHARGES]),
    }

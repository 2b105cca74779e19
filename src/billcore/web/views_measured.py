"""The measured-services pages (issue 14): the customer's Measured Services tab (CU-13: the
class's definitions shown as inherited, an override per metric, the samples' charts, the
charges) and the class's Measured Service tab (CC-22: the class's defaults). What the tabs
show is built in ``measured_page``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from billcore.classes.selectors import get_class
from billcore.classes.services import copy_data
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError
from billcore.measured import services
from billcore.measured.models import Metric
from billcore.web import base, confirm, views_classes
from billcore.web.base import fail, not_found, page
from billcore.web.customer_page import customer_page, customer_tab
from billcore.web.forms import ClassForm, class_initial
from billcore.web.measured_page import MeasuredForm, customer_context, measured_form


def _label(metric: str) -> str | None:
    return Metric(metric).label if metric in Metric.values else None


@customer_tab
def measured_tab_context(
    request: HttpRequest, customer: Customer, *, measured_form: MeasuredForm | None = None
) -> dict[str, Any]:
    """What the Measured Services tab shows."""
    return customer_context(request, customer, form=measured_form)


@page
@require_POST
def customer_measured_save(request: HttpRequest, customer_id: int, metric: str) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    label = _label(metric)
    if label is None:
        return not_found(request)
    form = measured_form(request, owner="customer", metric=metric, data=request.POST)
    try:
        services.set_customer_service(
            actor=request.user,
            now=base.now(),
            customer_id=customer.pk,
            metric=metric,
            data=form.posted(),
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, measured_form=form, status=status)
    messages.success(request, f"{label}: the customer's own settings saved.")
    return base.back_to_tab(customer, "measured")


@page
@require_POST
def customer_measured_inherit(request: HttpRequest, customer_id: int, metric: str) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    label = _label(metric)
    if label is None:
        return not_found(request)
    tab = reverse("customer-edit", args=[customer.pk]) + "#tab-measured"
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Use the class's settings",
            question=f"Drop {customer.name}'s own settings of {label} and use its class's?",
            button="Use the class's settings",
            back_url=tab,
        )
    try:
        services.delete_customer_service(
            actor=request.user, now=base.now(), customer_id=customer.pk, metric=metric
        )
    except BillcoreError as exc:
        messages.error(request, exc.message)
        return redirect(tab)
    messages.success(request, f"{label}: the class's settings apply again.")
    return redirect(tab)


def _class_tab(class_id: int) -> str:
    return reverse("class-edit", args=[class_id]) + "#tab-measured-service"


@page
@require_POST
def class_measured_save(request: HttpRequest, class_id: int, metric: str) -> HttpResponse:
    cls = get_class(actor=request.user, class_id=class_id)
    label = _label(metric)
    if label is None:
        return not_found(request)
    form = measured_form(request, owner="class", metric=metric, data=request.POST)
    try:
        services.set_class_service(
            actor=request.user, now=base.now(), class_id=cls.pk, metric=metric, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        options = views_classes.class_form_options(request.user)
        initial = class_initial({**copy_data(cls), "name": cls.name})
        class_form = ClassForm(initial=initial, is_new=False, **options)
        return views_classes.class_page(request, class_form, cls, status=status, measured_form=form)
    messages.success(request, f"{label}: the class's default saved.")
    return redirect(_class_tab(cls.pk))


@page
@require_POST
def class_measured_delete(request: HttpRequest, class_id: int, metric: str) -> HttpResponse:
    cls = get_class(actor=request.user, class_id=class_id)
    label = _label(metric)
    if label is None:
        return not_found(request)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Stop measuring",
            question=f"Remove the class “{cls.name}”'s default for {label}? Customers with "
            "their own settings keep them.",
            button="Remove",
            back_url=_class_tab(cls.pk),
        )
    try:
        services.delete_class_service(
            actor=request.user, now=base.now(), class_id=cls.pk, metric=metric
        )
    except BillcoreError as exc:
        messages.error(request, exc.message)
        return redirect(_class_tab(cls.pk))
    messages.success(request, f"{label}: the class no longer measures it.")
    return redirect(_class_tab(cls.pk))

"""Subscription plans (their own list and form, for administrators and resellers' users) and
the customer page's Subscriptions tab (CU-13; issue 5 §3). Same rule as ``base``: parse what
was posted, call a service or a selector with ``actor=request.user`` and the time, show what
came back; a service's error appears beside the input it names; ``NotFound`` is the 404 page.

Date-times on the tab are the customer's wall clock (its billing time zone): the start and end
inputs become aware datetimes here, and the dates of the list are shown so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts.access import Actor, is_admin
from billcore.customers.models import Customer, CustomerType
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound
from billcore.installation.models import Currency
from billcore.subscriptions import selectors, services
from billcore.subscriptions.models import SubscriptionPlan, SubscriptionStatus
from billcore.web import base, confirm, exports
from billcore.web.base import back_to_tab, customer_zone, fail, local_time, page, wall_clock
from billcore.web.customer_page import customer_page, customer_tab
from billcore.web.forms import Area, Choice, PageForm, Text, Toggle, clerk_text, input_amount

SUBSCRIBE_FORM = "subscribe-form"
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


# --------------------------------------------------------------------------- forms


class PlanForm(PageForm):
    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        currencies: list[str],
        resellers: list[tuple[Any, str]] | None,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["name"] = Text("Name", maxlength="100")
        f["description"] = Area("Description")
        f["currency"] = Choice(
            "Currency",
            [(c, c) for c in currencies],
            help_text="Customers of this currency only; fixed once customers subscribe.",
        )
        f["fee"] = Text(
            "Fee per billing period",
            help_text="For one whole billing period of the customer; up to 5 decimals.",
            inputmode="decimal",
            autocomplete="off",
            **{"class": "input-short"},
        )
        f["in_advance"] = Choice(
            "Charged",
            [("true", "In advance (at the period's start)"), ("false", "In arrears (at its end)")],
        )
        f["prorate"] = Toggle(
            "Prorate", help_text="A subscription for part of a period pays part of the fee."
        )
        f["charge_while_suspended"] = Toggle("Charge while the customer is suspended")
        f["charge_while_blocked"] = Toggle("Charge while the customer is blocked")
        if resellers is not None:
            f["managed_by"] = Choice("Managed by", [("", "Administrator"), *resellers])


def _resellers(actor: Actor) -> list[tuple[Any, str]] | None:
    if not is_admin(actor):
        return None
    return list(
        Customer.objects.filter(customer_type=CustomerType.RESELLER)
        .order_by("name")
        .values_list("pk", "name")
    )


def _currencies() -> list[str]:
    return list(Currency.objects.order_by("code").values_list("code", flat=True))


def _plan_form(actor: Actor, data: Any = None, plan: SubscriptionPlan | None = None) -> PlanForm:
    initial: dict[str, Any] = {"in_advance": "true", "prorate": True, "charge_while_blocked": True}
    if plan is not None:
        initial = {
            "name": plan.name,
            "description": plan.description,
            "currency": plan.currency_id,
            "fee": input_amount(plan.fee),
            "in_advance": "true" if plan.in_advance else "false",
            "prorate": plan.prorate,
            "charge_while_suspended": plan.charge_while_suspended,
            "charge_while_blocked": plan.charge_while_blocked,
            "managed_by": plan.managed_by_id or "",
        }
    return PlanForm(
        data,
        initial=initial,
        currencies=_currencies(),
        resellers=_resellers(actor),
    )


class SubscribeForm(PageForm):
    """Subscribe the customer to a plan, from and until date-times on its wall clock."""

    def __init__(self, data: Any = None, *, plans: list[tuple[Any, str]], time_zone: str) -> None:
        super().__init__(data, initial={})
        plan = Choice("Plan", [("", "Choose a plan"), *plans])
        plan.widget.attrs["form"] = SUBSCRIBE_FORM
        self.fields["plan"] = plan
        for name, label, help_text in (
            ("start_at", "Start", f"In the customer's time zone ({time_zone})."),
            ("end_at", "End", "Empty: until ended. The end itself is not covered."),
        ):
            field = Text(label, help_text=help_text, form=SUBSCRIBE_FORM)
            field.widget.input_type = "datetime-local"
            self.fields[name] = field


# --------------------------------------------------------------------------- plan pages


@page
def plan_list(request: HttpRequest) -> HttpResponse:
    plans = selectors.list_plans(actor=request.user)
    if exports.wanted(request):
        header = (
            "id",
            "name",
            "currency",
            "fee",
            "charged",
            "prorated",
            "managed_by",
            "subscriptions",
        )
        rows = (
            (
                p.pk,
                p.name,
                p.currency_id,
                exports.money(p.fee, p.currency.decimals),
                "in_advance" if p.in_advance else "in_arrears",
                p.prorate,
                p.managed_by.name if p.managed_by else "",
                getattr(p, "used_by", None),
            )
            for p in exports.rows_of(plans)
        )
        return exports.csv_response("subscription-plans.csv", header, rows)
    return render(request, "web/subscriptions/plan_list.html", {"plans": plans})


def _plan_page(
    request: HttpRequest, form: PlanForm, plan: SubscriptionPlan | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "web/subscriptions/plan_form.html",
        {"form": form, "plan": plan},
        status=status,
    )


@page
@require_http_methods(["GET", "POST"])
def plan_add(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = _plan_form(request.user, request.POST)
        try:
            plan = services.create_plan(actor=request.user, now=base.now(), data=form.posted())
        except BillcoreError as exc:
            return _plan_page(request, form, None, fail(form, exc))
        messages.success(request, f"Subscription plan “{plan.name}” saved.")
        return redirect("subscription-plan-list")
    return _plan_page(request, _plan_form(request.user), None)


@page
@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.get_plan(actor=request.user, plan_id=plan_id)
    if request.method == "POST":
        form = _plan_form(request.user, request.POST, plan)
        try:
            plan = services.update_plan(
                actor=request.user, now=base.now(), plan_id=plan.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            return _plan_page(request, form, plan, fail(form, exc))
        messages.success(request, f"Subscription plan “{plan.name}” saved.")
        return redirect("subscription-plan-list")
    return _plan_page(request, _plan_form(request.user, None, plan), plan)


@page
@require_POST
def plan_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.get_plan(actor=request.user, plan_id=plan_id)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Delete subscription plan",
            question=f"Delete the subscription plan “{plan.name}”? This cannot be undone.",
            button="Delete",
            back_url=reverse("subscription-plan-edit", args=[plan.pk]),
        )
    try:
        services.delete_plan(actor=request.user, now=base.now(), plan_id=plan.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return redirect("subscription-plan-edit", plan_id=plan.pk)
    messages.success(request, f"Subscription plan “{plan.name}” deleted.")
    return redirect("subscription-plan-list")


# --------------------------------------------------------------------------- customer tab


def _subscribe_form(request: HttpRequest, customer: Customer, data: Any = None) -> SubscribeForm:
    plans = selectors.plans_for_customer(actor=request.user, customer_id=customer.pk)
    return SubscribeForm(
        data,
        plans=[(p.pk, f"{p.name} ({p.fee.normalize():f} {p.currency_id})") for p in plans],
        time_zone=customer_zone(customer).key,
    )


@customer_tab
def subscriptions_tab_context(
    request: HttpRequest, customer: Customer, *, subscribe_form: SubscribeForm | None = None
) -> dict[str, Any]:
    """What the Subscriptions tab shows."""
    zone = customer_zone(customer)
    now = base.now()
    rows = []
    for sub in selectors.customer_subscriptions(actor=request.user, customer_id=customer.pk):
        rows.append(
            {
                "sub": sub,
                "start": local_time(sub.start_at, zone),
                "end": local_time(sub.end_at, zone),
                "charged_to": local_time(sub.charged_to, zone),
                # End: not for one that ended (or whose end has come)
                "can_end": sub.status != SubscriptionStatus.ENDED
                and (sub.end_at is None or sub.end_at > now),
            }
        )
    return {
        "subscription_rows": rows,
        "subscribe_form": subscribe_form or _subscribe_form(request, customer),
        "subscribe_closed": customer.status == "closed",
    }


@page
@require_POST
def customer_subscribe(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = _subscribe_form(request, customer, request.POST)
    zone = customer_zone(customer)
    try:
        data = form.posted()
        for name in ("start_at", "end_at"):
            if name in data:
                data[name] = wall_clock(data[name], zone)
        sub = services.subscribe(
            actor=request.user, now=base.now(), customer_id=customer.pk, data=data
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, subscribe_form=form, status=status)
    messages.success(request, f"Subscribed to “{sub.plan.name}”.")
    return back_to_tab(customer, "subscriptions")


@page
@require_POST
def subscription_end(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """The End button: the subscription ends now (nothing charged in advance is refunded)."""
    sub = selectors.get_subscription(actor=request.user, subscription_id=subscription_id)
    try:
        services.end_subscription(
            actor=request.user, now=base.now(), subscription_id=sub.pk, end_at=base.now()
        )
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return back_to_tab(sub.customer, "subscriptions")
    messages.success(request, f"Subscription to “{sub.plan.name}” ended.")
    return back_to_tab(sub.customer, "subscriptions")

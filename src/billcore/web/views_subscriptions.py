"""Subscription plans (their own list and form, for administrators and resellers' users) and
the customer page's Subscriptions tab (CU-13; issue 5 §3). Same rule as ``views``: parse what
was posted, call a service or a selector with ``actor=request.user`` and the time, show what
came back; a service's error appears beside the input it names; ``NotFound`` is the 404 page.

Date-times on the tab are the customer's wall clock (its billing time zone): the start and end
inputs become aware datetimes here, and the dates of the list are shown so.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts.access import is_admin
from billcore.customers.models import Customer, CustomerType
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound
from billcore.subscriptions import selectors, services
from billcore.subscriptions.models import SubscriptionPlan, SubscriptionStatus
from billcore.web import views
from billcore.web.forms import Area, Choice, PageForm, Text, Toggle, input_amount
from billcore.web.views import _fail, _now, page

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
        f["charge_while_suspended"] = Toggle("Charge while the customer is suspended (CU-15)")
        f["charge_while_blocked"] = Toggle("Charge while the customer is blocked (CU-02)")
        if resellers is not None:
            f["managed_by"] = Choice("Managed by", [("", "Administrator"), *resellers])


def _resellers(actor: Any) -> list[tuple[Any, str]] | None:
    if not is_admin(actor):
        return None
    return list(
        Customer.objects.filter(customer_type=CustomerType.RESELLER)
        .order_by("name")
        .values_list("pk", "name")
    )


def _currencies() -> list[str]:
    from billcore.installation.models import Currency

    return list(Currency.objects.order_by("code").values_list("code", flat=True))


def _plan_form(actor: Any, data: Any = None, plan: SubscriptionPlan | None = None) -> PlanForm:
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
            plan = services.create_plan(actor=request.user, now=_now(), data=form.posted())
        except BillcoreError as exc:
            return _plan_page(request, form, None, _fail(form, exc))
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
                actor=request.user, now=_now(), plan_id=plan.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            return _plan_page(request, form, plan, _fail(form, exc))
        messages.success(request, f"Subscription plan “{plan.name}” saved.")
        return redirect("subscription-plan-list")
    return _plan_page(request, _plan_form(request.user, None, plan), plan)


@page
@require_POST
def plan_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.get_plan(actor=request.user, plan_id=plan_id)
    try:
        services.delete_plan(actor=request.user, now=_now(), plan_id=plan.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, exc.message)
        return redirect("subscription-plan-edit", plan_id=plan.pk)
    messages.success(request, f"Subscription plan “{plan.name}” deleted.")
    return redirect("subscription-plan-list")


# --------------------------------------------------------------------------- customer tab


def _zone(customer: Customer) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(customer.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _wall_clock(value: Any, zone: zoneinfo.ZoneInfo) -> Any:
    """A datetime-local value as an aware datetime; anything else goes to the service as
    posted, to be judged there."""
    import datetime as dt

    if not isinstance(value, str) or not value.strip():
        return value
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _subscribe_form(request: HttpRequest, customer: Customer, data: Any = None) -> SubscribeForm:
    plans = selectors.plans_for_customer(actor=request.user, customer_id=customer.pk)
    return SubscribeForm(
        data,
        plans=[(p.pk, f"{p.name} ({p.fee.normalize():f} {p.currency_id})") for p in plans],
        time_zone=_zone(customer).key,
    )


def subscriptions_tab_context(
    request: HttpRequest, customer: Customer, *, subscribe_form: SubscribeForm | None = None
) -> dict[str, Any]:
    """What the Subscriptions tab shows."""
    zone = _zone(customer)
    now = _now()
    rows = []
    for sub in selectors.customer_subscriptions(actor=request.user, customer_id=customer.pk):
        rows.append(
            {
                "sub": sub,
                "start": sub.start_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "end": sub.end_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if sub.end_at else "",
                "charged_to": sub.charged_to.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if sub.charged_to
                else "",
                # End: not for one that ended (or whose end has come)
                "can_end": sub.status != SubscriptionStatus.ENDED
                and (sub.end_at is None or sub.end_at > now),
            }
        )
    return {
        "subscription_rows": rows,
        "subscribe_form": subscribe_form or _subscribe_form(request, customer),
        "subscribe_closed": customer.status == "closed",
        # The Subscriptions tab is here now: no longer among the ones for later releases.
        "later_tabs": tuple(t for t in views.LATER_CUSTOMER_TABS if t != "Subscriptions"),
    }


def _back(customer: Customer) -> HttpResponse:
    return redirect(reverse("customer-edit", args=[customer.pk]) + "#tab-subscriptions")


@page
@require_POST
def customer_subscribe(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = _subscribe_form(request, customer, request.POST)
    zone = _zone(customer)
    try:
        data = form.posted()
        for name in ("start_at", "end_at"):
            if name in data:
                data[name] = _wall_clock(data[name], zone)
        sub = services.subscribe(actor=request.user, now=_now(), customer_id=customer.pk, data=data)
    except BillcoreError as exc:
        status = _fail(form, exc)
        return views._customer_page(request, customer, subscribe_form=form, status=status)
    messages.success(request, f"Subscribed to “{sub.plan.name}”.")
    return _back(customer)


@page
@require_POST
def subscription_end(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """The End button: the subscription ends now (nothing charged in advance is refunded)."""
    sub = selectors.get_subscription(actor=request.user, subscription_id=subscription_id)
    try:
        services.end_subscription(
            actor=request.user, now=_now(), subscription_id=sub.pk, end_at=_now()
        )
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, exc.message)
        return _back(sub.customer)
    messages.success(request, f"Subscription to “{sub.plan.name}” ended.")
    return _back(sub.customer)

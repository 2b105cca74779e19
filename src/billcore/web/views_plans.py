"""The discount plan pages (issue 13): the Rating section's "Discount plans" (list, add, edit
with its rules, clone, delete, assignment to products), a rule's page, the customer page's
Discounts and Quotas & Service Wallets tabs (CU-13), an account's plans page (the account's
equivalent of both tabs, with the assignment to the account) and a wallet's top-up page.

Same rule as ``base``: parse what was posted, call ``plans.services`` / ``plans.wallets`` with
``actor=request.user`` and the time, show what came back; a service's error appears beside
the input it names and nothing is saved; another reseller's plan is the 404 page.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billcore.accounts.access import Actor, is_admin
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.installation.models import Currency
from billcore.plans import selectors, services, wallets
from billcore.plans.models import (
    DiscountPlan,
    Measure,
    OnExhausted,
    PeakScope,
    PlanAssignment,
    PlanRule,
    Reset,
    RuleKind,
)
from billcore.plans.selectors import RuleUsage
from billcore.rating import selectors as rating_selectors
from billcore.rating.models import BaseUnit, DestinationGroup, RatingBase, Service
from billcore.subscribers.models import Account
from billcore.subscribers.services import get_account
from billcore.web import base, confirm, exports
from billcore.web.base import fail, local_time, page, paginate, query, reseller_choices
from billcore.web.customer_page import customer_page, customer_tab
from billcore.web.forms import clerk_text, input_amount
from billcore.web.forms_plans import AssignForm, PlanForm, RuleForm, TopUpForm, bands_text

UTC = dt.UTC
CUSTOMER_ASSIGN_FORM = "discount-assign"
TAB_ACCOUNTS = 20  # accounts the customer's tabs detail; each account's page has them all


# --------------------------------------------------------------------------- formatting


def units(rule: PlanRule, value: Decimal | None, currency: str = "") -> str:
    """A rule's volume, counter or threshold as a clerk reads it: money with its currency;
    seconds as minutes (and seconds); other units with their unit."""
    if value is None:
        return "Unlimited"
    if rule.measure == Measure.MONEY:
        return f"{input_amount(value)} {currency or rule.plan.currency_id}".strip()
    service: Service = rule.service
    if service.rating_base == RatingBase.TIME:
        whole = int(value)
        minutes, seconds = divmod(whole, 60)
        if value == whole and seconds == 0:
            return f"{minutes} min"
        return f"{minutes} min {input_amount(value - minutes * 60)} s"
    unit = BaseUnit(service.base_unit).label.split(" (")[0].lower()
    return f"{input_amount(value)} {unit}{'s' if value != 1 and not unit.endswith('s') else ''}"


def rule_summary(rule: PlanRule) -> str:
    """One line: what the rule gives."""
    if rule.kind == RuleKind.DISCOUNT:
        bands = list(rule.bands.all())
        parts = [f"from {units(rule, b.threshold)} {input_amount(b.percent)} % off" for b in bands]
        return "; ".join(parts) or "No bands"
    if rule.kind == RuleKind.QUOTA:
        text = (
            f"{units(rule, rule.volume)} free, renewed {Reset(rule.renewal_period).label.lower()}"
        )
        if rule.rollovers:
            text += f", {rule.rollovers} rollover{'s' if rule.rollovers > 1 else ''}"
        text += f"; used up: {OnExhausted(rule.on_exhausted).label.lower()}"
        if rule.speed_policy:
            text += f" ({rule.speed_policy})"
        return text
    text = f"starts with {units(rule, rule.initial_volume)}"
    if rule.expiry_days:
        text += f", lives {rule.expiry_days} days"
    elif rule.expiry_date:
        text += f", expires {rule.expiry_date:%Y-%m-%d}"
    sources = wallets.allowed_sources(rule)
    return text + (f"; top-up: {', '.join(sources)}" if sources else "; no top-up")


def _group(rule: PlanRule) -> str:
    return rule.destination_group.name if rule.destination_group else "Every destination"


def _owner(plan: DiscountPlan) -> str:
    return plan.managed_by.name if plan.managed_by is not None else "Administrator"


def _target(a: PlanAssignment) -> tuple[str, str]:
    """What an assignment is on, and the page of it."""
    if a.product is not None:
        return f"Product “{a.product.name}”", reverse("rating-products-edit", args=[a.product_id])
    if a.account is not None:
        account = a.account
        return (
            f"Account {account.identifier}",
            reverse("plans-account", args=[account.customer_id, account.pk]),
        )
    name = a.customer.name if a.customer is not None else ""
    return f"Customer “{name}”", reverse("customer-edit", args=[a.customer_id])


def _period(a: PlanAssignment) -> str:
    start = local_time(a.valid_from, UTC)
    return f"{start} → {local_time(a.valid_to, UTC) if a.valid_to else 'open-ended'} (UTC)"


# --------------------------------------------------------------------------- choices


def _currencies() -> list[tuple[str, str]]:
    return [(c.code, c.code) for c in Currency.objects.order_by("code")]


def _all_groups() -> list[tuple[int, str]]:
    return list(DestinationGroup.objects.order_by("name", "id").values_list("pk", "name"))


def _services() -> list[tuple[str, str]]:
    return [(s.code, f"{s.name} ({s.code})") for s in Service.objects.order_by("code")]


def _plan_form(actor: Actor, data: Any, plan: DiscountPlan | None) -> PlanForm:
    initial = None
    if plan is not None:
        initial = {
            "name": plan.name,
            "currency": plan.currency_id,
            "managed_by": plan.managed_by_id or "",
            "destination_groups": [str(g.pk) for g in plan.destination_groups.all()],
            "draft": plan.draft,
            "description": plan.description,
        }
    return PlanForm(
        data,
        initial=initial,
        is_new=plan is None,
        currencies=_currencies(),
        groups=_all_groups(),
        resellers=reseller_choices(actor) if is_admin(actor) else None,
    )


def _rule_form(plan: DiscountPlan, data: Any = None, rule: PlanRule | None = None) -> RuleForm:
    groups = [(g.pk, g.name) for g in plan.destination_groups.all()]
    initial = None
    if rule is not None:
        initial = {
            "kind": rule.kind,
            "service": rule.service_id,
            "measure": rule.measure,
            "destination_group": rule.destination_group_id or "",
            "peak_scope": rule.peak_scope,
            "reset": rule.reset,
            "bands": bands_text(list(rule.bands.all())),
            "split_xdrs": rule.split_xdrs,
            "prorate_first_period": rule.prorate_first_period,
            "volume": input_amount(rule.volume) if rule.volume is not None else "",
            "renewal_period": rule.renewal_period,
            "renewal_anchor_date": rule.renewal_anchor_date.isoformat()
            if rule.renewal_anchor_date
            else "",
            "rollovers": rule.rollovers,
            "on_exhausted": rule.on_exhausted,
            "speed_policy": rule.speed_policy,
            "initial_volume": input_amount(rule.initial_volume),
            "expiry_days": rule.expiry_days or "",
            "expiry_date": rule.expiry_date.isoformat() if rule.expiry_date else "",
            "topup_credit": rule.topup_credit,
            "topup_card": rule.topup_card,
            "topup_balance": rule.topup_balance,
            "topup_extend_days": rule.topup_extend_days,
        }
    return RuleForm(
        data,
        initial=initial,
        kind=rule.kind if rule is not None else None,
        services=_services(),
        groups=groups,
    )


def _plans_for(actor: Actor, *, currency: str, owner: int | None) -> list[tuple[int, str]]:
    """The plans that may go to a target of this currency and owner (published ones)."""
    qs = selectors.visible_plans(actor=actor).filter(
        currency_id=currency, managed_by_id=owner, draft=False
    )
    return list(qs.order_by("name", "id").values_list("pk", "name"))


# --------------------------------------------------------------------------- the plans


@page
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    search = query(request, "q").strip()
    plans = selectors.list_plans(actor=request.user, search=search)
    if exports.wanted(request):
        return exports.csv_response(
            "discount-plans.csv",
            ["Id", "Name", "Currency", "Rules", "Status", "Managed by"],
            (
                (p.pk, p.name, p.currency_id, len(p.rules.all()), _status(p), _owner(p))
                for p in exports.rows_of(plans)
            ),
        )
    items = paginate(request, plans)
    rows = [
        {
            "url": reverse("plans-edit", args=[p.pk]),
            "plan": p,
            "rules": _rules_count(p),
            "status": _status(p),
            "owner": _owner(p),
        }
        for p in items
    ]
    context = {"page": items, "rows": rows, "q": search, "rating_section": "discount-plans"}
    return render(request, "web/plans/plan_list.html", context)


def _status(plan: DiscountPlan) -> str:
    return "Draft" if plan.draft else "Published"


def _rules_count(plan: DiscountPlan) -> str:
    counts: dict[str, int] = {}
    for rule in plan.rules.all():
        counts[rule.kind] = counts.get(rule.kind, 0) + 1
    words = {"discount": "discount", "quota": "quota", "wallet": "wallet"}
    parts = [f"{n} {words[k]}{'s' if n > 1 else ''}" for k, n in counts.items()]
    return ", ".join(parts) or "No rules"


@page
@require_http_methods(["GET", "POST"])
def plan_add(request: HttpRequest) -> HttpResponse:
    actor = request.user
    if request.method == "POST":
        form = _plan_form(actor, request.POST, None)
        try:
            plan = services.create_plan(actor=actor, now=base.now(), data=form.posted())
        except BillcoreError as exc:
            status = fail(form, exc)
            return _plan_page(request, form, None, status=status)
        messages.success(request, f"Discount plan “{plan.name}” saved. Add its rules.")
        return redirect("plans-edit", plan_id=plan.pk)
    return _plan_page(request, _plan_form(actor, None, None), None)


def _plan_page(
    request: HttpRequest,
    form: PlanForm,
    plan: DiscountPlan | None,
    *,
    status: int = 200,
    rule_form: RuleForm | None = None,
    assign_form: AssignForm | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {"form": form, "plan": plan, "rating_section": "discount-plans"}
    if plan is not None:
        rules = [
            {"rule": r, "summary": rule_summary(r), "group": _group(r)} for r in plan.rules.all()
        ]
        assignments = [
            {"a": a, "target": _target(a), "period": _period(a), "ended": _ended(a)}
            for a in selectors.plan_assignments(actor=request.user, plan_id=plan.pk)
        ]
        products = rating_selectors.visible_products(actor=request.user).filter(
            currency_id=plan.currency_id, managed_by_id=plan.managed_by_id
        )
        context.update(
            {
                "rules": rules,
                "rule_form": rule_form or _rule_form(plan),
                "assignments": assignments,
                "assign_form": assign_form
                or AssignForm(
                    plans=[(plan.pk, plan.name)],
                    products=[(p.pk, f"{p.name} ({p.get_kind_display()})") for p in products],
                ),
            }
        )
    return render(request, "web/plans/plan_form.html", context, status=status)


def _ended(a: PlanAssignment) -> bool:
    return a.valid_to is not None and a.valid_to <= base.now()


@page
@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = request.user
    plan = selectors.get_plan(actor=actor, plan_id=plan_id)
    if request.method == "POST":
        form = _plan_form(actor, request.POST, plan)
        try:
            plan = services.update_plan(
                actor=actor, now=base.now(), plan_id=plan.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            status = fail(form, exc)
            plan = selectors.get_plan(actor=actor, plan_id=plan_id)
            return _plan_page(request, form, plan, status=status)
        messages.success(request, f"Discount plan “{plan.name}” saved.")
        return redirect("plans-edit", plan_id=plan.pk)
    return _plan_page(request, _plan_form(actor, None, plan), plan)


def _ask_then(
    request: HttpRequest,
    *,
    title: str,
    question: str,
    button: str,
    back: str,
    act: Any,
    done: Any,
    after: str,
) -> HttpResponse:
    """Ask first (the confirmation page works without JavaScript), then ``act``; a refusal
    goes back to ``back`` with its message, success to ``after`` with ``done(result)``."""
    if not confirm.confirmed(request):
        return confirm.ask(request, title=title, question=question, button=button, back_url=back)
    try:
        result = act()
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return redirect(back)
    messages.success(request, done(result))
    return redirect(after)


@page
@require_POST
def plan_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.get_plan(actor=request.user, plan_id=plan_id)
    name = plan.name
    return _ask_then(
        request,
        title="Delete discount plan",
        question=f"Delete the discount plan “{name}” and its rules? This cannot be undone.",
        button="Delete",
        back=reverse("plans-edit", args=[plan.pk]),
        act=lambda: services.delete_plan(actor=request.user, now=base.now(), plan_id=plan.pk),
        done=lambda _: f"Discount plan “{name}” deleted.",
        after=reverse("plans-list"),
    )


@page
@require_POST
def plan_clone(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.get_plan(actor=request.user, plan_id=plan_id)
    try:
        copy = services.clone_plan(actor=request.user, now=base.now(), plan_id=plan.pk)
    except BillcoreError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, clerk_text(exc.message))
        return redirect("plans-edit", plan_id=plan.pk)
    messages.success(request, f"Discount plan “{plan.name}” cloned as “{copy.name}” (a draft).")
    return redirect("plans-edit", plan_id=copy.pk)


# --------------------------------------------------------------------------- rules


@page
@require_POST
def rule_add(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = request.user
    plan = selectors.get_plan(actor=actor, plan_id=plan_id)
    form = _rule_form(plan, request.POST)
    try:
        services.create_rule(actor=actor, now=base.now(), plan_id=plan.pk, data=form.posted())
    except BillcoreError as exc:
        status = fail(form, exc)
        return _plan_page(
            request, _plan_form(actor, None, plan), plan, status=status, rule_form=form
        )
    messages.success(request, "Rule added.")
    return redirect(reverse("plans-edit", args=[plan.pk]) + "#rules")


@page
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, plan_id: int, rule_id: int) -> HttpResponse:
    actor = request.user
    rule = selectors.get_rule(actor=actor, plan_id=plan_id, rule_id=rule_id)
    plan = selectors.get_plan(actor=actor, plan_id=plan_id)
    status = 200
    if request.method == "POST":
        form = _rule_form(plan, request.POST, rule)
        try:
            services.update_rule(
                actor=actor,
                now=base.now(),
                plan_id=plan.pk,
                rule_id=rule.pk,
                changes=form.posted(),
            )
        except BillcoreError as exc:
            status = fail(form, exc)
        else:
            messages.success(request, "Rule saved.")
            return redirect(reverse("plans-edit", args=[plan.pk]) + "#rules")
    else:
        form = _rule_form(plan, None, rule)
    context = {
        "plan": plan,
        "rule": rule,
        "form": form,
        "summary": rule_summary(rule),
        "rating_section": "discount-plans",
    }
    return render(request, "web/plans/rule_form.html", context, status=status)


@page
@require_POST
def rule_delete(request: HttpRequest, plan_id: int, rule_id: int) -> HttpResponse:
    rule = selectors.get_rule(actor=request.user, plan_id=plan_id, rule_id=rule_id)
    back = reverse("plans-edit", args=[rule.plan_id])
    return _ask_then(
        request,
        title="Delete rule",
        question=f"Delete this {RuleKind(rule.kind).label.lower()} rule of “{rule.plan.name}”?",
        button="Delete",
        back=back,
        act=lambda: services.delete_rule(
            actor=request.user, now=base.now(), plan_id=rule.plan_id, rule_id=rule.pk
        ),
        done=lambda _: "Rule deleted.",
        after=back + "#rules",
    )


# --------------------------------------------------------------------------- assignments


@page
@require_POST
def plan_assign_product(request: HttpRequest, plan_id: int) -> HttpResponse:
    actor = request.user
    plan = selectors.get_plan(actor=actor, plan_id=plan_id)
    products = rating_selectors.visible_products(actor=actor).filter(
        currency_id=plan.currency_id, managed_by_id=plan.managed_by_id
    )
    form = AssignForm(
        request.POST,
        plans=[(plan.pk, plan.name)],
        products=[(p.pk, p.name) for p in products],
    )
    data = form.posted()
    data["plan"] = plan.pk
    product_id = request.POST.get("assign_product", "")
    try:
        if not product_id.strip():
            raise ValidationFailed("product is required", field="assign_product", code="required")
        services.assign_to_product(actor=actor, now=base.now(), product_id=product_id, data=data)
    except NotFound:
        exc = ValidationFailed(
            f"product {product_id} does not exist", field="assign_product", code="not_found"
        )
        status = fail(form, exc)
        return _plan_page(
            request, _plan_form(actor, None, plan), plan, status=status, assign_form=form
        )
    except BillcoreError as exc:
        if exc.field == "plan":  # this page's plan is fixed: the product is what to change
            message = exc.message.removeprefix("plan: ")
            message = message[:1].upper() + message[1:]
            exc = ValidationFailed(message, field="assign_product", code=exc.code)
        status = fail(form, exc)
        return _plan_page(
            request, _plan_form(actor, None, plan), plan, status=status, assign_form=form
        )
    messages.success(request, f"Discount plan “{plan.name}” assigned.")
    return redirect(reverse("plans-edit", args=[plan.pk]) + "#assignments")


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@page
@require_POST
def assignment_end(request: HttpRequest, assignment_id: int) -> HttpResponse:
    actor = request.user
    assignment = selectors.get_assignment(actor=actor, assignment_id=assignment_id)
    label, _ = _target(assignment)
    back = _safe_next(request, reverse("plans-edit", args=[assignment.plan_id]))
    name = assignment.plan.name
    return _ask_then(
        request,
        title="End assignment",
        question=f"Stop applying the discount plan “{name}” to {label[0].lower()}{label[1:]}?",
        button="End",
        back=back,
        act=lambda: services.unassign(actor=actor, now=base.now(), assignment_id=assignment.pk),
        done=lambda result: f"Discount plan “{name}” "
        + ("removed (it had not started)." if result is None else "ended."),
        after=back,
    )


# --------------------------------------------------------------------------- usage rows


@dataclass(frozen=True)
class UsageRow:
    """One rule in force, as the tabs show it."""

    usage: RuleUsage
    plan: str
    source: str
    kind: str
    service: str
    group: str
    scope: str
    summary: str
    used: str
    volume: str
    left: str
    percent: int | None
    expires: str
    band: str
    balance: str
    history: list[tuple[str, str, str]]
    entries: list[tuple[str, str, str, str]]
    topup_url: str


SOURCE_LABEL = {
    "account": "Account",
    "addon": "Add-on product",
    "main": "Main product",
    "customer": "Customer",
}


def _usage_row(customer: Customer, u: RuleUsage) -> UsageRow:
    rule = u.rule
    currency = customer.currency_id
    zone = base.customer_zone(customer)
    band = u.current_band if rule.kind == RuleKind.DISCOUNT else None
    balance = ""
    if rule.kind == RuleKind.WALLET:
        held = u.wallet.balance if u.wallet is not None else rule.initial_volume
        balance = units(rule, held, currency)
    history = [
        (
            local_time(c.period_start, zone, "%Y-%m-%d"),
            local_time(c.period_end, zone, "%Y-%m-%d") if c.period_end else "never",
            f"{units(rule, c.used, currency)}"
            + (f" of {units(rule, c.volume, currency)}" if rule.kind == RuleKind.QUOTA else ""),
        )
        for c in u.history
    ]
    entries = [
        (
            local_time(e.created_at, zone),
            e.get_kind_display(),
            units(rule, e.amount, currency),
            units(rule, e.balance_after, currency),
        )
        for e in u.entries
    ]
    topup_url = ""
    if rule.kind == RuleKind.WALLET and wallets.allowed_sources(rule):
        topup_url = reverse("plans-wallet-topup", args=[customer.pk, rule.pk])
        if u.account is not None:
            topup_url += f"?account={u.account.pk}"
    expires = u.expires_at
    return UsageRow(
        usage=u,
        plan=u.applied.plan.name,
        source=SOURCE_LABEL.get(u.applied.source, u.applied.source),
        kind=RuleKind(rule.kind).label,
        service=rule.service.name,
        group=_group(rule),
        scope=PeakScope(rule.peak_scope).label,
        summary=rule_summary(rule),
        used=units(rule, u.used, currency),
        volume=units(rule, u.volume, currency) if rule.kind == RuleKind.QUOTA else "",
        left=units(rule, u.left, currency) if rule.kind == RuleKind.QUOTA else "",
        percent=u.percent_used if rule.kind == RuleKind.QUOTA else None,
        expires=local_time(expires, zone) if expires else "Never",
        band=f"{input_amount(band.percent)} % off" if band is not None else "",
        balance=balance,
        history=history,
        entries=entries,
        topup_url=topup_url,
    )


def _usage_rows(customer: Customer, usage: list[RuleUsage]) -> dict[str, list[UsageRow]]:
    rows = [_usage_row(customer, u) for u in usage]
    return {
        "discounts": [r for r in rows if r.usage.rule.kind == RuleKind.DISCOUNT],
        "quotas": [r for r in rows if r.usage.rule.kind == RuleKind.QUOTA],
        "wallets": [r for r in rows if r.usage.rule.kind == RuleKind.WALLET],
    }


# --------------------------------------------------------------------------- customer tabs


def _customer_assign_form(request: HttpRequest, customer: Customer, data: Any = None) -> AssignForm:
    form = AssignForm(
        data,
        plans=_plans_for(request.user, currency=customer.currency_id, owner=customer.reseller_id),
    )
    for field in form.fields.values():
        field.widget.attrs["form"] = CUSTOMER_ASSIGN_FORM
    return form


@customer_tab
def plans_tab_context(
    request: HttpRequest, customer: Customer, *, discount_assign_form: AssignForm | None = None
) -> dict[str, Any]:
    """The Discounts tab (the customer's own plans, what its accounts' discounts are) and the
    Quotas & Service Wallets tab (every account's and the customer's quotas and wallets)."""
    actor = request.user
    now = base.now()
    assignments = [
        {"a": a, "period": _period(a), "ended": _ended(a)}
        for a in selectors.customer_assignments(actor=actor, customer_id=customer.pk)
    ]
    own = _usage_rows(
        customer, selectors.customer_usage(actor=actor, customer_id=customer.pk, at=now)
    )
    accounts = []
    open_accounts = customer.accounts.filter(terminated_at__isnull=True).order_by("identifier")
    shown = list(open_accounts[: TAB_ACCOUNTS + 1])
    for account in shown[:TAB_ACCOUNTS]:
        usage = selectors.account_usage(actor=actor, account_id=account.pk, at=now)
        rows = _usage_rows(customer, [u for u in usage if u.applied.source != "customer"])
        accounts.append({"account": account, **rows})
    return {
        "plan_assignments": assignments,
        "plan_assign_form": discount_assign_form or _customer_assign_form(request, customer),
        "plan_own": own,
        "plan_accounts": accounts,
        "plan_more_accounts": len(shown) > TAB_ACCOUNTS,
        "plan_assign_form_id": CUSTOMER_ASSIGN_FORM,
    }


@page
@require_POST
def customer_assign(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = _customer_assign_form(request, customer, request.POST)
    try:
        services.assign_to_customer(
            actor=request.user, now=base.now(), customer_id=customer.pk, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, discount_assign_form=form, status=status)
    messages.success(request, "Discount plan assigned to the customer.")
    return base.back_to_tab(customer, "discounts")


# --------------------------------------------------------------------------- account page


def _account_of(request: HttpRequest, customer_id: int, account_id: int) -> Account:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    account = get_account(actor=request.user, account_id=account_id)
    if account.customer_id != customer.pk:
        raise NotFound(f"account {account_id} not found", field="id")
    return account


def _account_page(
    request: HttpRequest, account: Account, *, form: AssignForm | None = None, status: int = 200
) -> HttpResponse:
    actor = request.user
    customer = account.customer
    now = base.now()
    usage = selectors.account_usage(actor=actor, account_id=account.pk, at=now)
    assignments = [
        {"a": a, "period": _period(a), "ended": _ended(a)}
        for a in selectors.account_assignments(actor=actor, account_id=account.pk)
    ]
    applied = [
        {"plan": a.plan, "source": SOURCE_LABEL[a.source], "precedence": a.precedence}
        for a in selectors.account_plans(actor=actor, account_id=account.pk, at=now)
    ]
    context = {
        "customer": customer,
        "account": account,
        "assignments": assignments,
        "applied": applied,
        "assign_form": form
        or AssignForm(
            plans=_plans_for(actor, currency=customer.currency_id, owner=customer.reseller_id)
        ),
        **_usage_rows(customer, usage),
    }
    return render(request, "web/plans/account_plans.html", context, status=status)


@page
@require_http_methods(["GET", "POST"])
def account_plans(request: HttpRequest, customer_id: int, account_id: int) -> HttpResponse:
    """The account's Discounts and Quotas & Service Wallets; a POST assigns a plan to it."""
    account = _account_of(request, customer_id, account_id)
    if request.method == "GET":
        return _account_page(request, account)
    customer = account.customer
    form = AssignForm(
        request.POST,
        plans=_plans_for(request.user, currency=customer.currency_id, owner=customer.reseller_id),
    )
    try:
        services.assign_to_account(
            actor=request.user, now=base.now(), account_id=account.pk, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _account_page(request, account, form=form, status=status)
    messages.success(request, f"Discount plan assigned to account {account.identifier}.")
    return redirect("plans-account", customer_id=customer.pk, account_id=account.pk)


# --------------------------------------------------------------------------- wallet top-up


@page
@require_http_methods(["GET", "POST"])
def wallet_topup(request: HttpRequest, customer_id: int, rule_id: int) -> HttpResponse:
    """Top a wallet up (the account's with ``?account=``, else the customer's own)."""
    actor = request.user
    customer = get_customer(actor=actor, customer_id=customer_id)
    account_id = base.query_id(request.GET.get("account") or request.POST.get("account"))
    account = None
    now = base.now()
    if account_id is not None:
        account = _account_of(request, customer.pk, account_id)
        usage = selectors.account_usage(actor=actor, account_id=account.pk, at=now)
        usage = [u for u in usage if u.applied.source != "customer"]
    else:
        usage = selectors.customer_usage(actor=actor, customer_id=customer.pk, at=now)
    found = [u for u in usage if u.rule.pk == rule_id and u.rule.kind == RuleKind.WALLET]
    if not found:
        raise NotFound(f"wallet {rule_id} not found", field="id")
    row = _usage_row(customer, found[0])
    sources = [(s, s.capitalize()) for s in wallets.allowed_sources(found[0].rule)]
    labels = {"balance": "The balance (a transfer)", "card": "A card", "credit": "Credit (free)"}
    sources = [(s, labels[s]) for s, _ in sources]
    status = 200
    form = TopUpForm(request.POST if request.method == "POST" else None, sources=sources)
    if request.method == "POST":
        try:
            data = form.posted()
            data["idempotency_key"] = request.POST.get("idempotency_key", "")
            wallets.top_up(
                actor=actor,
                now=now,
                rule_id=rule_id,
                data=data,
                account_id=account.pk if account is not None else None,
                customer_id=customer.pk,
            )
        except BillcoreError as exc:
            status = fail(form, exc)
        else:
            messages.success(request, "Wallet topped up.")
            if account is not None:
                return redirect("plans-account", customer_id=customer.pk, account_id=account.pk)
            return base.back_to_tab(customer, "quotas")
    context = {
        "customer": customer,
        "account": account,
        "row": row,
        "form": form,
        "idempotency_key": request.POST.get("idempotency_key") or secrets.token_urlsafe(24),
    }
    return render(request, "web/plans/wallet_topup.html", context, status=status)

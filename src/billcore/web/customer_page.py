"""The customer page's frame (CU-03, CU-13): its header form, the balance-adjustment dialog,
the transactions, and the tabs that other modules fill in.

A tab module (``views_customer_tabs``, ``views_invoicing``, ``views_subscriptions``) imports
this one and registers what its tabs show with ``@customer_tab``; this module imports none of
them, so a tab's view can draw the whole page again (``customer_page``) with its bound form
and the service's error. The tabs register when their module is imported; ``web.urls`` imports
every view module, so every tab is there before any page is drawn.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billcore.accounts.access import is_admin
from billcore.classes.models import CustomerClass
from billcore.classes.selectors import assignable_classes
from billcore.customers.models import BalanceControl, Customer, CustomerType
from billcore.customers.services import default_class
from billcore.installation.models import Currency, CustomField
from billcore.ledger.selectors import customer_transactions
from billcore.web.base import paginate, reseller_choices, time_zones
from billcore.web.forms import AdjustmentForm, ClassOption, CustomerForm, customer_initial

TabContext = Callable[..., dict[str, Any]]


# --------------------------------------------------------------------------- tab registry


@dataclass(frozen=True)
class CustomerTab:
    """What one module's tabs show: ``context(request, customer, **forms)`` gives the template
    variables; ``forms`` are its keyword-only parameters, the bound forms (with the service's
    error) that a failed POST of the tab draws again."""

    context: TabContext
    forms: frozenset[str]


_TABS: list[CustomerTab] = []


def customer_tab(context: TabContext) -> TabContext:
    """Register ``context`` as a part of the customer page (a decorator)."""
    parameters = inspect.signature(context).parameters.values()
    forms = frozenset(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)
    _TABS.append(CustomerTab(context=context, forms=forms))
    return context


def tabs_context(request: HttpRequest, customer: Customer, **tab_forms: Any) -> dict[str, Any]:
    """What every registered tab shows; each tab gets the bound forms that are its own."""
    unknown = set(tab_forms).difference(*(tab.forms for tab in _TABS))
    if unknown:
        raise TypeError(f"no customer tab takes {', '.join(sorted(unknown))}")
    context: dict[str, Any] = {"customer_tabs": True}
    for tab in _TABS:
        part = tab.context(
            request, customer, **{k: v for k, v in tab_forms.items() if k in tab.forms}
        )
        clash = context.keys() & part.keys()
        if clash:
            raise RuntimeError(f"two customer tabs set {', '.join(sorted(clash))}")
        context.update(part)
    return context


# --------------------------------------------------------------------------- the page


def _class_options(classes: Iterable[CustomerClass]) -> list[ClassOption]:
    return [
        ClassOption(
            id=c.pk,
            name=c.name,
            currency=c.currency_id or "",
            mandatory=tuple(cf.name for cf in c.mandatory_custom_fields.all()),
        )
        for c in classes
    ]


def customer_form(
    request: HttpRequest, customer: Customer | None, data: Any = None
) -> CustomerForm:
    """The customer's form (a new customer's when ``customer`` is None), bound to ``data``."""
    actor = request.user
    admin = is_admin(actor)
    currency = customer.currency_id if customer else None
    classes = list(
        assignable_classes(actor=actor, currency=currency).prefetch_related(
            "mandatory_custom_fields"
        )
    )
    locked = customer is not None and all(c.pk != customer.customer_class_id for c in classes)
    if customer is not None and locked:
        classes = [customer.customer_class]
    if customer is None:
        initial: dict[str, Any] = {
            "customer_type": CustomerType.RETAIL,
            "balance_control": BalanceControl.POSTPAID,
            "billing_period": Customer._meta.get_field("billing_period").default,
            "time_zone": Customer._meta.get_field("time_zone").default,
        }
        # The class create_customer gives when none is chosen, pre-selected when listed.
        default = default_class(actor=actor)
        if default is not None and any(c.pk == default.pk for c in classes):
            initial["customer_class"] = default.pk
    else:
        initial = customer_initial(customer)
    return CustomerForm(
        data,
        initial=initial,
        is_new=customer is None,
        is_admin=admin,
        currencies=[(c.code, f"{c.code} — {c.name}") for c in Currency.objects.all()],
        classes=_class_options(classes),
        class_locked=locked,
        resellers=reseller_choices(actor) if admin and customer is None else [],
        custom_fields=list(CustomField.objects.all()),
        time_zones=time_zones(),
    )


def adjustment_form(data: Any = None) -> AdjustmentForm:
    """The balance-adjustment dialog's form, with a fresh token (its idempotency key)."""
    return AdjustmentForm(data, initial={"idempotency_key": secrets.token_urlsafe(24)})


def customer_page(
    request: HttpRequest,
    customer: Customer,
    *,
    form: CustomerForm | None = None,
    adjust_form: AdjustmentForm | None = None,
    status: int = 200,
    **tab_forms: Any,
) -> HttpResponse:
    """The customer page with every tab filled in; ``tab_forms`` are bound forms of the tabs
    (temporary limit, fraud override, …) to show with their errors."""
    transactions = customer_transactions(actor=request.user, customer_id=customer.pk)
    context = {
        "customer": customer,
        "form": form or customer_form(request, customer),
        "adjust_form": adjust_form or adjustment_form(),
        "adjust_open": adjust_form is not None,
        "transactions": paginate(request, transactions, param="tx_page"),
        **tabs_context(request, customer, **tab_forms),
    }
    return render(request, "web/customer_form.html", context, status=status)

"""The customer page's Web Self-Care tab (CU-13, issue 16 §1): the customer's self-care login
(login, enabled, time zone, language), its password (set here, or generated and shown once),
two-factor authentication on or off (a new secret shown once), and "sign in as this customer"
(audited; self-care shows a banner while it lasts and a way back).

A secret shown once (a generated password, a TOTP secret) is drawn into the page answering the
POST and kept nowhere else: no redirect, no message stored in a cookie or the session.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from billcore.customers import logins
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound
from billcore.web import base
from billcore.web.base import back_to_tab, page, time_zones
from billcore.web.customer_page import customer_page, customer_tab

TAB = "selfcare"
LOGIN_FORM = "selfcare-login-form"


@customer_tab
def selfcare_tab_context(
    request: HttpRequest,
    customer: Customer,
    *,
    selfcare_posted: dict[str, Any] | None = None,
    selfcare_error: BillcoreError | None = None,
    selfcare_shown: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the Web Self-Care tab shows."""
    login = logins.get_login(actor=request.user, customer_id=customer.pk)
    values = {
        "login": login.login if login else "",
        "enabled": login.enabled if login else True,
        "time_zone": login.time_zone if login else customer.time_zone,
        "language": login.language if login else "en",
    }
    if selfcare_posted:
        values.update(selfcare_posted)
    return {
        "selfcare_login": login,
        "selfcare_values": values,
        "selfcare_error": selfcare_error,
        "selfcare_shown": selfcare_shown or {},
        "selfcare_languages": logins.LANGUAGES,
        "selfcare_time_zones": time_zones(),
        "selfcare_refusal": logins.refusal(customer),
    }


@page
@require_POST
def selfcare_save(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    posted = {
        "login": request.POST.get("login", ""),
        "enabled": request.POST.get("enabled", "") == "on",
        "time_zone": request.POST.get("time_zone", ""),
        "language": request.POST.get("language", ""),
    }
    data: dict[str, Any] = dict(posted)
    if request.POST.get("password"):
        data["password"] = request.POST["password"]
    try:
        logins.save_login(actor=request.user, now=base.now(), customer_id=customer.pk, data=data)
    except NotFound:
        raise
    except BillcoreError as exc:
        return customer_page(
            request, customer, selfcare_posted=posted, selfcare_error=exc, status=exc.status
        )
    return back_to_tab(customer, TAB)


@page
@require_POST
def selfcare_generate_password(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    password = logins.generate_password(actor=request.user, now=base.now(), customer_id=customer.pk)
    return customer_page(request, customer, selfcare_shown={"password": password})


@page
@require_POST
def selfcare_totp(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if request.POST.get("totp") == "on":
        secret, uri = logins.enable_totp(
            actor=request.user, now=base.now(), customer_id=customer.pk
        )
        return customer_page(request, customer, selfcare_shown={"totp_secret": secret, "uri": uri})
    logins.disable_totp(actor=request.user, now=base.now(), customer_id=customer.pk)
    return back_to_tab(customer, TAB)


@page
@require_POST
def selfcare_sign_in_as(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Open the customer's self-care in this browser (the audit row is written here)."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    try:
        ticket = logins.sign_in_as_ticket(
            actor=request.user, now=base.now(), customer_id=customer.pk
        )
    except NotFound:
        raise
    except BillcoreError as exc:
        return customer_page(request, customer, selfcare_error=exc, status=exc.status)
    return redirect(reverse("selfcare-enter") + "?" + urlencode({"ticket": ticket}))

"""The customer's self-care pages (``/my/``, issue 16 §1).

Each page parses what was posted, calls ``billcore.portal`` with the signed-in customer
(``Me``) and the time, and shows what came back; an error names its field and nothing is
saved; anything not the customer's own is the 404 page. Every form carries Django's CSRF
token (the middleware refuses a POST without it).

Signing in: login and password, then (two-factor authentication on) the authenticator's
code as a second step; failures count towards the shared lockout (``customers.logins``).
The session (``SelfcareSessionCookie``) holds the login's id and its credentials' version (a
password change ends every other session) and, when an administrator signed in as the
customer, their name: a banner shows it on every page with a way back.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts import lockout
from billcore.charging.models import Service, XdrStatus
from billcore.charging.selectors import xdrs_csv
from billcore.core.charts import Series, line_chart
from billcore.customers import logins
from billcore.customers.branding import seller_of
from billcore.customers.models import CustomerLogin
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.installation.services import get_settings
from billcore.invoicing.selectors import gateway_configured
from billcore.portal import services as portal
from billcore.portal.services import Me
from billcore.validation import as_int

SESSION_LOGIN = "selfcare_login"
SESSION_VERSION = "selfcare_version"
SESSION_ACTING = "selfcare_acting"
SESSION_PENDING = "selfcare_pending"  # a login whose password was right, waiting for its code
PENDING_SECONDS = 300
LOCAL_DAY = "%Y-%m-%d"

View = Callable[..., HttpResponseBase]


def _now() -> dt.datetime:
    return timezone.now()


class MeRequest(HttpRequest):
    me: Me


def _start_session(request: HttpRequest, login: CustomerLogin, *, acting: str = "") -> None:
    request.session.flush()
    request.session.cycle_key()
    request.session[SESSION_LOGIN] = login.pk
    request.session[SESSION_VERSION] = login.credentials_version
    if acting:
        request.session[SESSION_ACTING] = acting


def signed_in(view: View) -> View:
    """The page needs a signed-in customer allowed to use self-care now: otherwise to the
    sign-in page (with the reason when the customer lost its access)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        login_id = request.session.get(SESSION_LOGIN)
        login = CustomerLogin.objects.filter(pk=login_id).first() if login_id else None
        if login is None or login.credentials_version != request.session.get(SESSION_VERSION):
            if login is not None:
                request.session.flush()
            return redirect(f"/my/login/?next={request.path}")
        try:
            me = portal.me_for(login, acting=request.session.get(SESSION_ACTING, ""))
        except logins.SignInRefused as exc:
            request.session.flush()
            messages.error(request, exc.message)
            return redirect("selfcare-login")
        request.me = me  # type: ignore[attr-defined]
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return _page(request, "selfcare/404.html", {"message": exc.message}, status=404)

    return wrapped


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    seller = seller_of(me.customer, installation=get_settings())
    base = {
        "me": me,
        "customer": me.customer,
        # Who sells to the customer (issue 16 §2): its reseller's branding, or the operator.
        "seller": seller,
        "decimals": me.customer.currency.decimals,
        "section": template.rsplit("/", 1)[-1].removesuffix(".html"),
    }
    return render(request, template, {**base, **context}, status=status)


def _zone(me: Me) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(me.login.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _error(request: HttpRequest, exc: BillcoreError) -> None:
    messages.error(request, exc.message)


# --------------------------------------------------------------------------- signing in


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    now = _now()
    context: dict[str, Any] = {"name": ""}
    if request.method == "POST":
        name = request.POST.get("login", "")
        context["name"] = name
        try:
            login = logins.authenticate(
                request, name=name, password=request.POST.get("password", ""), now=now
            )
        except logins.CodeRequired:
            found = logins.find_login(name)
            assert found is not None
            request.session.cycle_key()
            request.session[SESSION_PENDING] = {"login": found.pk, "at": int(now.timestamp())}
            return redirect("selfcare-code")
        except lockout.LockedOut as exc:
            response = render(
                request, "selfcare/login.html", {**context, "error": exc.message}, status=429
            )
            response["Retry-After"] = str(exc.retry_after)
            return response
        except (logins.SignInFailed, logins.SignInRefused) as exc:
            return render(
                request,
                "selfcare/login.html",
                {**context, "error": exc.message},
                status=exc.status,
            )
        _start_session(request, login)
        logins.signed_in(login=login, now=now)
        return redirect(_next(request))
    return render(request, "selfcare/login.html", context)


def _next(request: HttpRequest) -> str:
    target = request.GET.get("next", "")
    if target.startswith("/my/") and "//" not in target and "\\" not in target:
        return target
    return "/my/"


@require_http_methods(["GET", "POST"])
def code_page(request: HttpRequest) -> HttpResponse:
    now = _now()
    pending = request.session.get(SESSION_PENDING) or {}
    pending_id = pending.get("login") if isinstance(pending, dict) else None
    login = CustomerLogin.objects.filter(pk=pending_id).first() if pending_id else None
    if login is None or now.timestamp() - int(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(SESSION_PENDING, None)
        return redirect("selfcare-login")
    if request.method == "POST":
        name = logins.THROTTLE_PREFIX + login.login
        try:
            lockout.check_allowed(request, username=name, now=now)
            if not logins.verify_code(login, request.POST.get("code", ""), now=now):
                lockout.record_failure(request, username=name, now=now)
                return render(request, "selfcare/code.html", {"error": "wrong code"}, status=401)
            logins.access(login)
        except lockout.LockedOut as exc:
            request.session.pop(SESSION_PENDING, None)
            return render(request, "selfcare/login.html", {"error": exc.message}, status=429)
        except logins.SignInRefused as exc:
            request.session.pop(SESSION_PENDING, None)
            return render(request, "selfcare/login.html", {"error": exc.message}, status=403)
        lockout.record_success(request, username=name)
        _start_session(request, login)
        logins.signed_in(login=login, now=now)
        return redirect("selfcare-overview")
    return render(request, "selfcare/code.html", {})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    acting = request.session.get(SESSION_ACTING)
    customer = None
    if acting:
        login_id = request.session.get(SESSION_LOGIN)
        login = CustomerLogin.objects.filter(pk=login_id).first() if login_id else None
        customer = login.customer_id if login else None
    request.session.flush()
    if acting and customer:
        # An administrator's way back: their own session was never touched.
        return HttpResponseRedirect(f"/customers/{customer}/#tab-selfcare")
    return redirect("selfcare-login")


def enter(request: HttpRequest) -> HttpResponse:
    """Where an administrator's "sign in as this customer" lands (a signed ticket, valid
    two minutes, audited when made)."""
    try:
        login, by = logins.redeem_ticket(request.GET.get("ticket", ""), now=_now())
        logins.access(login)
    except NotFound as exc:
        return render(request, "selfcare/login.html", {"error": exc.message}, status=404)
    except logins.SignInRefused as exc:
        return render(request, "selfcare/login.html", {"error": exc.message}, status=403)
    _start_session(request, login, acting=by)
    return redirect("selfcare-overview")


# --------------------------------------------------------------------------- pages


@signed_in
def overview(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    data = portal.overview(me, now=_now())
    chart = mark_safe(  # noqa: S308 - core.charts escapes every text
        line_chart(
            chart_id="balance-chart",
            title="Available funds, last 30 days" if data.prepaid else "Balance, last 30 days",
            labels=data.chart_labels,
            series=[Series("Available funds" if data.prepaid else "Balance", data.chart_values)],
            unit=me.customer.currency_id,
        )
    )
    return _page(
        request,
        "selfcare/overview.html",
        {
            "o": data,
            "chart": chart,
            "recent": portal.transactions(me)[:10],
            "zone": _zone(me),
        },
    )


def _day(value: str, field: str, zone: dt.tzinfo) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date (YYYY-MM-DD)", field=field) from None
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


@signed_in
def usage(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    zone = _zone(me)
    q = request.GET
    filters = {k: q.get(k, "") for k in ("service", "status", "from", "to", "account")}
    error = None
    try:
        service = filters["service"] or None
        status = filters["status"] or None
        if status is not None and status not in XdrStatus.values:
            raise ValidationFailed("status must be charged or denied", field="status")
        start = _day(filters["from"], "from", zone)
        end = _day(filters["to"], "to", zone)
        if end is not None:
            end += dt.timedelta(days=1)  # "to" is inclusive
        account = as_int("account", filters["account"], minimum=1) if filters["account"] else None
        rows = portal.xdrs(
            me, service=service, status=status, start=start, end=end, account_id=account
        )
    except NotFound:
        raise
    except BillcoreError as exc:
        error = exc.message
        rows = portal.xdrs(me)
    if q.get("format") == "csv" and error is None:
        response = StreamingHttpResponse(xdrs_csv(rows), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="usage.csv"'
        return response
    page = Paginator(rows, 50).get_page(q.get("page"))
    return _page(
        request,
        "selfcare/usage.html",
        {
            "page": page,
            "summary": portal.xdr_summary(rows),
            "filters": filters,
            "error": error,
            "services": Service.choices,
            "statuses": XdrStatus.choices,
            "accounts": portal.accounts(me),
            "zone": zone,
            "query": q.urlencode(),
        },
        status=400 if error else 200,
    )


@signed_in
def invoices(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    rows = portal.invoices(me)
    last = portal.last_invoice(me)
    return _page(
        request,
        "selfcare/invoices.html",
        {
            "page": Paginator(rows, 25).get_page(request.GET.get("page")),
            "last_id": last.pk if last else None,
            "card": portal.payment_method(me),
            "pay_key": secrets.token_urlsafe(16),
        },
    )


@signed_in
def seller_logo(request: HttpRequest) -> HttpResponse:
    """The logo of the reseller that sells to the signed-in customer (issue 16 §2)."""
    me: Me = request.me  # type: ignore[attr-defined]
    seller = seller_of(me.customer, installation=get_settings())
    if not seller.logo:
        raise NotFound("no logo")
    response = HttpResponse(seller.logo, content_type=seller.logo_type)
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@signed_in
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    found, body = portal.pdf(me, invoice_id)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="invoice-{found.number}.pdf"'
    return response


@signed_in
@require_POST
def pay_invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    try:
        paid = portal.pay_invoice(
            me,
            now=_now(),
            invoice_id=invoice_id,
            idempotency_key=request.POST.get("idempotency_key", ""),
        )
    except NotFound:
        raise
    except BillcoreError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Invoice {paid.number} is {paid.get_status_display().lower()}.")
    return redirect("selfcare-invoices")


@signed_in
@require_http_methods(["GET", "POST"])
def payments(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    now = _now()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "card":
                data = {
                    k: request.POST.get(k, "")
                    for k in ("card_number", "exp_month", "exp_year", "holder_name")
                }
                card = portal.save_card(me, now=now, data=data)
                messages.success(request, f"Card {card.brand} •••• {card.last4} saved.")
            elif action == "remove":
                portal.remove_card(me, now=now)
                messages.success(request, "The card was removed.")
            elif action == "topup":
                portal.top_up(
                    me,
                    now=now,
                    amount=request.POST.get("amount", ""),
                    idempotency_key=request.POST.get("idempotency_key", ""),
                )
                messages.success(request, "Payment received, thank you.")
            else:
                raise ValidationFailed("unknown action", field="action")
            return redirect("selfcare-payments")
        except BillcoreError as exc:
            _error(request, exc)
            status = exc.status
    fresh = portal.me_for(me.login, acting=me.acting)
    return _page(
        request,
        "selfcare/payments.html",
        {
            "me": fresh,
            "customer": fresh.customer,
            "card": portal.payment_method(me),
            "gateway": gateway_configured(),
            "transactions": Paginator(portal.transactions(me), 25).get_page(
                request.GET.get("page")
            ),
            "key": secrets.token_urlsafe(16),
            "posted": request.POST if request.method == "POST" else {},
            "zone": _zone(me),
        },
        status=status,
    )


@signed_in
@require_http_methods(["GET", "POST"])
def accounts(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    status = 200
    if request.method == "POST":
        try:
            portal.transfer(
                me,
                now=_now(),
                from_account=request.POST.get("from_account", ""),
                to_account=request.POST.get("to_account", ""),
                amount=request.POST.get("amount", ""),
                idempotency_key=request.POST.get("idempotency_key", ""),
            )
            messages.success(request, "The funds were transferred.")
            return redirect("selfcare-accounts")
        except NotFound as exc:
            _error(request, exc)
            status = 404
        except BillcoreError as exc:
            _error(request, exc)
            status = exc.status
    return _page(
        request,
        "selfcare/accounts.html",
        {
            "accounts": portal.accounts(me),
            "transfers": portal.transfers_allowed(me),
            "key": secrets.token_urlsafe(16),
            "posted": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


@signed_in
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    now = _now()
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "password":
                if request.POST.get("new_password") != request.POST.get("new_password2"):
                    raise ValidationFailed("the two new passwords differ", field="new_password2")
                logins.change_own_password(
                    login=me.login,
                    now=now,
                    old_password=request.POST.get("old_password", ""),
                    new_password=request.POST.get("new_password", ""),
                )
                request.session[SESSION_VERSION] = me.login.credentials_version
                messages.success(request, "Your password was changed.")
            else:
                data = {f: request.POST.get(f, "") for f in portal.PROFILE_FIELDS}
                portal.update_profile(me, now=now, data=data)
                messages.success(request, "Your details were saved.")
            return redirect("selfcare-profile")
        except BillcoreError as exc:
            _error(request, exc)
            status = exc.status
    c = me.customer
    values = {f: getattr(c, f) for f in portal.PROFILE_FIELDS}
    if request.method == "POST" and request.POST.get("action") != "password":
        values = {f: request.POST.get(f, "") for f in portal.PROFILE_FIELDS}
    return _page(
        request,
        "selfcare/profile.html",
        {
            "fields": [
                (f, f.replace("_", " ").capitalize(), values[f]) for f in portal.PROFILE_FIELDS
            ],
        },
        status=status,
    )


@signed_in
def notifications(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    return _page(
        request,
        "selfcare/notifications.html",
        {"entries": portal.notifications(me), "zone": _zone(me)},
    )

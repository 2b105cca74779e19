"""Self-care pages of the plans and tabs issues (issue 16 §1): the customer's numbers (DIDs,
read-only) and its speed dial (abbreviated dialing: add and delete, read-only when
provisionally terminated, CU-16). Same rules as ``views``: ownership is checked in
``billcore.portal``, an error names its field and nothing is saved."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from billcore.errors import BillcoreError
from billcore.plans.models import Measure, PlanRule, RuleKind
from billcore.plans.selectors import RuleUsage
from billcore.portal import services as portal
from billcore.portal.services import Me
from billcore.rating.models import RatingBase
from billcore.selfcare.views import _error, _now, _page, _zone, signed_in

ENTRY_FORM = ("abbreviated", "number", "account", "description")


@signed_in
def numbers(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    return _page(request, "selfcare/numbers.html", {"rows": portal.dids(me), "zone": _zone(me)})


@signed_in
@require_http_methods(["GET", "POST"])
def speed_dial(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    status = 200
    if request.method == "POST":
        data = {k: request.POST[k] for k in ENTRY_FORM if request.POST.get(k, "") != ""}
        try:
            entry = portal.add_speed_dial(me, now=_now(), data=data)
            messages.success(request, f"Abbreviated number {entry.abbreviated} added.")
            return redirect("selfcare-speed-dial")
        except BillcoreError as exc:
            _error(request, exc)
            status = exc.status
    return _page(
        request,
        "selfcare/speed_dial.html",
        {
            "dialing": portal.speed_dial(me),
            "accounts": portal.accounts(me),
            "posted": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


@signed_in
@require_POST
def speed_dial_delete(request: HttpRequest, entry_id: int) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    try:
        portal.delete_speed_dial(me, now=_now(), entry_id=entry_id)
    except BillcoreError as exc:
        if exc.status == 404:
            raise
        _error(request, exc)
        return redirect("selfcare-speed-dial")
    messages.success(request, "The abbreviated number was deleted.")
    return redirect("selfcare-speed-dial")


@signed_in
@require_http_methods(["GET", "POST"])
def quotas(request: HttpRequest) -> HttpResponse:
    me: Me = request.me  # type: ignore[attr-defined]
    status = 200
    if request.method == "POST":
        try:
            portal.top_up_wallet(
                me,
                now=_now(),
                rule_id=request.POST.get("rule", ""),
                account_id=request.POST.get("account", ""),
                amount=request.POST.get("amount", ""),
                idempotency_key=request.POST.get("idempotency_key", ""),
            )
            messages.success(request, "The wallet was topped up from your balance.")
            return redirect("selfcare-quotas")
        except BillcoreError as exc:
            if exc.status == 404:
                raise
            _error(request, exc)
            status = exc.status
    return _page(
        request,
        "selfcare/quotas.html",
        {
            **_rows(portal.plan_counters(me, now=_now())),
            "zone": _zone(me),
            "key": secrets.token_urlsafe(16),
        },
        status=status,
    )


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _units(rule: PlanRule, value: Decimal | None) -> str:
    """Money with its currency, seconds as minutes (and seconds), other units as numbers."""
    if value is None:
        return "Unlimited"
    if rule.measure == Measure.MONEY:
        return f"{_plain(value)} {rule.plan.currency_id}"
    if rule.service.rating_base == RatingBase.TIME:
        minutes, seconds = divmod(value, 60)
        if seconds == 0:
            return f"{int(minutes)} min"
        return f"{int(minutes)} min {_plain(seconds)} s"
    return _plain(value)


def _rows(usages: list[RuleUsage]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"quotas": [], "discounts": [], "wallets": []}
    for u in usages:
        rule = u.rule
        row: dict[str, Any] = {
            "usage": u,
            "holder": u.account.identifier if u.account else "",
            "plan": rule.plan.name,
            "service": rule.service.name,
            "expires": u.expires_at,
        }
        if rule.kind == RuleKind.QUOTA:
            row |= {
                "used": _units(rule, u.used),
                "volume": _units(rule, u.volume),
                "left": _units(rule, u.left),
                "percent": u.percent_used,
            }
            out["quotas"].append(row)
        elif rule.kind == RuleKind.DISCOUNT:
            band = u.current_band
            row |= {
                "used": _units(rule, u.used),
                "band": f"{_plain(band.percent)} % off" if band is not None else "—",
            }
            out["discounts"].append(row)
        else:
            balance = u.wallet.balance if u.wallet is not None else rule.initial_volume
            row |= {
                "balance": _units(rule, balance),
                "money": rule.measure == Measure.MONEY,
                "balance_value": balance,
                "can_top_up": rule.topup_balance and rule.measure == Measure.MONEY,
                "account_id": u.account.pk if u.account else "",
            }
            out["wallets"].append(row)
    return out

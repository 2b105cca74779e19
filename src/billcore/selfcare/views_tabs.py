"""Self-care pages of the plans and tabs issues (issue 16 §1): the customer's numbers (DIDs,
read-only) and its speed dial (abbreviated dialing: add and delete, read-only when
provisionally terminated, CU-16). Same rules as ``views``: ownership is checked in
``billcore.portal``, an error names its field and nothing is saved."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from billcore.errors import BillcoreError
from billcore.portal import services as portal
from billcore.portal.services import Me
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

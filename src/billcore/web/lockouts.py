"""The sign-in page's answer to a lockout, and the administrators' page of lockouts.

``lockout_response`` is django-axes' ``AXES_LOCKOUT_CALLABLE``: the middleware calls it when a
request's sign-in was refused by the throttle. The sign-in page then answers 429 with
``Retry-After`` and says until when; ``/api/v1`` and ``/rest/`` already shaped their own answer
(a 429 error, a ``Server.Session.auth_failed`` fault), which is kept as it is.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from billcore.accounts import lockout
from billcore.errors import BillcoreError
from billcore.web import exports
from billcore.web.base import admin_page
from billcore.web.forms import clerk_text

API_PREFIXES = ("/api/", "/rest/")


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    if original_response is not None and request.path.startswith(API_PREFIXES):
        return original_response
    username = lockout.username_of(request, credentials)
    at = getattr(request, "axes_attempt_time", None) or timezone.now()
    locked = lockout.LockedOut(
        username=username or "",
        address=getattr(request, "axes_ip_address", None),
        until=lockout.lock_end(request, username) or at + lockout.cooloff(),
        now=at,
    )
    form = AuthenticationForm(request, initial={"username": username or ""})
    context = {"form": form, "locked_message": locked.message, "next": request.GET.get("next", "")}
    response = render(request, "web/login.html", context, status=429)
    response["Retry-After"] = str(locked.retry_after)
    return response


@admin_page
@require_http_methods(["GET", "POST"])
def lockout_list(request: HttpRequest) -> HttpResponse:
    """Names locked out from an address now; an administrator lifts a lock here."""
    now = timezone.now()
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "")
        address = request.POST.get("address", "")
        try:
            cleared = lockout.unlock(
                actor=request.user, now=now, username=username, address=address or None
            )
        except BillcoreError as exc:
            messages.error(request, clerk_text(exc.message))
            status = 400
        else:
            where = f" from {address}" if address else f" from {cleared} address(es)"
            messages.success(request, f"Unlocked {username!r}{where}.")
            return redirect("lockouts")
    locks = lockout.list_lockouts(actor=request.user, now=now)
    if request.method == "GET" and exports.wanted(request):
        header = ("username", "address", "failures", "last_failure_at", "locked_until")
        rows = (
            (lock.username, lock.address, lock.failures, lock.last_failure_at, lock.locked_until)
            for lock in locks
        )
        return exports.csv_response("sign-in-lockouts.csv", header, rows)
    context = {
        "lockouts": locks,
        "failure_limit": lockout.failure_limit(),
        "cooloff_minutes": int(lockout.cooloff().total_seconds() // 60),
    }
    return render(request, "web/lockout_list.html", context, status=status)

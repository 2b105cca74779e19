"""The Network pages (issue 15): NAS clients (administrators: add, remove; secrets never
shown back, only masked), the RADIUS server's counters, and live network sessions (who, since
when, the amount held), per customer with ``?customer=``; a reseller's user sees its own
customers' sessions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from billcore.charging import network, sessions
from billcore.customers.models import Customer
from billcore.errors import BillcoreError
from billcore.web import base
from billcore.web.base import admin_page, page, paginate
from billcore.web.forms import clerk_text


@admin_page
@require_http_methods(["GET", "POST"])
def nas_list(request: HttpRequest) -> HttpResponse:
    status = 200
    form: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("name", "address", "secret", "description")}
        try:
            obj = network.create_nas_client(actor=request.user, now=base.now(), data=form)
        except BillcoreError as exc:
            errors[exc.field or "name"] = clerk_text(exc.message)
            status = 400
        else:
            messages.success(request, f"NAS client {obj.name} ({obj.address}) added.")
            return redirect("network-nas")
        form["secret"] = ""  # never sent back, not even the one just typed
    rows = [
        {"obj": n, "secret": network.masked(n.secret)}
        for n in network.nas_clients(actor=request.user)
    ]
    context = {
        "clients": rows,
        "counters": network.counters(actor=request.user),
        "form": form,
        "errors": errors,
        "live_count": sessions.sessions(actor=request.user).count(),
    }
    return render(request, "web/network/nas_list.html", context, status=status)


@admin_page
@require_POST
def nas_remove(request: HttpRequest, nas_id: int) -> HttpResponse:
    try:
        obj = network.find_nas_client(actor=request.user, ref=nas_id)
        network.remove_nas_client(actor=request.user, now=base.now(), ref=nas_id)
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
    else:
        messages.success(request, f"NAS client {obj.name} removed: its packets are dropped now.")
    return redirect("network-nas")


@page
def session_list(request: HttpRequest) -> HttpResponse:
    customer_id = base.query_id(base.query(request, "customer"))
    show_all = base.query(request, "all") == "1"
    customer = None
    if customer_id is not None:
        rows = Customer.objects.filter(pk=customer_id)
        reseller_id = getattr(request.user, "reseller_id", None)
        if reseller_id is not None:
            rows = rows.filter(reseller_id=reseller_id)
        customer = rows.first()
    qs = sessions.sessions(
        actor=request.user,
        live=not show_all,
        customer_id=customer.pk if customer is not None else customer_id,
    )
    context = {
        "page_obj": paginate(request, qs),
        "customer": customer,
        "show_all": show_all,
    }
    return render(request, "web/network/session_list.html", context)

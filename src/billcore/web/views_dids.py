"""The DID inventory pages (Numbers: the list with its quick filters, vanity search and CSV
upload, a number's form, pricing batches, DID groups) and the customer page's DIDs tab
(CU-13; issue 14). Same rule as ``base``: parse what was posted, call a service or a
selector with ``actor=request.user`` and the time, show what came back; a service's error
appears beside the input it names; ``NotFound`` is the 404 page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts.access import is_admin
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.dids import selectors, services
from billcore.dids.importer import import_csv
from billcore.dids.models import Did, DidGroup, DidStatus, PricingBatch
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.installation.models import Currency
from billcore.subscribers.models import Account
from billcore.web import base, confirm
from billcore.web.base import back_to_tab, customer_zone, fail, local_time, page, paginate, query
from billcore.web.customer_page import customer_page, customer_tab
from billcore.web.forms import Choice, PageForm, Text, Toggle, clerk_text, input_amount

ASSIGN_FORM = "did-assign-form"
MAX_UPLOAD = 20 * 1024 * 1024


def _admin_only(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise NotFound("not found")


def _currencies() -> list[tuple[str, str]]:
    return [(c.code, c.code) for c in Currency.objects.all()]


# --------------------------------------------------------------------------- forms


class DidForm(PageForm):
    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        if not (initial or {}).get("number"):
            f["number"] = Text("Number", help_text="Digits (E.164; '+' optional).")
        f["vendor_batch"] = Text("Vendor batch", help_text="The supplier's batch (new: created).")
        f["country"] = Text("Country", help_text="ISO 3166 alpha-2; -- for none.", maxlength="2")
        f["area"] = Text("Area", maxlength="100")
        f["description"] = Text("Description", maxlength="500")
        f["currency"] = Choice("Currency", _currencies())
        f["activation_cost"] = Text("Supplier activation cost", inputmode="decimal")
        f["periodic_cost"] = Text("Supplier monthly cost", inputmode="decimal")
        f["group"] = Choice(
            "DID group", [("", "None"), *((g.pk, g.name) for g in DidGroup.objects.all())]
        )
        f["pricing_batch"] = Choice(
            "Pricing batch",
            [("", "None"), *((b.pk, b.name) for b in PricingBatch.objects.all())],
        )
        f["free_of_charge"] = Toggle("Free of charge", help_text="Never charged when assigned.")
        f["frozen"] = Toggle("Frozen", help_text="Kept aside: cannot be assigned.")


def _did_initial(did: Did) -> dict[str, Any]:
    return {
        "number": did.number,
        "vendor_batch": did.vendor_batch.name,
        "country": did.country,
        "area": did.area,
        "description": did.description,
        "currency": did.currency_id,
        "activation_cost": input_amount(did.activation_cost),
        "periodic_cost": input_amount(did.periodic_cost),
        "group": did.group_id or "",
        "pricing_batch": did.pricing_batch_id or "",
        "free_of_charge": did.free_of_charge,
        "frozen": did.status == DidStatus.FROZEN,
    }


class BatchForm(PageForm):
    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["name"] = Text("Name", maxlength="100")
        f["description"] = Text("Description", maxlength="500")
        f["free_of_charge"] = Toggle(
            "Free of charge", help_text="A grouping only: its numbers are never charged."
        )
        f["currency"] = Choice("Currency", [("", "—"), *_currencies()])
        f["additional_activation_fee"] = Text(
            "Additional activation fee",
            help_text="Added to the supplier's activation cost, charged once at assignment.",
            inputmode="decimal",
        )
        f["additional_recurring_fee"] = Text(
            "Additional recurring fee", help_text="Always added, per month.", inputmode="decimal"
        )
        f["recurring_markup_percent"] = Text(
            "Recurring markup %",
            help_text="Of the supplier's monthly cost. Price = cost + additional fee + markup.",
            inputmode="decimal",
        )


def _batch_initial(b: PricingBatch) -> dict[str, Any]:
    return {
        "name": b.name,
        "description": b.description,
        "free_of_charge": b.free_of_charge,
        "currency": b.currency_id or "",
        "additional_activation_fee": input_amount(b.additional_activation_fee),
        "additional_recurring_fee": input_amount(b.additional_recurring_fee),
        "recurring_markup_percent": input_amount(b.recurring_markup_percent),
    }


class GroupForm(PageForm):
    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        self.fields["name"] = Text("Name", maxlength="100")
        self.fields["description"] = Text("Description", maxlength="500")


class AssignForm(PageForm):
    """Assign a number of the inventory to the customer (and optionally an account)."""

    def __init__(self, data: Any = None, *, accounts: list[tuple[Any, str]]) -> None:
        super().__init__(data, initial={})
        number = Text(
            "Number",
            help_text="A number not in use (search the inventory under Numbers).",
            form=ASSIGN_FORM,
            list="did-free-numbers",
            autocomplete="off",
        )
        self.fields["did"] = number
        account = Choice("Account", [("", "The customer itself"), *accounts])
        account.widget.attrs["form"] = ASSIGN_FORM
        self.fields["account"] = account


# --------------------------------------------------------------------------- inventory


def _upload_result(request: HttpRequest) -> Any:
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed("file: choose a CSV file to upload", field="file")
    if upload.size is not None and upload.size > MAX_UPLOAD:
        raise ValidationFailed("file: larger than 20 MB; split it", field="file")
    return import_csv(
        actor=request.user,
        now=base.now(),
        content=upload.read(),
        currency=request.POST.get("currency") or None,
    )


@page
@require_http_methods(["GET", "POST"])
def did_list(request: HttpRequest) -> HttpResponse:
    upload_result = None
    upload_error = ""
    status = 200
    if request.method == "POST":
        _admin_only(request)
        try:
            upload_result = _upload_result(request)
        except BillcoreError as exc:
            upload_error, status = clerk_text(exc.message), exc.status
        else:
            messages.success(
                request,
                f"Uploaded: {upload_result.created} created, {upload_result.updated} updated, "
                f"{upload_result.unchanged} unchanged, {len(upload_result.errors)} refused.",
            )
    search = query(request, "q")
    filters = {
        "status": query(request, "status"),
        "group": query(request, "group"),
        "pricing_batch": query(request, "pricing_batch"),
    }
    search_error = ""
    try:
        dids = selectors.list_dids(actor=request.user, search=search, **filters)
        rows = paginate(request, dids)
    except BillcoreError as exc:
        search_error = clerk_text(exc.message)
        rows = paginate(request, Did.objects.none())
        status = status if status != 200 else 400
    counts = selectors.status_counts(actor=request.user)
    context = {
        "page": rows,
        "q": search,
        "filters": filters,
        "counts": counts,
        "statuses": DidStatus.choices,
        "groups": DidGroup.objects.all(),
        "batches": PricingBatch.objects.all(),
        "search_error": search_error,
        "upload_result": upload_result,
        "upload_error": upload_error,
        "currencies": _currencies(),
        "is_admin": is_admin(request.user),
        "nav_section": "dids",
    }
    return render(request, "web/dids/did_list.html", context, status=status)


def _did_page(
    request: HttpRequest, form: DidForm, did: Did | None, status: int = 200
) -> HttpResponse:
    history = did.assignments.select_related("customer", "account")[:50] if did else []
    return render(
        request,
        "web/dids/did_form.html",
        {"form": form, "did": did, "history": history, "nav_section": "dids"},
        status=status,
    )


@page
@require_http_methods(["GET", "POST"])
def did_add(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    if request.method == "POST":
        form = DidForm(request.POST)
        try:
            did = services.create_did(actor=request.user, now=base.now(), data=form.posted())
        except BillcoreError as exc:
            return _did_page(request, form, None, fail(form, exc))
        messages.success(request, f"Number {did.number} added.")
        return redirect("did-list")
    return _did_page(request, DidForm(initial={"country": "--"}), None)


@page
@require_http_methods(["GET", "POST"])
def did_edit(request: HttpRequest, did_id: int) -> HttpResponse:
    did = selectors.get_did(actor=request.user, did_id=did_id)
    if request.method == "POST":
        _admin_only(request)
        form = DidForm(request.POST, initial=_did_initial(did))
        try:
            services.update_did(
                actor=request.user, now=base.now(), did_id=did.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            return _did_page(request, form, did, fail(form, exc))
        messages.success(request, f"Number {did.number} saved.")
        return redirect("did-list")
    return _did_page(request, DidForm(initial=_did_initial(did)), did)


@page
@require_POST
def did_delete(request: HttpRequest, did_id: int) -> HttpResponse:
    _admin_only(request)
    did = selectors.get_did(actor=request.user, did_id=did_id)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Delete number",
            question=f"Delete {did.number} from the inventory? This cannot be undone.",
            button="Delete",
            back_url=reverse("did-edit", args=[did.pk]),
        )
    try:
        services.delete_did(actor=request.user, now=base.now(), did_id=did.pk)
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return redirect("did-edit", did_id=did.pk)
    messages.success(request, f"Number {did.number} deleted.")
    return redirect("did-list")


# --------------------------------------------------------------------------- batches, groups


@page
@require_http_methods(["GET", "POST"])
def batch_list(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    form = BatchForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        try:
            batch = services.create_pricing_batch(
                actor=request.user, now=base.now(), data=form.posted()
            )
        except BillcoreError as exc:
            status = fail(form, exc)
        else:
            messages.success(request, f"Pricing batch “{batch.name}” saved.")
            return redirect("did-batch-list")
    context = {
        "batches": selectors.list_pricing_batches(actor=request.user),
        "form": form,
        "nav_section": "dids",
    }
    return render(request, "web/dids/batch_list.html", context, status=status)


@page
@require_http_methods(["GET", "POST"])
def batch_edit(request: HttpRequest, batch_id: int) -> HttpResponse:
    _admin_only(request)
    batch = selectors.get_pricing_batch(actor=request.user, batch_id=batch_id)
    form = BatchForm(
        request.POST if request.method == "POST" else None, initial=_batch_initial(batch)
    )
    status = 200
    if request.method == "POST":
        try:
            services.update_pricing_batch(
                actor=request.user, now=base.now(), batch_id=batch.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            status = fail(form, exc)
        else:
            messages.success(request, f"Pricing batch “{batch.name}” saved.")
            return redirect("did-batch-list")
    context = {"batch": batch, "form": form, "nav_section": "dids"}
    return render(request, "web/dids/batch_form.html", context, status=status)


@page
@require_POST
def batch_delete(request: HttpRequest, batch_id: int) -> HttpResponse:
    _admin_only(request)
    batch = selectors.get_pricing_batch(actor=request.user, batch_id=batch_id)
    try:
        services.delete_pricing_batch(actor=request.user, now=base.now(), batch_id=batch.pk)
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return redirect("did-batch-edit", batch_id=batch.pk)
    messages.success(request, f"Pricing batch “{batch.name}” deleted.")
    return redirect("did-batch-list")


@page
@require_http_methods(["GET", "POST"])
def group_list(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    form = GroupForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        action = request.POST.get("_delete")
        try:
            if action:
                services.delete_group(actor=request.user, now=base.now(), group_id=action)
                messages.success(request, "DID group deleted.")
                return redirect("did-group-list")
            group = services.create_group(actor=request.user, now=base.now(), data=form.posted())
        except BillcoreError as exc:
            if action:
                messages.error(request, clerk_text(exc.message))
                return redirect("did-group-list")
            status = fail(form, exc)
        else:
            messages.success(request, f"DID group “{group.name}” saved.")
            return redirect("did-group-list")
    context = {
        "groups": selectors.list_groups(actor=request.user),
        "form": form,
        "nav_section": "dids",
    }
    return render(request, "web/dids/group_list.html", context, status=status)


# --------------------------------------------------------------------------- customer tab


def _accounts(customer: Customer) -> list[tuple[Any, str]]:
    return [
        (a.pk, a.identifier)
        for a in Account.objects.filter(customer=customer, terminated_at__isnull=True).order_by(
            "identifier"
        )
    ]


@customer_tab
def dids_tab_context(
    request: HttpRequest, customer: Customer, *, did_assign_form: AssignForm | None = None
) -> dict[str, Any]:
    """What the DIDs tab shows: the numbers the customer holds, their prices and the
    assignment form."""
    zone = customer_zone(customer)
    accounts = _accounts(customer)
    rows = []
    for a in selectors.customer_assignments(actor=request.user, customer_id=customer.pk)[:200]:
        rows.append(
            {
                "a": a,
                "assigned": local_time(a.assigned_at, zone),
                "released": local_time(a.released_at, zone),
                "charged_to": local_time(a.charged_to, zone),
            }
        )
    free = selectors.list_dids(actor=request.user, status=DidStatus.NOT_IN_USE)[:200]
    return {
        "did_rows": rows,
        "did_accounts": accounts,
        "did_free_numbers": [d.number for d in free],
        "did_assign_form": did_assign_form or AssignForm(accounts=accounts),
        "did_assign_closed": customer.status in ("closed", "provisionally_terminated", "exported"),
    }


def _did_id(request: HttpRequest, value: str) -> Any:
    """A number typed on the page as the DID's id (the service judges the rest)."""
    value = value.strip()
    if not value:
        return ""
    try:
        return selectors.get_did_by_number(actor=request.user, number=value).pk
    except NotFound:
        raise ValidationFailed(
            f"did: {value} is not a number of the inventory", field="did", code="not_found"
        ) from None


@page
@require_POST
def customer_did_assign(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = AssignForm(request.POST, accounts=_accounts(customer))
    try:
        data = form.posted()
        services.assign(
            actor=request.user,
            now=base.now(),
            did_id=_did_id(request, str(data.get("did", ""))),
            customer_id=customer.pk,
            account_id=data.get("account") or None,
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, did_assign_form=form, status=status)
    messages.success(request, f"Number {data.get('did')} assigned.")
    return back_to_tab(customer, "dids")


@page
@require_POST
def did_move(request: HttpRequest, did_id: int) -> HttpResponse:
    did = selectors.get_did(actor=request.user, did_id=did_id)
    customer = did.customer
    if customer is None:
        raise NotFound("not found")
    try:
        services.assign_to_account(
            actor=request.user,
            now=base.now(),
            did_id=did.pk,
            account_id=request.POST.get("account") or None,
        )
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
    else:
        messages.success(request, f"Number {did.number} moved.")
    return back_to_tab(customer, "dids")


@page
@require_POST
def did_release(request: HttpRequest, did_id: int) -> HttpResponse:
    did = selectors.get_did(actor=request.user, did_id=did_id)
    customer = did.customer
    if customer is None:
        messages.error(request, f"Number {did.number} is not assigned.")
        return redirect("did-list")
    try:
        services.release(actor=request.user, now=base.now(), did_id=did.pk)
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
    else:
        messages.success(request, f"Number {did.number} released to the inventory.")
    return back_to_tab(customer, "dids")

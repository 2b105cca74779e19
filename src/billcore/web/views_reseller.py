"""A reseller's own pages (issue 16 §2): its account with the operator and its branding.

A reseller's users sign in to the admin pages, scoped to their reseller (CC-07); these pages
add what only they have: **My account** (``/my-account/``: the balance, credit and invoices of
the reseller's own customer record, which the operator bills, read-only) and **Branding**
(``/my-account/branding/``: the seller its customers see on their invoices and self-care, with
a logo). An administrator edits a reseller's branding from the reseller's customer page
(``/customers/<id>/branding/``) and has no "my account" (404, and no link to it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from billcore.accounts.access import is_admin
from billcore.core.countries import COUNTRIES
from billcore.core.money import format_money
from billcore.customers.branding import MAX_LOGO_BYTES, get_branding, set_branding
from billcore.customers.models import Customer, CustomerType, ResellerBranding
from billcore.customers.selectors import get_customer, own_reseller
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.installation.services import get_settings
from billcore.invoicing import selectors as invoicing
from billcore.ledger.selectors import own_transactions
from billcore.web import base
from billcore.web.base import fail, page, paginate
from billcore.web.forms import Area, Choice, PageForm, Section, Text, Toggle

INVOICES_SHOWN = 12


class BrandingForm(PageForm):
    def __init__(self, data: QueryDict | None = None, *, initial: dict[str, Any] | None = None):
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["display_name"] = Text(
            "Name shown to your customers",
            help_text="On their self-care pages; the legal name when empty.",
            maxlength="100",
        )
        f["legal_name"] = Text("Legal name", help_text="The seller on invoices.", maxlength="200")
        f["address_line1"] = Text("Address line 1", maxlength="200")
        f["address_line2"] = Text("Address line 2", maxlength="200")
        f["postal_code"] = Text("Postal code", maxlength="20")
        f["city"] = Text("City", maxlength="100")
        f["country"] = Choice("Country", [("", "— none —"), *COUNTRIES])
        f["tax_number"] = Text(
            "Tax number", help_text="VAT or tax registration number.", maxlength="50"
        )
        f["email"] = Text("E-mail address", maxlength="254", inputmode="email")
        f["email"].is_email = True  # type: ignore[attr-defined]
        f["payment_instructions"] = Area(
            "Payment instructions",
            help_text="Printed on your customers' invoices: bank, IBAN, reference…",
        )
        f["remove_logo"] = Toggle("Remove the logo")

    def sections(self) -> list[Section]:
        return [
            Section(
                "Seller",
                self.bound(
                    (
                        "display_name",
                        "legal_name",
                        "address_line1",
                        "address_line2",
                        "postal_code",
                        "city",
                        "country",
                        "tax_number",
                        "email",
                    )
                ),
            ),
            Section("How to pay", self.bound(("payment_instructions",))),
        ]


def _initial(branding: ResellerBranding) -> dict[str, Any]:
    return {
        name: getattr(branding, name)
        for name in (
            "display_name",
            "legal_name",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "country",
            "tax_number",
            "email",
            "payment_instructions",
        )
    }


def _branding_page(
    request: HttpRequest,
    reseller: Customer,
    branding: ResellerBranding,
    *,
    form: BrandingForm | None = None,
    logo_error: str = "",
    status: int = 200,
) -> HttpResponse:
    own = not is_admin(request.user)
    action = reverse("my-branding") if own else reverse("customer-branding", args=[reseller.pk])
    return render(
        request,
        "web/reseller/branding.html",
        {
            "form": form or BrandingForm(initial=_initial(branding)),
            "reseller": reseller,
            "branding": branding,
            "own": own,
            "action": action,
            "logo_url": reverse("reseller-logo", args=[reseller.pk])
            if branding.logo_sha256
            else "",
            "logo_error": logo_error,
            "max_logo_kb": MAX_LOGO_BYTES // 1024,
            "nav_section": "my-account" if own else "customers",
        },
        status=status,
    )


def _edit_branding(request: HttpRequest, reseller_id: int) -> HttpResponse:
    branding = get_branding(actor=request.user, reseller_id=reseller_id)
    reseller = branding.reseller
    if request.method != "POST":
        return _branding_page(request, reseller, branding)
    form = BrandingForm(request.POST)
    upload = request.FILES.get("logo")
    try:
        data = form.posted()
        remove = str(data.pop("remove_logo", "")).lower() in ("on", "true", "1")
        logo = upload.read(MAX_LOGO_BYTES + 1) if upload is not None else None
        set_branding(
            actor=request.user,
            now=base.now(),
            reseller_id=reseller.pk,
            data=data,
            logo=logo,
            remove_logo=remove,
        )
    except ValidationFailed as exc:
        if exc.field == "logo":
            form.attach_input_errors()
            return _branding_page(
                request, reseller, branding, form=form, logo_error=exc.message, status=exc.status
            )
        return _branding_page(request, reseller, branding, form=form, status=fail(form, exc))
    except BillcoreError as exc:
        return _branding_page(request, reseller, branding, form=form, status=fail(form, exc))
    messages.success(request, f"Branding of {reseller.name} saved.")
    if is_admin(request.user):
        return redirect("customer-branding", reseller.pk)
    return redirect("my-branding")


@page
@require_http_methods(["GET", "POST"])
def my_branding(request: HttpRequest) -> HttpResponse:
    """A reseller's user edits its own reseller's branding."""
    return _edit_branding(request, own_reseller(actor=request.user).pk)


@page
@require_http_methods(["GET", "POST"])
def customer_branding(request: HttpRequest, customer_id: int) -> HttpResponse:
    """An administrator edits a reseller's branding (a reseller's user: its own only)."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if customer.customer_type != CustomerType.RESELLER:
        raise NotFound(f"customer {customer_id} is not a reseller")
    return _edit_branding(request, customer.pk)


@page
def reseller_logo(request: HttpRequest, reseller_id: int) -> HttpResponse:
    """The reseller's logo (its own users and administrators only)."""
    branding = get_branding(actor=request.user, reseller_id=reseller_id)
    if not branding.logo:
        raise NotFound("this reseller has no logo", field="logo")
    response = HttpResponse(bytes(branding.logo), content_type=branding.logo_type)
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def own_account_summary(reseller: Customer) -> dict[str, Any]:
    """The figures of a reseller's account with the operator, as words for a page."""
    d = reseller.currency.decimals
    now = base.now()
    limit = reseller.effective_credit_limit(now=now)
    funds = reseller.available_funds
    return {
        "reseller": reseller,
        "operator": get_settings().legal_name or "the operator",
        "balance": format_money(reseller.balance, d),
        "available_funds": format_money(funds, d) if funds is not None else "",
        "credit_limit": format_money(limit, d) if limit is not None else "",
        "credit_left": format_money(limit - reseller.balance, d) if limit is not None else "",
    }


@page
def my_account(request: HttpRequest) -> HttpResponse:
    """The reseller's own account with the operator: balance, credit, invoices, transactions."""
    reseller = own_reseller(actor=request.user)
    d = reseller.currency.decimals
    invoices = [
        {
            "invoice": i,
            "total": format_money(i.total, d),
            "due": format_money(i.amount_due, d),
        }
        for i in invoicing.own_invoices(actor=request.user)[:INVOICES_SHOWN]
    ]
    transactions = paginate(request, own_transactions(actor=request.user))
    rows = [
        {
            "t": t,
            "amount": format_money(t.amount, d),
            "action": t.get_action_display(),
            "comment": t.visible_comment,
        }
        for t in transactions
    ]
    branding = ResellerBranding.objects.filter(reseller=reseller).first()
    return render(
        request,
        "web/reseller/my_account.html",
        {
            **own_account_summary(reseller),
            "invoices": invoices,
            "transactions": transactions,
            "rows": rows,
            "branding": branding,
            "nav_section": "my-account",
        },
    )


@page
def my_invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The PDF of an invoice the operator issued to the reseller."""
    invoice = invoicing.get_own_invoice(actor=request.user, invoice_id=invoice_id)
    response = HttpResponse(invoicing.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response

"""A reseller's branding (issue 16 §2): who may set it, what is refused (naming the field,
nothing saved), and the seller it puts on its customers' invoices and credit notes; on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from PIL import Image

from billcore.audit.models import AuditEntry
from billcore.classes.services import create_class
from billcore.customers.branding import get_branding, seller_of, set_branding
from billcore.customers.models import ResellerBranding
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.services import get_settings, update_settings
from billcore.invoicing.documents import invoice_html
from billcore.invoicing.issuing import issue_out_of_turn_invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)

SELLER = {
    "display_name": "Blue Fibre",
    "legal_name": "Blue Fibre Networks Ltd",
    "address_line1": "7 Quay Street",
    "postal_code": "M3 3JZ",
    "city": "Manchester",
    "country": "gb",
    "tax_number": "GB123456789",
    "email": "billing@bluefibre.example",
    "payment_instructions": "IBAN GB29 NWBK 6016 1331 9268 19\nReference: your invoice number",
}


def png(width: int = 40, height: int = 20) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (37, 87, 214)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_resellers_user_brands_its_own_reseller(world: dict[str, Any]) -> None:
    saved = set_branding(
        actor=world["ua"], now=T0, reseller_id=world["ra"].pk, data=SELLER, logo=png()
    )
    row = ResellerBranding.objects.get(reseller=world["ra"])
    assert (row.legal_name, row.country, row.email) == (
        "Blue Fibre Networks Ltd",
        "GB",
        "billing@bluefibre.example",
    )
    assert row.logo_type == "image/png"
    assert bytes(row.logo) == png()
    assert saved.logo_sha256 == row.logo_sha256 and len(row.logo_sha256) == 64
    entry = AuditEntry.objects.get(object_type="reseller_branding")
    assert (entry.operation, entry.actor_name, entry.object_repr) == (
        "create",
        "ua",
        "Branding of Reseller A",
    )
    assert entry.after["legal_name"] == "Blue Fibre Networks Ltd"
    assert entry.after["logo_sha256"] == row.logo_sha256  # the digest, never the bytes
    # A second save changes only what is given; the audit row names only what changed.
    set_branding(actor=world["ua"], now=T0, reseller_id=world["ra"].pk, data={"city": "Leeds"})
    row.refresh_from_db()
    assert (row.city, row.legal_name, row.logo_type) == (
        "Leeds",
        "Blue Fibre Networks Ltd",
        "image/png",
    )
    update = AuditEntry.objects.filter(object_type="reseller_branding").order_by("-id").first()
    assert update is not None
    assert (update.operation, update.before, update.after) == (
        "update",
        {"city": "Manchester"},
        {"city": "Leeds"},
    )


def test_another_reseller_and_a_retail_customer_are_not_found(world: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        set_branding(actor=world["ub"], now=T0, reseller_id=world["ra"].pk, data=SELLER)
    with pytest.raises(NotFound):
        get_branding(actor=world["ub"], reseller_id=world["ra"].pk)
    retail = create_customer(
        actor=world["admin"],
        now=T0,
        data={
            "name": "Retail",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    with pytest.raises(NotFound):
        set_branding(actor=world["admin"], now=T0, reseller_id=retail.pk, data=SELLER)
    assert not ResellerBranding.objects.exists()
    # An administrator brands any reseller.
    set_branding(actor=world["admin"], now=T0, reseller_id=world["rb"].pk, data=SELLER)
    assert ResellerBranding.objects.get().reseller_id == world["rb"].pk


@pytest.mark.parametrize(
    ("data", "logo", "field", "message"),
    [
        (
            {"country": "XX"},
            None,
            "country",
            "country: 'XX' is not an ISO 3166-1 alpha-2 code (e.g. US, DE)",
        ),
        ({"email": "not-an-address"}, None, "email", "email is not a valid e-mail address"),
        ({"legal_name": "x" * 201}, None, "legal_name", "legal_name is longer than 200 characters"),
        (
            {"logo_type": "image/png"},
            None,
            "logo_type",
            "logo_type is not a field that can be set here",
        ),
        ({}, b"GIF89a not really", "logo", "logo is not a PNG or JPEG image"),
        ({}, b"\x89PNG" + b"0" * (256 * 1024), "logo", "logo is larger than 256 KB"),
        ({}, png(2001, 10), "logo", "logo is 2001 x 10 pixels; at most 2000 x 2000 is accepted"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    world: dict[str, Any], data: dict[str, Any], logo: bytes | None, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        set_branding(
            actor=world["ua"],
            now=T0,
            reseller_id=world["ra"].pk,
            data={**SELLER, **data},
            logo=logo,
        )
    assert (exc.value.field, exc.value.message) == (field, message)
    assert not ResellerBranding.objects.exists()
    assert not AuditEntry.objects.filter(object_type="reseller_branding").exists()


def test_a_gif_is_refused_by_its_content(world: dict[str, Any]) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="GIF")
    with pytest.raises(ValidationFailed) as exc:
        set_branding(
            actor=world["ua"], now=T0, reseller_id=world["ra"].pk, data={}, logo=buf.getvalue()
        )
    assert exc.value.message == "logo is a GIF image; PNG or JPEG is accepted"


def _sub_customer(world: dict[str, Any]) -> Any:
    cls = create_class(
        actor=world["ua"],
        now=T0,
        data={"name": "A Out of turn", "currency": "USD", "allow_out_of_turn_invoices": True},
    )
    return create_customer(
        actor=world["ua"],
        now=T0,
        data={
            "name": "Carol of A",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


def test_the_resellers_customers_invoice_names_the_reseller_with_its_logo(
    world: dict[str, Any],
) -> None:
    update_settings(
        actor=world["admin"],
        now=T0,
        changes={"legal_name": "Operator Plc", "seller_city": "London"},
    )
    carol = _sub_customer(world)
    direct = create_customer(
        actor=world["admin"],
        now=T0,
        data={
            "name": "Direct",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": create_class(
                actor=world["admin"],
                now=T0,
                data={"name": "Out of turn", "currency": "USD", "allow_out_of_turn_invoices": True},
            ).pk,
        },
    )
    for c in (carol, direct):
        record_transaction(
            actor=world["admin"], now=T0, customer_id=c.pk, action="manual_charge", amount="12.34"
        )
    # Without branding the installation sells.
    before = issue_out_of_turn_invoice(actor=world["admin"], now=T0, customer_id=carol.pk)
    assert '<div class="issuer">Operator Plc</div>' in invoice_html(before)
    set_branding(actor=world["ua"], now=T0, reseller_id=world["ra"].pk, data=SELLER, logo=png())
    record_transaction(
        actor=world["admin"], now=T0, customer_id=carol.pk, action="manual_charge", amount="1.00"
    )
    later = T0 + dt.timedelta(hours=1)
    invoice = issue_out_of_turn_invoice(actor=world["admin"], now=later, customer_id=carol.pk)
    html = invoice_html(invoice)
    for line in (
        '<div class="issuer">Blue Fibre Networks Ltd</div>',
        "<div>7 Quay Street</div>",
        "<div>M3 3JZ Manchester</div>",
        "<div>Britain (UK)</div>",
        "<div>Tax number: GB123456789</div>",
        "<div>billing@bluefibre.example</div>",
        "<div>IBAN GB29 NWBK 6016 1331 9268 19</div>",
    ):
        assert line in html, line
    assert '<img class="seller-logo" src="data:image/png;base64,' in html
    assert "Operator Plc" not in html
    # The operator's own customer is still sold to by the operator, without a logo.
    other = issue_out_of_turn_invoice(actor=world["admin"], now=later, customer_id=direct.pk)
    other_html = invoice_html(other)
    assert '<div class="issuer">Operator Plc</div>' in other_html
    assert "<img" not in other_html


def test_seller_of_falls_back_to_the_installation_without_a_name(world: dict[str, Any]) -> None:
    carol = _sub_customer(world)
    set_branding(actor=world["ua"], now=T0, reseller_id=world["ra"].pk, data={"city": "Leeds"})
    inst = get_settings()
    assert seller_of(carol, installation=inst).reseller_id is None
    set_branding(
        actor=world["ua"], now=T0, reseller_id=world["ra"].pk, data={"display_name": "Blue"}
    )
    seller = seller_of(carol, installation=inst)
    assert (seller.name, seller.display_name, seller.address_lines, seller.reseller_id) == (
        "Blue",
        "Blue",
        ("Leeds",),
        world["ra"].pk,
    )

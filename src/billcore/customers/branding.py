"""A reseller's branding (issue 16 §2): the seller its own customers see on their invoices,
credit notes and self-care pages, with an optional logo.

A reseller's user edits its own reseller's branding; an administrator edits any reseller's.
Nobody else sees it: ``get_branding`` answers "not found" for another reseller. Reads for
documents go through :func:`seller_of`, which needs no actor (the engine renders invoices).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record
from billcore.core.countries import is_country_code
from billcore.customers.models import Customer, CustomerType, ResellerBranding
from billcore.errors import NotFound, ValidationFailed
from billcore.validation import as_email, as_str, reject_unknown

#: The largest logo accepted, in bytes, and the pixel box it must fit.
MAX_LOGO_BYTES = 256 * 1024
MAX_LOGO_PIXELS = (2000, 2000)
#: Pillow's format name → the content type the logo is served and embedded with.
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}

TEXT_FIELDS: dict[str, int] = {
    "display_name": 100,
    "legal_name": 200,
    "address_line1": 200,
    "address_line2": 200,
    "city": 100,
    "postal_code": 20,
    "tax_number": 50,
}
FIELDS = (*TEXT_FIELDS, "country", "email", "payment_instructions")


def _reseller(actor: Actor, reseller_id: Any) -> Customer:
    """The reseller the actor may brand: its own (a reseller's user) or any (administrator)."""
    user = require_user(actor)
    try:
        rid = int(reseller_id)
    except (TypeError, ValueError):
        raise NotFound("reseller not found", field="reseller") from None
    if not is_admin(user) and user.reseller_id != rid:
        raise NotFound("reseller not found", field="reseller")
    customer = Customer.objects.filter(pk=rid, customer_type=CustomerType.RESELLER).first()
    if customer is None:
        raise NotFound("reseller not found", field="reseller")
    return customer


def get_branding(*, actor: Actor, reseller_id: Any) -> ResellerBranding:
    """The reseller's branding (an unsaved empty one when it has none yet)."""
    reseller = _reseller(actor, reseller_id)
    found = ResellerBranding.objects.filter(reseller=reseller).first()
    return found or ResellerBranding(reseller=reseller)


def check_logo(data: bytes) -> str:
    """The content type of an acceptable logo, or ``ValidationFailed`` naming ``logo``: a PNG
    or JPEG image (read by Pillow, not trusted by its name) of at most 256 KB and
    2000 x 2000 pixels."""
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationFailed(
            f"logo is larger than {MAX_LOGO_BYTES // 1024} KB", field="logo", code="too_large"
        )
    # Pillow reads the header and checks the image: a name or a content type can lie.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
            size = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValidationFailed(
            "logo is not a PNG or JPEG image", field="logo", code="invalid_image"
        ) from None
    if kind not in LOGO_TYPES:
        raise ValidationFailed(
            f"logo is a {kind or 'unknown'} image; PNG or JPEG is accepted",
            field="logo",
            code="invalid_image",
        )
    if size[0] > MAX_LOGO_PIXELS[0] or size[1] > MAX_LOGO_PIXELS[1]:
        raise ValidationFailed(
            f"logo is {size[0]} x {size[1]} pixels; at most "
            f"{MAX_LOGO_PIXELS[0]} x {MAX_LOGO_PIXELS[1]} is accepted",
            field="logo",
            code="too_large",
        )
    return LOGO_TYPES[kind]


def _audited(b: ResellerBranding) -> dict[str, Any]:
    """What the audit row keeps: the fields, and the logo by its digest (not its bytes)."""
    data: dict[str, Any] = {f: getattr(b, f) for f in FIELDS}
    data["logo_sha256"] = b.logo_sha256
    return data


def set_branding(
    *,
    actor: Actor,
    now: dt.datetime,
    reseller_id: Any,
    data: dict[str, Any],
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> ResellerBranding:
    """Save the fields given in ``data`` (the others keep their value), and the logo when
    given (``remove_logo`` clears it). Every field is checked before anything is saved."""
    reject_unknown(data, FIELDS)
    clean: dict[str, Any] = {}
    for field, limit in TEXT_FIELDS.items():
        if field in data:
            clean[field] = as_str(field, data[field], max_length=limit)
    if "country" in data:
        code = as_str("country", data["country"], max_length=2).upper()
        if code and not is_country_code(code):
            raise ValidationFailed(
                f"country: {code!r} is not an ISO 3166-1 alpha-2 code (e.g. US, DE)",
                field="country",
                code="unknown_country",
            )
        clean["country"] = code
    if "email" in data:
        clean["email"] = as_email("email", data["email"])
    if "payment_instructions" in data:
        clean["payment_instructions"] = as_str(
            "payment_instructions", data["payment_instructions"], max_length=2000, single_line=False
        )
    logo_type = check_logo(logo) if logo is not None else None
    with transaction.atomic():
        reseller = _reseller(actor, reseller_id)
        branding = ResellerBranding.objects.select_for_update().filter(reseller=reseller).first()
        created = branding is None
        if branding is None:
            branding = ResellerBranding(reseller=reseller, updated_at=now)
        before = None if created else _audited(branding)
        for field, value in clean.items():
            setattr(branding, field, value)
        if logo is not None and logo_type is not None:
            branding.logo = logo
            branding.logo_type = logo_type
            branding.logo_sha256 = hashlib.sha256(logo).hexdigest()
        elif remove_logo:
            branding.logo = None
            branding.logo_type = ""
            branding.logo_sha256 = ""
        branding.updated_at = now
        branding.save()
        record(
            actor=require_user(actor),
            now=now,
            operation="create" if created else "update",
            obj=branding,
            before=before,
            after=_audited(branding),
            object_type="reseller_branding",
            object_repr=f"Branding of {reseller.name}",
        )
    return branding


@dataclass(frozen=True)
class Seller:
    """Who sells to a customer, as its documents and self-care name it."""

    name: str
    display_name: str
    address_lines: tuple[str, ...]
    country: str
    tax_number: str
    email: str
    payment_instructions: str
    logo: bytes | None
    logo_type: str
    reseller_id: int | None


def seller_of(customer: Customer, *, installation: Any) -> Seller:
    """The seller of ``customer``: its reseller's branding where the reseller has one and it
    names the reseller (a legal or display name), else the installation's seller details
    (``installation`` is the ``InstallationSettings`` row, passed in)."""
    branding = None
    if customer.reseller_id is not None:
        branding = ResellerBranding.objects.filter(reseller_id=customer.reseller_id).first()
    if branding is not None and (branding.legal_name or branding.display_name):
        city = " ".join(p for p in (branding.postal_code, branding.city) if p)
        return Seller(
            name=branding.legal_name or branding.display_name,
            display_name=branding.display_name or branding.legal_name,
            address_lines=tuple(
                x for x in (branding.address_line1, branding.address_line2, city) if x
            ),
            country=branding.country,
            tax_number=branding.tax_number,
            email=branding.email or installation.notification_from_address,
            payment_instructions=branding.payment_instructions,
            logo=bytes(branding.logo) if branding.logo else None,
            logo_type=branding.logo_type,
            reseller_id=customer.reseller_id,
        )
    city = " ".join(p for p in (installation.seller_postal_code, installation.seller_city) if p)
    return Seller(
        name=installation.legal_name,
        display_name=installation.legal_name,
        address_lines=tuple(
            x
            for x in (installation.seller_address_line1, installation.seller_address_line2, city)
            if x
        ),
        country=installation.seller_country,
        tax_number=installation.seller_tax_number,
        email=installation.notification_from_address,
        payment_instructions=installation.payment_instructions,
        logo=None,
        logo_type="",
        reseller_id=None,
    )

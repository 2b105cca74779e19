"""A reseller's name and logo on its customers' self-care (issue 16 §2), on SQLite and
PostgreSQL: the customer of a branded reseller sees the reseller's display name and logo in the
top bar and its legal name in the footer; another reseller's customer sees its own reseller."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from billcore.customers import logins
from billcore.customers.branding import set_branding
from billcore.ledger.customers import create_customer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
PASSWORD = "Cust0mer-pass-4821!"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 16), (23, 165, 137)).save(buf, format="PNG")
    return buf.getvalue()


def _customer_with_login(world: dict[str, Any], who: str, login: str) -> Client:
    customer = create_customer(
        actor=world[f"u{who}"],
        now=T0,
        data={
            "name": f"Customer of {who.upper()}",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"][who].pk,
        },
    )
    logins.save_login(
        actor=world["admin"],
        now=T0,
        customer_id=customer.pk,
        data={"login": login, "password": PASSWORD},
    )
    client = Client()
    response = client.post("/my/login/", {"login": login, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_the_resellers_name_and_logo_on_its_customers_self_care(world: dict[str, Any]) -> None:
    set_branding(
        actor=world["ua"],
        now=T0,
        reseller_id=world["ra"].pk,
        data={"display_name": "Blue Fibre", "legal_name": "Blue Fibre Networks Ltd"},
        logo=_png(),
    )
    carol = _customer_with_login(world, "a", "carol")
    html = carol.get("/my/").content.decode()
    assert (
        '<a class="brand" href="/my/" id="selfcare-brand"><img class="brand-logo" '
        'src="/my/seller-logo/" alt="" aria-hidden="true">Blue Fibre</a>'
    ) in html
    assert (
        '<footer class="footer" id="selfcare-footer">Blue Fibre Networks Ltd · Self-care</footer>'
    ) in html
    logo = carol.get("/my/seller-logo/")
    assert (logo.status_code, logo["Content-Type"], logo.content) == (200, "image/png", _png())
    # Reseller B has no branding: its customer sees B's name and no logo.
    dave = _customer_with_login(world, "b", "dave")
    html = dave.get("/my/").content.decode()
    assert '<span class="brand-mark" aria-hidden="true"></span>Reseller B</a>' in html
    assert "Blue Fibre" not in html
    assert dave.get("/my/seller-logo/").status_code == 404

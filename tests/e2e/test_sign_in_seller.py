"""Seller details on first sign-in (issue 17, item 6), through Django's test client: an
administrator signing in while the seller's legal name or From address is missing lands on
Settings#seller; a reseller's user never does; an explicit (safe) ``next`` still wins and the
page it leads to shows the banner. Run on SQLite and, with ``DATABASE_URL=postgres://…``, on
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from billcore.installation.services import update_settings
from tests.conftest import NOW

pytestmark = pytest.mark.django_db

ADMIN = {"username": "admin", "password": "admin-pass-1234"}
CLERK = {"username": "ua", "password": "pw-a-12345678"}
BANNER = 'id="seller-banner"'


def _sign_in(client: Any, who: dict[str, str], url: str = "/login/") -> Any:
    response = client.post(url, who)
    assert response.status_code == 302
    return response["Location"]


def test_an_administrator_is_asked_for_the_seller_until_both_details_exist(
    client: Any, admin: Any
) -> None:
    assert _sign_in(client, ADMIN) == "/settings/#seller"
    settings_page = client.get("/settings/").content.decode()
    assert BANNER in settings_page
    assert "legal name, From address missing" in settings_page
    client.post("/logout/")
    # The legal name alone is not enough: the From address is still missing.
    update_settings(actor=admin, now=NOW, changes={"legal_name": "Acme Telecom GmbH"})
    assert _sign_in(client, ADMIN) == "/settings/#seller"
    client.post("/logout/")
    update_settings(
        actor=admin, now=NOW, changes={"notification_from_address": "billing@acme.example"}
    )
    assert _sign_in(client, ADMIN) == "/"
    assert BANNER not in client.get("/").content.decode()


def test_an_explicit_next_wins_and_the_banner_still_shows(client: Any, admin: Any) -> None:
    assert _sign_in(client, ADMIN, "/login/?next=/invoices/") == "/invoices/"
    page = client.get("/invoices/").content.decode()
    assert BANNER in page
    assert '<a href="/settings/#seller">Fill them in under Settings</a>' in page
    client.post("/logout/")
    # The "next" field of the form counts as well; another site's address is no "next".
    assert _sign_in(client, {**ADMIN, "next": "/customers/"}) == "/customers/"
    client.post("/logout/")
    assert _sign_in(client, ADMIN, "/login/?next=https://evil.example/") == "/settings/#seller"


def test_a_resellers_user_is_never_redirected_to_settings(
    client: Any, world: dict[str, Any]
) -> None:
    assert _sign_in(client, CLERK) == "/"
    assert BANNER not in client.get("/").content.decode()
    client.post("/logout/")
    assert _sign_in(client, CLERK, "/login/?next=/customers/") == "/customers/"
    # Settings stay an administrator's page.
    assert client.get("/settings/").status_code == 404

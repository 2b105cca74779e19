"""Reseller self-care (issue 16 §2, CC-07) over HTTP, on SQLite and PostgreSQL:

* a reseller's user has a home and a navigation of its own: its account with the operator
  (balance, credit, invoices with PDFs, transactions without the entries hidden from end
  users, CC-12) and its branding;
* every action a reseller needs is reachable and works (create, edit, status change and
  balance adjustment of its sub-customers; create, edit and assign its classes; its users),
  each cell with the exact status and what changed; the same action on reseller B's object
  is "not found" and changes nothing;
* administrator-only pages are hidden rather than refused: a crawl of every page a reseller
  reaches from its home finds no link that answers 403 or 404.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import transaction
from PIL import Image

from billcore.accounts.models import User
from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer, ResellerBranding, Status
from billcore.customers.services import update_customer
from billcore.invoicing.issuing import issue_out_of_turn_invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.ledger.postings import post_locked
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
GOOD_PASSWORD = "Str0ng-enough-pass!"


def _sub(world: dict[str, Any], who: str, name: str) -> Customer:
    return create_customer(
        actor=world[f"u{who}"],
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"][who].pk,
        },
    )


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --------------------------------------------------------------------------- home, my account


def test_a_resellers_home_shows_its_account_with_the_operator(
    client: Any, world: dict[str, Any]
) -> None:
    record_transaction(
        actor=world["admin"],
        now=T0,
        customer_id=world["ra"].pk,
        action="manual_charge",
        amount="12.34",
    )
    client.force_login(world["ua"])
    html = _text(client.get("/"))
    assert 'id="nav-my-account"' in html
    own = re.search(r'<div class="summary-item summary-money" id="dash-own">(.*?)</div>', html)
    assert own is not None
    assert "Your account with the operator" in own.group(1)
    assert '<span class="value">12.34 <span class="unit">USD</span></span>' in own.group(1)
    assert "Balance owed" in own.group(1)
    for link in ("/customers/add/", "/classes/add/", "/users/add/"):
        assert f'href="{link}"' in html
    client.force_login(world["admin"])
    admin_home = _text(client.get("/"))
    assert 'id="dash-own"' not in admin_home
    assert 'id="nav-my-account"' not in admin_home
    assert client.get("/my-account/").status_code == 404
    assert client.get("/my-account/branding/").status_code == 404


def test_my_account_lists_invoices_and_transactions_but_not_hidden_entries(
    client: Any, world: dict[str, Any]
) -> None:
    ra = world["ra"]
    update_customer(
        actor=world["admin"],
        now=T0,
        customer_id=ra.pk,
        changes={"credit_limit": "100"},
    )
    CustomerClass.objects.filter(pk=world["classes"]["usd"].pk).update(
        allow_out_of_turn_invoices=True
    )
    record_transaction(
        actor=world["admin"],
        now=T0,
        customer_id=ra.pk,
        action="manual_charge",
        amount="40.00",
        visible_comment="Wholesale October",
    )
    invoice = issue_out_of_turn_invoice(actor=world["admin"], now=T0, customer_id=ra.pk)
    with transaction.atomic():
        Customer.objects.select_for_update().get(pk=ra.pk)
        post_locked(
            customer_id=ra.pk,
            action="manual_credit",
            amount=Decimal("-0.50"),
            now=T0,
            visible_comment="Reset nobody should see",
            hidden=True,
        )
    assert ledger_sum(customer_id=ra.pk) == Decimal("39.50")
    client.force_login(world["ua"])
    html = _text(client.get("/my-account/"))
    assert '<span class="value" id="own-balance">39.50 <span class="unit">USD</span></span>' in html
    assert (
        '<span class="value" id="own-limit">100.00 <span class="unit">USD</span></span>'
        '<span class="muted small">60.50 USD left</span>'
    ) in html
    row = re.search(rf'<tr data-invoice="{invoice.number}">(.*?)</tr>', html)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[0] == invoice.number
    assert cells[4:6] == ["40.00", "40.00"]
    assert f'href="/my-account/invoices/{invoice.pk}/pdf/"' in cells[6]
    assert "Wholesale October" in html
    assert "Reset nobody should see" not in html
    pdf = client.get(f"/my-account/invoices/{invoice.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    # Reseller B's user cannot read A's invoice; nor through the customers' invoice pages.
    client.force_login(world["ub"])
    assert client.get(f"/my-account/invoices/{invoice.pk}/pdf/").status_code == 404
    assert client.get(f"/invoices/{invoice.pk}/pdf/").status_code == 404
    # A's user cannot reach its own reseller record through the customer pages (read-only).
    client.force_login(world["ua"])
    assert client.get(f"/customers/{ra.pk}/").status_code == 404


# --------------------------------------------------------------------------- branding pages


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (30, 10), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_branding_page_saves_the_seller_and_the_logo(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["ua"])
    page = client.get("/my-account/branding/")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()
    logo = io.BytesIO(_png())
    logo.name = "logo.png"
    response = client.post(
        "/my-account/branding/",
        {"legal_name": "A Networks Ltd", "country": "DE", "email": "bill@a.example", "logo": logo},
        follow=True,
    )
    assert response.redirect_chain == [("/my-account/branding/", 302)]
    branding = ResellerBranding.objects.get(reseller=world["ra"])
    assert (branding.legal_name, branding.country, branding.logo_type) == (
        "A Networks Ltd",
        "DE",
        "image/png",
    )
    assert f'src="/resellers/{world["ra"].pk}/logo/"' in response.content.decode()
    image = client.get(f"/resellers/{world['ra'].pk}/logo/")
    assert (image.status_code, image["Content-Type"], image.content) == (200, "image/png", _png())
    # B's user sees neither A's logo nor A's branding page.
    client.force_login(world["ub"])
    assert client.get(f"/resellers/{world['ra'].pk}/logo/").status_code == 404
    assert client.get(f"/customers/{world['ra'].pk}/branding/").status_code == 404
    # The administrator edits it from the reseller's customer page.
    client.force_login(world["admin"])
    assert (
        f'href="/customers/{world["ra"].pk}/branding/"'
        in client.get(f"/customers/{world['ra'].pk}/").content.decode()
    )
    response = client.post(
        f"/customers/{world['ra'].pk}/branding/", {"remove_logo": ["false", "on"]}, follow=True
    )
    assert response.status_code == 200
    branding.refresh_from_db()
    assert (branding.logo, branding.logo_type, branding.legal_name) == (None, "", "A Networks Ltd")


def test_branding_page_refuses_bad_input_naming_the_field(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["ua"])
    fake = io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    fake.name = "logo.png"
    response = client.post("/my-account/branding/", {"legal_name": "A Ltd", "logo": fake})
    assert response.status_code == 400
    html = response.content.decode()
    assert '<p class="field-error" id="logo-error">logo is not a PNG or JPEG image</p>' in html
    response = client.post("/my-account/branding/", {"legal_name": "A Ltd", "email": "nope"})
    assert response.status_code == 400
    assert (
        '<p class="field-error" id="id_email-error">'
        "E-mail address is not a valid e-mail address</p>" in response.content.decode()
    )
    assert not ResellerBranding.objects.exists()


# --------------------------------------------------------------------------- the action matrix


def _do(client: Any, world: dict[str, Any], action: str, target: Customer | CustomerClass) -> int:
    """Perform one reseller action on ``target`` through the pages; the status code."""
    if action == "edit customer":
        r = client.post(
            f"/customers/{target.pk}/",
            {"name": f"{target.name} renamed", "note": "edited by its reseller"},
        )
    elif action == "balance adjustment":
        r = client.post(
            f"/customers/{target.pk}/adjust/",
            {"action": "manual_charge", "amount": "5.25", "idempotency_key": f"k-{target.pk}"},
        )
    elif action == "block":
        r = client.post(f"/customers/{target.pk}/status/", {"action": "block", "confirmed": "1"})
    elif action == "edit class":
        r = client.post(f"/classes/{target.pk}/", {"name": f"{target.name} v2", "_save": "1"})
    else:  # pragma: no cover - the parametrisation names every action
        raise AssertionError(action)
    return int(r.status_code)


def _state(target: Customer | CustomerClass) -> dict[str, Any]:
    row = type(target).objects.filter(pk=target.pk).values().get()
    row.pop("updated_at", None)
    if isinstance(target, Customer):
        row["transactions"] = Transaction.objects.filter(customer_id=target.pk).count()
    return row


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("edit customer", "customer"),
        ("balance adjustment", "customer"),
        ("block", "customer"),
        ("edit class", "class"),
    ],
)
@pytest.mark.parametrize("owner", ["A", "B"])
def test_a_resellers_actions_on_its_own_and_on_another_resellers(
    client: Any, world: dict[str, Any], action: str, kind: str, owner: str
) -> None:
    who = owner.lower()
    target: Customer | CustomerClass = (
        _sub(world, who, f"Customer of {owner}") if kind == "customer" else world["classes"][who]
    )
    before = _state(target)
    client.force_login(world["ua"])
    status = _do(client, world, action, target)
    after = _state(target)
    if owner == "B":
        assert status == 404
        assert after == before
        return
    assert status == 302
    changed = {k for k in after if after[k] != before[k]}
    expected = {
        "edit customer": {"name", "name_key", "note"},
        "balance adjustment": {"balance", "transactions"},
        "block": {"blocked"},
        "edit class": {"name", "name_key"},
    }[action]
    assert changed == expected
    if action == "balance adjustment":
        added = before["transactions"] + 1
        assert (after["balance"], after["transactions"]) == (Decimal("5.25"), added)
    if action == "block":
        assert after["blocked"] is True


def test_a_resellers_user_creates_a_customer_in_its_own_class_a_class_and_a_user(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["ua"])
    r = client.post("/classes/add/", {"name": "A Gold", "currency": "USD", "_save": "1"})
    assert r.status_code == 302
    gold = CustomerClass.objects.get(name="A Gold")
    assert gold.managed_by_id == world["ra"].pk
    r = client.post(
        "/customers/add/",
        {
            "name": "Dora",
            "customer_type": "retail",
            "blocked": "false",
            "balance_control": "postpaid",
            "currency": "USD",
            "customer_class": str(gold.pk),
            "billing_period": "4",
            "time_zone": "UTC",
            "_save": "1",
        },
    )
    assert r.status_code == 302
    dora = Customer.objects.get(name="Dora")
    assert (dora.reseller_id, dora.customer_class_id, dora.status) == (
        world["ra"].pk,
        gold.pk,
        Status.OPEN,
    )
    # Assign another of its classes (CC-07) through the customer's edit page.
    r = client.post(f"/customers/{dora.pk}/", {"customer_class": str(world["classes"]["a"].pk)})
    assert r.status_code == 302
    dora.refresh_from_db()
    assert dora.customer_class_id == world["classes"]["a"].pk
    # Reseller B's class cannot be assigned.
    r = client.post(f"/customers/{dora.pk}/", {"customer_class": str(world["classes"]["b"].pk)})
    assert r.status_code == 400
    dora.refresh_from_db()
    assert dora.customer_class_id == world["classes"]["a"].pk
    r = client.post("/users/add/", {"username": "a-clerk", "password": GOOD_PASSWORD})
    assert r.status_code == 302
    assert User.objects.get(username="a-clerk").reseller_id == world["ra"].pk


# --------------------------------------------------------------------------- hidden, not refused


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("/") and not href.startswith("//"):
            self.links.append(href.split("#")[0])


ADMIN_ONLY = (
    "/settings/",
    "/engine/",
    "/audit/",
    "/business-models/",
    "/notifications/templates/",
    "/rating/services/add/",
    "/rating/destinations/add/",
)


def test_a_reseller_finds_no_link_it_may_not_follow(client: Any, world: dict[str, Any]) -> None:
    """Every page reachable from the reseller's home (three of each kind), every link on it
    followed: none answers 403 or 404, and no administrator-only page is linked."""
    mine = _sub(world, "a", "Carol of A")
    record_transaction(
        actor=world["ua"], now=T0, customer_id=mine.pk, action="manual_charge", amount="3.00"
    )
    _sub(world, "b", "Customer of B")
    client.force_login(world["ua"])
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    queue = ["/"]
    broken: list[tuple[int, str, str]] = []
    linked_admin: list[str] = []
    while queue:
        url = queue.pop(0)
        if url in seen or "logout" in url:
            continue
        seen.add(url)
        response = client.get(url)
        if "text/html" not in response.get("Content-Type", ""):
            continue
        parser = _Links()
        parser.feed(response.content.decode())
        for link in parser.links:
            path = link.split("?")[0]
            if any(path.startswith(a) for a in ADMIN_ONLY):
                linked_admin.append(f"{url} → {link}")
            kind = re.sub(r"\d+", "N", path)
            if link in seen or kinds.get(kind, 0) >= 3 or "page=" in link or "sort=" in link:
                continue
            kinds[kind] = kinds.get(kind, 0) + 1
            status = client.get(link).status_code
            if status in (403, 404):
                broken.append((status, url, link))
            elif status == 200:
                queue.append(link)
    assert broken == []
    assert linked_admin == []
    assert len(seen) >= 25  # the crawl reached the reseller's pages, not just the home
    assert "/my-account/" in seen and "/my-account/branding/" in seen

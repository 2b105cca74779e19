"""The search box (issue 17 §3): ``GET /api/v1/search?q=`` and the page ``/search/?q=`` —
customers by name (Unicode-aware), company, e-mail and id, accounts by identifier, invoices
by number, classes by name; a reseller's user finds only its own; an exact id, invoice number
or account identifier jumps to the object; a 1-character query is refused naming ``q``.
Exact results, on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from billcore.subscribers.services import create_account
from tests.e2e.test_api import Api, _error, _token
from tests.e2e.test_invoice_list_api import T0, _customer, _invoice, day

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(world: Any) -> dict[str, Any]:
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    own = _customer(admin, "Äpfel GmbH", email="kasse@obst.example")
    a = _customer(ua, "A Sub")
    b = _customer(ub, "B Sub")
    inv = {
        "own1": _invoice(admin, own, "10", day(11)),
        "own2": _invoice(admin, own, "20", day(15)),
        "a1": _invoice(ua, a, "30", day(12)),
        "b1": _invoice(ub, b, "40", day(13)),
    }
    acc = {
        "own": create_account(
            actor=admin, now=T0, customer_id=own.pk, data={"identifier": "4930111"}
        ),
        "a": create_account(actor=ua, now=T0, customer_id=a.pk, data={"identifier": "4930222"}),
        "b": create_account(actor=ub, now=T0, customer_id=b.pk, data={"identifier": "4930333"}),
    }
    return {**world, "own": own, "a": a, "b": b, "inv": inv, "acc": acc}


def _found(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, response.content
    return {g["kind"]: [i["label"] for i in g["items"]] for g in response.json()["groups"]}


def test_every_kind_by_its_own_key(client: Any, shelf: Any) -> None:
    api = Api(client, _token(shelf["admin"]))
    ra, rb = shelf["ra"].pk, shelf["rb"].pk
    # A name in any letter case (Unicode: Ä and ä), its class too.
    for q in ("äpfel", "ÄPFEL", "Äpf"):
        assert _found(api.get(f"/search?q={q}")) == {
            "customer": ["Äpfel GmbH"],
            "account": [],
            "invoice": [],
            "class": ["Äpfel GmbH class"],
        }
    assert _found(api.get("/search?q=OBST.example"))["customer"] == ["Äpfel GmbH"]
    assert _found(api.get("/search?q=4930")) == {
        "customer": [],
        "account": ["4930111", "4930222", "4930333"],
        "invoice": [],
        "class": [],
    }
    reply = api.get("/search?q=inv-000000")
    assert _found(reply)["invoice"] == ["INV-0000002", "INV-0000001"]
    body = reply.json()
    assert (body["q"], body["total"], body["exact"]) == ("inv-000000", 2, None)
    item = body["groups"][2]["items"][0]
    assert item == {
        "kind": "invoice",
        "id": shelf["inv"]["own2"].pk,
        "label": "INV-0000002",
        "detail": "Äpfel GmbH · Issued",
        "url": f"/invoices/{shelf['inv']['own2'].pk}/",
    }
    assert _found(api.get("/search?q=-0000001"))["invoice"] == [
        f"R{rb}-0000001",
        f"R{ra}-0000001",
        "INV-0000001",
    ]
    # The exact object: an invoice number, an account identifier, a customer's id.
    assert api.get("/search?q=inv-0000001").json()["exact"] == (
        f"/invoices/{shelf['inv']['own1'].pk}/"
    )
    assert api.get("/search?q=4930222").json()["exact"] == (f"/customers/{shelf['a'].pk}/accounts/")
    # An id (with leading zeros when it has one digit: q needs two characters).
    by_id = api.get(f"/search?q={shelf['own'].pk:02d}").json()
    assert by_id["groups"][0]["items"][0]["label"] == "Äpfel GmbH"
    # One character is refused, naming q; so is a missing q.
    _error(api.get("/search?q=a"), 400, "q")
    _error(api.get("/search?q=%20a%20"), 400, "q")
    _error(api.get("/search"), 400, "q")


def test_a_resellers_user_finds_only_its_own(client: Any, shelf: Any) -> None:
    ra = shelf["ra"].pk
    api = Api(client, _token(shelf["ua"]))
    assert _found(api.get("/search?q=4930")) == {
        "customer": [],
        "account": ["4930222"],
        "invoice": [],
        "class": [],
    }
    assert _found(api.get("/search?q=sub"))["customer"] == ["A Sub"]
    assert _found(api.get("/search?q=retail"))["class"] == ["A Retail"]
    assert _found(api.get("/search?q=0000001"))["invoice"] == [f"R{ra}-0000001"]
    other = api.get(f"/search?q={shelf['own'].pk:02d}").json()
    assert (other["groups"][0]["items"], other["exact"]) == ([], None)
    assert api.get("/search?q=INV-0000001").json() == {
        "q": "INV-0000001",
        "total": 0,
        "exact": None,
        "groups": [
            {"kind": kind, "total": 0, "items": []}
            for kind in ("customer", "account", "invoice", "class")
        ],
    }


def test_the_page_groups_jumps_and_refuses(client: Any, shelf: Any) -> None:
    client.force_login(shelf["admin"])
    page = client.get("/search/?q=4930")
    assert page.status_code == 200
    html = page.content.decode()
    assert "4930111" in html and "4930333" in html
    assert 'id="search-total">3 results' in html
    grouped = client.get("/search/?q=äpfel").content.decode()
    assert "/customers/?q=%C3%A4pfel" in grouped  # show all: the list's own filter
    assert "/classes/?q=%C3%A4pfel" in grouped
    jump = client.get("/search/?q=INV-0000002")
    assert (jump.status_code, jump["Location"]) == (
        302,
        f"/invoices/{shelf['inv']['own2'].pk}/",
    )
    jump = client.get(f"/search/?q={shelf['own'].pk:02d}")
    assert (jump.status_code, jump["Location"]) == (302, f"/customers/{shelf['own'].pk}/")
    short = client.get("/search/?q=x")
    assert short.status_code == 400
    assert "q must have at least 2 characters" in short.content.decode()
    # The header box is on every page.
    assert 'id="header-search"' in client.get("/customers/").content.decode()
    client.force_login(shelf["ua"])
    assert client.get("/search/?q=INV-0000002").status_code == 200
    assert "4930111" not in client.get("/search/?q=4930").content.decode()

"""The Network pages and API (issue 15): NAS clients (administrators only, the secret never
shown back, bad input refused naming the field with nothing saved), the counters, and live
sessions per customer (a reseller sees its own customers' only); ``billcore nas``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from billcore.charging import sessions
from billcore.charging.models import NasClient
from billcore.charging.network import flush_counters
from billcore.cli import main
from tests.e2e.test_api import Api, _token
from tests.network_support import T0, rated_world

pytestmark = pytest.mark.django_db
SECRET = "very-secret-42"


@pytest.fixture
def signed_in(client: Any, admin: Any) -> Any:
    client.force_login(admin)
    return client


def test_an_administrator_adds_and_removes_a_nas_client(signed_in: Any) -> None:
    page = signed_in.get("/network/")
    assert page.status_code == 200 and b"No NAS client yet" in page.content
    bad = signed_in.post("/network/", {"name": "gw", "address": "nope", "secret": SECRET})
    assert bad.status_code == 400 and b"address must be an IPv4 or IPv6 address" in bad.content
    assert SECRET.encode() not in bad.content and not NasClient.objects.exists()
    short = signed_in.post("/network/", {"name": "gw", "address": "192.0.2.1", "secret": "x"})
    assert short.status_code == 400 and not NasClient.objects.exists()
    done = signed_in.post(
        "/network/", {"name": "gw", "address": "192.0.2.1", "secret": SECRET}, follow=True
    )
    assert done.status_code == 200
    assert b"192.0.2.1" in done.content and SECRET.encode() not in done.content
    nas = NasClient.objects.get()
    assert (nas.name, nas.address, nas.secret) == ("gw", "192.0.2.1", SECRET)
    flush_counters({"radius.dropped.unknown_client": 3}, now=T0)
    shown = signed_in.get("/network/").content
    assert b"radius.dropped.unknown_client" in shown and b">3<" in shown
    signed_in.post(f"/network/nas/{nas.pk}/remove/")
    assert not NasClient.objects.exists()


def test_a_reseller_gets_no_nas_page_and_sees_only_its_sessions(
    client: Any, world: dict[str, Any]
) -> None:
    admin = world["admin"]
    net = rated_world(admin, world["classes"]["usd"])
    net["make"]("Pia", "1001", available_funds="10")
    sessions.open_session(
        actor=admin,
        now=T0 + dt.timedelta(hours=1),
        nas="192.0.2.1",
        session_key="call-1",
        account="1001",
        cld="420601234567",
    )
    client.force_login(admin)
    page = client.get("/network/sessions/")
    assert page.status_code == 200
    assert b"Pia" in page.content and b"10.00000" in page.content and b"call-1" in page.content
    client.force_login(world["ua"])
    assert client.get("/network/").status_code == 404
    theirs = client.get("/network/sessions/")
    assert theirs.status_code == 200 and b"Pia" not in theirs.content


def test_the_api_masks_the_secret_and_lists_live_sessions(
    client: Any, world: dict[str, Any]
) -> None:
    api = Api(client, _token(world["admin"]))
    made = api.post("/nas", {"name": "gw", "address": "192.0.2.7", "secret": SECRET})
    assert made.status_code == 201
    body = made.json()
    assert body["secret"] != SECRET and set(body["secret"]) == {"•"}
    bad = api.post("/nas", {"name": "gw2", "address": "192.0.2.8", "secret": "short"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "secret"
    dup = api.post("/nas", {"name": "gw3", "address": "192.0.2.7", "secret": SECRET})
    assert dup.status_code == 409
    assert [n["address"] for n in api.get("/nas").json()] == ["192.0.2.7"]
    reseller = Api(client, _token(world["ua"]))
    assert reseller.get("/nas").status_code == 403
    assert api.get("/sessions").json() == {"count": 0, "limit": 50, "offset": 0, "items": []}


def test_billcore_nas_add_list_remove(db: Any, capsys: Any) -> None:
    assert main(["nas", "add", "gw", "192.0.2.9", "--secret", SECRET]) == 0
    assert main(["nas", "list"]) == 0
    out = capsys.readouterr().out
    assert "192.0.2.9" in out and SECRET not in out
    assert main(["nas", "add", "gw2", "192.0.2.9", "--secret", SECRET]) == 2
    assert main(["nas", "remove", "192.0.2.9"]) == 0
    assert not NasClient.objects.exists()

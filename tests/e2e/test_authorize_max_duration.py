"""``POST /api/v1/authorize`` with a called number (issue 12 §2, rating-and-tabs.md §4.2,
§4.3, §7.1): the maximum duration the money available now pays for, through real customers
and tariffs: §4.3's documented cases to the second, open reservations, the installation cap
(also the answer without a limit and for a zero-priced destination), the refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.rating_support import customer, ok, product, tariff
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

RATE_98 = {"interval_first": 60, "interval_next": 6, "price_first": "0.10", "price_next": "0.10"}
RATE_EX1 = {"interval_first": 60, "interval_next": 6, "price_first": "0.10", "price_next": "0.05"}
PER_SECOND = {
    "interval_first": 1,
    "interval_next": 1,
    "price_first": "0.0123",
    "price_next": "0.0123",
}


@pytest.fixture
def api(client: Any, world: Any) -> Api:
    return Api(client, _token(world["admin"]))


def _account(
    api: Api, name: str, rate: dict[str, Any], funds: str | None, **tariff_extra: Any
) -> int:
    made = tariff(api, f"T {name}", [{"prefix": "420", **rate}], **tariff_extra)
    prod = product(api, f"P {name}", made["id"])
    extra = {"available_funds": funds} if funds is not None else {"balance_control": "postpaid"}
    return customer(api, name, prod["id"], f"+{abs(hash(name)) % 10**9}", **extra)[1]


def _authorize(api: Api, account: int, **body: Any) -> Any:
    return ok(api.post("/authorize", {"account": account, "cld": "420601234567", **body}))


@pytest.mark.parametrize(
    ("rate", "funds", "extra", "seconds", "cost"),
    [
        # PortaOne's example: A = 10, 60/6 at 0.10/min, fee 0.20 -> 98 minutes.
        (RATE_98, "10", {"connection_fee": "0.20"}, 5880, "10.00000"),
        # Example-1 tariff (60/6, 0.10 then 0.05, fee 0.02), A = 1.00 -> 18 min 36 s.
        (RATE_EX1, "1.00", {"connection_fee": "0.02"}, 1116, "1.00000"),
        # 5 % post-call surcharge, no fee, A = 10 -> 5 712 s (9.996).
        (RATE_98, "10", {"post_call_surcharge": "5"}, 5712, "9.99600"),
        # Per second at 0.0123/min, A = 1 -> 4 878 s (0.99999).
        (PER_SECOND, "1", {}, 4878, "0.99999"),
    ],
    ids=["98-minutes", "1116-s", "surcharge-5712-s", "per-second-4878-s"],
)
def test_documented_cases(
    api: Api, rate: dict[str, Any], funds: str, extra: dict[str, Any], seconds: int, cost: str
) -> None:
    # A cap above every case: the documented figures themselves, not the 3-hour cap.
    ok(api.patch("/settings", {"max_session_seconds": 86_400}))
    aid = _account(api, "Case", rate, funds, **extra)
    body = _authorize(api, aid)
    assert (body["allowed"], body["reason"], body["max_duration"], body["amount"]) == (
        True,
        "",
        seconds,
        cost,
    )
    assert Decimal(body["available_funds"]) == Decimal(funds)


def test_ten_cents_on_the_example_1_tariff_is_refused(api: Api) -> None:
    aid = _account(api, "Poor", RATE_EX1, "0.10", connection_fee="0.02")
    body = _authorize(api, aid)
    assert (body["allowed"], body["reason"], body["max_duration"]) == (
        False,
        "insufficient_funds",
        0,
    )
    assert body["message"]


def test_the_cap_and_a_postpaid_customer_without_limit(api: Api) -> None:
    rich = _account(api, "Rich", RATE_98, "1000", connection_fee="0.20")
    post = _account(api, "Post", RATE_98, None, connection_fee="0.20")
    assert _authorize(api, rich)["max_duration"] == 10_800  # the default 3 hours
    assert _authorize(api, post)["max_duration"] == 10_800
    assert ok(api.get("/settings"))["max_session_seconds"] == 10_800
    ok(api.patch("/settings", {"max_session_seconds": 3600}))
    assert _authorize(api, rich)["max_duration"] == 3600
    assert _authorize(api, post)["max_duration"] == 3600
    for bad in (0, 86_401, -5):
        _error(api.patch("/settings", {"max_session_seconds": bad}), 400, "max_session_seconds")
    assert ok(api.get("/settings"))["max_session_seconds"] == 3600


def test_a_postpaid_limit_and_open_reservations_count(api: Api) -> None:
    aid = _account(api, "Held", RATE_98, "10", connection_fee="0.20")
    ok(api.post("/reservations", {"account": aid, "service": "voice", "amount": "5"}), 201)
    # A = 10 - 5 = 5: 4.80 after the fee, 0.10 the first minute, then 470 six-second units.
    assert _authorize(api, aid)["max_duration"] == 2880
    made = tariff(api, "Limit", [{"prefix": "420", **RATE_98}], connection_fee="0.20")
    prod = product(api, "Limit", made["id"])
    _, limited = customer(
        api, "Limited", prod["id"], "+555", balance_control="postpaid", credit_limit="10"
    )
    assert _authorize(api, limited)["max_duration"] == 5880


def test_zero_priced_destination_lasts_until_the_cap_even_without_funds(api: Api) -> None:
    free = {"interval_first": 1, "interval_next": 1, "price_first": "0", "price_next": "0"}
    aid = _account(api, "Free", free, "0")
    body = _authorize(api, aid)
    assert (body["allowed"], body["max_duration"], body["amount"]) == (True, 10_800, "0.00000")


def test_refusals(api: Api) -> None:
    aid = _account(api, "Caller", RATE_98, "10", connection_fee="0.20")
    body = _authorize(api, aid, cld="4930123")
    assert (body["allowed"], body["reason"], body["max_duration"]) == (False, "no_rate", None)
    made = tariff(api, "Forbid", [{"prefix": "420", "price_first": "1", "forbidden": True}])
    prod = product(api, "Forbid", made["id"])
    _, forbidden = customer(api, "Forbidden", prod["id"], "+556", available_funds="10")
    assert _authorize(api, forbidden)["reason"] == "forbidden_destination"
    _, bare = customer(api, "Bare", None, "+557", available_funds="10")
    assert _authorize(api, bare)["reason"] == "no_product"
    ok(api.patch(f"/accounts/{aid}", {"blocked": True}))
    assert _authorize(api, aid)["reason"] == "account_blocked"


def test_amount_keeps_working_and_bad_input(api: Api) -> None:
    aid = _account(api, "Both", RATE_98, "10", connection_fee="0.20")
    plain = ok(api.post("/authorize", {"account": aid, "amount": "11"}))
    assert (plain["allowed"], plain["reason"], plain["max_duration"]) == (
        False,
        "insufficient_funds",
        None,
    )
    assert ok(api.post("/authorize", {"account": aid, "amount": "3"}))["allowed"] is True
    both = _authorize(api, aid, amount="3")
    assert (both["allowed"], both["max_duration"]) == (True, 5880)
    _error(api.post("/authorize", {"account": aid}), 400, "amount")
    _error(api.post("/authorize", {"account": aid, "cld": "42x"}), 400, "cld")
    _error(api.post("/authorize", {"account": aid, "cld": "420", "service": "fax"}), 400, "service")
    cid = ok(
        api.post("/customers", {"name": "NoAcc", "currency": "USD", "balance_control": "prepaid"}),
        201,
    )["id"]
    _error(api.post("/authorize", {"customer": cid, "cld": "420"}), 400, "account")


def test_another_resellers_account_is_404(api: Api, client: Any, world: Any) -> None:
    aid = _account(api, "Mine", RATE_98, "10")
    other = Api(client, _token(world["ub"]))
    _error(other.post("/authorize", {"account": aid, "cld": "420601"}), 404, "account")

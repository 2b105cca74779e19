"""``billcore rate`` (issue 12): a session priced from the catalogue with the maximum
duration the account affords now, as a table and as JSON; a refusal exits 1 with the
reason; bad input names the option. Nothing is charged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from billcore.charging.models import Xdr
from tests.e2e.rating_support import customer, product, tariff
from tests.e2e.test_api import Api, _token
from tests.e2e.test_cli import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(client: Any, world: Any) -> int:
    api = Api(client, _token(world["admin"]))
    made = tariff(
        api,
        "Retail",
        [
            {
                "prefix": "420",
                "interval_first": 60,
                "interval_next": 6,
                "price_first": "0.10",
                "price_next": "0.10",
            }
        ],
        connection_fee="0.20",
    )
    prod = product(api, "Home", made["id"])
    return customer(api, "Pia", prod["id"], "+100", available_funds="10")[1]


def test_rate_table(capsys: pytest.CaptureFixture[str], account: int) -> None:
    code, out, err = run(
        capsys,
        "rate",
        "--account",
        "+100",
        "--cld",
        "+420 601 234",
        "--duration",
        "61",
        "--at",
        "2026-11-02T12:00:00+00:00",
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Tariff            Retail (ID " + out.split("(ID ")[1].split(")")[0] + ")",
        "Rate prefix       420",
        "Price set         peak",
        "Quantity          61",
        "Charged quantity  66",
        "Amount            0.31000 USD",
        "Max duration now  5880 s",
    ]
    assert Xdr.objects.count() == 0


def test_rate_json_by_id(capsys: pytest.CaptureFixture[str], account: int) -> None:
    code, out, _ = run(
        capsys,
        "rate",
        "--account",
        str(account),
        "--cld",
        "420601",
        "--duration",
        "120",
        "--format",
        "json",
    )
    body = json.loads(out)
    assert code == 0
    assert {
        k: body[k]
        for k in (
            "tariff",
            "prefix",
            "charged_quantity",
            "amount",
            "currency",
            "max_duration",
            "allowed",
        )
    } == {
        "tariff": "Retail",
        "prefix": "420",
        "charged_quantity": 120,
        "amount": "0.40000",
        "currency": "USD",
        "max_duration": 5880,
        "allowed": True,
    }


def test_refused_exits_1_with_the_reason(capsys: pytest.CaptureFixture[str], account: int) -> None:
    code, _, err = run(capsys, "rate", "--account", "+100", "--cld", "4930", "--duration", "60")
    assert code == 1
    assert err.startswith("refused: no_rate: ")


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--account", "+999", "--cld", "420", "--duration", "60"], "--account"),
        (["--account", "+100", "--cld", "42x", "--duration", "60"], "--cld"),
        (["--account", "+100", "--cld", "420", "--duration", "-1"], "--duration"),
        (["--account", "+100", "--cld", "420", "--duration", "6", "--at", "soon"], "--at"),
        (["--account", "+100", "--cld", "420", "--duration", "6", "--service", "fax"], "--service"),
        (
            ["--account", "+100", "--cld", "420", "--duration", "6", "--access-code", "X"],
            "--access-code",
        ),
    ],
)
def test_bad_input_names_the_option(
    capsys: pytest.CaptureFixture[str], account: int, argv: list[str], option: str
) -> None:
    code, out, err = run(capsys, "rate", *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {option}: ")

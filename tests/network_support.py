"""A rated world for the network session tests (issue 15): PortaOne's 98-minute tariff
(rating-and-tabs.md §4.3: 60/6 at $0.10/min, $0.20 connection fee) on prefix 420, a
forbidden prefix 4209, a free prefix 800, and customers built through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from billcore.ledger.customers import create_customer
from billcore.rating import services as rating
from billcore.subscribers.services import create_account

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
EFFECTIVE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
CLD = "420601234567"
FORBIDDEN = "420901234567"
FREE = "800123456"
NOWHERE = "999123"


def rated_world(admin: Any, usd_class: Any) -> dict[str, Any]:
    """The tariff, the product and a helper ``make(name, identifier, **customer data)`` that
    returns (customer, account) with the product."""
    tariff = rating.create_tariff(
        actor=admin,
        now=T0,
        data={"name": "Voice 98", "currency": "USD", "service": "voice", "connection_fee": "0.20"},
    )
    for prefix, price, extra in (
        ("420", "0.10", {}),
        ("4209", "0.10", {"forbidden": True}),
    ):
        rating.create_rate(
            actor=admin,
            now=T0,
            tariff_id=tariff.pk,
            data={
                "prefix": prefix,
                "price_first": price,
                "price_next": price,
                "interval_first": 60,
                "interval_next": 6,
                "effective_from": EFFECTIVE,
                **extra,
            },
        )
    product = rating.create_product(actor=admin, now=T0, data={"name": "Net", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=product.pk, data={"service": "voice", "tariff": tariff.pk}
    )
    # Zero-priced calls (§4.2 step 5): a tariff without a connection fee, free on 800.
    free_tariff = rating.create_tariff(
        actor=admin,
        now=T0,
        data={"name": "Free", "currency": "USD", "service": "voice"},
    )
    rating.create_rate(
        actor=admin,
        now=T0,
        tariff_id=free_tariff.pk,
        data={
            "prefix": "800",
            "price_first": "0",
            "price_next": "0",
            "effective_from": EFFECTIVE,
        },
    )
    rating.create_rate(
        actor=admin,
        now=T0,
        tariff_id=free_tariff.pk,
        data={
            "prefix": "420",
            "price_first": "0.10",
            "price_next": "0.10",
            "interval_first": 60,
            "interval_next": 6,
            "effective_from": EFFECTIVE,
        },
    )
    free_product = rating.create_product(
        actor=admin, now=T0, data={"name": "Free calls", "currency": "USD"}
    )
    rating.create_entry(
        actor=admin,
        now=T0,
        product_id=free_product.pk,
        data={"service": "voice", "tariff": free_tariff.pk},
    )

    def make(name: str, identifier: str, *, free: bool = False, **data: Any) -> tuple[Any, Any]:
        body = {
            "name": name,
            "currency": "USD",
            "balance_control": "prepaid",
            "customer_class": usd_class.pk,
            **data,
        }
        customer = create_customer(actor=admin, now=T0, data=body)
        account = create_account(
            actor=admin, now=T0, customer_id=customer.pk, data={"identifier": identifier}
        )
        rating.set_account_products(
            actor=admin,
            now=T0,
            account_id=account.pk,
            product=(free_product if free else product).pk,
            addons=[],
        )
        return customer, account

    return {"tariff": tariff, "product": product, "make": make}


def D(text: str) -> Decimal:
    return Decimal(text)

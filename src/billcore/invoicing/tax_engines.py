"""External tax engines (EZTax, SureTax; CC-10) behind ``core.taxes.TaxEngine``.

What ships is one adapter for a JSON-over-HTTP tax service (``HttpTaxEngine``): it posts the
invoice's lines to the endpoint the installation configures and reads the taxes back. The
vendors' own protocols need their contracts and credentials; they plug in behind the same
protocol. Without an endpoint the engine is refused with ``TaxEngineNotConfigured``.

Request (POST, ``application/json``)::

    {"currency": "USD", "decimals": 2, "country": "US",
     "lines": [{"amount": "10.00", "description": "charges", "service_code": ""}]}

Reply::

    {"taxes": [{"name": "State", "rate": "6.25", "amount": "0.63"}]}

Amounts are decimal strings; the adapter checks each tax has at most ``decimals`` places.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal, InvalidOperation
from typing import Any

from billcore.classes.models import TaxationMethod
from billcore.core.rounding import round_down
from billcore.core.taxes import TaxableLine, TaxEngineNotConfigured, TaxLine, TaxResult

ENGINE_NAMES = {TaxationMethod.EZTAX: "EZTax", TaxationMethod.SURETAX: "SureTax"}


class TaxEngineError(Exception):
    """The tax engine answered with an error or something that is not a tax reply."""


class HttpTaxEngine:
    def __init__(self, *, name: str, endpoint: str, timeout: float = 10.0) -> None:
        self.name = name
        self.endpoint = endpoint
        self.timeout = timeout

    def calculate(
        self,
        *,
        lines: list[TaxableLine],
        currency: str,
        decimals: int,
        customer_country: str,
    ) -> TaxResult:
        body = json.dumps(
            {
                "currency": currency,
                "decimals": decimals,
                "country": customer_country,
                "lines": [
                    {
                        "amount": str(x.amount),
                        "description": x.description,
                        "service_code": x.service_code,
                    }
                    for x in lines
                ],
            }
        ).encode()
        if not self.endpoint.startswith(("http://", "https://")):
            raise TaxEngineError(f"{self.name}: endpoint must be an http(s) URL")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.endpoint, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                data: Any = json.loads(reply.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TaxEngineError(f"{self.name} at {self.endpoint} failed: {exc}") from exc
        net = sum((x.amount for x in lines), Decimal(0))
        taxes: list[TaxLine] = []
        try:
            for t in data["taxes"]:
                amount = Decimal(str(t["amount"]))
                if round_down(amount, places=decimals) != amount:
                    raise TaxEngineError(
                        f"{self.name}: tax {t['name']!r} has more than {decimals} decimals"
                    )
                taxes.append(
                    TaxLine(
                        name=str(t["name"]),
                        rate=Decimal(str(t.get("rate", "0"))),
                        base=net,
                        amount=round_down(amount, places=decimals),
                    )
                )
        except (KeyError, TypeError, InvalidOperation) as exc:
            raise TaxEngineError(f"{self.name}: not a tax reply: {exc}") from exc
        total = round_down(sum((t.amount for t in taxes), Decimal(0)), places=decimals)
        net_d = round_down(net, places=decimals)
        return TaxResult(
            net=net_d,
            taxes=taxes,
            total_tax=total,
            gross=round_down(net_d + total, places=decimals),
            rounding_adjustment=round_down(Decimal(0), places=decimals),
        )


def engine_for(method: str, inst: Any) -> HttpTaxEngine:
    """The configured engine for ``method``, or ``TaxEngineNotConfigured``."""
    name = ENGINE_NAMES.get(method)  # type: ignore[call-overload]
    if name is None:
        raise ValueError(f"{method!r} is not an external tax engine")
    endpoint = inst.eztax_endpoint if method == TaxationMethod.EZTAX else inst.suretax_endpoint
    if not endpoint:
        raise TaxEngineNotConfigured(name)
    return HttpTaxEngine(name=name, endpoint=endpoint)

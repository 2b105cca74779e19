"""``billcore rate``: price a session and say how long the account can call now (issue 12).

Loaded by ``billcore.cli.main`` after ``django.setup()``. Reads only: nothing is charged.
Exit 0: priced; 1: refused (the reason is printed); 2: bad input (the option is named).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from django.utils import timezone

from billcore.accounts.access import CLI
from billcore.charging.services import authorize
from billcore.errors import BillcoreError
from billcore.rating.quote import quote

# The option each field of the quote is given by (errors name the option).
_OPTIONS = {
    "account": "--account",
    "cld": "--cld",
    "duration": "--duration",
    "quantity": "--duration",
    "service": "--service",
    "started_at": "--at",
    "access_code": "--access-code",
}


def cmd_rate(args: argparse.Namespace) -> int:
    now = timezone.now()
    try:
        result = quote(
            actor=CLI,
            now=now,
            account=args.account,
            cld=args.cld,
            duration=args.duration,
            service=args.service,
            started_at=args.at,
            access_code=args.access_code,
        )
        seconds = None
        if result.allowed:
            seconds = authorize(
                actor=CLI,
                now=now,
                account_id=result.account_id,
                cld=args.cld,
                service=args.service,
                access_code=args.access_code,
            ).max_duration
    except BillcoreError as exc:
        option = _OPTIONS.get(exc.field or "", exc.field or "")
        message = str(exc)
        print(f"error: {option}: {message}" if option else f"error: {message}", file=sys.stderr)
        return 2
    price = result.price
    record: dict[str, Any] = {
        "allowed": result.allowed,
        "reason": result.reason,
        "account": result.account_id,
        "cld": result.cld,
        "tariff": price.tariff_name,
        "tariff_id": price.tariff_id,
        "prefix": price.prefix,
        "source": price.source,
        "price_set": price.price_set,
        "quantity": result.base_quantity,
        "charged_quantity": price.charged_quantity,
        "amount": None if price.amount is None else str(price.amount),
        "currency": price.currency,
        "max_duration": seconds,
    }
    if args.format == "json":
        print(json.dumps(record, indent=2))
    else:
        rows = [
            ("Tariff", f"{price.tariff_name} (ID {price.tariff_id})" if price.tariff_id else ""),
            ("Rate prefix", price.prefix + (" (override)" if price.source == "override" else "")),
            ("Price set", price.price_set),
            ("Quantity", result.base_quantity),
            ("Charged quantity", "" if price.charged_quantity is None else price.charged_quantity),
            ("Amount", "" if price.amount is None else f"{price.amount} {price.currency}"),
            ("Max duration now", "" if seconds is None else f"{seconds} s"),
        ]
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            print(f"{label.ljust(width)}  {value}")
    if not result.allowed:
        print(f"refused: {result.reason}: {result.message}", file=sys.stderr)
        return 1
    return 0

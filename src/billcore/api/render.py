"""How ``/api/v1`` writes JSON: date-times to the microsecond.

Instants are stored to the microsecond on both databases. Django's JSON encoder (which
django-ninja uses) prints them to the millisecond, so a value read from the API and sent back
was an earlier instant than the stored one, and a rule comparing them refused it (a
subscription ``start_at`` equal to the customer's ``billed_to`` came out "before the customer
was created"). Printing the stored precision makes every round trip exact, with no rule
having to guess; RFC 3339 allows any number of fraction digits. Whole seconds are printed
without a fraction, UTC as ``Z``, as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder


def format_instant(value: dt.datetime) -> str:
    text = value.isoformat()
    if text.endswith("+00:00"):
        text = text.removesuffix("+00:00") + "Z"
    return text


class InstantEncoder(NinjaJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return format_instant(o)
        if isinstance(o, dt.time):
            return o.isoformat()
        return super().default(o)


class Renderer(JSONRenderer):
    encoder_class = InstantEncoder

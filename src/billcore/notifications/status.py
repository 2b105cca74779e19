"""The "Change status" operations (CU-14 … CU-18) as one entry point for the API and the
customer page: each action calls ``billcore.customers.lifecycle``, and the change is
announced to the customer when its class sends that notification (provisionally / permanently
terminated, service restored). Manual suspension is not offered (CU-15: only the engine
suspends)."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor
from billcore.classes.models import Notification
from billcore.customers import lifecycle
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.errors import ValidationFailed
from billcore.notifications.services import notify

ACTIONS = (
    "block",
    "unblock",
    "lift_suspension_until",
    "terminate",
    "reactivate",
    "export",
    "clear_export",
)
# The inputs each action takes; any other one given is refused, naming it.
INPUTS: dict[str, tuple[str, ...]] = {
    "block": ("reason",),
    "unblock": ("reason",),
    "lift_suspension_until": ("until",),
    "terminate": ("terminate_on", "permanent", "midterm_invoice"),
    "reactivate": (),
    "export": (),
    "clear_export": (),
}


def midterm_invoice_supported() -> bool:
    """Whether ``lifecycle.terminate`` takes ``midterm_invoice`` (CU-17)."""
    return "midterm_invoice" in inspect.signature(lifecycle.terminate).parameters


def _aware(field: str, value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise ValidationFailed(f"{field} must be a date-time", field=field)
    if value.tzinfo is None:
        raise ValidationFailed(f"{field} needs a time zone", field=field)
    return value


@transaction.atomic
def change_status(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: int,
    action: str,
    given: dict[str, Any],
    terminate: Callable[..., Customer],
) -> Customer:
    """Apply ``action`` with the inputs ``given`` (only those the action takes), and queue
    the notification the change calls for in the same transaction (``_announce``).
    ``terminate``: the termination the interface asks for, with the arguments of
    ``lifecycle.terminate`` (``invoicing.closing.terminate``, which also issues the midterm
    invoice of CU-17: invoicing is above this module, so the interface passes it in)."""
    before = get_customer(actor=actor, customer_id=customer_id).status
    customer = _apply(
        actor=actor,
        now=now,
        customer_id=customer_id,
        action=action,
        given=given,
        terminate=terminate,
    )
    _announce(customer=customer, now=now, action=action, before=before)
    return customer


def _announce(*, customer: Customer, now: dt.datetime, action: str, before: str) -> None:
    """Provisional and permanent termination, and service restored (a provisional
    termination reactivated, a suspension lifted), with the engine's dedupe keys so one
    change is never announced twice."""
    after = customer.status
    if after == before:
        return
    if after == Status.PROVISIONALLY_TERMINATED and customer.provisionally_terminated_at:
        key = f"provisionally_terminated:{customer.provisionally_terminated_at.isoformat()}"
        notify(
            customer=customer,
            kind=Notification.PROVISIONALLY_TERMINATED,
            now=now,
            context={"terminate_on": customer.terminate_on},
            dedupe_key=key,
        )
    elif after == Status.CLOSED:
        notify(
            customer=customer,
            kind=Notification.PERMANENTLY_TERMINATED,
            now=now,
            context={},
            dedupe_key="permanently_terminated",
        )
    elif after == Status.OPEN and before in (Status.PROVISIONALLY_TERMINATED, Status.SUSPENDED):
        notify(
            customer=customer,
            kind=Notification.SERVICE_RESTORED,
            now=now,
            context={},
            dedupe_key=f"service_restored:{now.isoformat()}",
        )


def _apply(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: int,
    action: str,
    given: dict[str, Any],
    terminate: Callable[..., Customer],
) -> Customer:
    if action not in ACTIONS:
        raise ValidationFailed(
            f"action must be one of {', '.join(ACTIONS)}", field="action", code="invalid"
        )
    for name, value in given.items():
        if name not in INPUTS[action] and value not in (None, False, ""):
            raise ValidationFailed(
                f"{name} is not an input of the action {action}", field=name, code="unknown"
            )
    common: dict[str, Any] = {"actor": actor, "now": now, "customer_id": customer_id}
    if action in ("block", "unblock"):
        reason = given.get("reason") or ""
        if not isinstance(reason, str) or len(reason) > 200:
            raise ValidationFailed("reason must be text of at most 200 characters", field="reason")
        return lifecycle.set_blocked(**common, blocked=action == "block", reason=reason)
    if action == "lift_suspension_until":
        if "until" not in given:
            raise ValidationFailed(
                "until is required (null removes the date)", field="until", code="required"
            )
        return lifecycle.lift_suspension_until(**common, until=_aware("until", given["until"]))
    if action == "terminate":
        kwargs: dict[str, Any] = {
            "permanent": bool(given.get("permanent") or False),
            "terminate_on": _aware("terminate_on", given.get("terminate_on")),
        }
        if given.get("midterm_invoice"):
            if not midterm_invoice_supported():
                raise ValidationFailed(
                    "a midterm invoice before termination is not available on this "
                    "installation yet",
                    field="midterm_invoice",
                    code="unsupported",
                )
            kwargs["midterm_invoice"] = True
        return terminate(**common, **kwargs)
    if action == "reactivate":
        return lifecycle.reactivate(**common)
    return lifecycle.set_exported(**common, exported=action == "export")

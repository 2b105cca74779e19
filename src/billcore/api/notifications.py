"""``/api/v1/notification-templates`` (administrators), a customer's notification log, and
the customer's status operations (CU-14 … CU-18): ``POST /customers/{id}/status``,
``GET /customers/{id}/status``, ``GET /customers/{id}/status-history``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Router, Schema
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.customers import lifecycle
from billcore.customers.models import Customer, StatusChange
from billcore.customers.selectors import get_customer
from billcore.invoicing.closing import terminate
from billcore.notifications import selectors, services
from billcore.notifications.status import change_status

router = Router()


class TemplateOut(Schema):
    kind: str
    label: str
    subject: str
    body: str
    custom: bool = Field(description="False: the default shipped with billcore applies")
    updated_at: dt.datetime | None
    updated_by: str | None
    variables: list[str] = Field(description="The kind's own variables (beside the common ones)")


class TemplateIn(Schema):
    """Both required; checked by the service (a field named ``body`` would lose its name in
    the API's validation-error handler, which drops the location part "body")."""

    model_config = ConfigDict(extra="forbid")
    subject: Any = Field(None, description="Text, Django template language; one line")
    body: Any = Field(None, description="Text, Django template language; plain text")


class PreviewOut(Schema):
    subject: str
    body: str


class EmailOut(Schema):
    id: int
    kind: str = Field(description="notification | invoice | credit_note | statistics")
    notification: str
    label: str
    subject: str
    to_address: str
    status: str = Field(description="pending | sent | failed")
    attempts: int
    last_error: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    waiting: str  # why a pending e-mail waits (seller details missing), or ""


class StatusIn(Schema):
    model_config = ConfigDict(extra="forbid")
    action: Literal[
        "block",
        "unblock",
        "lift_suspension_until",
        "terminate",
        "reactivate",
        "export",
        "clear_export",
    ]
    until: dt.datetime | None = Field(
        None, description="lift_suspension_until: the date (null removes it)"
    )
    terminate_on: dt.datetime | None = Field(
        None, description="terminate: the permanent termination date"
    )
    permanent: bool = Field(False, description="terminate: permanently (CU-17)")
    midterm_invoice: bool = Field(
        False, description="terminate permanently: a midterm invoice for the open period first"
    )
    reason: str | None = Field(None, description="block / unblock: shown in the history")


class StatusOut(Schema):
    id: int
    status: str
    bill_status: str = Field(description="O open, S suspended, C closed, E exported, D …")
    blocked: bool
    display_status: str
    suspension_reason: str
    suspension_delay_until: dt.datetime | None
    provisionally_terminated_at: dt.datetime | None
    terminate_on: dt.datetime | None

    @staticmethod
    def resolve_bill_status(obj: Customer) -> str:
        code: str = lifecycle.BILL_STATUS.get(obj.status, "")  # type: ignore[call-overload]
        return code

    @staticmethod
    def resolve_display_status(obj: Customer) -> str:
        return lifecycle.display_status(obj)


class StatusChangeOut(Schema):
    id: int
    at: dt.datetime
    actor: str = Field(alias="actor_name")
    from_status: str
    to_status: str
    blocked: bool
    reason: str


# --------------------------------------------------------------------------- templates


@router.get("/notification-templates", response=list[TemplateOut], tags=["notifications"])
def list_templates(request: AuthedRequest) -> list[services.TemplateView]:
    return services.list_templates(actor=request.auth)


@router.get("/notification-templates/{kind}", response=TemplateOut, tags=["notifications"])
def get_template(request: AuthedRequest, kind: str) -> services.TemplateView:
    return services.get_template(actor=request.auth, kind=kind)


@router.put("/notification-templates/{kind}", response=TemplateOut, tags=["notifications"])
def update_template(request: AuthedRequest, kind: str, payload: TemplateIn) -> Any:
    """Edit the template; it must compile and render with a sample context (400 naming the
    field otherwise)."""
    return services.update_template(
        actor=request.auth, now=now(), kind=kind, subject=payload.subject, body=payload.body
    )


@router.delete("/notification-templates/{kind}", response=TemplateOut, tags=["notifications"])
def reset_template(request: AuthedRequest, kind: str) -> services.TemplateView:
    """Reset to the default shipped with billcore; returns the default."""
    return services.reset_template(actor=request.auth, now=now(), kind=kind)


@router.post("/notification-templates/{kind}/preview", response=PreviewOut, tags=["notifications"])
def preview_template(request: AuthedRequest, kind: str, payload: TemplateIn) -> dict[str, str]:
    """Render a subject and body with sample values, without saving."""
    subject, body = services.preview(
        actor=request.auth, kind=kind, subject=payload.subject, body=payload.body
    )
    return {"subject": subject, "body": body}


@router.get(
    "/customers/{customer_id}/notifications", response=list[EmailOut], tags=["notifications"]
)
def notification_log(request: AuthedRequest, customer_id: int) -> list[selectors.LogEntry]:
    """The customer's e-mails (notifications, invoices, statistics), newest first."""
    return selectors.notification_log(actor=request.auth, customer_id=customer_id)


# --------------------------------------------------------------------------- status


@router.get("/customers/{customer_id}/status", response=StatusOut, tags=["customer status"])
def get_status(request: AuthedRequest, customer_id: int) -> Customer:
    return get_customer(actor=request.auth, customer_id=customer_id)


@router.post("/customers/{customer_id}/status", response=StatusOut, tags=["customer status"])
def post_status(request: AuthedRequest, customer_id: int, payload: StatusIn) -> Customer:
    """Change the status (CU-14 … CU-18): block, unblock, lift_suspension_until (with
    ``until``; null removes it), terminate (``permanent``, ``terminate_on``,
    ``midterm_invoice``), reactivate, export, clear_export. Suspension is the engine's."""
    given = {k: getattr(payload, k) for k in payload.model_fields_set if k != "action"}
    return change_status(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        action=payload.action,
        given=given,
        terminate=terminate,
    )


@router.get(
    "/customers/{customer_id}/status-history",
    response=list[StatusChangeOut],
    tags=["customer status"],
)
def status_history(request: AuthedRequest, customer_id: int) -> list[StatusChange]:
    return lifecycle.status_history(actor=request.auth, customer_id=customer_id)

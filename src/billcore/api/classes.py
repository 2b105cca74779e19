"""``/api/v1/customer-classes``: list, create, get, patch, delete, copy (CC-01 … CC-22)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field, create_model

from billcore.api.base import AuthedRequest, now
from billcore.api.declared import in_field, out_field
from billcore.classes import selectors, services
from billcore.classes.models import CustomerClass
from billcore.classes.settings import SETTINGS

router = Router(tags=["customer classes"])


class ClassCopy(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str


# The schemas of a class's settings are made from their declaration (classes.settings).
class _Settable(Schema):
    """Settable fields. Money and rates are decimal strings."""

    model_config = ConfigDict(extra="forbid")


class _Out(Schema):
    id: int
    name: str
    is_default: bool

    @staticmethod
    def resolve_mandatory_custom_fields(obj: CustomerClass) -> list[str]:
        return [cf.name for cf in obj.mandatory_custom_fields.all()]


def _settable(schema: str, name: tuple[Any, Any]) -> Any:
    fields: dict[str, Any] = {s.name: in_field(s) for s in SETTINGS if s.name != "name"}
    return create_model(schema, __base__=_Settable, __module__=__name__, name=name, **fields)


def _reply() -> Any:
    fields: dict[str, Any] = {s.name: out_field(s) for s in SETTINGS if s.name != "name"}
    fields["created_at"] = (dt.datetime, ...)
    fields["updated_at"] = (dt.datetime, ...)
    return create_model("ClassOut", __base__=_Out, __module__=__name__, **fields)


if TYPE_CHECKING:  # made at run time from the declaration; to the type checker, a Schema
    ClassCreate = Schema
    ClassPatch = Schema
    ClassOut = Schema
else:
    ClassCreate = _settable("ClassCreate", (str, ...))
    ClassPatch = _settable("ClassPatch", (str | None, None))
    ClassOut = _reply()


class ClassPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ClassOut]


class ClassFilters(Schema):
    search: str = Field("", description="Part of the name or description")
    currency: str | None = None
    managed_by: int | None = None
    admin_only: bool = False
    order: str = Field("name", description="Field to sort by; prefix - for descending")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def _dump(payload: Schema) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    return data


@router.get("", response=ClassPage)
def list_classes(request: AuthedRequest, filters: Query[ClassFilters]) -> dict[str, Any]:
    qs = selectors.list_classes(
        actor=request.auth,
        search=filters.search,
        currency=filters.currency,
        managed_by=filters.managed_by,
        admin_only=filters.admin_only,
        order=filters.order,
    )
    items = list(
        qs.prefetch_related("mandatory_custom_fields")[
            filters.offset : filters.offset + filters.limit
        ]
    )
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.post("", response={201: ClassOut})
def create_class(request: AuthedRequest, payload: ClassCreate) -> Status[CustomerClass]:
    return Status(201, services.create_class(actor=request.auth, now=now(), data=_dump(payload)))


@router.get("/{class_id}", response=ClassOut)
def get_class(request: AuthedRequest, class_id: int) -> CustomerClass:
    return selectors.get_class(actor=request.auth, class_id=class_id)


@router.patch("/{class_id}", response=ClassOut)
def update_class(request: AuthedRequest, class_id: int, payload: ClassPatch) -> CustomerClass:
    return services.update_class(
        actor=request.auth, now=now(), class_id=class_id, changes=_dump(payload)
    )


@router.delete("/{class_id}", response={204: None})
def delete_class(request: AuthedRequest, class_id: int) -> Status[None]:
    services.delete_class(actor=request.auth, now=now(), class_id=class_id)
    return Status(204, None)


@router.post("/{class_id}/copy", response={201: ClassOut})
def copy_class(request: AuthedRequest, class_id: int, payload: ClassCopy) -> Status[Any]:
    """CC-03 "Save & Add a copy": a new class with every setting of this one."""
    copy = services.copy_class(actor=request.auth, now=now(), class_id=class_id, name=payload.name)
    return Status(201, copy)

"""``/api/v1/business-models`` (CC-05) and ``/api/v1/currencies``."""

from __future__ import annotations

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from billcore.api import AuthedRequest, now
from billcore.installation import services
from billcore.installation.models import BusinessModel, Currency
from billcore.installation.services import _require_admin

router = Router()


class BusinessModelOut(Schema):
    id: int
    name: str
    description: str


class BusinessModelIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""


class BusinessModelPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None


class CurrencyOut(Schema):
    code: str
    name: str
    decimals: int


class CurrencyIn(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str
    decimals: int | None = None


@router.get("/business-models", response=list[BusinessModelOut], tags=["business models"])
def list_business_models(request: AuthedRequest) -> list[BusinessModel]:
    return list(BusinessModel.objects.order_by("name"))


@router.post("/business-models", response={201: BusinessModelOut}, tags=["business models"])
def create_business_model(request: AuthedRequest, payload: BusinessModelIn) -> Status[object]:
    bm = services.create_business_model(
        actor=request.auth, now=now(), name=payload.name, description=payload.description
    )
    return Status(201, bm)


@router.patch("/business-models/{bm_id}", response=BusinessModelOut, tags=["business models"])
def update_business_model(
    request: AuthedRequest, bm_id: int, payload: BusinessModelPatch
) -> BusinessModel:
    return services.update_business_model(
        actor=request.auth,
        now=now(),
        business_model_id=bm_id,
        changes=payload.model_dump(exclude_unset=True),
    )


@router.delete("/business-models/{bm_id}", response={204: None}, tags=["business models"])
def delete_business_model(request: AuthedRequest, bm_id: int) -> Status[None]:
    services.delete_business_model(actor=request.auth, now=now(), business_model_id=bm_id)
    return Status(204, None)


@router.get("/currencies", response=list[CurrencyOut], tags=["currencies"])
def list_currencies(request: AuthedRequest) -> list[Currency]:
    return list(Currency.objects.order_by("code"))


@router.post("/currencies", response={201: CurrencyOut}, tags=["currencies"])
def add_currency(request: AuthedRequest, payload: CurrencyIn) -> Status[object]:
    _require_admin(request.auth)
    currency = services.add_currency(
        actor=request.auth, now=now(), code=payload.code, decimals=payload.decimals
    )
    return Status(201, currency)

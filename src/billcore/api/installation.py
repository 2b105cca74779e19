"""``/api/v1/business-models`` (CC-05) and ``/api/v1/currencies``."""

from __future__ import annotations

from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.installation import services
from billcore.installation.models import (
    BusinessModel,
    Currency,
    CustomField,
    InstallationSettings,
)
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


class SettingsOut(Schema):
    legal_name: str
    notification_from_name: str
    notification_from_address: str
    seller_address_line1: str
    seller_address_line2: str
    seller_city: str
    seller_postal_code: str
    seller_country: str
    seller_tax_number: str
    payment_instructions: str
    seller_details_missing: list[str]
    allow_external_billing: bool
    show_financial_documents_page: bool
    eztax_endpoint: str
    suretax_endpoint: str
    tax_rounding_half_up: bool
    test_mode: bool
    max_session_seconds: int = Field(description="Longest session /authorize grants, seconds")

    @staticmethod
    def resolve_seller_details_missing(obj: InstallationSettings) -> list[str]:
        """What invoice e-mails wait for (issue 17 §6): "legal name", "From address"."""
        return obj.missing_seller_details()


class SettingsPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    legal_name: str | None = None
    notification_from_name: str | None = None
    notification_from_address: str | None = None
    seller_address_line1: str | None = None
    seller_address_line2: str | None = None
    seller_city: str | None = None
    seller_postal_code: str | None = None
    seller_country: str | None = None
    seller_tax_number: str | None = None
    payment_instructions: str | None = None
    allow_external_billing: bool | None = None
    show_financial_documents_page: bool | None = None
    eztax_endpoint: str | None = None
    suretax_endpoint: str | None = None
    tax_rounding_half_up: bool | None = None
    test_mode: bool | None = None
    max_session_seconds: int | None = Field(
        None, description="Longest session /authorize grants: 1 to 86400 seconds (default 10800)"
    )


class CustomFieldOut(Schema):
    id: int
    name: str
    label: str
    field_type: str
    choices: list[str]


class CustomFieldIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    label: str
    field_type: str = "text"
    choices: list[str] = []


@router.get("/settings", response=SettingsOut, tags=["installation"])
def get_settings(request: AuthedRequest) -> InstallationSettings:
    """Installation settings (administrators only): legal info and "From" address (CC-08),
    AllowExternalBilling (CC-12), ShowFinancialDocumentsPage (CC-16), tax engines (CC-10)."""
    _require_admin(request.auth)
    return services.get_settings()


@router.patch("/settings", response=SettingsOut, tags=["installation"])
def update_settings(request: AuthedRequest, payload: SettingsPatch) -> InstallationSettings:
    return services.update_settings(
        actor=request.auth, now=now(), changes=payload.model_dump(exclude_unset=True)
    )


@router.get("/custom-fields", response=list[CustomFieldOut], tags=["installation"])
def list_custom_fields(request: AuthedRequest) -> list[CustomField]:
    return list(CustomField.objects.order_by("name"))


@router.post("/custom-fields", response={201: CustomFieldOut}, tags=["installation"])
def create_custom_field(request: AuthedRequest, payload: CustomFieldIn) -> Status[object]:
    field = services.create_custom_field(
        actor=request.auth,
        now=now(),
        name=payload.name,
        label=payload.label,
        field_type=payload.field_type,
        choices=payload.choices,
    )
    return Status(201, field)

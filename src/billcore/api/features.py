"""Abbreviated dialing and service features (issue 14):
``/api/v1/customers/{id}/abbreviated-dialing`` (the maximum length, the entries),
``/api/v1/{customers,accounts,products}/{id}/service-features`` (own values; for customers
and accounts also the effective set with where each value comes from)."""

from __future__ import annotations

from typing import Any

from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.features import selectors, services
from billcore.features.models import AbbreviatedNumber
from billcore.features.selectors import Features

router = Router(tags=["service configuration"])


class MaxLengthIn(Schema):
    model_config = ConfigDict(extra="forbid")
    max_length: int = Field(description="Maximum abbreviated number length, 1 to 8 digits")


class DialingEntryIn(Schema):
    model_config = ConfigDict(extra="forbid")
    abbreviated: str = Field(description="What the user dials: digits, at most max_length")
    number: str = Field(
        "",
        description="Number to dial: one of the customer's account identifiers or an E.164 "
        "number; empty (and no account): dial as is",
    )
    account: int | None = Field(None, description="Or: the id of one of the customer's accounts")
    description: str = ""


class DialingEntryPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    abbreviated: str | None = None
    number: str | None = None
    account: int | None = None
    description: str | None = None


class DialingEntryOut(Schema):
    id: int
    abbreviated: str
    number: str = Field(description="E.164 digits, an account's identifier, or empty: as is")
    account: int | None = Field(alias="account_id")
    description: str


class DialingOut(Schema):
    max_length: int | None = Field(description="None until saved: entries need it first")
    entries: list[DialingEntryOut]


class FeaturesIn(Schema):
    """Service features; null (or, with PUT, left out) inherits."""

    model_config = ConfigDict(extra="forbid")
    max_calls: int | None = Field(None, description="Simultaneous calls, any direction")
    max_incoming_calls: int | None = None
    max_outgoing_calls: int | None = None
    max_forwarded_calls: int | None = None
    accept_caller_identity: str | None = Field(
        None, description="favor_forwarder | caller_only | none"
    )
    supply_caller_identity: bool | None = None
    cli_presentation: str | None = Field(None, description="allowed | restricted")
    display_name: str | None = None
    override_identity: str | None = Field(None, description="E.164 number presented instead")
    music_on_hold: bool | None = None
    call_parking: bool | None = None


class OwnOut(Schema):
    max_calls: int | None
    max_incoming_calls: int | None
    max_outgoing_calls: int | None
    max_forwarded_calls: int | None
    accept_caller_identity: str | None
    supply_caller_identity: bool | None
    cli_presentation: str | None
    display_name: str | None
    override_identity: str | None
    music_on_hold: bool | None
    call_parking: bool | None


class FeatureEffectiveOut(Schema):
    value: int | bool | str | None
    source: str = Field(description="account | customer | addon | product | default")
    source_name: str = Field(description="The product's name for addon / product")


class FeaturesOut(Schema):
    own: OwnOut = Field(description="This owner's own values (null: inherits)")
    effective: dict[str, FeatureEffectiveOut] = Field(
        description="The values in force, and from where"
    )


class ProductFeaturesOut(Schema):
    own: OwnOut


def _dialing(request: AuthedRequest, customer_id: int) -> dict[str, Any]:
    got = selectors.dialing(actor=request.auth, customer_id=customer_id)
    return {"max_length": got.max_length, "entries": got.entries}


def _features(got: Features) -> dict[str, Any]:
    return {
        "own": got.own,
        "effective": {
            name: {"value": e.value, "source": e.source, "source_name": e.source_name}
            for name, e in got.effective.items()
        },
    }


@router.get("/customers/{customer_id}/abbreviated-dialing", response=DialingOut)
def get_dialing(request: AuthedRequest, customer_id: int) -> Any:
    return _dialing(request, customer_id)


@router.put("/customers/{customer_id}/abbreviated-dialing", response=DialingOut)
def put_max_length(request: AuthedRequest, customer_id: int, payload: MaxLengthIn) -> Any:
    """Save the maximum length; lowering it below an entry is refused, naming the entries."""
    services.set_max_length(
        actor=request.auth, now=now(), customer_id=customer_id, max_length=payload.max_length
    )
    return _dialing(request, customer_id)


@router.post("/customers/{customer_id}/abbreviated-dialing", response={201: DialingEntryOut})
def post_entry(
    request: AuthedRequest, customer_id: int, payload: DialingEntryIn
) -> Status[AbbreviatedNumber]:
    entry = services.add_entry(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        data=payload.model_dump(exclude_unset=True),
    )
    return Status(201, entry)


@router.patch("/customers/{customer_id}/abbreviated-dialing/{entry_id}", response=DialingEntryOut)
def patch_entry(
    request: AuthedRequest, customer_id: int, entry_id: int, payload: DialingEntryPatch
) -> AbbreviatedNumber:
    return services.update_entry(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        entry_id=entry_id,
        changes=payload.model_dump(exclude_unset=True),
    )


@router.delete("/customers/{customer_id}/abbreviated-dialing/{entry_id}", response={204: None})
def delete_entry(request: AuthedRequest, customer_id: int, entry_id: int) -> Status[None]:
    services.delete_entry(actor=request.auth, now=now(), customer_id=customer_id, entry_id=entry_id)
    return Status(204, None)


@router.get("/customers/{customer_id}/service-features", response=FeaturesOut)
def get_customer_features(request: AuthedRequest, customer_id: int) -> Any:
    return _features(selectors.customer_features(actor=request.auth, customer_id=customer_id))


def _set_customer(
    request: AuthedRequest, customer_id: int, payload: FeaturesIn, replace: bool
) -> Any:
    services.set_customer_features(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        values=payload.model_dump(exclude_unset=True),
        replace=replace,
    )
    return get_customer_features(request, customer_id)


@router.put("/customers/{customer_id}/service-features", response=FeaturesOut)
def put_customer_features(request: AuthedRequest, customer_id: int, payload: FeaturesIn) -> Any:
    """Replace the customer's own features: one left out inherits again."""
    return _set_customer(request, customer_id, payload, True)


@router.patch("/customers/{customer_id}/service-features", response=FeaturesOut)
def patch_customer_features(request: AuthedRequest, customer_id: int, payload: FeaturesIn) -> Any:
    """Change only the given features (null: inherit)."""
    return _set_customer(request, customer_id, payload, False)


@router.get("/accounts/{account_id}/service-features", response=FeaturesOut)
def get_account_features(request: AuthedRequest, account_id: int) -> Any:
    return _features(selectors.account_features(actor=request.auth, account_id=account_id))


def _set_account(
    request: AuthedRequest, account_id: int, payload: FeaturesIn, replace: bool
) -> Any:
    services.set_account_features(
        actor=request.auth,
        now=now(),
        account_id=account_id,
        values=payload.model_dump(exclude_unset=True),
        replace=replace,
    )
    return get_account_features(request, account_id)


@router.put("/accounts/{account_id}/service-features", response=FeaturesOut)
def put_account_features(request: AuthedRequest, account_id: int, payload: FeaturesIn) -> Any:
    """Replace the account's own features (its override of the customer's and products')."""
    return _set_account(request, account_id, payload, True)


@router.patch("/accounts/{account_id}/service-features", response=FeaturesOut)
def patch_account_features(request: AuthedRequest, account_id: int, payload: FeaturesIn) -> Any:
    return _set_account(request, account_id, payload, False)


@router.get("/products/{product_id}/service-features", response=ProductFeaturesOut)
def get_product_features(request: AuthedRequest, product_id: int) -> Any:
    return {"own": selectors.product_features(actor=request.auth, product_id=product_id)}


def _set_product(
    request: AuthedRequest, product_id: int, payload: FeaturesIn, replace: bool
) -> Any:
    services.set_product_features(
        actor=request.auth,
        now=now(),
        product_id=product_id,
        values=payload.model_dump(exclude_unset=True),
        replace=replace,
    )
    return get_product_features(request, product_id)


@router.put("/products/{product_id}/service-features", response=ProductFeaturesOut)
def put_product_features(request: AuthedRequest, product_id: int, payload: FeaturesIn) -> Any:
    """Replace the product's defaults for the accounts that have it."""
    return _set_product(request, product_id, payload, True)


@router.patch("/products/{product_id}/service-features", response=ProductFeaturesOut)
def patch_product_features(request: AuthedRequest, product_id: int, payload: FeaturesIn) -> Any:
    return _set_product(request, product_id, payload, False)

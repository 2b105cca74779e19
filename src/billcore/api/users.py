"""``/api/v1/users`` and ``/api/v1/tokens`` (issue 10 §3): users and API tokens,
administered. The rules (who may, the last administrator, password validators) are in
``accounts.services``; what each actor sees is in ``accounts.selectors``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from billcore.accounts import selectors, services
from billcore.accounts.models import ApiToken, User
from billcore.accounts.selectors import MAX_ID
from billcore.accounts.tokens import default_lifetime
from billcore.api.base import AuthedRequest, now

users_router = Router(tags=["users"])
tokens_router = Router(tags=["tokens"])


class UserOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: str = Field(description='"administrator" or "reseller" (a user of that reseller)')
    reseller: int | None = Field(None, description="The reseller's customer id")
    reseller_name: str | None = None
    is_active: bool
    date_joined: dt.datetime
    last_login: dt.datetime | None

    @staticmethod
    def resolve_role(obj: User) -> str:
        return "administrator" if obj.reseller_id is None else "reseller"

    @staticmethod
    def resolve_reseller(obj: User) -> int | None:
        return obj.reseller_id

    @staticmethod
    def resolve_reseller_name(obj: User) -> str | None:
        return obj.reseller.name if obj.reseller_id and obj.reseller else None


class UserPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[UserOut]


class UserFilters(Schema):
    search: str = Field("", description="Part of the username, e-mail or name")
    reseller: int | None = Field(None, ge=1, le=MAX_ID, description="Only this reseller's users")
    administrators: bool = Field(False, description="Only administrators")
    active: bool | None = Field(None, description="Only active (true) or deactivated (false)")
    order: str = Field("username", description="Field to sort by; prefix - for descending")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class UserCreate(Schema):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    reseller: int | None = Field(
        None,
        description="The reseller the user belongs to; null or absent from an administrator: "
        "a new administrator; absent from a reseller's user: its own reseller",
    )
    is_active: bool = True


class UserPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    reseller: int | None = Field(None, description="null: make the user an administrator")
    is_active: bool | None = None


class PasswordIn(Schema):
    model_config = ConfigDict(extra="forbid")
    password: str


def _given(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


@users_router.get("", response=UserPage)
def list_users(request: AuthedRequest, filters: Query[UserFilters]) -> dict[str, Any]:
    qs = selectors.list_users(
        actor=request.auth,
        search=filters.search,
        reseller=filters.reseller,
        administrators=filters.administrators,
        active=filters.active,
        order=filters.order,
    )
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@users_router.post("", response={201: UserOut})
def create_user(request: AuthedRequest, payload: UserCreate) -> Status[User]:
    return Status(201, services.create_user(actor=request.auth, now=now(), data=_given(payload)))


@users_router.get("/{user_id}", response=UserOut)
def get_user(request: AuthedRequest, user_id: int) -> User:
    return selectors.get_user(actor=request.auth, user_id=user_id)


@users_router.patch("/{user_id}", response=UserOut)
def update_user(request: AuthedRequest, user_id: int, payload: UserPatch) -> User:
    return services.update_user(
        actor=request.auth, now=now(), user_id=user_id, changes=_given(payload)
    )


@users_router.post("/{user_id}/deactivate", response=UserOut)
def deactivate_user(request: AuthedRequest, user_id: int) -> User:
    """The user can no longer sign in; its tokens and sessions stop working."""
    return services.deactivate_user(actor=request.auth, now=now(), user_id=user_id)


@users_router.post("/{user_id}/password", response={204: None})
def set_password(request: AuthedRequest, user_id: int, payload: PasswordIn) -> Status[None]:
    """A new password, judged by the installation's password validators."""
    services.set_password(actor=request.auth, now=now(), user_id=user_id, password=payload.password)
    return Status(204, None)


class TokenOut(Schema):
    id: int
    user: int
    username: str
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it")
    created_at: dt.datetime
    last_used_at: dt.datetime | None = Field(
        description="Recorded at most once a minute; null: never used"
    )
    expires_at: dt.datetime | None = Field(description="null: never expires")

    @staticmethod
    def resolve_user(obj: ApiToken) -> int:
        return obj.user_id

    @staticmethod
    def resolve_username(obj: ApiToken) -> str:
        return obj.user.username


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown this once, never stored")

    @staticmethod
    def resolve_token(obj: Any) -> str:
        return str(obj.secret)


class TokenPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[TokenOut]


class TokenFilters(Schema):
    user: int | None = Field(None, ge=1, le=MAX_ID, description="Only this user's tokens")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class TokenCreate(Schema):
    model_config = ConfigDict(extra="forbid")
    user: int | None = Field(None, description="Whose token (default: yours)")
    name: str = ""
    expires_in: str | None = Field(
        None,
        description="Lifetime such as 90d or 12h; absent: the installation's default "
        "(BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS)",
    )


@tokens_router.get("", response=TokenPage)
def list_tokens(request: AuthedRequest, filters: Query[TokenFilters]) -> dict[str, Any]:
    qs = selectors.list_tokens(actor=request.auth, user_id=filters.user)
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@tokens_router.post("", response={201: TokenCreated})
def create_token(request: AuthedRequest, payload: TokenCreate) -> Status[ApiToken]:
    token, secret = services.create_api_token(
        actor=request.auth,
        now=now(),
        user_id=payload.user,
        name=payload.name,
        expires_in=payload.expires_in,
        default_lifetime=default_lifetime(),
    )
    token.secret = secret  # type: ignore[attr-defined]  # for the reply only
    return Status(201, token)


@tokens_router.delete("/{token_id}", response={204: None})
def revoke_token(request: AuthedRequest, token_id: int) -> Status[None]:
    services.revoke_api_token(actor=request.auth, now=now(), token_id=token_id)
    return Status(204, None)

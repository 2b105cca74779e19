"""Reads of users and API tokens, already scoped to what the actor may see (CC-07, issue 10
§3): an administrator sees every user and token; a reseller's user sees its own reseller's
users and their tokens, and nothing else (another reseller's user or an administrator is
"not found", never "forbidden")."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.accounts.models import ApiToken, User, username_key
from billcore.errors import NotFound, ValidationFailed
from billcore.validation import as_str

MAX_ID = 2**63 - 1


def visible_users(*, actor: Actor) -> QuerySet[User]:
    me = require_user(actor)
    qs = User.objects.select_related("reseller")
    if is_admin(me):
        return qs
    return qs.filter(reseller_id=me.reseller_id)


def get_user(*, actor: Actor, user_id: Any, field: str = "id") -> User:
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id <= MAX_ID:
        raise NotFound(f"user {user_id} not found", field=field)
    try:
        return visible_users(actor=actor).get(pk=user_id)
    except User.DoesNotExist:
        raise NotFound(f"user {user_id} not found", field=field) from None


def find_user(*, actor: Actor, username: str) -> User:
    """The visible user with this name, in any letter case."""
    user = visible_users(actor=actor).filter(username_key=username_key(username)).first()
    if user is None:
        raise NotFound(f"no user named {username!r}", field="username")
    return user


ORDERINGS = {"username", "id", "date_joined", "last_login", "email"}


def list_users(
    *,
    actor: Actor,
    search: str = "",
    reseller: int | None = None,
    administrators: bool = False,
    active: bool | None = None,
    order: str = "username",
) -> QuerySet[User]:
    """``administrators``: only administrators; ``reseller``: only that reseller's users;
    ``active``: only active (True) or deactivated (False) users."""
    qs = visible_users(actor=actor)
    search = as_str("search", search, max_length=200)
    if any("\ud800" <= ch <= "\udfff" for ch in search):
        raise ValidationFailed("search contains a lone surrogate", field="search")
    if search:
        qs = qs.filter(
            Q(username__icontains=search)
            | Q(username_key__contains=username_key(search))
            | Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    if administrators:
        qs = qs.filter(reseller__isnull=True)
    if reseller is not None:
        qs = qs.filter(reseller_id=reseller)
    if active is not None:
        qs = qs.filter(is_active=active)
    key = order.lstrip("-")
    if key not in ORDERINGS:
        key = "username"
    if key == "username":
        key = "username_key"
    return qs.order_by(("-" if order.startswith("-") else "") + key, "id")


def visible_tokens(*, actor: Actor) -> QuerySet[ApiToken]:
    """Tokens of the users the actor sees (never their secret: only a digest is stored)."""
    me = require_user(actor)
    qs = ApiToken.objects.select_related("user", "user__reseller").defer("digest")
    if is_admin(me):
        return qs
    return qs.filter(user__reseller_id=me.reseller_id)


def list_tokens(*, actor: Actor, user_id: int | None = None) -> QuerySet[ApiToken]:
    """``user_id``: that user's tokens (a user the actor does not see is "not found")."""
    qs = visible_tokens(actor=actor)
    if user_id is not None:
        qs = qs.filter(user=get_user(actor=actor, user_id=user_id, field="user"))
    return qs.order_by("-created_at", "-id")


def get_token(*, actor: Actor, token_id: Any) -> ApiToken:
    if not isinstance(token_id, int) or isinstance(token_id, bool) or not 0 < token_id <= MAX_ID:
        raise NotFound(f"token {token_id} not found", field="id")
    try:
        return visible_tokens(actor=actor).get(pk=token_id)
    except ApiToken.DoesNotExist:
        raise NotFound(f"token {token_id} not found", field="id") from None

"""Users and API tokens, administered (CC-07, issue 10 §3).

* An administrator creates, edits, deactivates and sets the password of administrators and
  of resellers' users (a user of a reseller belongs to that one reseller).
* A reseller's user does the same for its own reseller's users, and nothing else: another
  reseller's users and the administrators are "not found" to it; asking for an administrator
  is "forbidden". A reseller's users have no finer roles yet.
* Nobody deactivates or demotes themselves (400), and the last active administrator is never
  deactivated or demoted (409): the active administrators' rows are locked, in key order,
  before the count, so two administrators deactivating each other at once cannot both win.
* Usernames are unique regardless of letter case (``User.username_key``: NFKC, casefolded).
* Every password set goes through Django's password validators (``AUTH_PASSWORD_VALIDATORS``);
  their reasons come back naming the ``password`` field.
* API tokens: created with an expiry (``expires_in`` such as ``90d`` or ``12h``, else the
  default the interface passes), listed with their last use, revoked.
* Every change writes an audit row; no password (not even its hash) and no token secret (not
  even its digest) is ever in one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from billcore.accounts import tokens
from billcore.accounts.access import Actor, is_admin, require_user
from billcore.accounts.models import ApiToken, User, username_key
from billcore.accounts.passwords import check_password
from billcore.accounts.selectors import MAX_ID, get_token, get_user
from billcore.audit.services import record
from billcore.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from billcore.validation import as_bool, as_email, as_int, as_str, reject_unknown

PROFILE_FIELDS = ("username", "email", "first_name", "last_name")
UPDATE_FIELDS = (*PROFILE_FIELDS, "reseller", "is_active")
CREATE_FIELDS = (*UPDATE_FIELDS, "password")
AUDITED = (*PROFILE_FIELDS, "reseller_id", "is_active", "is_staff", "is_superuser")
MAX_TOKEN_LIFETIME = dt.timedelta(days=3650)

_username_validator = UnicodeUsernameValidator()


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit trail keeps of a user: never the password hash."""
    return {name: getattr(user, name) for name in AUDITED}


def token_snapshot(token: ApiToken) -> dict[str, Any]:
    """What the audit trail keeps of a token: never its digest (nor, of course, its secret)."""
    return {
        "user_id": token.user_id,
        "username": token.user.username,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


# --------------------------------------------------------------------------- input


def _no_surrogates(data: Mapping[str, Any]) -> None:
    """A lone UTF-16 surrogate (valid in JSON, not in UTF-8) is refused, naming its field:
    no database column and no password hasher takes it."""
    for name, value in data.items():
        if isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value):
            raise ValidationFailed(
                f"{name} contains a lone surrogate (not a Unicode character)", field=name
            )


def _username(value: Any, *, exclude_pk: int | None) -> str:
    text = User.normalize_username(as_str("username", value, max_length=150, required=True))
    try:
        _username_validator(text)
    except DjangoValidationError:
        raise ValidationFailed(
            "username may contain only letters, digits and @ . + - _", field="username"
        ) from None
    key = username_key(text)
    if len(key) > 300:
        raise ValidationFailed("username is too long", field="username", code="too_long")
    clash = User.objects.filter(username_key=key)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationFailed(
            f"username: a user named {text!r} already exists (names are compared regardless "
            "of letter case)",
            field="username",
            code="duplicate",
        )
    return text


def _is_reseller(customer_id: int) -> bool:
    """Whether ``customer_id`` is a reseller: a row the ``User.reseller`` foreign key may point
    to (its ``limit_choices_to``), asked through that key's model, as accounts sits below
    customers and imports nothing from it."""
    field = User._meta.get_field("reseller")
    assert field.related_model is not None and not isinstance(field.related_model, str)
    rows = field.related_model._default_manager.filter(pk=customer_id)
    return bool(rows.complex_filter(field.get_limit_choices_to()).exists())


def _reseller(actor: Actor, value: Any) -> int | None:
    """The reseller a user is to belong to (``None``: an administrator)."""
    me = require_user(actor)
    rid = None if value in (None, "") else as_int("reseller", value, minimum=1, maximum=MAX_ID)
    if not is_admin(me):
        if rid is None:
            raise NotAllowed(
                "reseller: only an administrator creates or manages administrators",
                field="reseller",
                code="not_allowed",
            )
        if rid != me.reseller_id:
            raise ValidationFailed(
                "reseller: a reseller's user manages only its own reseller's users",
                field="reseller",
                code="not_found",
            )
        return rid
    if rid is not None and not _is_reseller(rid):
        raise ValidationFailed(
            f"reseller: reseller {rid} does not exist", field="reseller", code="not_found"
        )
    return rid


def _set_role(user: User, reseller_id: int | None) -> None:
    user.reseller_id = reseller_id
    user.is_staff = user.is_superuser = reseller_id is None


# --------------------------------------------------------------------------- users


@transaction.atomic
def create_user(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> User:
    """``data``: username, password, email, first_name, last_name, is_active, and reseller
    (an administrator: absent or empty makes an administrator; a reseller's user: absent
    means its own reseller)."""
    me = require_user(actor)
    reject_unknown(dict(data), CREATE_FIELDS)
    _no_surrogates(data)
    user = User(date_joined=now)
    user.username = _username(data.get("username"), exclude_pk=None)
    user.email = as_email("email", data.get("email"))
    user.first_name = as_str("first_name", data.get("first_name"), max_length=150)
    user.last_name = as_str("last_name", data.get("last_name"), max_length=150)
    if "reseller" in data:
        _set_role(user, _reseller(actor, data["reseller"]))
    else:
        _set_role(user, me.reseller_id if not is_admin(me) else None)
    user.is_active = as_bool("is_active", data.get("is_active", True))
    user.set_password(check_password(data.get("password"), user=user))
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent twin took the name between the check and the save
        raise ValidationFailed(
            f"username: a user named {user.username!r} already exists",
            field="username",
            code="duplicate",
        ) from None
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=user,
        before=None,
        after=user_snapshot(user),
        object_type="user",
    )
    return user


def _lock_administrators() -> list[int]:
    """Lock every active administrator's row, in key order (the last-administrator rule
    counts them; concurrent changes queue here instead of deadlocking)."""
    return list(
        User.objects.select_for_update()
        .filter(reseller__isnull=True, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _locked_user(actor: Actor, user_id: Any) -> User:
    visible = get_user(actor=actor, user_id=user_id)
    if visible.reseller_id is None:
        _lock_administrators()
    return User.objects.select_for_update().get(pk=visible.pk)


def _guard(
    actor: Actor, user: User, *, deactivating: bool, demoting: bool, was_admin: bool, field: str
) -> None:
    """Nobody deactivates or demotes themselves; the last active administrator stays."""
    if not (deactivating or demoting):
        return
    if actor.pk is not None and actor.pk == user.pk:
        what = "deactivate yourself" if deactivating else "make yourself a reseller's user"
        other = "another administrator" if is_admin(actor) else "another user of your reseller"
        raise ValidationFailed(
            f"{field}: you cannot {what}; {other} can",
            field=field,
            code="self",
        )
    if not was_admin:
        return
    others = [pk for pk in _lock_administrators() if pk != user.pk]
    if not others:
        what = "deactivated" if deactivating else "made a reseller's user"
        raise Conflict(
            f"{field}: {user.username!r} is the last active administrator and cannot be "
            f"{what}; create or activate another administrator first",
            field=field,
            code="last_administrator",
        )


def _change_user(
    actor: Actor,
    now: dt.datetime,
    user_id: Any,
    changes: Mapping[str, Any],
    *,
    active_field: str = "is_active",
) -> User:
    user = _locked_user(actor, user_id)
    before = user_snapshot(user)
    was_admin = user.reseller_id is None and user.is_active
    if "email" in changes:
        user.email = as_email("email", changes["email"])
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(user, name, as_str(name, changes[name], max_length=150))
    if "username" in changes:
        user.username = _username(changes["username"], exclude_pk=user.pk)
    if "reseller" in changes:
        rid = _reseller(actor, changes["reseller"])
        if rid != user.reseller_id:
            _set_role(user, rid)
    deactivating = False
    if "is_active" in changes:
        active = as_bool(active_field, changes["is_active"])
        deactivating = user.is_active and not active
        user.is_active = active
    _guard(
        actor,
        user,
        deactivating=deactivating,
        demoting=was_admin and user.reseller_id is not None,
        was_admin=was_admin,
        field=active_field if deactivating else "reseller",
    )
    after = user_snapshot(user)
    if after == before:
        return user
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationFailed(
            f"username: a user named {user.username!r} already exists",
            field="username",
            code="duplicate",
        ) from None
    if not user.is_active:
        tokens.forget_user(user.pk)
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=user,
        before=before,
        after=after,
        object_type="user",
    )
    return user


@transaction.atomic
def update_user(
    *, actor: Actor, now: dt.datetime, user_id: Any, changes: Mapping[str, Any]
) -> User:
    """Only the given fields change: username, email, first_name, last_name, is_active, and
    reseller (empty: an administrator; only administrators move users between roles)."""
    require_user(actor)
    reject_unknown(dict(changes), UPDATE_FIELDS)
    _no_surrogates(changes)
    return _change_user(actor, now, user_id, changes)


@transaction.atomic
def deactivate_user(*, actor: Actor, now: dt.datetime, user_id: Any) -> User:
    """The user can no longer sign in, and its API tokens and sessions stop working; the
    row and its history stay. Deactivating an inactive user changes nothing."""
    require_user(actor)
    return _change_user(actor, now, user_id, {"is_active": False}, active_field="id")


@transaction.atomic
def set_password(*, actor: Actor, now: dt.datetime, user_id: Any, password: Any) -> User:
    """A new password (the user's other sessions end; its API tokens keep working until
    revoked or expired)."""
    require_user(actor)
    user = _locked_user(actor, user_id)
    _store_password(actor, now, user, check_password(password, user=user))
    return user


@transaction.atomic
def change_password(
    *, actor: Actor, now: dt.datetime, old_password: Any, new_password: Any
) -> None:
    """``actor`` changes their own password (``/rest/`` ``Session/change_password``): the old
    one must be right, the new one passes ``check_password``. The system (engine, shell) has
    no password: "not found"."""
    me = require_user(actor)
    if not isinstance(me, User):
        raise NotFound("not found")
    if not isinstance(old_password, str) or not old_password:
        raise ValidationFailed("old_password is required", field="old_password", code="required")
    if not me.check_password(old_password):
        raise ValidationFailed(
            "old_password is not the current password", field="old_password", code="wrong"
        )
    _store_password(me, now, me, check_password(new_password, user=me, field="new_password"))


def _store_password(actor: Actor, now: dt.datetime, user: User, password: str) -> None:
    """Save a checked password; the audit row says that it changed, never the hashes."""
    user.set_password(password)
    user.save(update_fields=["password"])
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=user,
        before={"password": "(previous)"},
        after={"password": "(changed)"},
        object_type="user",
    )


# --------------------------------------------------------------------------- tokens

_LIFETIME = re.compile(r"\s*(\d{1,6})\s*([dh])\s*", re.IGNORECASE)


def parse_lifetime(value: Any, *, field: str = "expires_in") -> dt.timedelta:
    """``"90d"`` (days) or ``"12h"`` (hours), from one hour to ten years."""
    match = _LIFETIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationFailed(
            f"{field} must be a number of days or hours such as 90d or 12h", field=field
        )
    number, unit = int(match.group(1)), match.group(2).lower()
    lifetime = dt.timedelta(days=number) if unit == "d" else dt.timedelta(hours=number)
    if lifetime < dt.timedelta(hours=1) or lifetime > MAX_TOKEN_LIFETIME:
        raise ValidationFailed(
            f"{field} must be between 1h and {MAX_TOKEN_LIFETIME.days}d", field=field
        )
    return lifetime


@transaction.atomic
def create_api_token(
    *,
    actor: Actor,
    now: dt.datetime,
    user_id: Any = None,
    name: Any = "",
    expires_in: Any = None,
    default_lifetime: dt.timedelta | None,
) -> tuple[ApiToken, str]:
    """A new token for ``user_id`` (default: the actor) and its secret, shown this once.
    ``expires_in`` (``90d``, ``12h``) or else ``default_lifetime`` (``None``: never)."""
    require_user(actor)
    if user_id is None:
        if actor.pk is None:
            raise ValidationFailed("user is required", field="user", code="required")
        user_id = actor.pk
    owner = get_user(actor=actor, user_id=as_int("user", user_id, minimum=1), field="user")
    if not owner.is_active:
        raise ValidationFailed(
            f"user: {owner.username!r} is deactivated; activate it first",
            field="user",
            code="inactive",
        )
    _no_surrogates({"name": name})
    label = as_str("name", name, max_length=100)
    lifetime = default_lifetime if expires_in in (None, "") else parse_lifetime(expires_in)
    secret = tokens.create_token(
        user=owner, now=now, name=label, expires_at=now + lifetime if lifetime else None
    )
    token = ApiToken.objects.select_related("user").get(digest=tokens.digest(secret))
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=token,
        before=None,
        after=token_snapshot(token),
        object_type="apitoken",
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, actor: Actor, now: dt.datetime, token_id: Any) -> None:
    """The token stops working at once in this process (within ``tokens.CACHE_SECONDS``
    in the server's other processes)."""
    token = get_token(actor=actor, token_id=token_id)
    before = token_snapshot(token)
    digest = ApiToken.objects.filter(pk=token.pk).values_list("digest", flat=True).first()
    ApiToken.objects.filter(pk=token.pk).delete()
    if digest:
        tokens.forget(digest)
    record(
        actor=actor,
        now=now,
        operation="delete",
        obj=token,
        before=before,
        after=None,
        object_type="apitoken",
    )

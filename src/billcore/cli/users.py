"""``billcore user …`` and ``billcore token …`` (issue 10 §3): users and API tokens from the
server's shell. The operator acts as an administrator (audit rows name it "cli"); the rules
are ``accounts.services``' (the last active administrator stays, passwords go through the
validators).

billcore user create NAME [--reseller ID] [--email E] [--first-name F] [--last-name L]
                                   the password is BILLCORE_USER_PASSWORD, else generated
                                   and printed once
billcore user list [--reseller ID] [--administrators] [--all]
billcore user deactivate NAME
billcore user password NAME        BILLCORE_USER_PASSWORD, else generated and printed once
billcore token create --user NAME [--name LABEL] [--expires-in 90d|12h]
                                   prints the token (only it, on stdout)
billcore token list [--user NAME]
billcore token revoke ID
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

from billcore.accounts.access import CLI
from billcore.accounts.selectors import find_user, list_tokens, list_users
from billcore.accounts.services import (
    create_api_token,
    create_user,
    deactivate_user,
    revoke_api_token,
    set_password,
)
from billcore.accounts.tokens import default_lifetime
from billcore.cli.base import PASSWORD_ENV, table
from billcore.errors import BillcoreError


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _refused(exc: Any) -> int:
    """A service's refusal, naming its field unless the message already starts with it."""
    field, message = getattr(exc, "field", None), exc.message
    if field and not message.startswith(field):
        message = f"{field}: {message}"
    return _fail(message)


def _password() -> tuple[str, bool]:
    """The password to set, and whether it was generated (then it is printed once)."""
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given, False
    return secrets.token_urlsafe(12), True


def _stamp(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def cmd_user_create(args: argparse.Namespace) -> int:
    from django.utils import timezone

    password, generated = _password()
    data: dict[str, Any] = {
        "username": args.username,
        "password": password,
        "email": args.email,
        "first_name": args.first_name,
        "last_name": args.last_name,
        "reseller": args.reseller,
    }
    try:
        user = create_user(actor=CLI, now=timezone.now(), data=data)
    except BillcoreError as exc:
        return _refused(exc)
    role = f"user of reseller {user.reseller.name!r}" if user.reseller else "administrator"
    print(f"User {user.username!r} created ({role}).")
    if generated:
        print(f"Password (shown once, write it down): {password}")
    else:
        print(f"Password taken from {PASSWORD_ENV}.")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    qs = list_users(
        actor=CLI,
        reseller=args.reseller,
        administrators=args.administrators,
        active=None if args.all else True,
    )
    rows = [
        (
            u.pk,
            u.username,
            "administrator" if u.reseller_id is None else "reseller",
            u.reseller.name if u.reseller else "",
            "yes" if u.is_active else "no",
            _stamp(u.last_login),
            u.email,
        )
        for u in qs
    ]
    print(table(["ID", "Username", "Role", "Reseller", "Active", "Last login", "E-mail"], rows))
    return 0


def _user(username: str) -> Any:
    return find_user(actor=CLI, username=username)


def cmd_user_deactivate(args: argparse.Namespace) -> int:
    from django.utils import timezone

    try:
        user = deactivate_user(actor=CLI, now=timezone.now(), user_id=_user(args.username).pk)
    except BillcoreError as exc:
        return _fail(exc.message.removeprefix("id: "))
    print(f"User {user.username!r} deactivated: it can no longer sign in or use its tokens.")
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    from django.utils import timezone

    password, generated = _password()
    try:
        user = set_password(
            actor=CLI, now=timezone.now(), user_id=_user(args.username).pk, password=password
        )
    except BillcoreError as exc:
        return _refused(exc)
    print(f"Password of {user.username!r} changed.")
    if generated:
        print(f"Password (shown once, write it down): {password}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from django.utils import timezone

    try:
        owner = _user(args.user)
    except BillcoreError:
        return _fail(f"--user: no user named {args.user!r}")
    try:
        _, secret = create_api_token(
            actor=CLI,
            now=timezone.now(),
            user_id=owner.pk,
            name=args.name,
            expires_in=args.expires_in,
            default_lifetime=default_lifetime(),
        )
    except BillcoreError as exc:
        option = {"expires_in": "--expires-in", "name": "--name", "user": "--user"}
        name = option.get(exc.field or "", "")
        text = exc.message
        if exc.field and text.startswith(exc.field):
            text = text[len(exc.field) :].lstrip(": ")
        return _fail(f"{name}: {text}" if name else text)
    print(secret)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    user_id = None
    if args.user:
        try:
            user_id = _user(args.user).pk
        except BillcoreError:
            return _fail(f"--user: no user named {args.user!r}")
    rows = [
        (
            t.pk,
            t.user.username,
            t.name,
            f"{t.prefix}…",
            _stamp(t.created_at),
            _stamp(t.last_used_at) or "never",
            _stamp(t.expires_at) or "never",
        )
        for t in list_tokens(actor=CLI, user_id=user_id)
    ]
    print(table(["ID", "User", "Name", "Token", "Created", "Last used", "Expires"], rows))
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from django.utils import timezone

    try:
        revoke_api_token(actor=CLI, now=timezone.now(), token_id=args.id)
    except BillcoreError:
        return _fail(f"no token with id {args.id}")
    print(f"Token {args.id} revoked.")
    return 0

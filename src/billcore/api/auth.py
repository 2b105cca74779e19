"""``/api/v1/auth``: exchange a username and password for a bearer token."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import ConfigDict

from billcore.accounts import lockout
from billcore.accounts.tokens import create_token
from billcore.api.base import error_response, now
from billcore.api.openapi import Error
from billcore.errors import BillcoreError

router = Router(tags=["auth"])
LOGIN_TOKEN_LIFETIME = dt.timedelta(hours=12)


class LoginIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: str


class LoginOut(Schema):
    token: str
    expires_at: dt.datetime


class LoginFailed(BillcoreError):
    status = 401
    default_code = "auth_failed"


@router.post("/login", auth=None, response={200: LoginOut, 401: Error, 429: Error})
def login(request: HttpRequest, payload: LoginIn) -> LoginOut | HttpResponse:
    """A bearer token valid 12 hours. Failed sign-ins count towards the one lockout of every
    sign-in route (per user name and client address): 429 with ``Retry-After`` while locked."""
    at = now()
    try:
        user = lockout.authenticate_password(
            request, username=payload.username, password=payload.password, now=at
        )
    except lockout.LockedOut as exc:
        response = error_response(
            request, exc.status, code=exc.code, message=exc.message, field=exc.field
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    if user is None:
        raise LoginFailed("wrong username or password", field="password")
    expires = at + LOGIN_TOKEN_LIFETIME
    token = create_token(user=user, now=at, name="login", expires_at=expires)
    return LoginOut(token=token, expires_at=expires)

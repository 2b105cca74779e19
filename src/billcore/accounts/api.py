"""``/api/v1/auth``: exchange a username and password for a bearer token."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict

from billcore.accounts.tokens import create_token
from billcore.api import now
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


@router.post("/login", auth=None, response=LoginOut)
def login(request: HttpRequest, payload: LoginIn) -> LoginOut:
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        raise LoginFailed("wrong username or password", field="password")
    at = now()
    expires = at + LOGIN_TOKEN_LIFETIME
    token = create_token(user=user, now=at, name="login", expires_at=expires)
    return LoginOut(token=token, expires_at=expires)

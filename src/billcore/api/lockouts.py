"""``/api/v1/lockouts``: sign-in lockouts (per user name and client address) that an
administrator lists and lifts; a reseller's user gets 404 as for any administrators' page."""

from __future__ import annotations

import datetime as dt

from ninja import Query, Router, Schema
from pydantic import ConfigDict

from billcore.accounts import lockout
from billcore.api.base import AuthedRequest, now
from billcore.api.openapi import Error

router = Router(tags=["lockouts"])


class LockoutOut(Schema):
    username: str
    address: str | None
    failures: int
    last_failure_at: dt.datetime
    locked_until: dt.datetime


class UnlockQuery(Schema):
    model_config = ConfigDict(extra="forbid")
    username: str
    address: str | None = None


class UnlockOut(Schema):
    username: str
    addresses_cleared: int


@router.get("/lockouts", response={200: list[LockoutOut], 401: Error, 404: Error})
def list_lockouts(request: AuthedRequest) -> list[lockout.Lockout]:
    """User names locked out from an address now, newest failure first."""
    return lockout.list_lockouts(actor=request.auth, now=now())


@router.delete(
    "/lockouts",
    response={200: UnlockOut, 400: Error, 401: Error, 404: Error},
)
def unlock(request: AuthedRequest, query: Query[UnlockQuery]) -> UnlockOut:
    """Forget the failed sign-ins of ``username`` (from ``address`` only, when given), locked
    or not, with an audit row per address; 404 when there are none."""
    cleared = lockout.unlock(
        actor=request.auth, now=now(), username=query.username, address=query.address
    )
    return UnlockOut(username=query.username, addresses_cleared=cleared)

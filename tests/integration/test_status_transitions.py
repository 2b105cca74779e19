"""The status transition table (``billcore.core.statuses``) against what ``customers.lifecycle``
does: random sequences of lifecycle operations on a customer; every status a call leaves is
the table's for that operation and status, and every call refused for the customer's status
is one the table does not have. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billcore.classes.models import CustomerClass
from billcore.core import statuses
from billcore.core.statuses import Op
from billcore.customers import lifecycle
from billcore.customers.models import Customer, Status
from billcore.customers.services import create_customer
from billcore.errors import ValidationFailed

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
# The codes lifecycle refuses with because of the customer's status (the table's refusals);
# every other refusal is a rule beside the status (dates, who may lift a suspension).
STATUS_CODES = {"closed", "not_open", "not_suspended", "not_terminated", "not_exported"}
_names = itertools.count()

days = st.integers(min_value=-3, max_value=45)
when = st.one_of(st.none(), days)
calls = st.one_of(
    st.tuples(st.just("set_blocked"), st.booleans()),
    st.tuples(st.just("suspend"), st.sampled_from(lifecycle.SUSPENSION_REASONS)),
    st.tuples(st.just("unsuspend"), st.booleans()),
    st.tuples(st.just("lift_suspension_until"), when),
    st.tuples(st.just("terminate"), st.tuples(st.booleans(), when)),
    st.tuples(st.just("terminate_due"), st.none()),
    st.tuples(st.just("reactivate"), st.none()),
    st.tuples(st.just("set_exported"), st.booleans()),
)
steps = st.lists(st.tuples(calls, st.integers(min_value=0, max_value=24 * 40)), max_size=14)


def _op(name: str, arg: Any, c: Customer, now: dt.datetime) -> Op:
    """The table's operation the call asks for, given the customer before it."""
    if name == "set_blocked":
        return Op.BLOCK
    if name == "suspend":
        takeover = c.status == Status.SUSPENDED and c.suspension_reason != "overdue"
        return Op.OVERDUE_TAKEOVER if arg == "overdue" and takeover else Op.SUSPEND
    if name == "unsuspend":
        return Op.UNSUSPEND
    if name == "lift_suspension_until":
        return Op.CLEAR_LIFT_UNTIL if arg is None else Op.LIFT_UNTIL
    if name == "terminate":
        permanent, on = arg
        if not permanent:
            return Op.TERMINATE
        return Op.CLOSE if on is None or on <= 0 else Op.SCHEDULE_CLOSE
    if name == "terminate_due":
        return Op.CLOSE
    if name == "reactivate":
        return Op.CANCEL_CLOSE if c.termination_pending else Op.REACTIVATE
    assert name == "set_exported"
    return Op.EXPORT if arg else Op.CLEAR_EXPORT


def _call(name: str, arg: Any, actor: Any, now: dt.datetime, customer_id: int) -> Any:
    common = {"actor": actor, "now": now, "customer_id": customer_id}
    if name == "set_blocked":
        return lifecycle.set_blocked(**common, blocked=arg)
    if name == "suspend":
        return lifecycle.suspend(**common, reason=arg)
    if name == "unsuspend":
        return lifecycle.unsuspend(**common, paid=arg)
    if name == "lift_suspension_until":
        until = None if arg is None else now + dt.timedelta(days=arg)
        return lifecycle.lift_suspension_until(**common, until=until)
    if name == "terminate":
        permanent, on = arg
        on_at = None if on is None else now + dt.timedelta(days=on)
        return lifecycle.terminate(**common, permanent=permanent, terminate_on=on_at)
    if name == "terminate_due":
        return lifecycle.terminate_due(**common)
    if name == "reactivate":
        return lifecycle.reactivate(**common)
    return lifecycle.set_exported(**common, exported=arg)


def test_the_table_names_the_model_statuses() -> None:
    assert set(statuses.STATUSES) == set(Status.values)
    assert not any(before == statuses.CLOSED for _, before in statuses.TRANSITIONS)
    assert all(status in statuses.STATUSES for status in statuses.TRANSITIONS.values())


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_lifecycle_changes_only_what_the_table_allows(admin: Any, steps: list[Any]) -> None:
    c = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": f"Status {next(_names)}",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )
    now = T0
    for (name, arg), hours in steps:
        now += dt.timedelta(hours=hours)
        c.refresh_from_db()
        before, op = c.status, _op(name, arg, c, now)
        try:
            result = _call(name, arg, admin, now, c.pk)
        except ValidationFailed as exc:
            c.refresh_from_db()
            assert c.status == before, (name, arg)
            event(f"refused {op} in {before} ({exc.code})")
            if exc.code in STATUS_CODES:
                # Refused for its status: the table has no such transition.
                assert not statuses.allowed(op, before), (name, arg, before, exc.code)
            continue
        c.refresh_from_db()
        if result is None:  # terminate_due with nothing due
            assert name == "terminate_due" and c.status == before
            continue
        event(f"{op}: {before} -> {c.status}")
        # Done: the table has it, and the status is the table's.
        assert statuses.allowed(op, before), (name, arg, before)
        assert c.status == statuses.after(op, before), (name, arg, before, c.status)
        assert c.status == before or (before, c.status) in statuses.CHANGES

"""Property-based fuzzing of the JSON API (issue 10 §1), on SQLite and PostgreSQL.

schemathesis reads ``/api/v1/openapi.json`` as the application serves it, so every operation
(including the ones added later) is a test case of its own. For each it generates requests
from the schema, valid ones (``positive``) and ones that break it (``negative``: wrong types,
missing fields, out-of-range values, odd text), seeded (``derandomize``: the same requests on
every run), and calls the application in-process through WSGI: as the administrator with a
bearer token, and as a reseller's user. Path ids are drawn half the time from objects that
exist, so the handlers run past their 404s. Every response must:

* not be a server error (5xx),
* have a status code the operation documents (every 4xx is declared with the error schema),
* have the documented content type, headers and a body that matches the schema.

The totals (operations, requests, 5xx) are printed at the end of the run."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billcore.accounts.tokens import create_token

# Examples per operation: this many valid and this many schema-breaking requests as the
# administrator, half as many valid ones as a reseller's user. Bounded so the module takes
# about a minute on each database; FUZZ_EXAMPLES=… runs a deeper pass by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
STATS: Counter[str] = Counter()


def _wsgi() -> Any:
    return get_wsgi_application()


def _load() -> Any:
    """The schema exactly as ``GET /api/v1/openapi.json`` serves it."""
    with _same_connection():
        return schemathesis.openapi.from_wsgi(
            "/api/v1/openapi.json", _wsgi(), config=schemathesis.Config()
        )


class _same_connection:
    """Django's test client does the same: requests must not close the test's database
    connection (its transaction holds the fixtures)."""

    def __enter__(self) -> None:
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)

    def __exit__(self, *exc: object) -> None:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


SCHEMA = _load()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Any:
    yield
    engine = django_settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    line = (
        f"fuzz /api/v1 on {engine}: {STATS['operations']} operations, "
        f"{STATS['requests']} requests, {STATS['5xx']} server errors, "
        f"{STATS['4xx']} 4xx, {STATS['2xx']} 2xx"
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write("\n")
            reporter.write_line(line)


@pytest.fixture
def objects(world: dict[str, Any]) -> dict[str, list[Any]]:
    """Some of every kind of object, so that generated ids can hit real ones."""
    from billcore.charging.services import charge, parse_usage
    from billcore.ledger.customers import create_customer
    from billcore.subscribers.services import create_account
    from billcore.subscriptions.services import create_plan, subscribe

    admin = world["admin"]
    now = timezone.now()
    pia = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Fuzz Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "100",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = create_account(actor=admin, now=now, customer_id=pia.pk, data={"identifier": "+1"})
    charge(
        actor=admin,
        now=now,
        customer_id=pia.pk,
        usage=parse_usage(service="voice", amount="1", now=now),
    )
    plan = create_plan(actor=admin, now=now, data={"name": "Fuzz", "currency": "USD", "fee": "5"})
    sub = subscribe(
        actor=admin, now=now, customer_id=pia.pk, data={"plan": plan.pk, "start_at": now}
    )
    ids = [
        pia.pk,
        world["ra"].pk,
        account.pk,
        plan.pk,
        sub.pk,
        world["classes"]["usd"].pk,
        world["classes"]["a"].pk,
        1,
    ]
    return {"ids": ids, "kinds": ["invoice_reminder", "low_balance", "nope"]}


def _run(
    operation: Any, mode: GenerationMode, token: str, objects: dict[str, Any], examples: int
) -> None:
    app = _wsgi()
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @hsettings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, data: Any) -> None:
        for name, value in list((case.path_parameters or {}).items()):
            if isinstance(value, int) and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(objects["ids"]))
            elif name == "kind" and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(objects["kinds"]))
        response = case.call(headers=headers, app=app)
        STATS["requests"] += 1
        STATS[f"{response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    with _same_connection():
        check()


def _ids(ops: list[Any]) -> list[str]:
    return [op.label for op in ops]


@pytest.mark.parametrize("operation", OPERATIONS, ids=_ids(OPERATIONS))
def test_every_operation(operation: Any, world: Any, objects: Any) -> None:
    """As the administrator: valid and schema-breaking requests; as a reseller's user (CC-07:
    it sees only its own), valid ones. Whatever is sent, never a 5xx."""
    STATS["operations"] += 1
    admin = create_token(user=world["admin"], now=timezone.now())
    _run(operation, GenerationMode.POSITIVE, admin, objects, EXAMPLES)
    _run(operation, GenerationMode.NEGATIVE, admin, objects, EXAMPLES)
    reseller = create_token(user=world["ua"], now=timezone.now())
    _run(operation, GenerationMode.POSITIVE, reseller, objects, max(EXAMPLES // 2, 1))

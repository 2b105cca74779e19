"""``POST /rest/<Service>/<method>``: parse the request (JSON body with a bearer token, form
fields ``auth_info`` and ``params``, or the path style ``/rest/<Service>/<method>/<auth_info
JSON>/<params JSON>``), authenticate, call the method's handler, and reply with JSON; every
failure is a fault (HTTP 500, ``{"faultcode", "faultstring"}``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from billcore.errors import BillcoreError
from billcore.porta import (
    accounts,
    billing,
    classes,
    customers,
    dids,
    plans,
    rating,
    selfcare,
    session,
    unsupported,
)
from billcore.porta.mapping import (
    ACCOUNT_FIELDS_OUT,
    CLASS_FIELDS_OUT,
    CUSTOMER_FIELDS_OUT,
    Fault,
    encode,
    fault_for,
    json_decoder,
    parse_json,
)
from billcore.porta.session import Call, Handler
from billcore.validation import check_input

logger = logging.getLogger(__name__)

SERVICES: dict[str, dict[str, tuple[Handler, bool]]] = {
    "Session": session.METHODS,
    "Customer": customers.METHODS,
    "CustomerClass": classes.METHODS,
    "Account": accounts.METHODS,
    "Invoice": billing.INVOICE_METHODS,
    "Currency": billing.CURRENCY_METHODS,
    "Tariff": rating.TARIFF_METHODS,
    "Rate": rating.RATE_METHODS,
    "Product": rating.PRODUCT_METHODS,
    "DiscountPlan": plans.DISCOUNT_PLAN_METHODS,
    "VolumeDiscountPlan": plans.VOLUME_DISCOUNT_PLAN_METHODS,
    "DID": dids.METHODS,
}
# The plans' counters of an account and of a customer (issue 13) join those services' methods.
SERVICES["Customer"].update(plans.CUSTOMER_METHODS)
SERVICES["Account"].update(plans.ACCOUNT_METHODS)
FIELD_NAMES: dict[str, Mapping[str, str]] = {
    "Session": {},
    "Customer": CUSTOMER_FIELDS_OUT,
    "CustomerClass": CLASS_FIELDS_OUT,
    "Account": ACCOUNT_FIELDS_OUT,
    "Invoice": billing.INVOICE_FIELDS_OUT,
    "Currency": {},
    "Tariff": rating.TARIFF_FIELDS_OUT,
    "Rate": rating.RATE_FIELDS_OUT,
    "Product": rating.PRODUCT_FIELDS_OUT,
    "DiscountPlan": plans.PLAN_FIELDS_OUT,
    "VolumeDiscountPlan": plans.PLAN_FIELDS_OUT,
    "DID": dids.FIELDS_OUT,
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def _json(payload: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(encode(payload), status=status, content_type="application/json")


def _fault(fault: Fault) -> HttpResponse:
    response = _json(fault.as_dict(), status=500)
    # A fault is an answer, not a server error: keep it out of Django's error log.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)[:64] or "_"


def _decode(value: Any, what: str, code: str) -> dict[str, Any] | None:
    """A JSON object given as an object or as JSON text; None when absent or null."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = parse_json(value)
        except (ValueError, RecursionError) as exc:
            raise Fault(code, f"{what} is not valid JSON: {exc}") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Fault(code, f"{what} must be a JSON object")
    return value


def _path_values(tail: str, bad: str) -> tuple[Any, Any]:
    """(auth_info, params) of the path style ``<auth_info JSON>/<params JSON>``; either
    segment may be empty (``Session/login//{...}``), a missing one is None. The server has
    already decoded ``%2F``, so a ``/`` inside the JSON cannot be told from a separator by
    splitting: each value is read by its structure (``raw_decode``), then a ``/`` must follow."""
    decoder = json_decoder()
    values: list[Any] = []
    pos = 0
    for what, code in (("auth_info", session.CHECK_AUTH_FAILED), ("params", bad)):
        while pos < len(tail) and tail[pos] in " \t\r\n":
            pos += 1
        if pos >= len(tail) or tail[pos] == "/":
            values.append(None)  # an empty segment
        else:
            try:
                value, pos = decoder.raw_decode(tail, pos)
            except ValueError as exc:
                raise Fault(
                    code, f"the {what} segment of the path is not valid JSON: {exc}"
                ) from None
            values.append(value)
            while pos < len(tail) and tail[pos] in " \t\r\n":
                pos += 1
            if pos < len(tail) and tail[pos] != "/":
                raise Fault(
                    code,
                    f"the {what} JSON in the path must be followed by '/' or the end of the "
                    f"path, not {tail[pos : pos + 20]!r}",
                )
        pos += 1  # the separator
    if tail[pos:].strip("/ \t\r\n"):
        raise Fault(
            bad,
            "a path-style call is /rest/<Service>/<method>/<auth_info JSON>/<params JSON>; "
            f"unexpected text after the params: {tail[pos : pos + 20]!r}",
        )
    return values[0], values[1]


def _parse(request: HttpRequest, service: str, method: str, tail: str) -> tuple[Any, Any]:
    """(params, auth_info) of any request style; what the path gives and the body too is a
    fault (one value, one place)."""
    bad = f"Client.{service}.{method}.invalid_params"
    params, auth_info = _parse_body(request, bad)
    if tail.strip("/ \t\r\n"):
        path_auth, path_params = _path_values(tail, bad)
        for what, in_path, in_body in (
            ("params", path_params, params),
            ("auth_info", path_auth, auth_info),
        ):
            if in_path is not None and in_body not in (None, ""):
                raise Fault(bad, f"{what} is given both in the path and in the request body")
        params = params if path_params is None else path_params
        auth_info = auth_info if path_auth is None else path_auth
    return params, auth_info


def _parse_body(request: HttpRequest, bad: str) -> tuple[Any, Any]:
    """(params, auth_info) of the body: JSON ``{"params", "auth_info"}`` or form fields."""
    if request.content_type == "application/json":
        body: Any = {}
        if request.body.strip():
            try:
                body = parse_json(request.body)
            except (ValueError, RecursionError) as exc:
                raise Fault(bad, f"the request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise Fault(bad, 'the request body must be a JSON object {"params": {...}}')
        return body.get("params"), body.get("auth_info")
    return request.POST.get("params"), request.POST.get("auth_info")


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _call(request: HttpRequest, service: str, method: str, tail: str) -> dict[str, Any]:
    now = timezone.now()  # the clock is read once here and passed down
    methods = SERVICES.get(service)
    why = unsupported.reason(service, method) if method not in (methods or {}) else None
    if why is not None:
        raise Fault(
            f"Server.{_safe(service)}.{_safe(method)}.not_supported",
            f"{service}/{method} is not supported: {why}",
        )
    if methods is None:
        raise Fault(
            f"Server.{_safe(service)}.unknown_service",
            f"no such service {service!r}; services: {', '.join(SERVICES)}",
        )
    if method not in methods:
        raise Fault(f"Server.{service}.unknown_method", f"{service} has no method {method!r}")
    if request.method != "POST":
        raise Fault(f"Client.{service}.{method}.post_required", "API calls use HTTP POST")
    handler, needs_actor = methods[method]
    raw_params, raw_auth = _parse(request, service, method, tail)
    params = _decode(raw_params, "params", f"Client.{service}.{method}.invalid_params") or {}
    auth_info = _decode(raw_auth, "auth_info", session.CHECK_AUTH_FAILED)
    try:
        # Out-of-range integers, NUL, lone surrogates, too deep nesting: a fault naming the
        # parameter before any handler runs (billcore.validation.check_input).
        check_input(None, params)
        check_input("auth_info", auth_info)
    except BillcoreError as exc:
        raise fault_for(service, method, exc, {}) from exc
    call = Call(
        service=service,
        method=method,
        params=params,
        now=now,
        bearer=_bearer(request),
        auth_info=auth_info,
        request=request,
    )
    try:
        # A customer's self-care session (issue 16): only its own record and accounts.
        if service == "Session" and method == "login":
            reply = selfcare.login(call)
            if reply is not None:
                return reply
        me = selfcare.me_of(call)
        if me is not None:
            return selfcare.dispatch(call, me)
    except BillcoreError as exc:
        raise fault_for(service, method, exc, FIELD_NAMES[service]) from exc
    if needs_actor:
        call.actor = session.authenticate_call(call)
    try:
        return handler(call)
    except BillcoreError as exc:
        raise fault_for(service, method, exc, FIELD_NAMES[service]) from exc


@csrf_exempt
def dispatch(request: HttpRequest, service: str, method: str, tail: str = "") -> HttpResponse:
    try:
        return _json(_call(request, service, method, tail))
    except Fault as fault:
        return _fault(fault)
    except Exception:
        logger.exception("porta %s/%s failed", service, method)
        return _fault(
            Fault(f"Server.{_safe(service)}.internal_error", "internal error; see the server log")
        )


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _fault(
        Fault(
            "Server.Request.unknown_method",
            f"no such API method /rest/{rest}; calls are POST /rest/<Service>/<method>",
        )
    )

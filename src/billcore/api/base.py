"""The plumbing every ``/api/v1`` router shares: the ``NinjaAPI`` object, bearer
authentication, the JSON parser, the error replies, ``now``. It imports no router, so the
routers (``billcore.api.<concept>``) import it and ``billcore.api.v1`` assembles them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from billcore.accounts.tokens import user_for_token
from billcore.api.openapi import declare_errors
from billcore.api.render import Renderer
from billcore.classes.settings import DECIMAL_SETTINGS as CLASS_DECIMALS
from billcore.customers.settings import DECIMAL_SETTINGS as CUSTOMER_DECIMALS
from billcore.errors import BillcoreError

# Fields a request gives as a decimal string: a JSON number there gets a message saying so.
# The decimal settings of classes and customers come from their declarations.
MONEY_FIELDS = {
    "amount",
    "balance",
    "rate",
    *CLASS_DECIMALS,
    *CUSTOMER_DECIMALS,
}


class AuthedRequest(HttpRequest):
    """What handlers receive: ``auth`` is the user the bearer token belongs to."""

    auth: Any


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token, now=timezone.now())
        if user is not None:
            request.user = user
        return user


class JsonParser(Parser):
    """Standard JSON only (no NaN or Infinity); a body nested too deeply for the parser is
    malformed JSON (400), not a server error."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], json.loads(request.body, parse_constant=_no_constant))
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number", "", 0)


class BillcoreAPI(NinjaAPI):
    """The OpenAPI document declares, on every operation, the errors it can answer
    (``billcore.api.openapi.declare_errors``)."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return declare_errors(document)


api = BillcoreAPI(
    title="billcore API",
    version="1",
    description=(
        "Customer classes, customers and their ledger. Authenticate with "
        "`Authorization: Bearer <token>` (from `billcore token create --user NAME` or "
        "`POST /api/v1/auth/login`). Money is sent and returned as decimal strings with up to "
        '5 decimal places. Errors: `{"error": {"code", "message", "field"}}`.'
    ),
    auth=BearerAuth(),
    urls_namespace="api-v1",
    renderer=Renderer(),  # date-times to the microsecond (api/render.py)
    parser=JsonParser(),
)


def error_response(
    request: HttpRequest, status: int, *, code: str, message: str, field: str | None
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "field": field}}, status=status
    )


@api.exception_handler(BillcoreError)
def _billcore_error(request: HttpRequest, exc: BillcoreError) -> HttpResponse:
    return error_response(request, exc.status, code=exc.code, message=exc.message, field=exc.field)


LOCATIONS = ("body", "query", "path", "header", "cookie", "form", "file")


def _field_of(loc: list[Any]) -> str | None:
    """The field a validation error names: its location without the request part ("body",
    "query", …) and the handlers' body parameter ("payload") in front, so a field that is
    itself called "body" keeps its name."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in LOCATIONS:
        parts.pop(0)
    if parts and parts[0] == "payload":
        parts.pop(0)
    return ".".join(parts) or None


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    loc = list(first.get("loc", []))
    field = _field_of(loc)
    kind = first.get("type", "")
    if kind == "json_invalid" or (field is None and "JSON" in str(first.get("msg", ""))):
        return error_response(
            request,
            400,
            code="malformed_json",
            message="the request body is not valid JSON",
            field=None,
        )
    leaf = field.split(".")[-1] if field else ""
    if leaf in MONEY_FIELDS and kind in ("string_type", "str_type"):
        message = f'{field} must be a decimal string such as "10.50" (never a JSON number)'
    elif kind == "extra_forbidden":
        message = f"{field} is not a field that can be set here"
    elif kind == "missing":
        message = f"{field} is required"
    else:
        message = (
            f"{field}: {first.get('msg', 'invalid value')}"
            if field
            else str(first.get("msg", "invalid request"))
        )
    code = {"missing": "required", "extra_forbidden": "unknown"}.get(kind, "invalid")
    return error_response(request, 400, code=code, message=message, field=field)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(
        request,
        400,
        code="too_large",
        message=f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
        field=None,
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request,
        401,
        code="unauthorized",
        message="a valid 'Authorization: Bearer <token>' header is required",
        field=None,
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
        return error_response(
            request,
            400,
            code="malformed_json",
            message="the request body is not valid JSON",
            field=None,
        )
    return error_response(request, exc.status_code, code="error", message=str(exc), field=None)


def now() -> dt.datetime:
    """The interface reads the clock once per request and passes it down."""
    return timezone.now()

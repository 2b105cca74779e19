"""The errors every ``/api/v1`` operation can answer, declared in its OpenAPI description
with the one error body (``{"error": {"code", "message", "field"}}``), so a client (and the
schema fuzzer of the test suite) knows every status an operation may return. Applied to the
whole document, so operations added later are covered without a line of their own."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field

ERRORS: dict[int, str] = {
    400: "Invalid input: the field named in `error.field` and the reason (nothing was saved)",
    401: "No valid `Authorization: Bearer <token>` header, or wrong credentials",
    403: "The object is visible to the caller, but this action on it is not allowed",
    404: "No such object (also another reseller's object)",
    409: "The request conflicts with the current state (a duplicate, a closed period, …)",
    429: "Too many attempts; retry after the `Retry-After` header's seconds",
}


class ErrorDetail(Schema):
    code: str = Field(description="A stable machine-readable reason, e.g. `required`")
    message: str = Field(description="What is wrong, naming the field")
    field: str | None = Field(description="The offending input (`a.b.0.c`), or null")


class Error(Schema):
    error: ErrorDetail


def declare_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses (and the ``Error`` schema) to every operation that does not
    declare that status itself."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["Error"] = error_schema
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                if status not in responses and str(status) not in responses:
                    responses[status] = {"description": description, "content": content}
    return document

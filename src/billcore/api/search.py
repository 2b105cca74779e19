"""``GET /api/v1/search?q=`` (issue 17 §3): the search box's results as typed items —
customers (name, company, e-mail, id), accounts (identifier), invoices (number), customer
classes — scoped to what the caller may see; at most 20 per kind, each with its total."""

from __future__ import annotations

from typing import Any

from ninja import Router, Schema
from pydantic import Field

from billcore.api.base import AuthedRequest
from billcore.search import clean_query, search

router = Router(tags=["search"])


class SearchItemOut(Schema):
    kind: str = Field(description="customer, account, invoice or class")
    id: int
    label: str = Field(description="the name, identifier or number")
    detail: str = Field(description="company and e-mail, the customer, or the status")
    url: str = Field(description="the object's admin page")


class SearchGroupOut(Schema):
    kind: str
    total: int = Field(description="every match of this kind (items holds at most 20)")
    items: list[SearchItemOut]


class SearchOut(Schema):
    q: str
    total: int
    exact: str | None = Field(
        description="the page of the one object an exact id, number or identifier names"
    )
    groups: list[SearchGroupOut]


@router.get("/search", response=SearchOut)
def search_all(request: AuthedRequest, q: str = "") -> dict[str, Any]:
    """Case-insensitive; ``q`` needs at least 2 characters (a 400 naming ``q``)."""
    results = search(actor=request.auth, q=clean_query(q))
    return {
        "q": results.q,
        "total": results.total,
        "exact": results.jump,
        "groups": [
            {"kind": g.kind, "total": g.total, "items": [vars(h) for h in g.items]}
            for g in results.groups
        ],
    }

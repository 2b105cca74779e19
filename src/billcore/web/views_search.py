"""The search box's results page, ``/search/?q=`` (issue 17 §3): grouped by kind, each with
its total and a "show all" link into its list's own filter; an exact id, invoice number or
account identifier that names one object jumps straight to it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from billcore.errors import ValidationFailed
from billcore.search import LIMIT, clean_query, search
from billcore.web.base import page, query


@page
def search_page(request: HttpRequest) -> HttpResponse:
    raw = query(request, "q")
    try:
        q = clean_query(raw)
    except ValidationFailed as exc:
        return render(
            request,
            "web/search.html",
            {"q": raw.strip(), "error": str(exc), "limit": LIMIT},
            status=400 if raw.strip() else 200,
        )
    results = search(actor=request.user, q=q)
    if results.jump and query(request, "all") != "1":
        return redirect(results.jump)
    return render(request, "web/search.html", {"q": q, "results": results, "limit": LIMIT})

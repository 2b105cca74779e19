"""The audit page (administrators only): the latest audit rows, who, when and what changed."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billcore.audit.models import AuditEntry
from billcore.web import exports
from billcore.web.base import admin_page, paginate, query


def _changes(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    before = entry.before or {}
    after = entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, before.get(k, ""), after.get(k, "")) for k in keys]


@admin_page
def audit_list(request: HttpRequest) -> HttpResponse:
    """Latest audit rows (who, when, what changed), filtered by object type."""
    object_type = query(request, "type")
    entries: QuerySet[AuditEntry] = AuditEntry.objects.order_by("-id")
    if object_type:
        entries = entries.filter(object_type=object_type)
    if exports.wanted(request):
        header = (
            "id",
            "at",
            "actor",
            "operation",
            "object_type",
            "object_id",
            "object",
            "before",
            "after",
        )
        csv_rows = (
            (
                e.pk,
                e.at,
                e.actor_name,
                e.operation,
                e.object_type,
                e.object_id,
                e.object_repr,
                json.dumps(e.before, sort_keys=True, default=str) if e.before is not None else "",
                json.dumps(e.after, sort_keys=True, default=str) if e.after is not None else "",
            )
            for e in exports.rows_of(entries)
        )
        return exports.csv_response("audit-log.csv", header, csv_rows)
    page_obj = paginate(request, entries)
    rows = [(entry, _changes(entry)) for entry in page_obj]
    types = AuditEntry.objects.order_by("object_type").values_list("object_type", flat=True)
    context = {
        "page": page_obj,
        "rows": rows,
        "types": types.distinct(),
        "object_type": object_type,
    }
    return render(request, "web/audit_list.html", context)

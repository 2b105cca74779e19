"""The notification templates pages (issue 5 §4, administrators only): the list, and an edit
page with a preview (rendered with sample values) and "Reset to default". Same rule as
``base``: the service judges what was posted and its error appears beside the input it
names; nothing is saved then."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from billcore.errors import BillcoreError
from billcore.notifications import services
from billcore.notifications.defaults import COMMON_VARIABLES
from billcore.web import base, exports
from billcore.web.base import admin_page, fail
from billcore.web.forms import Area, PageForm, Text


class TemplateForm(PageForm):
    def __init__(self, data: Any = None, *, initial: dict[str, Any] | None = None) -> None:
        super().__init__(data, initial=initial or {})
        self.fields["subject"] = Text(
            "Subject", help_text="One line; Django template language.", maxlength="300"
        )
        body = Area("Body", help_text="Plain text; Django template language.")
        body.widget.attrs["rows"] = 14
        self.fields["body"] = body


def _edit_page(
    request: HttpRequest,
    view: services.TemplateView,
    form: TemplateForm,
    *,
    preview: tuple[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "nav_section": "notifications",
        "template": view,
        "form": form,
        "preview": preview,
        "common_variables": COMMON_VARIABLES,
    }
    return render(request, "web/notifications/template_edit.html", context, status=status)


@admin_page
def template_list(request: HttpRequest) -> HttpResponse:
    templates = services.list_templates(actor=request.user)
    rows = []
    for t in templates:
        # The subject as a customer reads it (rendered with the sample values), never the
        # raw ``{{ }}`` of the template; the template's text is in the row's tooltip.
        try:
            example, _ = services.preview(
                actor=request.user, kind=t.kind, subject=t.subject, body=t.body
            )
        except BillcoreError:
            example = ""
        rows.append((t, example))
    if exports.wanted(request):
        header = (
            "kind",
            "notification",
            "subject",
            "example_subject",
            "edited",
            "updated_at",
            "updated_by",
        )
        cells = (
            (t.kind, t.label, t.subject, example, t.custom, t.updated_at, t.updated_by or "")
            for t, example in rows
        )
        return exports.csv_response("notification-templates.csv", header, cells)
    context = {"nav_section": "notifications", "templates": rows}
    return render(request, "web/notifications/template_list.html", context)


@admin_page
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, kind: str) -> HttpResponse:
    """GET: the template; POST ``_preview``: render it with sample values; POST: save."""
    view = services.get_template(actor=request.user, kind=kind)
    if request.method == "GET":
        form = TemplateForm(initial={"subject": view.subject, "body": view.body})
        return _edit_page(request, view, form)
    form = TemplateForm(request.POST)
    try:
        data = form.posted()
        if "_preview" in request.POST:
            rendered = services.preview(
                actor=request.user, kind=kind, subject=data.get("subject"), body=data.get("body")
            )
            return _edit_page(request, view, form, preview=rendered)
        saved = services.update_template(
            actor=request.user,
            now=base.now(),
            kind=kind,
            subject=data.get("subject"),
            body=data.get("body"),
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _edit_page(request, view, form, status=status)
    messages.success(request, f"Template “{saved.label}” saved.")
    return redirect("notification-template-edit", kind=kind)


@admin_page
@require_POST
def template_reset(request: HttpRequest, kind: str) -> HttpResponse:
    view = services.reset_template(actor=request.user, now=base.now(), kind=kind)
    messages.success(request, f"Template “{view.label}” reset to the default.")
    return redirect("notification-template-edit", kind=kind)

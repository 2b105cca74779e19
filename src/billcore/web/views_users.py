"""The Users and API tokens pages (issue 10 §3): a list, add and edit pages (deactivate,
activate, set password, the user's tokens), and the tokens page (create, revoke). For every
signed-in user: an administrator sees everyone, a reseller's user its own reseller's users
(another's are the 404 page). Same rule as ``base``: the service judges what was posted and
its error appears beside the input it names; nothing is saved then. A new token's secret is
shown on the page that answers the POST, once, and never put in a cookie or message."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts import selectors, services
from billcore.accounts.access import Actor, is_admin
from billcore.accounts.models import User
from billcore.accounts.tokens import default_lifetime
from billcore.errors import BillcoreError
from billcore.web import base, confirm, exports
from billcore.web.base import fail, page, paginate, query, reseller_choices
from billcore.web.forms import Choice, PageForm, Text, clerk_text

ADMINISTRATOR = ""


class Secret(Text):
    """A password input (never drawn with a value)."""

    def __init__(self, label: str, *, help_text: str = "") -> None:
        super().__init__(label, help_text=help_text)
        self.widget = forms.PasswordInput(attrs={"autocomplete": "new-password"})


class UserForm(PageForm):
    def __init__(
        self,
        data: Any = None,
        *,
        actor: Actor,
        creating: bool,
        initial: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=initial or {})
        f = self.fields
        f["username"] = Text(
            "Username",
            help_text="Letters, digits and @ . + - _; unique regardless of letter case.",
            maxlength="150",
            autocomplete="off",
        )
        if creating:
            f["password"] = Secret("Password", help_text=PASSWORD_HELP)
        if is_admin(actor):
            choices = [(ADMINISTRATOR, "— Administrator —"), *reseller_choices(actor)]
            f["reseller"] = Choice(
                "Role",
                choices,
                help_text="An administrator sees and changes everything; a reseller's user "
                "only that reseller's customers, classes and users.",
            )
        f["email"] = Text("E-mail", maxlength="254", type="email")
        f["first_name"] = Text("First name", maxlength="150")
        f["last_name"] = Text("Last name", maxlength="150")


PASSWORD_HELP = "At least 8 characters, not a common password."


class PasswordForm(PageForm):
    def __init__(self, data: Any = None) -> None:
        super().__init__(data)
        self.fields["password"] = Secret("New password", help_text=PASSWORD_HELP)


class TokenForm(PageForm):
    def __init__(self, data: Any = None, *, users: list[tuple[Any, str]] | None = None) -> None:
        super().__init__(data)
        if users is not None:
            self.fields["user"] = Choice("User", users)
        self.fields["name"] = Text(
            "Name", help_text="What the token is for, e.g. the integration.", maxlength="100"
        )
        lifetime = default_lifetime()
        default = f"{lifetime.days}d" if lifetime else "never"
        self.fields["expires_in"] = Text(
            "Expires in",
            help_text=f"Days or hours, e.g. 90d or 12h. Empty: the default ({default}).",
            maxlength="10",
            placeholder=default if lifetime else "",
        )


def _user_initial(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "reseller": user.reseller_id or ADMINISTRATOR,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"nav_section": "users", "is_admin": is_admin(request.user), "now": base.now(), **extra}


# --------------------------------------------------------------------------- users


@page
def user_list(request: HttpRequest) -> HttpResponse:
    q = query(request, "q").strip()
    show = query(request, "show", "active")
    active = {"active": True, "inactive": False}.get(show)
    users = selectors.list_users(actor=request.user, search=q, active=active)
    if exports.wanted(request):
        header = (
            "id",
            "username",
            "name",
            "reseller_id",
            "reseller",
            "email",
            "active",
            "last_login",
        )
        rows = (
            (
                u.pk,
                u.username,
                u.get_full_name(),
                u.reseller_id,
                u.reseller.name if u.reseller_id else "",
                u.email,
                u.is_active,
                u.last_login,
            )
            for u in exports.rows_of(users)
        )
        return exports.csv_response("users.csv", header, rows)
    context = _context(request, page=paginate(request, users), q=q, show=show)
    return render(request, "web/users/user_list.html", context)


def _user_page(
    request: HttpRequest,
    form: UserForm,
    user: User | None,
    *,
    password_form: PasswordForm | None = None,
    status: int = 200,
) -> HttpResponse:
    tokens = list(selectors.list_tokens(actor=request.user, user_id=user.pk)) if user else []
    context = _context(
        request,
        form=form,
        subject=user,
        password_form=password_form or PasswordForm(),
        tokens=tokens,
        is_self=user is not None and user.pk == request.user.pk,
    )
    return render(request, "web/users/user_form.html", context, status=status)


@page
@require_http_methods(["GET", "POST"])
def user_add(request: HttpRequest) -> HttpResponse:
    form = UserForm(request.POST or None, actor=request.user, creating=True)
    if request.method == "POST":
        try:
            user = services.create_user(actor=request.user, now=base.now(), data=form.posted())
        except BillcoreError as exc:
            return _user_page(request, form, None, status=fail(form, exc))
        messages.success(request, f"User “{user.username}” created.")
        return redirect("user-edit", user_id=user.pk)
    return _user_page(request, form, None)


@page
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    user = selectors.get_user(actor=request.user, user_id=user_id)
    if request.method == "POST":
        form = UserForm(request.POST, actor=request.user, creating=False)
        try:
            user = services.update_user(
                actor=request.user, now=base.now(), user_id=user.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            return _user_page(request, form, user, status=fail(form, exc))
        messages.success(request, f"User “{user.username}” saved.")
        return redirect("user-edit", user_id=user.pk)
    form = UserForm(actor=request.user, creating=False, initial=_user_initial(user))
    return _user_page(request, form, user)


@page
@require_POST
def user_active(request: HttpRequest, user_id: int) -> HttpResponse:
    """POST ``active=false``: deactivate; ``active=true``: activate again."""
    user = selectors.get_user(actor=request.user, user_id=user_id)
    activate = request.POST.get("active") == "true"
    if not activate and not confirm.confirmed(request):
        return confirm.ask(
            request,
            title=f"Deactivate {user.username}",
            question=f"Deactivate “{user.username}”? The user can no longer sign in, and its "
            "API tokens stop working.",
            button="Deactivate",
            back_url=reverse("user-edit", args=[user.pk]),
        )
    try:
        if activate:
            user = services.update_user(
                actor=request.user, now=base.now(), user_id=user.pk, changes={"is_active": True}
            )
        else:
            user = services.deactivate_user(actor=request.user, now=base.now(), user_id=user.pk)
    except BillcoreError as exc:
        fail(PageForm(), exc)  # a NotFound is the 404 page
        messages.error(request, clerk_text(exc.message).removeprefix("id: "))
        return redirect("user-edit", user_id=user.pk)
    state = "activated" if activate else "deactivated: it can no longer sign in"
    messages.success(request, f"User “{user.username}” {state}.")
    return redirect("user-edit", user_id=user.pk)


@page
@require_POST
def user_password(request: HttpRequest, user_id: int) -> HttpResponse:
    user = selectors.get_user(actor=request.user, user_id=user_id)
    form = PasswordForm(request.POST)
    try:
        user = services.set_password(
            actor=request.user,
            now=base.now(),
            user_id=user.pk,
            password=form.posted().get("password", ""),
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        edit = UserForm(actor=request.user, creating=False, initial=_user_initial(user))
        return _user_page(request, edit, user, password_form=form, status=status)
    if user.pk == request.user.pk:
        update_session_auth_hash(request, user)  # stay signed in here
    messages.success(request, f"Password of “{user.username}” changed.")
    return redirect("user-edit", user_id=user.pk)


# --------------------------------------------------------------------------- tokens


def _token_users(actor: Actor) -> list[tuple[Any, str]]:
    users = selectors.list_users(actor=actor, active=True)
    return [(u.pk, u.username) for u in users]


def _token_page(
    request: HttpRequest,
    form: TokenForm,
    *,
    created: Any = None,
    secret: str = "",
    status: int = 200,
) -> HttpResponse:
    tokens = selectors.list_tokens(actor=request.user)
    context = _context(
        request,
        page=paginate(request, tokens),
        form=form,
        created=created,
        secret=secret,
    )
    return render(request, "web/users/token_list.html", context, status=status)


TOKEN_COLUMNS = (
    "id",
    "user_id",
    "user",
    "name",
    "prefix",
    "created_at",
    "last_used_at",
    "expires_at",
)


def _tokens_csv(request: HttpRequest) -> HttpResponse:
    """The tokens the user sees as CSV (issue 17): never a secret, only the prefix."""
    tokens = selectors.list_tokens(actor=request.user).select_related("user")
    rows = (
        (
            t.pk,
            t.user_id,
            t.user.username,
            t.name,
            t.prefix,
            t.created_at,
            t.last_used_at,
            t.expires_at,
        )
        for t in exports.rows_of(tokens)
    )
    return exports.csv_response("api-tokens.csv", TOKEN_COLUMNS, rows)


@page
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """GET: the tokens the user sees; POST: create one (its secret shown on this answer)."""
    if request.method == "GET":
        if exports.wanted(request):
            return _tokens_csv(request)
        form = TokenForm(users=_token_users(request.user))
        form.initial["user"] = query(request, "user") or request.user.pk
        return _token_page(request, form)
    form = TokenForm(request.POST, users=_token_users(request.user))
    try:
        data = form.posted()
        token, secret = services.create_api_token(
            actor=request.user,
            now=base.now(),
            user_id=data.get("user") or None,
            name=data.get("name", ""),
            expires_in=data.get("expires_in") or None,
            default_lifetime=default_lifetime(),
        )
    except BillcoreError as exc:
        return _token_page(request, form, status=fail(form, exc))
    fresh = TokenForm(users=_token_users(request.user))
    fresh.initial["user"] = request.user.pk
    return _token_page(request, fresh, created=token, secret=secret)


@page
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.get_token(actor=request.user, token_id=token_id)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Revoke an API token",
            question=f"Revoke the token “{token.prefix}…” of {token.user.username}? Whatever "
            "uses it stops working.",
            button="Revoke",
            back_url=reverse("token-list"),
        )
    services.revoke_api_token(actor=request.user, now=base.now(), token_id=token.pk)
    messages.success(request, f"Token “{token.prefix}…” of {token.user.username} revoked.")
    back = request.POST.get("next", "")
    if back.startswith("/users/") and back.count("/") == 3 and back[7:-1].isdigit():
        return redirect(back)
    return redirect("token-list")

"""The native JSON API, ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``, docs at
``/api/v1/docs``): every router mounted on the one ``NinjaAPI`` object of ``base``, each
operation guarded by ``validation.check_input``. Handlers parse, call a service or selector,
and shape the reply."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from pydantic import BaseModel

from billcore.api.accounts import router as accounts_router
from billcore.api.auth import router as auth_router
from billcore.api.base import api
from billcore.api.charging import router as charging_router
from billcore.api.classes import router as classes_router
from billcore.api.customers import router as customers_router
from billcore.api.dids import router as dids_router
from billcore.api.engine import router as engine_router
from billcore.api.features import router as features_router
from billcore.api.installation import router as installation_router
from billcore.api.invoicing import router as invoicing_router
from billcore.api.lockouts import router as lockouts_router
from billcore.api.me import router as me_router
from billcore.api.measured import router as measured_router
from billcore.api.network import router as network_router
from billcore.api.notifications import router as notifications_router
from billcore.api.plans import router as plans_router
from billcore.api.rating import router as rating_router
from billcore.api.search import router as search_router
from billcore.api.subscriptions import router as subscriptions_router
from billcore.api.users import tokens_router, users_router
from billcore.errors import NotFound
from billcore.validation import INT_MAX, INT_MIN, check_input

__all__ = ["api"]


def _register() -> None:
    api.add_router("/auth", auth_router)
    api.add_router("/users", users_router)
    api.add_router("/tokens", tokens_router)
    api.add_router("/", lockouts_router)
    api.add_router("/customer-classes", classes_router)
    api.add_router("/customers", customers_router)
    api.add_router("/", installation_router)
    api.add_router("/", charging_router)
    api.add_router("/", accounts_router)
    api.add_router("/", notifications_router)
    api.add_router("/", invoicing_router)
    api.add_router("/", subscriptions_router)
    api.add_router("/", rating_router)
    api.add_router("/", plans_router)
    api.add_router("/", features_router)
    api.add_router("/", engine_router)
    api.add_router("/", search_router)
    api.add_router("/", network_router)
    api.add_router("/", measured_router)
    api.add_router("/", dids_router)
    api.add_router("/me", me_router)
    _guard_operations()


def _guard_operations() -> None:
    """Every operation's parsed input (path, query, headers, body) goes through
    ``validation.check_input`` before its handler: out-of-range integers, NUL bytes, lone
    surrogates, non-finite numbers and date-times outside the window are a 400 naming the
    field, whatever the endpoint, including the ones added later."""
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                if not getattr(operation.view_func, "_guarded", False):
                    operation.view_func = _guarded(operation.view_func)


def _guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def guarded(request: HttpRequest, **values: Any) -> Any:
        in_path = request.resolver_match.kwargs if request.resolver_match else {}
        for name, value in values.items():
            if name in in_path and isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
                # An id no row can have: like any unknown id, not found.
                raise NotFound(f"{name} {value} not found", field=name)
            # Schemas (query filters, the body) name their own fields; a bare value (a path
            # id, a header) is named by its parameter.
            check_input(None if isinstance(value, BaseModel) else name, value)
        return view(request, **values)

    guarded._guarded = True  # type: ignore[attr-defined]
    return guarded


_register()

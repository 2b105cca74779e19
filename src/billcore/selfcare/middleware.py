"""A session of its own for self-care (issue 16 §3): requests under ``/my/`` carry the cookie
``billcore_selfcare`` (path ``/my/``) instead of the administrators' ``sessionid``.

Placed just before Django's ``SessionMiddleware``: on the way in, a ``/my/`` request's
``sessionid`` cookie is set aside and the self-care cookie stands in its place, so Django's
session machinery (its store, key rotation, expiry) loads the self-care session; on the way
out, the session cookie Django sets (or deletes) is renamed back to ``billcore_selfcare``, for
``/my/`` only. So an administrator's session never reaches a self-care page (``request.user``
there is anonymous) and a customer's session never reaches an admin page: two cookies, two
sessions, each valid on its own side only.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PREFIX = "/my/"
COOKIE_NAME = "billcore_selfcare"


def is_selfcare(request: HttpRequest) -> bool:
    return request.path_info == PREFIX[:-1] or request.path_info.startswith(PREFIX)


class SelfcareSessionCookie:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_selfcare(request):
            return self.get_response(request)
        admin_cookie = settings.SESSION_COOKIE_NAME
        request.COOKIES.pop(admin_cookie, None)
        own = request.COOKIES.get(COOKIE_NAME)
        if own:
            request.COOKIES[admin_cookie] = own
        response = self.get_response(request)
        morsel = response.cookies.pop(admin_cookie, None)
        if morsel is not None:
            if morsel.value == "" or str(morsel["max-age"]) == "0":
                response.delete_cookie(COOKIE_NAME, path=PREFIX, samesite="Lax")
            else:
                response.set_cookie(
                    COOKIE_NAME,
                    morsel.value,
                    max_age=int(morsel["max-age"]) if morsel["max-age"] else None,
                    path=PREFIX,
                    secure=bool(morsel["secure"]),
                    httponly=True,
                    samesite="Lax",
                )
        return response

"""The confirmation step of a risky action (issue 17, item 7): Block, Terminate, Export and
the deletes act only on a post that carries ``confirmed=1``.

Without JavaScript the first post answers with a confirmation page: the question, the same
fields again as hidden inputs plus ``confirmed=1``, a button that does it and a link back.
With JavaScript the button's ``data-confirm`` dialog asks first and adds ``confirmed=1``
itself (``billcore.js``), so the clerk answers once. Either way nothing changes before the
clerk said yes.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRMED = "confirmed"
NOT_REPOSTED = frozenset({"csrfmiddlewaretoken", CONFIRMED})


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get(CONFIRMED) == "1"


def ask(
    request: HttpRequest,
    *,
    title: str,
    question: str,
    button: str,
    back_url: str,
    danger: bool = True,
) -> HttpResponse:
    """The confirmation page: posting its form repeats the clerk's post with ``confirmed=1``."""
    fields = [
        (name, value)
        for name in request.POST
        if name not in NOT_REPOSTED
        for value in request.POST.getlist(name)
    ]
    context = {
        "title": title,
        "question": question,
        "button": button,
        "back_url": back_url,
        "danger": danger,
        "fields": fields,
        "action_url": request.get_full_path(),
    }
    return render(request, "web/confirm.html", context)

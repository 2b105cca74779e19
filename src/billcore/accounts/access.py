"""Who the actor is: an administrator or a user of one reseller (CC-07, DESIGN rule 4).

``Actor`` is the type of the acting user every service and selector takes (``actor=``):

* a ``User`` (an administrator, ``reseller`` empty, or a user of that reseller): the pages'
  ``request.user``, the JSON API's token user, the ``/rest/`` facade's session user;
* a ``SystemActor``: the billing engine (``ENGINE``) or the operator at the server's shell
  (``CLI``), administrators with no user row;
* Django's ``AnonymousUser``: a request nobody signed in to (``request.user`` before a
  login, a ``/rest/`` call not yet authenticated). Services refuse it (``require_user``:
  "not found"); it is in the type because the interfaces hand it over as is.

``require_user`` returns the actor narrowed to ``SignedIn`` (a user or the system), whose
``reseller_id`` can then be read; ``pk`` and ``username`` can be read on any ``Actor``;
``user_row`` gives the ``User`` a foreign key such as ``created_by`` takes (None for the
system and for anonymous).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from billcore.errors import NotFound

if TYPE_CHECKING:  # types only: this module is imported before Django's apps are ready
    from django.contrib.auth.models import AnonymousUser

    from billcore.accounts.models import User


class SystemActor:
    """The product acting on its own, with no user row: an administrator whose audit rows and
    status history name it by ``username`` ("engine", "cli")."""

    pk: None = None
    id: None = None
    reseller_id: None = None
    is_authenticated: Literal[True] = True
    is_active: Literal[True] = True

    def __init__(self, username: str) -> None:
        self.username = username

    def __repr__(self) -> str:
        return f"<{self.username}>"


SignedIn: TypeAlias = "User | SystemActor"
Actor: TypeAlias = "User | SystemActor | AnonymousUser"

# The billing engine acting on its own (suspensions, terminations, fees).
ENGINE = SystemActor("engine")
# The operator at the server's shell (``billcore user …``, ``billcore token …``).
CLI = SystemActor("cli")


def is_admin(actor: Actor | None) -> bool:
    """An active administrator: a user with no reseller, or the system."""
    return (
        actor is not None
        and actor.is_authenticated
        and actor.is_active
        and actor.reseller_id is None
    )


def user_row(actor: Actor | None) -> User | None:
    """The actor's user row, for a foreign key to the user: None for the system (no row) and
    for anonymous."""
    if actor is None or isinstance(actor, SystemActor) or not actor.is_authenticated:
        return None
    return actor


def require_user(actor: Actor | None) -> SignedIn:
    """The actor, signed in and active; "not found" for anybody else."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise NotFound("not found")
    return actor

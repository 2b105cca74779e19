"""Who the actor is: an administrator or a user of one reseller (CC-07, DESIGN rule 4)."""

from __future__ import annotations

from typing import Any

from billcore.errors import NotFound


def is_admin(actor: Any) -> bool:
    return bool(
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and actor.is_active
        and actor.reseller_id is None
    )


def require_user(actor: Any) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotFound("not found")


class _EngineActor:
    """The billing engine acting on its own (suspensions, terminations, fees): an
    administrator with no user row; audit and status history name it "engine"."""

    pk = None
    id = None
    username = "engine"
    is_authenticated = True
    is_active = True
    reseller_id = None

    def __repr__(self) -> str:
        return f"<{self.username}>"


class _OperatorActor(_EngineActor):
    """The operator at the server's shell (``billcore user …``, ``billcore token …``): an
    administrator with no user row; audit rows name it "cli"."""

    username = "cli"


ENGINE = _EngineActor()
CLI = _OperatorActor()

"""The service features (rating-and-tabs.md §3.3), declared once: their type, bounds, label
and help. The services parse with it; the API and the pages list it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billcore.errors import ValidationFailed
from billcore.features.models import AcceptCallerIdentity, CliPresentation
from billcore.validation import as_bool, as_choice, as_int, as_str

MAX_CALLS_LIMIT = 100_000


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # "int", "bool", "choice", "text", "number"
    label: str
    help: str
    group: str
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int = 0

    def parse(self, value: Any) -> Any:
        """The value to store; None (or empty text) inherits. Errors name the feature."""
        if value is None or value == "":
            return None
        if self.kind == "int":
            return as_int(self.name, value, minimum=0, maximum=MAX_CALLS_LIMIT)
        if self.kind == "bool":
            return as_bool(self.name, value)
        if self.kind == "choice":
            return as_choice(self.name, value, [c for c, _ in self.choices])
        text = as_str(self.name, value, max_length=self.max_length or 64)
        if self.kind == "number":
            digits = text[1:] if text.startswith("+") else text
            if not (digits.isascii() and digits.isdigit() and 1 <= len(digits) <= 15):
                raise ValidationFailed(
                    f"{self.name} must be a number in E.164 form (up to 15 digits, a leading + "
                    f"allowed; got {text[:20]!r})",
                    field=self.name,
                )
            return digits
        return text or None


LIMITS = "Limit simultaneous calls"
IDENTITY = "Caller identity"
FLAGS = "Call features"

FEATURES: tuple[Feature, ...] = (
    Feature(
        "max_calls",
        "int",
        "Maximum simultaneous calls",
        "Calls in any direction at once; one more is refused. Empty: inherit (none: no limit).",
        LIMITS,
    ),
    Feature(
        "max_incoming_calls", "int", "Maximum incoming calls", "Incoming calls at once.", LIMITS
    ),
    Feature(
        "max_outgoing_calls", "int", "Maximum outgoing calls", "Outgoing calls at once.", LIMITS
    ),
    Feature(
        "max_forwarded_calls", "int", "Maximum forwarded calls", "Forwarded calls at once.", LIMITS
    ),
    Feature(
        "accept_caller_identity",
        "choice",
        "Accept caller identity",
        "Which identity of an incoming call is trusted.",
        IDENTITY,
        choices=tuple(AcceptCallerIdentity.choices),
    ),
    Feature(
        "supply_caller_identity",
        "bool",
        "Supply caller identity",
        "Keep the caller's identity towards the remote network, even a private one.",
        IDENTITY,
    ),
    Feature(
        "cli_presentation",
        "choice",
        "Caller number presentation",
        "Show the caller's number to the called party, or hide it.",
        IDENTITY,
        choices=tuple(CliPresentation.choices),
    ),
    Feature("display_name", "text", "Display name", "The caller's name shown.", IDENTITY, (), 64),
    Feature(
        "override_identity",
        "number",
        "Override identity",
        "A number (E.164) presented instead of the account's own.",
        IDENTITY,
        (),
        16,
    ),
    Feature("music_on_hold", "bool", "Music on hold", "Play music to a held party.", FLAGS),
    Feature("call_parking", "bool", "Call parking", "Calls may be parked and picked up.", FLAGS),
)
BY_NAME = {f.name: f for f in FEATURES}
NAMES = tuple(BY_NAME)
LIMIT_NAMES = ("max_calls", "max_incoming_calls", "max_outgoing_calls", "max_forwarded_calls")

"""Forms of the discount plan pages (issue 13): a plan, a rule (its bands as lines of
"threshold percent"), an assignment, a wallet top-up. As everywhere in ``billcore.web`` they
render inputs and hand the service what was posted; the service decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from billcore.errors import BillcoreError, ValidationFailed
from billcore.plans.models import Measure, OnExhausted, PeakScope, Reset, RuleKind
from billcore.plans.services import KIND_FIELDS
from billcore.web.forms import Area, Choice, Multi, Text, Toggle, input_amount
from billcore.web.forms_rating import ADMINISTRATOR, RatingForm, amount, text, whole

Choices = Sequence[tuple[Any, str]]
EVERY_DESTINATION = "— every destination of the service —"


def _renamed(exc: BillcoreError, names: Mapping[str, str]) -> BillcoreError:
    """The service's error about ``field`` as an error about this form's input of it."""
    name = names.get(exc.field or "")
    if name is None or not exc.field:
        return exc
    message = exc.message
    if message.startswith(exc.field):
        message = name + message[len(exc.field) :]
    return ValidationFailed(message, field=name, code=exc.code)


def _show(field: Any, condition: str) -> None:
    field.show_if = condition


def _need(field: Any) -> None:
    field.needed = True


def _date(label: str, *, help_text: str = "", show_if: str = "") -> Text:
    field = Text(label, help_text=help_text, show_if=show_if, **{"class": "input-short"})
    field.widget.input_type = "date"
    return field


class PlanForm(RatingForm):
    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        is_new: bool,
        currencies: Choices,
        groups: Choices,
        resellers: Choices | None,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["name"] = text("Name", needed=True)
        f["currency"] = Choice(
            "Currency",
            [("", "Choose a currency"), *currencies],
            help_text="Fixed once the plan is saved: it goes to products, accounts and "
            "customers of this currency.",
        )
        _need(f["currency"])
        if not is_new:
            f["currency"].disabled = True
        if resellers is not None:
            f["managed_by"] = Choice("Managed by", [("", ADMINISTRATOR), *resellers])
        f["destination_groups"] = Multi(
            "Destination group set",
            groups,
            help_text="The groups the plan's rules may name.",
        )
        if not is_new:
            f["draft"] = Toggle(
                "Draft",
                help_text="A draft cannot be assigned. A plan without rules stays a draft.",
            )
        f["description"] = Area("Description")
        f["description"].widget.attrs["maxlength"] = "255"


def bands_text(bands: Sequence[Any]) -> str:
    """A rule's bands as the form shows them: one "threshold percent" per line."""
    return "\n".join(f"{input_amount(b.threshold)} {input_amount(b.percent)}" for b in bands)


def _parse_bands(value: str) -> list[dict[str, str]]:
    rows = []
    for line in str(value).splitlines():
        parts = line.replace(";", " ").replace("%", " ").split()
        if not parts:
            continue
        rows.append({"threshold": parts[0], "percent": parts[1] if len(parts) > 1 else ""})
    return rows


class RuleForm(RatingForm):
    """A rule; ``kind`` given: an existing rule's form (kind, service and measure fixed)."""

    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        kind: str | None,
        services: Choices,
        groups: Choices,
    ) -> None:
        start = {"kind": RuleKind.DISCOUNT, "service": "voice", "measure": Measure.UNITS}
        super().__init__(data, initial=dict(initial or start))
        self.fixed_kind = kind
        f = self.fields

        def only(*kinds: str) -> str:
            return "" if kind else "kind=" + "|".join(kinds)

        f["kind"] = Choice("Kind", RuleKind.choices)
        f["service"] = Choice("Service", services)
        f["measure"] = Choice(
            "Measured in",
            Measure.choices,
            help_text="Money spent (undiscounted), or units of the service's base unit "
            "(seconds for time). Fixed once created.",
        )
        if kind:
            for name in ("kind", "service", "measure"):
                f[name].disabled = True
        f["destination_group"] = Choice("Destination group", [("", EVERY_DESTINATION), *groups])
        f["peak_scope"] = Choice(
            "Counted", PeakScope.choices, help_text="Peak and off-peak: a separate counter."
        )
        f["reset"] = Choice("Counters reset", Reset.choices)
        if kind in (None, RuleKind.DISCOUNT):
            f["bands"] = Area(
                "Bands",
                help_text='One band per line: "threshold percent", thresholds increasing '
                'from 0 (e.g. "0 0", "24000 10", "66000 20": the standard price up to '
                "24,000, then 10 % off, from 66,000 20 % off).",
                show_if=only(RuleKind.DISCOUNT),
            )
        if kind in (None, RuleKind.DISCOUNT, RuleKind.QUOTA):
            f["split_xdrs"] = Toggle(
                "Split xDRs when a session crosses a band",
                show_if=only(RuleKind.DISCOUNT, RuleKind.QUOTA),
            )
            f["prorate_first_period"] = Toggle(
                "Prorate for a partial first period",
                show_if=only(RuleKind.DISCOUNT, RuleKind.QUOTA),
            )
        if kind in (None, RuleKind.QUOTA):
            q = only(RuleKind.QUOTA)
            f["volume"] = amount("Free volume", help_text="Empty: unlimited.")
            _show(f["volume"], q)
            f["renewal_period"] = Choice(
                "Renewed", Reset.choices, help_text="Independent of the billing period.", show_if=q
            )
            f["renewal_anchor_date"] = _date(
                "Renewal calendar starts",
                help_text="Empty: when the plan is assigned.",
                show_if=q,
            )
            f["rollovers"] = whole("Rollovers", help_text="0 to 3 periods of unused volume.")
            _show(f["rollovers"], q)
            f["on_exhausted"] = Choice("When used up", OnExhausted.choices, show_if=q)
            f["speed_policy"] = text(
                "Speed policy",
                maxlength=64,
                help_text="Data quotas that limit the speed: the policy the network applies "
                "(e.g. a Filter-Id).",
            )
            _show(f["speed_policy"], q)
        if kind in (None, RuleKind.WALLET):
            w = only(RuleKind.WALLET)
            f["initial_volume"] = amount("Initial volume", help_text="Money or units.")
            _show(f["initial_volume"], w)
            f["expiry_days"] = whole("Expires after (days)", minimum=1, help_text="Empty: never.")
            _show(f["expiry_days"], w)
            f["expiry_date"] = _date("Or expires on", show_if=w)
            f["topup_credit"] = Toggle("Top-up by credit (promotional)", show_if=w)
            f["topup_card"] = Toggle("Top-up by card", show_if=w)
            f["topup_balance"] = Toggle("Top-up from the balance", show_if=w)
            f["topup_extend_days"] = whole("Days a top-up adds to its life")
            _show(f["topup_extend_days"], w)

    def posted(self) -> dict[str, Any]:
        out = super().posted()
        kind = self.fixed_kind or out.get("kind", "")
        # The inputs of the other kinds are hidden (and not posted) by billcore.js; without
        # it they are posted: keep only what this kind's form shows.
        other: set[str] = set()
        for k, names in KIND_FIELDS.items():
            if k != kind:
                other |= names
        for name in ("split_xdrs", "prorate_first_period"):
            if kind == RuleKind.WALLET:
                other.add(name)
        own = KIND_FIELDS.get(RuleKind(kind), set()) if kind in RuleKind.values else set()
        for name in other - own:
            out.pop(name, None)
        if "bands" in out:
            out["bands"] = _parse_bands(out["bands"])
        return out


class AssignForm(RatingForm):
    """Assign a plan: ``assign_plan`` (and ``assign_product`` on the plan's page), the
    period's ``assign_from`` and ``assign_to`` (the customer page's other forms share the
    page, hence the names)."""

    def __init__(self, data: Any = None, *, plans: Choices, products: Choices = ()) -> None:
        super().__init__(data, initial={})
        f = self.fields
        if products:
            f["assign_product"] = Choice("Product", [("", "Choose a product"), *products])
            _need(f["assign_product"])
        f["assign_plan"] = Choice("Discount plan", [("", "Choose a plan"), *plans])
        _need(f["assign_plan"])
        start = Text("From (UTC)", help_text="Empty: now.")
        start.widget.input_type = "datetime-local"
        f["assign_from"] = start
        end = Text("Until (UTC)", help_text="Empty: open-ended.")
        end.widget.input_type = "datetime-local"
        f["assign_to"] = end

    RENAMED = {"plan": "assign_plan", "valid_from": "assign_from", "valid_to": "assign_to"}

    def attach_error(self, exc: BillcoreError) -> None:
        super().attach_error(_renamed(exc, self.RENAMED))

    def posted(self) -> dict[str, Any]:
        raw = super().posted()
        out: dict[str, Any] = {"plan": raw.get("assign_plan", "")}
        for key, name in (("valid_from", "assign_from"), ("valid_to", "assign_to")):
            value = str(raw.get(name, "")).strip()
            if value:
                out[key] = value + (":00+00:00" if len(value) == 16 else "")
        return out


class TopUpForm(RatingForm):
    """Top a wallet up: ``topup_amount`` from ``topup_source`` (the sources its rule allows),
    a card's ``topup_price``, a ``topup_comment``."""

    def __init__(self, data: Any = None, *, sources: Choices) -> None:
        super().__init__(data, initial={})
        f = self.fields
        f["topup_amount"] = amount("Amount", needed=True)
        f["topup_source"] = Choice("From", sources)
        f["topup_price"] = amount("Price charged (card)", help_text="Empty: the amount.")
        f["topup_comment"] = text("Comment", maxlength=500)

    RENAMED = {n: f"topup_{n}" for n in ("amount", "source", "price", "comment")}

    def attach_error(self, exc: BillcoreError) -> None:
        super().attach_error(_renamed(exc, self.RENAMED))

    def posted(self) -> dict[str, Any]:
        raw = super().posted()
        return {k.removeprefix("topup_"): v for k, v in raw.items()}

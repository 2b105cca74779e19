"""Forms of the rating catalogue pages (issue 12): services, destinations and their groups,
off-peak periods, tariffs and their rates, products and their rating entries, an account's
products and a customer's override tariffs.

As everywhere in ``billcore.web``, they render inputs and hand the service what was posted;
the service decides. So that one submit with several bad inputs shows every one of them,
:class:`RatingForm` adds the checks a page can see itself (required, whole numbers, amounts
not below zero) to :meth:`PageForm.input_errors`, worded as the services word them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms

from billcore.errors import ValidationFailed
from billcore.rating.models import AccessCode, BaseUnit, ProductKind, RatingBase
from billcore.validation import as_int, as_money
from billcore.web.forms import Area, Choice, PageForm, Text, Toggle

Choices = Sequence[tuple[Any, str]]
ADMINISTRATOR = "Administrator"
NONE = "— none —"


def whole(label: str, *, minimum: int = 0, help_text: str = "", needed: bool = False) -> Text:
    """A whole-number input the form checks itself (``minimum``)."""
    field = Text(label, help_text=help_text, inputmode="numeric", **{"class": "input-short"})
    field.whole_min = minimum  # type: ignore[attr-defined]
    field.needed = needed
    return field


def amount(label: str, *, help_text: str = "", needed: bool = False) -> Text:
    """An amount (up to 5 decimals, not negative) the form checks itself."""
    field = Text(
        label,
        help_text=help_text,
        inputmode="decimal",
        autocomplete="off",
        **{"class": "input-short"},
    )
    field.not_negative = True  # type: ignore[attr-defined]
    field.needed = needed
    return field


def text(label: str, *, maxlength: int = 100, needed: bool = False, **attrs: Any) -> Text:
    field = Text(label, maxlength=str(maxlength), **attrs)
    field.needed = needed
    return field


def _need(field: forms.Field) -> None:
    """An empty value is an error the form shows itself (with the service's wording)."""
    field.needed = True  # type: ignore[attr-defined]


class RatingForm(PageForm):
    """A page form that also checks whole numbers and amounts that may not be negative."""

    def input_errors(self) -> list[ValidationFailed]:
        found = super().input_errors()
        seen = {e.field for e in found}
        for name, field in self.fields.items():
            if field.disabled or name in seen or name not in self.data:
                continue
            value = str(self.data.get(name, "")).strip()
            if not value:
                continue
            try:
                minimum = getattr(field, "whole_min", None)
                if minimum is not None:
                    as_int(name, value, minimum=minimum)
                if getattr(field, "not_negative", False):
                    money = as_money(name, value)
                    if money is not None and money < 0:
                        raise ValidationFailed(f"{name} must be at least 0", field=name)
            except ValidationFailed as exc:
                found.append(exc)
        return found

    def read_only(self) -> RatingForm:
        """Every input shown, none posted (a reseller's view of the installation's objects)."""
        for field in self.fields.values():
            field.disabled = True
        return self


# --------------------------------------------------------------------------- installation's


class ServiceForm(RatingForm):
    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {"rating_base": RatingBase.TIME}))
        f = self.fields
        f["code"] = text(
            "Code",
            maxlength=32,
            needed=True,
            help_text="What usage records carry: lower-case letters, digits, - and _.",
            **{"class": "mono input-short"},
        )
        f["name"] = text("Name", needed=True)
        f["rating_base"] = Choice("Rating base", RatingBase.choices)
        f["base_unit"] = Choice(
            "Base unit",
            [("", "The rating base's default"), *BaseUnit.choices],
            help_text="Usage is converted to this unit and rounded up to whole units. Data: "
            "decimal units (1 MB = 10⁶ bytes) unless binary (KiB, MiB, GiB).",
        )
        f["description"] = Area("Description")


class DestinationForm(RatingForm):
    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["prefix"] = text(
            "Prefix",
            maxlength=32,
            needed=True,
            help_text="Digits (up to 32), or | for every number nothing longer matches.",
            **{"class": "mono input-short"},
        )
        f["country"] = text(
            "Country",
            maxlength=2,
            needed=False,
            help_text="ISO 3166-1 code, e.g. CZ.",
            **{"class": "input-short"},
        )
        f["description"] = Area("Description")


class DestinationGroupForm(RatingForm):
    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["name"] = text("Name", needed=True)
        f["prefixes"] = Area("Destinations")
        f[
            "prefixes"
        ].help_text = "Prefixes of existing destinations, separated by spaces, commas or new lines."
        f["description"] = Area("Description")

    def posted(self) -> dict[str, Any]:
        out = super().posted()
        if "prefixes" in out:
            raw = str(out["prefixes"]).replace(",", " ").split()
            out["prefixes"] = raw
        return out


class OffpeakForm(RatingForm):
    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["name"] = text("Name", needed=True)
        f["expression"] = Text(
            "Period",
            help_text="Time of day, weekday, day of month and month, e.g. hr{6pm-7am} or "
            "wd{sat-sun}; several alternatives separated by commas. Evaluated in the "
            "customer's billing time zone at the session's start.",
            maxlength="2000",
            **{"class": "mono"},
        )
        _need(f["expression"])
        f["description"] = Area("Description")


# --------------------------------------------------------------------------- tariffs, rates


class TariffForm(RatingForm):
    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        currencies: Choices,
        services: Choices,
        periods: Choices,
        resellers: Choices | None,
    ) -> None:
        super().__init__(data, initial=dict(initial or {"service": "voice"}))
        f = self.fields
        f["name"] = text("Name", needed=True)
        f["currency"] = Choice(
            "Currency",
            [("", "Choose a currency"), *currencies],
            help_text="Fixed once the tariff has rates or is used.",
        )
        _need(f["currency"])
        f["service"] = Choice("Service", services)
        if resellers is not None:
            f["managed_by"] = Choice("Managed by", [("", ADMINISTRATOR), *resellers])
        f["connection_fee"] = amount("Connection fee", help_text="Charged once per session.")
        f["free_seconds"] = whole("Free seconds", help_text="Not charged at the session's start.")
        f["grace_period"] = whole(
            "Grace period (seconds)", help_text="A session this short is not charged at all."
        )
        f["post_call_surcharge"] = amount(
            "Post-call surcharge (%)", help_text="Percent of the session's amount, 0 to 1,000."
        )
        f["offpeak_period"] = Choice(
            "Off-peak period", [("", NONE), *periods], help_text="Selects the off-peak prices."
        )
        f["second_offpeak_period"] = Choice(
            "Second off-peak period",
            [("", NONE), *periods],
            help_text="Selects the second off-peak prices (the first wins where both hold).",
        )
        f["description"] = Area("Description")


RATE_SETS = (
    ("", "Peak prices"),
    ("offpeak_", "Off-peak prices"),
    ("offpeak2_", "Second off-peak prices"),
)


class RateForm(RatingForm):
    """A rate: prefix, effective from (UTC), the three price sets and the flags."""

    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}), auto_id="rate-%s")
        f = self.fields
        f["prefix"] = text(
            "Prefix",
            maxlength=32,
            needed=True,
            help_text="Digits, or | for any number.",
            **{"class": "mono input-short"},
        )
        effective = Text(
            "Effective from (UTC)", help_text="Empty: now. Several versions per prefix."
        )
        effective.widget.input_type = "datetime-local"
        f["effective_from"] = effective
        for set_, title in RATE_SETS:
            peak = set_ == ""
            f[f"{set_}interval_first"] = whole(
                f"{title}: first interval",
                minimum=1,
                help_text="Seconds (base units for other services); the minimum charged."
                if peak
                else "Empty: the peak interval.",
            )
            f[f"{set_}interval_next"] = whole(f"{title}: next interval", minimum=1)
            f[f"{set_}price_first"] = amount(
                f"{title}: price of the first interval",
                help_text="Per minute for time, per base unit otherwise." if peak else "",
                needed=peak,
            )
            f[f"{set_}price_next"] = amount(f"{title}: price of the next intervals")
        f["forbidden"] = Toggle("Forbidden", help_text="Sessions to this destination are refused.")
        f["discontinued"] = Toggle(
            "Discontinued", help_text="The destination has no rate from this version on."
        )
        f["hidden"] = Toggle("Hidden", help_text="Left out of rate lists shown to end users.")

    def price_sets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [
            (
                title,
                self.bound(
                    (
                        f"{s}interval_first",
                        f"{s}interval_next",
                        f"{s}price_first",
                        f"{s}price_next",
                    )
                ),
            )
            for s, title in RATE_SETS
        ]


class RateUploadForm(RatingForm):
    def __init__(self, data: Any = None) -> None:
        super().__init__(data, auto_id="upload-%s")
        f = self.fields
        f["file"] = forms.FileField(label="Rate file (CSV)", required=False)
        f["file"].kind = "file"  # type: ignore[attr-defined]
        f["replace"] = Toggle(
            "Replace",
            help_text="Prefixes absent from the file are discontinued from the file's "
            "effective date. Off: merge (prefixes absent from the file stay as they are).",
        )


# --------------------------------------------------------------------------- products


class ProductForm(RatingForm):
    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        currencies: Choices,
        resellers: Choices | None,
    ) -> None:
        super().__init__(data, initial=dict(initial or {"kind": ProductKind.MAIN}))
        f = self.fields
        f["name"] = text("Name", needed=True)
        f["kind"] = Choice("Kind", ProductKind.choices)
        f["precedence"] = whole(
            "Precedence", help_text="Add-ons: the higher wins where two rate the same usage."
        )
        f["precedence"].show_if = "kind=addon"  # type: ignore[attr-defined]
        f["currency"] = Choice(
            "Currency",
            [("", "Choose a currency"), *currencies],
            help_text="Accounts of customers in this currency only.",
        )
        _need(f["currency"])
        if resellers is not None:
            f["managed_by"] = Choice("Managed by", [("", ADMINISTRATOR), *resellers])
        f["description"] = Area("Description")

    def posted(self) -> dict[str, Any]:
        out = super().posted()
        if str(out.get("precedence", "x")).strip() == "":  # empty: the service's default
            del out["precedence"]
        return out


ACCESS_CODES: list[tuple[str, str]] = [
    (AccessCode.OUTGOING_DEFAULT, "Outgoing (no access code)"),
    (AccessCode.OUTGOING, "Outgoing"),
    (AccessCode.INCOMING, "Incoming"),
    (AccessCode.FOLLOWME, "Follow-me"),
    (AccessCode.TRANSFER, "Transfer"),
]


class EntryForm(RatingForm):
    """A row of a product's rating table (its ids carry ``prefix``: one form per row)."""

    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        services: Choices,
        tariffs: Choices,
        reseller_tariffs: Choices | None,
        prefix: str = "entry",
    ) -> None:
        super().__init__(data, initial=dict(initial or {}), auto_id=f"{prefix}-%s")
        self.row_id = prefix
        f = self.fields
        f["service"] = Choice("Service", services)
        f["access_code"] = Choice("Access code", ACCESS_CODES)
        f["tariff"] = Choice("Tariff", [("", "Choose a tariff"), *tariffs])
        _need(f["tariff"])
        if reseller_tariffs is not None:
            f["reseller_tariff"] = Choice(
                "Reseller tariff",
                [("", NONE), *reseller_tariffs],
                help_text="The administrator's wholesale tariff the reseller is charged on.",
            )
        for field in f.values():
            field.widget.attrs["form"] = prefix


# --------------------------------------------------------------------------- customer, account


class AccountProductsForm(RatingForm):
    """An account's main product and add-ons (on the customer's Accounts view)."""

    def __init__(
        self,
        data: Any = None,
        *,
        account_id: int,
        initial: Mapping[str, Any] | None = None,
        mains: Choices,
        addons: Choices,
    ) -> None:
        super().__init__(
            data, initial=dict(initial or {}), auto_id=f"account-{account_id}-products-%s"
        )
        self.account_id = account_id
        f = self.fields
        f["product"] = Choice("Main product", [("", NONE), *mains])
        f["addons"] = forms.MultipleChoiceField(
            label="Add-on products",
            required=False,
            choices=list(addons),
            widget=forms.SelectMultiple(attrs={"size": min(max(len(addons), 2), 5)}),
        )
        f["addons"].kind = "multi"  # type: ignore[attr-defined]
        form_id = f"account-{account_id}-products"
        for field in f.values():
            field.widget.attrs["form"] = form_id


class OverrideForm(RatingForm):
    """A pair master tariff → override tariff (``prefix``: the new pair's form or a row's)."""

    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        tariffs: Choices,
        prefix: str = "override-add",
    ) -> None:
        super().__init__(data, initial=dict(initial or {}), auto_id=f"{prefix}-%s")
        self.row_id = prefix
        f = self.fields
        f["master_tariff"] = Choice("Master tariff", [("", "Choose a tariff"), *tariffs])
        _need(f["master_tariff"])
        f["override_tariff"] = Choice(
            "Override tariff",
            [("", "Choose a tariff"), *tariffs],
            help_text="In the customer's currency; where both tariffs match a number, the "
            "longer prefix wins, the override a tie.",
        )
        _need(f["override_tariff"])
        for name in ("master_tariff", "override_tariff"):
            f[name].widget.attrs["form"] = prefix


__all__ = [
    "AccountProductsForm",
    "DestinationForm",
    "DestinationGroupForm",
    "EntryForm",
    "OffpeakForm",
    "OverrideForm",
    "ProductForm",
    "RateForm",
    "RateUploadForm",
    "ServiceForm",
    "TariffForm",
]

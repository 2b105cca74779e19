"""Forms of the admin pages.

They render the inputs and turn what the browser posted into the plain ``data`` / ``changes``
mapping a service takes. They apply no business rule and do no coercion: every value goes to
the service as posted, the service validates it and raises a ``BillcoreError`` naming the
field, and :meth:`PageForm.attach_error` shows its message beside that input.

"Given" follows the post: a field whose input is absent (not rendered, or disabled by
``billcore.js`` because the rules make it unavailable) is not part of the change. Check boxes
carry a hidden ``false`` in front of them and lists a hidden empty value, so "off" and
"nothing chosen" are still given while a disabled one is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.forms.utils import ErrorDict
from django.http import QueryDict

from billcore.classes.models import SendStatistics
from billcore.classes.settings import BY_NAME as CLASS_BY_NAME
from billcore.classes.settings import DECIMAL_KINDS, TOP, Kind, Setting
from billcore.classes.settings import SETTINGS as CLASS_SETTINGS
from billcore.classes.settings import TABS as CLASS_TAB_LIST
from billcore.core.countries import COUNTRIES
from billcore.customers.models import Status
from billcore.customers.settings import ADDRESS
from billcore.customers.settings import BY_NAME as CUSTOMERS
from billcore.customers.settings import SETTINGS as CUSTOMER_SETTINGS
from billcore.customers.settings import TOP as CUSTOMER_TOP
from billcore.errors import BillcoreError, ValidationFailed
from billcore.installation.models import CustomField
from billcore.ledger.models import Action
from billcore.ledger.services import MANUAL_ACTIONS
from billcore.validation import as_choice, as_email, as_money

Choices = Sequence[tuple[Any, str]]

# A specification code in a message, e.g. " (CC-06)", " (CU-16, CC-20)": the services keep
# them in their messages (the API, the docs and the golden scenarios name the rule), the
# pages drop them: a clerk reads the sentence, not the reference.
SPEC_CODE = re.compile(r"\s*\((?:CC|CU)-\d+(?:[,;:]?\s*(?:CC|CU)-\d+)*[^()]*\)")


def clerk_text(message: str) -> str:
    """``message`` as a page shows it: without specification codes."""
    return SPEC_CODE.sub("", message)


def input_amount(value: Decimal | None) -> str:
    """An amount as an input's value: every significant digit, no trailing zeros."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


# --------------------------------------------------------------------------- fields


class _PageField:
    """Mixin: how the field is drawn (``kind``) and when it is shown (``show_if``: a
    condition on another input that ``billcore.js`` evaluates, e.g. ``period_close=approval``,
    ``generate_statistics``, ``!currency``)."""

    kind = "text"

    def __init__(self, *args: Any, show_if: str = "", **kwargs: Any) -> None:
        self.show_if = show_if
        self.mandatory = False
        self.needed = False  # an empty value is an error the form shows itself
        self.limit: int | None = None  # the service's length limit (not rendered)
        self.is_email = False
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)


class Text(_PageField, forms.CharField):
    kind = "text"

    def __init__(self, label: str, *, help_text: str = "", show_if: str = "", **attrs: str):
        super().__init__(
            label=label,
            help_text=help_text,
            show_if=show_if,
            strip=False,
            widget=forms.TextInput(attrs=attrs),
        )


class Area(_PageField, forms.CharField):
    kind = "textarea"

    def __init__(self, label: str, *, help_text: str = "", show_if: str = "") -> None:
        super().__init__(
            label=label,
            help_text=help_text,
            show_if=show_if,
            strip=False,
            widget=forms.Textarea(attrs={"rows": 4}),
        )


class OptionSelect(forms.Select):
    """A select whose options carry data attributes (``option_attrs[value]``)."""

    def __init__(self, *, option_attrs: Mapping[str, Mapping[str, str]] | None = None) -> None:
        super().__init__()
        self.option_attrs = dict(option_attrs or {})

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        option["attrs"].update(self.option_attrs.get(str(option["value"]), {}))
        return option


class Choice(_PageField, forms.CharField):
    kind = "select"

    def __init__(
        self,
        label: str,
        choices: Choices,
        *,
        help_text: str = "",
        show_if: str = "",
        option_attrs: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        widget = OptionSelect(option_attrs=option_attrs)
        widget.choices = list(choices)
        super().__init__(
            label=label, help_text=help_text, show_if=show_if, strip=False, widget=widget
        )


class Toggle(_PageField, forms.BooleanField):
    kind = "toggle"

    def __init__(self, label: str, *, help_text: str = "", show_if: str = "") -> None:
        super().__init__(label=label, help_text=help_text, show_if=show_if)


class Multi(_PageField, forms.MultipleChoiceField):
    kind = "multi"

    def __init__(self, label: str, choices: Choices, *, help_text: str = "") -> None:
        super().__init__(
            label=label,
            help_text=help_text,
            choices=list(choices),
            widget=forms.CheckboxSelectMultiple,
        )


class Rows(_PageField, forms.CharField):
    """A small table of rows (named taxes), posted as ``<name>-<i>-<column>``."""

    kind = "rows"

    def __init__(self, label: str, *, help_text: str = "", show_if: str = "") -> None:
        super().__init__(
            label=label, help_text=help_text, show_if=show_if, widget=forms.HiddenInput
        )


# --------------------------------------------------------------------------- base form


@dataclass(frozen=True)
class Section:
    title: str
    fields: list[forms.BoundField]
    note: str = ""
    note_show_if: str = ""


@dataclass(frozen=True)
class Tab:
    slug: str
    title: str
    sections: list[Section]


class PageForm(forms.Form):
    """Presentation only: Django's own cleaning is switched off, so the only errors shown
    are the ones the service raised."""

    data: QueryDict

    def full_clean(self) -> None:
        self._errors = ErrorDict()
        self.cleaned_data = {}

    def target_field(self, name: str | None) -> str | None:
        """The input an error names: ``taxes[0].rate`` → ``taxes``; unknown → None."""
        if not name:
            return None
        if name in self.fields:
            return name
        base = re.split(r"[\[.]", name, maxsplit=1)[0]
        return base if base in self.fields else None

    def attach_error(self, exc: BillcoreError) -> None:
        """Put the service's message beside the input named by ``exc.field`` (else on top).
        A leading ``field: `` is dropped and a leading bare field name becomes the input's
        label; a message about a part of an input (``taxes[0].rate``) is kept as it is."""
        target = self.target_field(exc.field)
        message = clerk_text(exc.message)
        if target and exc.field:
            if message.startswith(f"{exc.field}: "):
                rest = message[len(exc.field) + 2 :]
                message = rest[:1].upper() + rest[1:]
            elif target == exc.field and message.startswith(f"{exc.field} "):
                message = str(self.fields[target].label or target) + message[len(exc.field) :]
            widget = self.fields[target].widget
            widget.attrs["aria-invalid"] = "true"
            widget.attrs["aria-describedby"] = f"{self[target].auto_id}-error"
        self.add_error(target, message)
        if not self._collecting:
            self._collecting = True
            self.attach_input_errors(skip=target)

    _collecting = False

    def input_errors(self) -> list[ValidationFailed]:
        """The errors the form sees in what was posted without asking the service, one per
        input at most: required (``field.needed``), length (the input's ``maxlength``),
        format (an amount, an e-mail address) and choices (a value the select does not
        offer). They are a subset of the service's own checks, with the same wording
        (``billcore.validation``)."""
        found: list[ValidationFailed] = []
        for name, field in self.fields.items():
            kind = getattr(field, "kind", "")
            if field.disabled or name not in self.data or kind not in ("text", "select"):
                continue
            value = str(self.data.get(name, ""))
            try:
                _check_input(name, field, value)
            except ValidationFailed as exc:
                found.append(exc)
        return found

    def attach_input_errors(self, *, skip: str | None = None) -> int:
        """Show every error :meth:`input_errors` finds (but on ``skip``, which already has
        the service's); the number shown. The services stop at their first error; so that a
        submit with four bad inputs shows four errors, the page adds what the form can see
        itself. The service's own rules (a setting that needs another, a class of another
        currency…) still come one at a time: only the service knows them."""
        shown = 0
        for exc in self.input_errors():
            if exc.field == skip or (exc.field and self.has_error(exc.field)):
                continue
            self.attach_error(exc)
            shown += 1
        return shown

    def posted(self) -> dict[str, Any]:
        """The values the page submitted, by field name (see the module docstring).
        Raises ``ValidationFailed`` for a NUL character, which no database column takes."""
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            if field.disabled or name not in self.data:
                continue
            if any("\x00" in v for v in self.data.getlist(name)):
                raise ValidationFailed(f"{name} contains a NUL character", field=name)
            kind = getattr(field, "kind", "text")
            if kind == "multi":
                out[name] = [v for v in self.data.getlist(name) if v]
            elif kind == "rows":
                out[name] = posted_rows(self.data, name, ("name", "rate"))
            else:
                out[name] = self.data[name]
        return out

    def bound(self, names: Iterable[str]) -> list[forms.BoundField]:
        return [self[n] for n in names if n in self.fields]


def _check_input(name: str, field: forms.Field, value: str) -> None:
    """Raise the first error :meth:`PageForm.input_errors` sees in ``value`` of ``field``."""
    text = value.strip()
    if not text:
        if getattr(field, "needed", False):
            raise ValidationFailed(f"{name} is required", field=name, code="required")
        return
    widget = field.widget
    if getattr(field, "kind", "") == "select":
        offered = [str(v) for v, _ in getattr(widget, "choices", ())]
        if offered and value not in offered:
            as_choice(name, value, [v for v in offered if v])
        return
    attr = str(widget.attrs.get("maxlength", ""))
    limit = getattr(field, "limit", None) or (int(attr) if attr.isdigit() else None)
    if limit and len(value) > limit:
        raise ValidationFailed(
            f"{name} is longer than {limit} characters", field=name, code="too_long"
        )
    if widget.attrs.get("inputmode") == "decimal":
        as_money(name, value)
    elif getattr(field, "is_email", False) or getattr(widget, "input_type", "") == "email":
        as_email(name, value)


def posted_rows(data: QueryDict, prefix: str, columns: Sequence[str]) -> list[dict[str, str]]:
    """Rows posted as ``<prefix>-<i>-<column>``, in index order; fully empty rows dropped."""
    pattern = re.compile(rf"{re.escape(prefix)}-(\d{{1,4}})-({'|'.join(columns)})")
    indexes = sorted({int(m.group(1)) for key in data if (m := pattern.fullmatch(key))})
    rows = []
    for i in indexes:
        row = {c: data.get(f"{prefix}-{i}-{c}", "").replace("\x00", "") for c in columns}
        if any(v.strip() for v in row.values()):
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- classes

ANY_CURRENCY = "— any currency —"
ADMIN_ONLY = "Administrator only"

# The class page is drawn from the settings' declaration (classes.settings): label, help,
# tab and section, and the condition under which billcore.js shows an input (data-show-if).
# The page only mirrors the service's rules: a field hidden here is disabled, so it is not
# posted, and the service resets it to its off value.
CLASS_LABELS: dict[str, tuple[str, str]] = {s.name: (s.label, s.help) for s in CLASS_SETTINGS}
CLASS_SHOW_IF: dict[str, str] = {
    s.name: rule.when for s in CLASS_SETTINGS if (rule := s.page_rule) is not None
}
CLASS_TOP = tuple(s.name for s in CLASS_SETTINGS if s.tab == TOP)


def _class_tabs() -> list[tuple[str, str, list[tuple[str, list[str]]]]]:
    tabs = []
    for tab in CLASS_TAB_LIST:
        sections: dict[str, list[str]] = {}
        for setting in CLASS_SETTINGS:
            if setting.tab == tab.slug:
                sections.setdefault(setting.section, []).append(setting.name)
        for names in sections.values():
            names.sort(key=lambda name: CLASS_BY_NAME[name].page_order)
        tabs.append((tab.slug, tab.title, list(sections.items())))
    return tabs


# (slug, title, [(section title, fields)]) — CC-22's tabs.
CLASS_TABS: list[tuple[str, str, list[tuple[str, list[str]]]]] = _class_tabs()

SECTION_NOTES = {
    "Fraud protection": (
        "Fraud protection needs a class currency to watch daily spending.",
        "!currency",
    ),
}


def _class_field(setting: Setting) -> forms.Field:
    label, help_text = setting.label, setting.help
    rule = setting.page_rule
    show_if = rule.when if rule is not None else ""
    kind = setting.kind
    choices = cast(Choices, setting.choices.choices if setting.choices else [])
    if kind is Kind.CHOICES:
        return Multi(label, choices, help_text=help_text)
    if kind is Kind.TAXES:
        return Rows(label, help_text=help_text, show_if=show_if)
    if kind is Kind.BOOL:
        return Toggle(label, help_text=help_text, show_if=show_if)
    if kind is Kind.CHOICE:
        return Choice(label, choices, help_text=help_text, show_if=show_if)
    if kind is Kind.TEXT and not setting.single_line:
        return Area(label, help_text=help_text, show_if=show_if)
    attrs: dict[str, str] = {}
    if kind is Kind.INT:
        attrs = {"inputmode": "numeric", "class": "input-short"}
    elif kind in DECIMAL_KINDS:
        attrs = {"inputmode": "decimal", "class": "input-short"}
    attrs.update(setting.page_attrs)
    return Text(label, help_text=help_text, show_if=show_if, **attrs)


def class_initial(data: Mapping[str, Any]) -> dict[str, Any]:
    """``classes.services.copy_data`` output (or a class's current settings) as form
    initial values."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, Decimal):
            out[name] = input_amount(value)
        elif name == "taxes":
            out[name] = [
                {"name": t.get("name", ""), "rate": input_amount(Decimal(str(t.get("rate"))))}
                for t in value or []
            ]
        else:
            out[name] = "" if value is None else value
    return out


class ClassForm(PageForm):
    """Add / edit a customer class (CC-03 … CC-22)."""

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        initial: Mapping[str, Any] | None = None,
        is_new: bool,
        is_admin: bool,
        allow_external_billing: bool,
        show_financial_documents_page: bool,
        currencies: Choices,
        business_models: Choices,
        resellers: Choices,
        custom_fields: Choices,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        self.is_new = is_new
        f = self.fields
        options = {
            "allow_external_billing": allow_external_billing,
            "show_financial_documents_page": show_financial_documents_page,
        }
        for setting in CLASS_SETTINGS:
            name, label, help_text = setting.name, setting.label, setting.help
            if not all(options[o] for o in setting.installation_options):
                continue  # not rendered while the installation option is off (CC-12, CC-16)
            if name == "managed_by":
                if is_admin:
                    f[name] = Choice(label, [("", ADMIN_ONLY), *resellers], help_text=help_text)
            elif name == "business_model":
                f[name] = Choice(label, [("", "—"), *business_models], help_text=help_text)
            elif name == "currency":
                if is_new:
                    f[name] = Choice(label, [("", ANY_CURRENCY), *currencies], help_text=help_text)
            elif name == "mandatory_custom_fields":
                f[name] = Multi(label, custom_fields, help_text=help_text)
            else:
                f[name] = _class_field(setting)

    def top(self) -> list[forms.BoundField]:
        return self.bound(CLASS_TOP)

    def tabs(self) -> list[Tab]:
        tabs = []
        for slug, title, sections in CLASS_TABS:
            out = []
            for section_title, names in sections:
                fields = self.bound(names)
                if fields:
                    note, note_if = SECTION_NOTES.get(section_title, ("", ""))
                    out.append(Section(section_title, fields, note, note_if))
            tabs.append(Tab(slug, title, out))
        return tabs

    def tax_rows(self) -> list[dict[str, str]]:
        if self.is_bound:
            return posted_rows(self.data, "taxes", ("name", "rate"))
        return list(self.initial.get("taxes") or [])


# --------------------------------------------------------------------------- customers

# The customer page is drawn from the customer settings' declaration (customers.settings):
# labels, help, sections; the inputs a page offers depend on new / edit and on the user.
CUSTOMER_TOP_NEW = tuple(s.name for s in CUSTOMER_SETTINGS if s.section == CUSTOMER_TOP)
# (On an existing customer, "blocked" is a status action of its own: the form has no input.)
CUSTOMER_TOP_EDIT = tuple(
    s.name for s in CUSTOMER_SETTINGS if s.section == CUSTOMER_TOP and not s.new_only
)
ADDRESS_FIELDS = tuple((s.name, s.label) for s in CUSTOMER_SETTINGS if s.section == ADDRESS)
CUSTOM_PREFIX = "custom_fields."


def _customer_field(name: str, choices: Choices | None = None) -> forms.Field:
    """The input of customer setting ``name``; ``choices`` for a select whose options the
    page supplies (its own first option, or rows of the database)."""
    setting = CUSTOMERS[name]
    label, help_text = setting.label, setting.help
    rule = setting.show_if
    show_if = rule.when if rule is not None else ""
    if setting.kind is Kind.BOOL:
        return Toggle(label, help_text=help_text, show_if=show_if)
    if choices is not None or setting.kind is Kind.CHOICE or setting.choices is not None:
        if choices is None:
            assert setting.choices is not None
            choices = cast(Choices, setting.choices.choices)
        return Choice(label, choices, help_text=help_text, show_if=show_if)
    if setting.kind is Kind.TEXT and not setting.single_line:
        return Area(label, help_text=help_text, show_if=show_if)
    text = Text(label, help_text=help_text, show_if=show_if, **setting.page_attrs)
    text.limit = setting.max_length
    text.is_email = setting.kind is Kind.EMAIL
    return text


@dataclass(frozen=True)
class ClassOption:
    """A customer class as the customer form offers it (CU-09, CU-11)."""

    id: int
    name: str
    currency: str
    mandatory: tuple[str, ...]


def _custom_input(cf: CustomField, *, mandatory: bool) -> forms.Field:
    """An input for custom field ``cf``; ``mandatory`` marks it for the chosen class."""
    field: Text | Choice
    if cf.field_type == CustomField.Type.LIST:
        field = Choice(cf.label, [("", "—"), *((c, c) for c in cf.choices)])
    elif cf.field_type == CustomField.Type.DATE:
        field = Text(cf.label, **{"class": "input-short"})
        field.widget.input_type = "date"
    elif cf.field_type == CustomField.Type.NUMBER:
        field = Text(cf.label, inputmode="decimal", **{"class": "input-short"})
    else:
        field = Text(cf.label, maxlength="500")
    field.mandatory = mandatory
    return field


class CustomerForm(PageForm):
    """Add / edit a customer (CU-01 … CU-11)."""

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        initial: Mapping[str, Any] | None = None,
        is_new: bool,
        is_admin: bool,
        currencies: Choices,
        classes: Sequence[ClassOption],
        class_locked: bool = False,
        resellers: Choices = (),
        custom_fields: Sequence[CustomField] = (),
        time_zones: Sequence[str] = (),
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        self.is_new = is_new
        self.custom_field_defs = list(custom_fields)
        f = self.fields
        f["name"] = _customer_field("name")
        if is_new and is_admin:
            f["customer_type"] = _customer_field("customer_type")
            f["reseller"] = _customer_field(
                "reseller", [("", "— none (direct customer) —"), *resellers]
            )
        if is_new:
            f["blocked"] = _customer_field("blocked")
        f["balance_control"] = _customer_field("balance_control")
        if is_new:
            f["currency"] = _customer_field("currency", [("", "— choose —"), *currencies])
        f["credit_limit"] = _customer_field("credit_limit")
        if is_new:
            f["available_funds"] = _customer_field("available_funds")
        f["customer_class"] = Choice(
            CUSTOMERS["customer_class"].label,
            [("", "— choose —"), *((c.id, c.name) for c in classes)],
            option_attrs={
                str(c.id): {"data-currency": c.currency, "data-mandatory": " ".join(c.mandatory)}
                for c in classes
            },
        )
        if class_locked:
            f["customer_class"].disabled = True
            f[
                "customer_class"
            ].help_text = "The class is managed by a reseller: only that reseller assigns it."
        f["billing_period"] = _customer_field("billing_period")
        f["time_zone"] = _customer_field("time_zone", [(z, z) for z in time_zones])
        selected = str(self["customer_class"].value() or "")
        mandatory = next((c.mandatory for c in classes if str(c.id) == selected), ())
        for cf in self.custom_field_defs:
            f[CUSTOM_PREFIX + cf.name] = _custom_input(cf, mandatory=cf.name in mandatory)
        for name, _label in ADDRESS_FIELDS:
            f[name] = _customer_field(name)
        # A select of countries: a name typed into a 2-letter box was cut short silently.
        f["country"] = _customer_field("country", [("", "— none —"), *COUNTRIES])
        f["country"].label = "Country"
        f["note"] = _customer_field("note")
        f["send_statistics"] = _customer_field(
            "send_statistics", [("", "As the customer class says"), *SendStatistics.choices]
        )

    def top(self) -> list[forms.BoundField]:
        return self.bound(CUSTOMER_TOP_NEW if self.is_new else CUSTOMER_TOP_EDIT)

    def custom(self) -> list[forms.BoundField]:
        return self.bound(CUSTOM_PREFIX + cf.name for cf in self.custom_field_defs)

    def address(self) -> list[forms.BoundField]:
        return self.bound(name for name, _ in ADDRESS_FIELDS)

    def additional(self) -> list[forms.BoundField]:
        return self.bound(("note", "send_statistics"))

    def posted(self) -> dict[str, Any]:
        out = super().posted()
        custom = {
            k[len(CUSTOM_PREFIX) :]: out.pop(k) for k in list(out) if k.startswith(CUSTOM_PREFIX)
        }
        if custom:
            out["custom_fields"] = custom
        return out


def customer_initial(customer: Any) -> dict[str, Any]:
    """An existing customer's editable values as form initial values."""
    out: dict[str, Any] = {
        "name": customer.name,
        "balance_control": customer.balance_control,
        "credit_limit": input_amount(customer.credit_limit),
        "customer_class": customer.customer_class_id,
        "billing_period": customer.billing_period,
        "time_zone": customer.time_zone,
        "note": customer.note,
        "email": customer.email,
        "country": customer.country,
        "send_statistics": customer.send_statistics or "",
    }
    for name, _ in ADDRESS_FIELDS:
        out.setdefault(name, getattr(customer, name))
    for name, value in (customer.custom_fields or {}).items():
        out[CUSTOM_PREFIX + name] = value
    return out


STATUS_FILTER_CHOICES: Choices = [("", "Any (not terminated)"), *Status.choices]


class AdjustmentForm(PageForm):
    """The balance-adjustment dialog (CU-12). ``idempotency_key`` is a random token made
    when the dialog is drawn, so a double submit posts once."""

    def __init__(self, data: QueryDict | None = None, *, initial: Mapping[str, Any]) -> None:
        super().__init__(data, initial=dict(initial))
        # No default: a clerk typing "Top-up" must not post a charge because the select
        # happened to start on it. Nothing chosen is refused by the service, naming ``action``.
        action = Choice(
            "Action",
            [("", "— choose the action —"), *((a, Action(a).label) for a in MANUAL_ACTIONS)],
        )
        action.needed = True
        amount = Text("Amount", inputmode="decimal", autocomplete="off", **{"class": "input-short"})
        amount.needed = True
        self.fields["action"] = action
        self.fields["amount"] = amount
        self.fields["visible_comment"] = Text(
            "Visible comment", help_text="Shown to the customer.", maxlength="500"
        )
        self.fields["internal_comment"] = Text(
            "Internal comment", help_text="Only administrators see it.", maxlength="500"
        )
        self.fields["idempotency_key"] = forms.CharField(required=False, widget=forms.HiddenInput)


# --------------------------------------------------------------------------- installation


class BusinessModelForm(PageForm):
    def __init__(self, data: QueryDict | None = None, *, initial: Mapping[str, Any] | None = None):
        super().__init__(data, initial=dict(initial or {}))
        self.fields["name"] = Text("Name", maxlength="100")
        self.fields["description"] = Area("Description")


class SettingsForm(PageForm):
    def __init__(self, data: QueryDict | None = None, *, initial: Mapping[str, Any] | None = None):
        super().__init__(data, initial=dict(initial or {}))
        f = self.fields
        f["legal_name"] = Text("Legal name", maxlength="200")
        f["notification_from_name"] = Text(
            "Name in customer notifications",
            help_text="The default “From” name of every customer class.",
            maxlength="200",
        )
        f["notification_from_address"] = Text(
            "“From” address in customer notifications",
            help_text="The default “From” address of every customer class.",
            maxlength="254",
        )
        f["seller_address_line1"] = Text("Address line 1", maxlength="200")
        f["seller_address_line2"] = Text("Address line 2", maxlength="200")
        f["seller_postal_code"] = Text("Postal code", maxlength="20")
        f["seller_city"] = Text("City", maxlength="100")
        f["seller_country"] = Choice("Country", [("", "— none —"), *COUNTRIES])
        f["seller_tax_number"] = Text(
            "Tax number", help_text="VAT or tax registration number.", maxlength="50"
        )
        f["payment_instructions"] = Area(
            "Payment instructions",
            help_text="Printed on every invoice: bank, IBAN, BIC, reference…",
        )
        f["allow_external_billing"] = Toggle(
            "AllowExternalBilling",
            help_text="Offers the external-billing options on customer classes.",
        )
        f["show_financial_documents_page"] = Toggle(
            "ShowFinancialDocumentsPage",
            help_text="Offers “Generate financial documentation” on customer classes.",
        )
        f["test_mode"] = Toggle(
            "Test mode",
            help_text="Lets the billing engine's clock be moved through the API "
            "(POST /api/v1/engine/run with “now”), for tests and demos. Off in production.",
        )
        f["max_session_seconds"] = Text(
            "Longest session (seconds)",
            help_text="The most a session is authorised for: 1 to 86400 (default 10800, 3 hours).",
            inputmode="numeric",
            **{"class": "input-short"},
        )
        f["eztax_endpoint"] = Text("EZTax endpoint", placeholder="https://…")
        f["suretax_endpoint"] = Text("SureTax endpoint", placeholder="https://…")
        f["tax_rounding_half_up"] = Toggle(
            "Round tax amounts half up",
            help_text="Off: fixed-VAT amounts are rounded up to the currency's precision.",
        )

    def sections(self) -> list[Section]:
        return [
            Section(
                "Seller on invoices and e-mails",
                self.bound(
                    (
                        "legal_name",
                        "notification_from_name",
                        "notification_from_address",
                        "seller_address_line1",
                        "seller_address_line2",
                        "seller_postal_code",
                        "seller_city",
                        "seller_country",
                        "seller_tax_number",
                        "payment_instructions",
                    )
                ),
            ),
            Section(
                "Options",
                self.bound(
                    ("allow_external_billing", "show_financial_documents_page", "test_mode")
                ),
            ),
            Section("Real-time authorization", self.bound(("max_session_seconds",))),
            Section(
                "Taxes",
                self.bound(("eztax_endpoint", "suretax_endpoint", "tax_rounding_half_up")),
            ),
        ]


class CurrencyForm(PageForm):
    def __init__(self, data: QueryDict | None = None) -> None:
        super().__init__(data)
        self.fields["code"] = Text(
            "ISO 4217 code", placeholder="CZK", maxlength="3", **{"class": "input-short mono"}
        )
        self.fields["decimals"] = Text(
            "Decimal places",
            help_text="Empty: the ISO 4217 minor units.",
            inputmode="numeric",
            **{"class": "input-short"},
        )

    def posted(self) -> dict[str, Any]:
        out = super().posted()
        code = str(out.get("code", "")).strip().upper()
        decimals = str(out.get("decimals", "")).strip()
        return {"code": code, "decimals": decimals or None}


class CustomFieldForm(PageForm):
    def __init__(self, data: QueryDict | None = None) -> None:
        super().__init__(data)
        self.fields["name"] = Text("Name", placeholder="tax_id", **{"class": "mono"})
        self.fields["label"] = Text("Label", placeholder="Tax ID")
        self.fields["field_type"] = Choice("Type", CustomField.Type.choices)
        self.fields["choices"] = Text(
            "Values (list type)", help_text="Separated by commas.", placeholder="Gold, Silver"
        )

    def posted(self) -> dict[str, Any]:
        out = super().posted()
        out["choices"] = [v.strip() for v in str(out.get("choices", "")).split(",") if v.strip()]
        return out


__all__ = [
    "ANY_CURRENCY",
    "AdjustmentForm",
    "BusinessModelForm",
    "ClassForm",
    "ClassOption",
    "CurrencyForm",
    "CustomFieldForm",
    "CustomerForm",
    "PageForm",
    "SettingsForm",
    "class_initial",
    "customer_initial",
    "input_amount",
]

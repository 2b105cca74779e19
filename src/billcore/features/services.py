"""Abbreviated dialing (rating-and-tabs.md §3.2) and service features (§3.3): every write,
and what the authorization path asks of them (``resolve_cld``, ``call_limits``).

Writes lock the customer row first (``billcore.locks`` stage 1): the maximum length, the
entries and the accounts' extensions of one customer are checked against each other under
that lock, so two concurrent writers never leave an entry longer than the maximum or equal
to an extension.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from billcore.accounts.access import Actor
from billcore.audit.services import record, snapshot
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.features.declared import BY_NAME, LIMIT_NAMES, NAMES
from billcore.features.models import (
    MAX_SHORT_LENGTH,
    AbbreviatedNumber,
    DialingPlan,
    Direction,
    FeatureSet,
)
from billcore.locks import for_update
from billcore.rating.models import AccountProduct, ProductKind
from billcore.rating.selectors import get_product
from billcore.subscribers import services as subscribers
from billcore.subscribers.models import Account
from billcore.validation import as_choice, as_int, as_str, reject_unknown

ENTRY_FIELDS = ("abbreviated", "number", "account", "description")


def _lock_customer(actor: Actor, customer_id: Any) -> Customer:
    customer = get_customer(actor=actor, customer_id=customer_id)
    locked: Customer = for_update(Customer.objects.filter(pk=customer.pk)).get()
    return locked


# --------------------------------------------------------------------------- abbreviated dialing


@transaction.atomic
def set_max_length(
    *, actor: Actor, now: dt.datetime, customer_id: Any, max_length: Any
) -> DialingPlan:
    """Save the customer's maximum abbreviated number length (1 to 8 digits). Lowering it
    below an existing entry is refused, naming the entries."""
    customer = _lock_customer(actor, customer_id)
    length = as_int("max_length", max_length, minimum=1, maximum=MAX_SHORT_LENGTH)
    longer = list(
        AbbreviatedNumber.objects.filter(customer=customer)
        .order_by("abbreviated")
        .values_list("abbreviated", flat=True)
    )
    longer = [a for a in longer if len(a) > length]
    if longer:
        raise ValidationFailed(
            f"max_length: {len(longer)} abbreviated number(s) are longer than {length} digits "
            f"({', '.join(longer[:10])}{', …' if len(longer) > 10 else ''}); delete them first",
            field="max_length",
            code="entries_too_long",
        )
    plan = DialingPlan.objects.filter(customer=customer).first()
    before = snapshot(plan) if plan is not None else None
    if plan is None:
        plan = DialingPlan(customer=customer, max_length=length, updated_at=now)
    plan.max_length = length
    plan.updated_at = now
    plan.save()
    record(
        actor=actor,
        now=now,
        operation="create" if before is None else "update",
        obj=plan,
        before=before,
        after=snapshot(plan),
    )
    return plan


def _abbreviated(value: Any, plan: DialingPlan) -> str:
    text = as_str("abbreviated", value, max_length=50, required=True)
    if not (text.isascii() and text.isdigit()):
        raise ValidationFailed(
            f"abbreviated must be digits only (got {text[:20]!r})", field="abbreviated"
        )
    if len(text) > plan.max_length:
        raise ValidationFailed(
            f"abbreviated: {text} is longer than the maximum abbreviated length "
            f"({plan.max_length} digits)",
            field="abbreviated",
            code="too_long",
        )
    return text


def _e164(text: str) -> str | None:
    """The digits of an E.164 number (a leading + allowed, spaces and dashes dropped; the
    first digit is not 0), else None."""
    cleaned = "".join(ch for ch in text if ch not in " -")
    digits = cleaned[1:] if cleaned.startswith("+") else cleaned
    if digits.isascii() and digits.isdigit() and 1 <= len(digits) <= 15 and digits[0] != "0":
        return digits
    return None


def _target(customer: Customer, data: Mapping[str, Any]) -> tuple[Account | None, str]:
    """(account, number) of an entry: ``account`` (an id of the customer's) or ``number``
    (one of the customer's account identifiers, or an E.164 number); neither: dial as is."""
    account_id = data.get("account")
    text = as_str("number", data.get("number"), max_length=100)
    if account_id not in (None, ""):
        pk = as_int("account", account_id, minimum=1)
        account = Account.objects.filter(pk=pk, customer=customer).first()
        if account is None:
            raise ValidationFailed(
                f"account: no account {pk} belongs to this customer", field="account"
            )
        if text and text != account.identifier:
            raise ValidationFailed(
                "number: give either an account or a number, not both", field="number"
            )
    elif not text:
        return None, ""
    else:
        account = Account.objects.filter(customer=customer, identifier=text).first()
    if account is not None:
        if _e164(account.identifier) is None:
            raise ValidationFailed(
                f"account: the identifier of account {account.identifier!r} is not a number "
                "that can be dialled",
                field="account" if account_id not in (None, "") else "number",
            )
        return account, account.identifier
    digits = _e164(text)
    if digits is None:
        raise ValidationFailed(
            f"number must be an account of this customer or a number in E.164 form "
            f"(e.g. +442071234567; got {text[:30]!r})",
            field="number",
        )
    return None, digits


def _refuse_clash(customer: Customer, abbreviated: str, entry_id: int | None) -> None:
    extension = (
        Account.objects.filter(customer=customer, extension=abbreviated)
        .values_list("identifier", flat=True)
        .first()
    )
    if extension is not None:
        raise ValidationFailed(
            f"abbreviated: {abbreviated} is the extension of account {extension!r}",
            field="abbreviated",
            code="extension_clash",
        )
    taken = AbbreviatedNumber.objects.filter(customer=customer, abbreviated=abbreviated)
    if entry_id is not None:
        taken = taken.exclude(pk=entry_id)
    if taken.exists():
        raise ValidationFailed(
            f"abbreviated: {abbreviated} is already in the list",
            field="abbreviated",
            code="duplicate",
        )


def _plan(customer: Customer) -> DialingPlan:
    plan = DialingPlan.objects.filter(customer=customer).first()
    if plan is None:
        raise ValidationFailed(
            "max_length: save the maximum abbreviated number length before adding entries",
            field="max_length",
            code="required",
        )
    return plan


def _apply_entry(
    entry: AbbreviatedNumber, customer: Customer, data: Mapping[str, Any], *, new: bool
) -> None:
    plan = _plan(customer)
    if new or "abbreviated" in data:
        entry.abbreviated = _abbreviated(data.get("abbreviated"), plan)
        _refuse_clash(customer, entry.abbreviated, entry.pk)
    if new or "number" in data or "account" in data:
        account, number = _target(customer, data)
        entry.account = account
        entry.number = number
    if new or "description" in data:
        entry.description = as_str(
            "description", data.get("description"), max_length=200, single_line=True
        )


def _save(entry: AbbreviatedNumber) -> None:
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise ValidationFailed(
            f"abbreviated: {entry.abbreviated} is already in the list",
            field="abbreviated",
            code="duplicate",
        ) from None


@transaction.atomic
def add_entry(
    *, actor: Actor, now: dt.datetime, customer_id: Any, data: Mapping[str, Any]
) -> AbbreviatedNumber:
    """Add an abbreviated number: digits, at most the maximum length, unique, not an
    extension; dialled as an account of the customer, an E.164 number, or as is."""
    reject_unknown(dict(data), ENTRY_FIELDS)
    customer = _lock_customer(actor, customer_id)
    entry = AbbreviatedNumber(customer=customer, created_at=now, updated_at=now)
    _apply_entry(entry, customer, data, new=True)
    _save(entry)
    record(actor=actor, now=now, operation="create", obj=entry, before=None, after=snapshot(entry))
    return entry


def _entry(customer: Customer, entry_id: Any) -> AbbreviatedNumber:
    pk = as_int("id", entry_id, minimum=1)
    entry = AbbreviatedNumber.objects.filter(pk=pk, customer=customer).first()
    if entry is None:
        raise NotFound(f"abbreviated number {pk} not found", field="id")
    return entry


@transaction.atomic
def update_entry(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: Any,
    entry_id: Any,
    changes: Mapping[str, Any],
) -> AbbreviatedNumber:
    reject_unknown(dict(changes), ENTRY_FIELDS)
    customer = _lock_customer(actor, customer_id)
    entry = _entry(customer, entry_id)
    before = snapshot(entry)
    _apply_entry(entry, customer, changes, new=False)
    entry.updated_at = now
    _save(entry)
    record(
        actor=actor, now=now, operation="update", obj=entry, before=before, after=snapshot(entry)
    )
    return entry


@transaction.atomic
def delete_entry(*, actor: Actor, now: dt.datetime, customer_id: Any, entry_id: Any) -> None:
    customer = _lock_customer(actor, customer_id)
    entry = _entry(customer, entry_id)
    before = snapshot(entry)
    pk = entry.pk
    entry.delete()
    entry.pk = pk
    record(actor=actor, now=now, operation="delete", obj=entry, before=before, after=None)


# --------------------------------------------------------------------------- extensions


def _refuse_abbreviated(account: Account) -> None:
    if account.extension is None:
        return
    if AbbreviatedNumber.objects.filter(
        customer_id=account.customer_id, abbreviated=account.extension
    ).exists():
        raise ValidationFailed(
            f"extension {account.extension} is an abbreviated number of the customer",
            field="extension",
            code="abbreviated_clash",
        )


@transaction.atomic
def create_account(
    *, actor: Actor, now: dt.datetime, customer_id: Any, data: Mapping[str, Any]
) -> Account:
    """``subscribers.services.create_account``, the extension also checked against the
    customer's abbreviated numbers (under the customer's lock)."""
    customer = _lock_customer(actor, customer_id)
    account = subscribers.create_account(actor=actor, now=now, customer_id=customer.pk, data=data)
    _refuse_abbreviated(account)
    return account


@transaction.atomic
def update_account(
    *, actor: Actor, now: dt.datetime, account_id: Any, changes: Mapping[str, Any]
) -> Account:
    """``subscribers.services.update_account``, likewise for a changed extension."""
    account = subscribers.get_account(actor=actor, account_id=account_id)
    _lock_customer(actor, account.customer_id)
    account = subscribers.update_account(
        actor=actor, now=now, account_id=account.pk, changes=changes
    )
    if "extension" in changes:
        _refuse_abbreviated(account)
    return account


# --------------------------------------------------------------------------- resolution


def resolve_cld(*, customer_id: int, cld: str) -> str | None:
    """What dialling ``cld`` calls for a user of the customer (§3.2): an abbreviated
    number's target (an account's identifier or an E.164 number), an account's identifier
    for its extension, or None (not a short code of the customer, or "dial as is"). A
    number longer than the longest short code is never looked up."""
    digits = cld.strip()
    if not digits or len(digits) > MAX_SHORT_LENGTH or not digits.isdigit():
        return None
    row = (
        AbbreviatedNumber.objects.filter(customer_id=customer_id, abbreviated=digits)
        .values_list("number", flat=True)
        .first()
    )
    if row is not None:
        return row or None
    identifier: str | None = (
        Account.objects.filter(customer_id=customer_id, extension=digits)
        .values_list("identifier", flat=True)
        .first()
    )
    return identifier


def resolve_many(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """``resolve_cld`` for many (customer id, cld) pairs in two queries; only the pairs
    that resolve to another number are in the answer."""
    short = {(c, n.strip()) for c, n in pairs if n and len(n.strip()) <= MAX_SHORT_LENGTH}
    short = {(c, n) for c, n in short if n.isdigit()}
    if not short:
        return {}
    customers = {c for c, _ in short}
    numbers = {n for _, n in short}
    found: dict[tuple[int, str], str] = {}
    for c, n, ext in Account.objects.filter(
        customer_id__in=customers, extension__in=numbers
    ).values_list("customer_id", "extension", "identifier"):
        found[(c, str(n))] = ext
    for c, n, target in AbbreviatedNumber.objects.filter(
        customer_id__in=customers, abbreviated__in=numbers
    ).values_list("customer_id", "abbreviated", "number"):
        # An abbreviated number wins over an extension (they never clash anyway).
        if target:
            found[(c, n)] = target
        else:
            found.pop((c, n), None)
    return {k: v for k, v in found.items() if k in short}


# --------------------------------------------------------------------------- service features


@dataclass(frozen=True)
class Effective:
    """One feature's value in force and where it comes from: ``account``, ``customer``,
    ``addon`` or ``product`` (``source_name`` the product's name), or ``default`` (None)."""

    value: Any
    source: str
    source_name: str = ""


def own_values(features: FeatureSet | None) -> dict[str, Any]:
    return {name: getattr(features, name) if features else None for name in NAMES}


def _apply_features(features: FeatureSet, values: Mapping[str, Any], *, replace: bool) -> None:
    unknown = sorted(set(values) - set(NAMES))
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]} is not a service feature", field=unknown[0], code="unknown"
        )
    for name in NAMES:
        if name in values:
            setattr(features, name, BY_NAME[name].parse(values[name]))
        elif replace:
            setattr(features, name, None)


def _save_features(
    *,
    actor: Actor,
    now: dt.datetime,
    owner: Mapping[str, Any],
    values: Mapping[str, Any],
    replace: bool,
) -> FeatureSet:
    features = FeatureSet.objects.filter(**owner).first()
    before = snapshot(features) if features is not None else None
    if features is None:
        features = FeatureSet(**owner, updated_at=now)
    _apply_features(features, values, replace=replace)
    features.updated_at = now
    features.save()
    record(
        actor=actor,
        now=now,
        operation="create" if before is None else "update",
        obj=features,
        before=before,
        after=snapshot(features),
    )
    return features


@transaction.atomic
def set_customer_features(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: Any,
    values: Mapping[str, Any],
    replace: bool = False,
) -> FeatureSet:
    """The customer's service features (the defaults of its accounts). ``replace``: a
    feature not given inherits again; otherwise only the given ones change (null: inherit)."""
    customer = _lock_customer(actor, customer_id)
    return _save_features(
        actor=actor, now=now, owner={"customer": customer}, values=values, replace=replace
    )


@transaction.atomic
def set_account_features(
    *,
    actor: Actor,
    now: dt.datetime,
    account_id: Any,
    values: Mapping[str, Any],
    replace: bool = False,
) -> FeatureSet:
    """An account's own service features (its override of the customer's)."""
    account = subscribers.get_account(actor=actor, account_id=account_id)
    _lock_customer(actor, account.customer_id)
    return _save_features(
        actor=actor, now=now, owner={"account": account}, values=values, replace=replace
    )


@transaction.atomic
def set_product_features(
    *,
    actor: Actor,
    now: dt.datetime,
    product_id: Any,
    values: Mapping[str, Any],
    replace: bool = False,
) -> FeatureSet:
    """A product's service features: the defaults of the accounts that have it."""
    product = get_product(actor=actor, product_id=product_id)
    return _save_features(
        actor=actor, now=now, owner={"product": product}, values=values, replace=replace
    )


def effective_features(*, customer_id: int, account_id: int | None) -> dict[str, Effective]:
    """The features in force (§3.3): the account's own, else the customer's, else the
    account's add-on products' (higher precedence first), else its main product's; else
    ``default`` (None: no limit, nothing set). Without an account, the customer's own.
    Two queries with an account, one without."""
    products: list[tuple[int, str, str, int]] = []
    if account_id is not None:
        products = [
            (pid, name, kind, precedence)
            for pid, name, kind, precedence, is_main in AccountProduct.objects.filter(
                account_id=account_id
            ).values_list(
                "product_id",
                "product__name",
                "product__kind",
                "product__precedence",
                "is_main",
            )
            if not is_main or kind == ProductKind.MAIN
        ]
    owners = Q(customer_id=customer_id)
    if account_id is not None:
        owners |= Q(account_id=account_id)
    if products:
        owners |= Q(product_id__in=[p[0] for p in products])
    sets = list(FeatureSet.objects.filter(owners))
    chain: list[tuple[FeatureSet, str, str]] = []
    by_account = next((s for s in sets if s.account_id is not None), None)
    by_customer = next((s for s in sets if s.customer_id is not None), None)
    if by_account is not None:
        chain.append((by_account, "account", ""))
    if by_customer is not None:
        chain.append((by_customer, "customer", ""))
    by_product = {s.product_id: s for s in sets if s.product_id is not None}
    addons = sorted((p for p in products if p[2] == ProductKind.ADDON), key=lambda p: (-p[3], p[0]))
    mains = [p for p in products if p[2] == ProductKind.MAIN]
    for pid, name, kind, _ in [*addons, *mains]:
        if pid in by_product:
            chain.append(
                (by_product[pid], "addon" if kind == ProductKind.ADDON else "product", name)
            )
    answer: dict[str, Effective] = {}
    for name in NAMES:
        answer[name] = Effective(None, "default")
        for features, source, source_name in chain:
            value = getattr(features, name)
            if value is not None:
                answer[name] = Effective(value, source, source_name)
                break
    return answer


# --------------------------------------------------------------------------- call limits


@dataclass(frozen=True)
class CallLimits:
    """Simultaneous-call limits (None: none) of one scope (the customer as a whole, or one
    account)."""

    max_calls: int | None = None
    max_incoming_calls: int | None = None
    max_outgoing_calls: int | None = None
    max_forwarded_calls: int | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, name) is not None for name in LIMIT_NAMES)

    def reached(self, counts: Mapping[str, int], direction: str) -> bool:
        """Would one more call in ``direction`` exceed a limit, ``counts`` being the open
        calls by direction?"""
        total = sum(counts.values())
        if self.max_calls is not None and total + 1 > self.max_calls:
            return True
        limit = getattr(self, f"max_{direction}_calls")
        return limit is not None and counts.get(direction, 0) + 1 > limit


def parse_direction(value: Any) -> str:
    if value in (None, ""):
        return Direction.OUTGOING.value
    return as_choice("direction", value, Direction.values)


def call_limits(*, customer_id: int, account_id: int | None) -> tuple[CallLimits, CallLimits]:
    """(the customer's own limits, over all its calls; the account's limits in force, over
    its own calls: account → customer → add-ons → main product). Without an account the
    second is empty. The customer's limits thus cap the customer as a whole and, unless
    overridden, each of its accounts."""
    effective = effective_features(customer_id=customer_id, account_id=account_id)
    if account_id is None:
        return CallLimits(**{n: effective[n].value for n in LIMIT_NAMES}), CallLimits()
    account = CallLimits(**{n: effective[n].value for n in LIMIT_NAMES})
    own: dict[str, Any] = {
        n: effective[n].value if effective[n].source == "customer" else None for n in LIMIT_NAMES
    }
    if any(effective[n].source == "account" for n in LIMIT_NAMES):
        # The account hides the customer's value: read the customer's own.
        row = FeatureSet.objects.filter(customer_id=customer_id).values(*LIMIT_NAMES).first()
        own = dict(row) if row is not None else dict.fromkeys(LIMIT_NAMES)
    return CallLimits(**own), account

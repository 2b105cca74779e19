"""The search box (issue 17 §3): one query over customers (name, company, e-mail, id),
accounts (identifier), invoices (number) and customer classes (name), each through its own
app's selector, so a reseller's user finds only its own. Shared by the page
(``web/views_search``) and ``GET /api/v1/search`` (``api/search``), which may not import
each other; it imports only selectors (and ``reverse`` for the pages' addresses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from billcore.accounts.access import Actor
from billcore.classes.selectors import search_classes
from billcore.customers.selectors import search_customers
from billcore.errors import ValidationFailed
from billcore.invoicing.selectors import search_invoices
from billcore.subscribers.services import search_accounts

LIMIT = 20  # results shown per kind; the total is counted
MIN_LENGTH = 2
MAX_LENGTH = 100


@dataclass
class Hit:
    kind: str
    id: int
    label: str
    detail: str
    url: str


@dataclass
class Group:
    kind: str
    title: str
    total: int
    items: list[Hit]
    show_all: str | None = None


@dataclass
class Results:
    q: str
    groups: list[Group] = field(default_factory=list)
    jump: str | None = None  # the one object an exact id, number or identifier names

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)


def clean_query(value: Any) -> str:
    """``q`` stripped; fewer than 2 characters (or more than 100) is refused, naming ``q``."""
    q = value.replace("\x00", "").strip() if isinstance(value, str) else ""
    if len(q) < MIN_LENGTH:
        raise ValidationFailed(f"q must have at least {MIN_LENGTH} characters", field="q")
    if len(q) > MAX_LENGTH:
        raise ValidationFailed(f"q must have at most {MAX_LENGTH} characters", field="q")
    return q


def search(*, actor: Actor, q: str) -> Results:
    """Every kind's first ``LIMIT`` matches and its total; ``jump`` set when exactly one
    object matches exactly (a customer's id, an invoice number, an account identifier)."""
    out = Results(q=q)
    exact: list[str] = []
    folded = q.casefold()

    customers = search_customers(actor=actor, q=q)
    rows = list(customers[:LIMIT])
    out.groups.append(
        Group(
            "customer",
            "Customers",
            customers.count(),
            [
                Hit(
                    "customer",
                    c.pk,
                    c.name,
                    " · ".join(x for x in (c.company_name, c.email) if x),
                    reverse("customer-edit", args=[c.pk]),
                )
                for c in rows
            ],
            reverse("customer-list") + "?" + _qs(q=q),
        )
    )
    if q.isdigit():
        exact += [h.url for h in out.groups[-1].items if h.id == int(q)]

    accounts = search_accounts(actor=actor, q=q)
    hits = [
        Hit(
            "account",
            a.pk,
            a.identifier,
            a.customer.name,
            reverse("customer-accounts", args=[a.customer_id]),
        )
        for a in accounts[:LIMIT]
    ]
    out.groups.append(Group("account", "Accounts", accounts.count(), hits))
    exact += [h.url for h in hits if h.label.casefold() == folded]

    invoices = search_invoices(actor=actor, q=q)
    hits = [
        Hit(
            "invoice",
            i.pk,
            i.number,
            f"{i.customer.name} · {i.get_status_display()}",
            reverse("invoice-detail", args=[i.pk]),
        )
        for i in invoices[:LIMIT]
    ]
    out.groups.append(
        Group(
            "invoice",
            "Invoices",
            invoices.count(),
            hits,
            reverse("invoice-list") + "?" + _qs(number=q),
        )
    )
    exact += [h.url for h in hits if h.label.casefold() == folded]

    classes = search_classes(actor=actor, q=q)
    hits = [
        Hit("class", c.pk, c.name, c.description, reverse("class-edit", args=[c.pk]))
        for c in classes[:LIMIT]
    ]
    out.groups.append(
        Group(
            "class",
            "Customer classes",
            classes.count(),
            hits,
            reverse("class-list") + "?" + _qs(q=q),
        )
    )
    if len(exact) == 1:
        out.jump = exact[0]
    return out


def _qs(**params: str) -> str:
    return urlencode(params)

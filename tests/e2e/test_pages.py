"""The server-rendered admin pages (``billcore.web``), through Django's test client.

Each page: anonymous → /login/; administrator → 200; a reseller's user on another reseller's
object → 404 with nothing changed; administrator-only pages → 404 for resellers. Forms show
the service's error beside the input it names and save nothing. Values are asserted exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from billcore.audit.models import AuditEntry
from billcore.classes.models import CustomerClass
from billcore.classes.services import SIMPLE_FIELDS, create_class, update_class
from billcore.customers.models import Customer, Status
from billcore.installation.models import BusinessModel, Currency, CustomField
from billcore.installation.services import create_custom_field, get_settings, update_settings
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.web import forms as web_forms

pytestmark = pytest.mark.django_db

VOID = {"input", "br", "hr", "img", "meta", "link", "area", "base", "col", "source", "wbr"}


# --------------------------------------------------------------------------- HTML helpers


class _Block(HTMLParser):
    def __init__(self, html: str, element_id: str) -> None:
        super().__init__(convert_charrefs=False)
        self.html = html
        self.element_id = element_id
        self.line_starts = [0]
        for m in re.finditer("\n", html):
            self.line_starts.append(m.end())
        self.depth = 0
        self.start: int | None = None
        self.end: int | None = None

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.end is not None:
            return
        if self.depth:
            if tag not in VOID:
                self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.start = self._offset()
            if tag in VOID:
                self.end = self.html.index(">", self.start) + 1
            else:
                self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and self.end is None:
            self.depth -= 1
            if self.depth == 0:
                self.end = self.html.index(">", self._offset()) + 1


def block(html: str | bytes, element_id: str) -> str:
    """The raw HTML of the element with ``id=element_id``."""
    text = html.decode() if isinstance(html, bytes) else html
    parser = _Block(text, element_id)
    parser.feed(text)
    assert parser.start is not None and parser.end is not None, f"no element #{element_id}"
    return text[parser.start : parser.end]


class _Submitted(HTMLParser):
    """What a browser without JavaScript would submit for a form (no submit button)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.in_template = 0
        self.select: str | None = None
        self.select_disabled = False
        self.options: list[tuple[str, bool]] = []
        self.option_value: str | None = None
        self.option_selected = False
        self.option_text = ""
        self.textarea: str | None = None
        self.textarea_text = ""

    def add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "template":
            self.in_template += 1
        if self.in_template:
            return
        if tag == "input" and "name" in a and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.add(a["name"], a.get("value", "on"))
            elif kind not in ("submit", "button", "reset"):
                self.add(a["name"], a.get("value", ""))
        elif tag == "select":
            self.select = a.get("name")
            self.select_disabled = "disabled" in a
            self.options = []
        elif tag == "option" and self.select is not None:
            self.option_value = a.get("value")
            self.option_selected = "selected" in a
            self.option_text = ""
        elif tag == "textarea" and "disabled" not in a:
            self.textarea = a.get("name")
            self.textarea_text = ""

    def handle_data(self, data: str) -> None:
        if self.option_value is None and self.select is not None:
            self.option_text += data
        if self.textarea is not None:
            self.textarea_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.in_template -= 1
        if self.in_template:
            return
        if tag == "option" and self.select is not None:
            value = self.option_value if self.option_value is not None else self.option_text
            self.options.append((value, self.option_selected))
            self.option_value = None
        elif tag == "select" and self.select is not None:
            if not self.select_disabled and self.options:
                chosen = [v for v, s in self.options if s] or [self.options[0][0]]
                self.add(self.select, chosen[-1])
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            text = self.textarea_text[1:] if self.textarea_text.startswith("\n") else ""
            self.add(self.textarea, text or self.textarea_text.lstrip("\n"))
            self.textarea = None


def submitted(html: str | bytes, form_id: str) -> dict[str, list[str]]:
    parser = _Submitted()
    parser.feed(block(html, form_id))
    return parser.values


def field_error(name: str, message: str) -> str:
    return f'<p class="field-error" id="id_{name}-error">{escape(message)}</p>'


def assert_error_beside(response: Any, name: str, message: str) -> None:
    """The error is rendered inside the wrapper of input ``name``."""
    assert field_error(name, message) in block(response.content, f"field-{name}")


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def option_attrs(html: str | bytes, select_name: str) -> dict[str, dict[str, str]]:
    """``value → attributes`` of the options of select ``select_name``."""
    text = block(html, f"id_{select_name}")
    out = {}
    for m in re.finditer(r"<option([^>]*)>", text):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
        out[unescape(attrs.get("value", ""))] = attrs
    return out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def ucust(world: dict[str, Any], now: Any) -> dict[str, Customer]:
    """One customer of each reseller (created by the reseller's own user)."""
    a = create_customer(
        actor=world["ua"],
        now=now,
        data={
            "name": "A Sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    b = create_customer(
        actor=world["ub"],
        now=now,
        data={
            "name": "B Sub",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "40",
            "customer_class": world["classes"]["b"].pk,
        },
    )
    return {"a": a, "b": b}


@pytest.fixture
def tax_id(admin: Any, now: Any) -> CustomField:
    return create_custom_field(actor=admin, now=now, name="tax_id", label="Tax ID")


def class_post(**fields: Any) -> dict[str, Any]:
    """A minimal add-form post: the name plus the given fields."""
    return {"name": "Gold", **fields}


def customer_post(**fields: Any) -> dict[str, Any]:
    data = {
        "name": "Carol",
        "customer_type": "retail",
        "reseller": "",
        "blocked": "false",
        "balance_control": "postpaid",
        "currency": "USD",
        "credit_limit": "",
        "customer_class": str(CustomerClass.objects.get(is_default=True).pk),
        "billing_period": "4",
        "time_zone": "UTC",
    }
    data.update(fields)
    return data


# --------------------------------------------------------------------------- access


def _pages(world: dict[str, Any]) -> list[str]:
    return [
        "/customers/",
        "/customers/add/",
        f"/customers/{world['ra'].pk}/",
        "/classes/",
        "/classes/add/",
        f"/classes/{world['classes']['usd'].pk}/",
        f"/classes/add/?copy_from={world['classes']['usd'].pk}",
        "/business-models/",
        "/business-models/add/",
        f"/business-models/{BusinessModel.objects.order_by('pk').first().pk}/",  # type: ignore[union-attr]
        "/settings/",
        "/audit/",
    ]


def test_anonymous_is_sent_to_login_from_every_page(client: Any, world: dict[str, Any]) -> None:
    """Every page is behind the sign-in."""
    for url in _pages(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_anonymous_post_changes_nothing(client: Any, world: dict[str, Any]) -> None:
    """DESIGN rule 5: an anonymous POST is sent to the sign-in and saves nothing."""
    cls = world["classes"]["usd"]
    response = client.post(f"/classes/{cls.pk}/", {"name": "Hacked"})
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/classes/{cls.pk}/"
    assert CustomerClass.objects.get(pk=cls.pk).name == "Retail USD"


def test_administrator_gets_every_page(client: Any, world: dict[str, Any]) -> None:
    """Every page answers an administrator (CC-01, CC-03, CC-05, CU-01, CU-13)."""
    client.force_login(world["admin"])
    for url in _pages(world):
        assert client.get(url).status_code == 200, url


def test_home_is_the_dashboard(client: Any, admin: Any) -> None:
    """The home page is the dashboard (issue 17 §2; tests/e2e/test_dashboard_pages.py)."""
    client.force_login(admin)
    response = client.get("/")
    assert response.status_code == 200
    assert "<h1>Dashboard</h1>" in response.content.decode()


def test_login_page_signs_in_and_sign_out_is_a_post(client: Any, admin: Any) -> None:
    """Sign-in with our own template; sign-out only by POST."""
    page = client.get("/login/")
    assert page.status_code == 200
    assert '<input type="text" name="username" id="id_username"' in page.content.decode()
    bad = client.post("/login/", {"username": "admin", "password": "wrong"})
    assert bad.status_code == 200
    assert "Please enter a correct" in bad.content.decode()
    good = client.post("/login/", {"username": "admin", "password": "admin-pass-1234"})
    assert good.status_code == 302
    # No seller details yet: an administrator is asked for them (issue 17 §6,
    # tests/e2e/test_sign_in_seller.py).
    assert good["Location"] == "/settings/#seller"
    assert client.get("/customers/").status_code == 200
    assert client.get("/logout/").status_code == 405
    out = client.post("/logout/")
    assert out.status_code == 302
    assert out["Location"] == "/login/"
    assert client.get("/customers/").status_code == 302


def test_layout_shows_navigation_user_and_sign_out(client: Any, world: dict[str, Any]) -> None:
    """The layout: administrators see Business models, Settings and Audit log (CC-05, CC-07)."""
    client.force_login(world["admin"])
    html = client.get("/customers/").content.decode()
    for label in ("Customers", "Classes", "Business models", "Settings", "Audit log"):
        assert f">{label}</a>" in html
    assert "Sign out</button>" in html
    assert '<a class="brand" href="/">' in html
    client.force_login(world["ua"])
    html = client.get("/customers/").content.decode()
    assert ">Customers</a>" in html and ">Classes</a>" in html
    for label in ("Business models", "Settings", "Audit log"):
        assert f">{label}</a>" not in html
    assert '<span class="user-login">ua</span> <span class="user-role">reseller</span>' in html


@pytest.mark.parametrize(
    "url", ["/business-models/", "/business-models/add/", "/settings/", "/audit/"]
)
def test_reseller_gets_404_on_administrator_pages(
    client: Any, world: dict[str, Any], url: str
) -> None:
    """CC-05, CC-07: administrator-only pages do not exist for a reseller's user."""
    client.force_login(world["ua"])
    assert client.get(url).status_code == 404


def test_reseller_posts_to_administrator_pages_change_nothing(
    client: Any, world: dict[str, Any]
) -> None:
    """CC-05, CC-07: a reseller's POST to administrator pages is a 404 and changes nothing."""
    client.force_login(world["ua"])
    bm = BusinessModel.objects.order_by("pk").first()
    assert bm is not None
    assert client.post("/settings/", {"legal_name": "Evil"}).status_code == 404
    assert get_settings().legal_name == ""
    assert client.post("/settings/currencies/add/", {"code": "CZK"}).status_code == 404
    assert not Currency.objects.filter(code="CZK").exists()
    assert client.post("/settings/currencies/EUR/remove/").status_code == 404
    assert Currency.objects.filter(code="EUR").exists()
    assert client.post(f"/business-models/{bm.pk}/", {"name": "Evil"}).status_code == 404
    assert client.post(f"/business-models/{bm.pk}/delete/", {"confirmed": "1"}).status_code == 404
    assert BusinessModel.objects.get(pk=bm.pk).name == bm.name


def test_reseller_cannot_see_or_change_another_resellers_class(
    client: Any, world: dict[str, Any]
) -> None:
    """CC-07: reseller A's user gets 404 on reseller B's class, and a POST changes nothing."""
    b = world["classes"]["b"]
    before = CustomerClass.objects.filter(pk=b.pk).values().get()
    client.force_login(world["ua"])
    assert client.get(f"/classes/{b.pk}/").status_code == 404
    assert client.get(f"/classes/add/?copy_from={b.pk}").status_code == 404
    response = client.post(f"/classes/{b.pk}/", {"name": "Taken over", "description": "x"})
    assert response.status_code == 404
    assert client.post(f"/classes/{b.pk}/delete/", {"confirmed": "1"}).status_code == 404
    assert CustomerClass.objects.filter(pk=b.pk).values().get() == before
    # The reseller's own class is fine.
    assert client.get(f"/classes/{world['classes']['a'].pk}/").status_code == 200


def test_reseller_cannot_see_or_change_another_resellers_customer(
    client: Any, world: dict[str, Any], ucust: dict[str, Customer]
) -> None:
    """CC-07, CU-12: no view, no edit, no balance adjustment, no delete."""
    b = ucust["b"]
    before = Customer.objects.filter(pk=b.pk).values().get()
    client.force_login(world["ua"])
    assert client.get(f"/customers/{b.pk}/").status_code == 404
    response = client.post(f"/customers/{b.pk}/", {"name": "Mine now", "note": "x"})
    assert response.status_code == 404
    adjust = client.post(
        f"/customers/{b.pk}/adjust/",
        {"action": "manual_charge", "amount": "10", "idempotency_key": "k1"},
    )
    assert adjust.status_code == 404
    assert client.post(f"/customers/{b.pk}/delete/", {"confirmed": "1"}).status_code == 404
    assert Customer.objects.filter(pk=b.pk).values().get() == before
    assert Transaction.objects.filter(customer=b).count() == 1  # the opening balance only
    assert client.get(f"/customers/{ucust['a'].pk}/").status_code == 200


def test_reseller_lists_show_only_its_own(
    client: Any, world: dict[str, Any], ucust: dict[str, Customer]
) -> None:
    """CC-07: lists are scoped by the selectors to the reseller's own rows."""
    client.force_login(world["ua"])
    classes = block(client.get("/classes/").content, "class-table")
    assert ">A Retail</a>" in classes
    assert "B Retail" not in classes and "Retail USD" not in classes
    customers = block(client.get("/customers/").content, "customer-table")
    assert ">A Sub</a>" in customers
    assert "B Sub" not in customers and "Reseller A" not in customers


@pytest.mark.parametrize(
    "url",
    [
        "/classes/999999/",
        "/classes/99999999999999999999999/",
        "/classes/add/?copy_from=abc",
        "/classes/add/?copy_from=99999999999999999999999",
        "/customers/999999/",
        "/customers/99999999999999999999999/",
        "/business-models/99999999999999999999999/",
    ],
)
def test_missing_objects_are_404_pages(client: Any, admin: Any, url: str) -> None:
    """DESIGN rule 5: unknown or out-of-range ids are a 404 page, never a 500."""
    client.force_login(admin)
    response = client.get(url)
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/customers/?page=abc",
        "/customers/?page=99999999999999999999",
        "/customers/?class=abc&currency=%00&balance_control=x&status=zz&order=;drop",
        "/customers/?reseller=-1&customer_type=x&order=-nothing",
        "/classes/?order=__bad&page=-3&q=%25",
        "/audit/?type=nothing&page=x",
        "/customers/1/?tx_page=zz",
    ],
)
def test_bad_query_strings_are_not_errors(client: Any, world: dict[str, Any], url: str) -> None:
    """DESIGN rule 5: malformed filters, orders and page numbers are never a 500."""
    client.force_login(world["admin"])
    assert client.get(url).status_code in (200, 404)


# --------------------------------------------------------------------------- classes


def test_class_list_columns_and_values(client: Any, world: dict[str, Any], now: Any) -> None:
    """CC-01: Name, Currency, Archive xDRs, Invoices, Taxation, Description (+ Managed by)."""
    update_class(
        actor=world["admin"],
        now=now,
        class_id=world["classes"]["usd"].pk,
        changes={"description": "Retail in dollars", "generate_statistics": False},
    )
    client.force_login(world["admin"])
    table = block(client.get("/classes/").content, "class-table")
    headers = re.findall(r"<th(?:\s[^>]*)?>(?:<a[^>]*>)?([^<]+)", table)
    assert headers == [
        "Name",
        "Currency",
        "Archive xDRs",
        "Invoices",
        "Taxation",
        "Description",
        "Managed by",
    ]
    cls = world["classes"]["usd"]
    row = (
        f'<td><a class="row-link" href="/classes/{cls.pk}/">Retail USD</a></td>\n'
        '        <td><span class="mono">USD</span></td>\n'
        '        <td><span class="badge badge-off">Off</span></td>\n'
        '        <td><span class="badge badge-off">Off</span></td>\n'
        "        <td>No taxation</td>\n"
        '        <td class="cell-description">Retail in dollars</td>\n'
        '        <td><span class="muted">Administrator</span></td>'
    )
    assert row in table
    b_row = '<td class="cell-description"></td>\n        <td>Reseller B</td>'
    assert b_row in table
    assert '<td><span class="muted">Any</span></td>' in table


def test_class_list_sorts_by_header_and_searches(
    client: Any, world: dict[str, Any], now: Any
) -> None:
    """CC-01: sortable by clicking a header, searchable."""
    client.force_login(world["admin"])

    def names(url: str) -> list[str]:
        table = block(client.get(url).content, "class-table")
        return re.findall(r'class="row-link" href="/classes/\d+/">([^<]+)<', table)

    everything = ["A Retail", "B Retail", "Default", "Retail USD"]
    assert names("/classes/") == everything
    assert names("/classes/?order=-name") == everything[::-1]
    for name, text in (("A Retail", "b"), ("B Retail", "c"), ("Retail USD", "a")):
        cls = CustomerClass.objects.get(name=name)
        update_class(actor=world["admin"], now=now, class_id=cls.pk, changes={"description": text})
    assert names("/classes/?order=description")[1:] == ["Retail USD", "A Retail", "B Retail"]
    assert names("/classes/?q=retail") == ["A Retail", "B Retail", "Retail USD"]
    assert names("/classes/?q=RETAIL USD") == ["Retail USD"]
    assert names("/classes/?order=nonsense") == everything
    # Header links: ascending now, so a click on Name sorts descending.
    html = client.get("/classes/?order=name&q=x").content.decode()
    assert '<th aria-sort="ascending" class="sortable"><a href="?order=-name&amp;q=x">' in html
    assert '<th aria-sort="none" class="sortable"><a href="?order=currency&amp;q=x">' in html


def test_class_list_paginates_by_50(client: Any, admin: Any, now: Any) -> None:
    """CC-01: 50 classes a page."""
    CustomerClass.objects.bulk_create(
        CustomerClass(name=f"C{i:03d}", created_at=now, updated_at=now) for i in range(60)
    )
    client.force_login(admin)
    first = block(client.get("/classes/").content, "class-table")
    second = block(client.get("/classes/?page=2").content, "class-table")
    assert first.count('class="row-link"') == 50
    assert second.count('class="row-link"') == 11  # 60 + Default
    html = client.get("/classes/?page=2").content.decode()
    assert '<span class="pagination-info">51\u201361 of 61</span>' in html


def test_add_class_save_goes_back_to_the_list(client: Any, admin: Any) -> None:
    """CC-03 "Save"."""
    client.force_login(admin)
    response = client.post("/classes/add/", class_post(_save="1"))
    assert response.status_code == 302
    assert response["Location"] == "/classes/"
    assert CustomerClass.objects.filter(name="Gold").count() == 1
    page = client.get("/classes/")
    assert messages_of(page) == ["Customer class “Gold” saved."]
    assert '<div class="alert alert-success" role="status">Customer class “Gold” saved.</div>' in (
        page.content.decode()
    )


def test_add_class_save_and_edit_details_opens_the_saved_class(client: Any, admin: Any) -> None:
    """CC-03 "Save & Edit details": the saved class's page with all tabs."""
    client.force_login(admin)
    response = client.post("/classes/add/", class_post(_continue="1"))
    cls = CustomerClass.objects.get(name="Gold")
    assert response.status_code == 302
    assert response["Location"] == f"/classes/{cls.pk}/"
    html = client.get(response["Location"]).content.decode()
    tabs = re.findall(r'<button type="button" role="tab"[^>]*>([^<]+)</button>', html)
    assert tabs == [
        "General Info",
        "Regular Invoices",
        "Out-of-Turn Invoices",
        "Notifications",
        "Custom Fields",
        "Taxation",
        "Measured Service",
    ]


def test_add_class_save_and_add_a_copy_prefills_a_new_form(
    client: Any, admin: Any, tax_id: CustomField
) -> None:
    """CC-03 "Save & Add a copy": saved, then a new form pre-filled from it, name empty."""
    bm = BusinessModel.objects.get(name="Internet access")
    client.force_login(admin)
    post = {
        "name": "Gold",
        "business_model": str(bm.pk),
        "currency": "EUR",
        "description": "Gold tier",
        "taxation_method": "fixed_vat",
        "vat_rate": "19.5",
        "vat_inclusive": ["false", "on"],
        "generate_statistics": ["false", "on"],
        "send_statistics": "summary",
        "generate_regular_invoices": "false",
        "period_close": "approval",
        "approval_max_days": "7",
        "fraud_daily_limit": "250.5",
        "notifications": ["", "invoice_issued", "suspended"],
        "mandatory_custom_fields": ["", "tax_id"],
        "grace_period_days": "21",
        "_addanother": "1",
    }
    response = client.post("/classes/add/", post)
    gold = CustomerClass.objects.get(name="Gold")
    assert response.status_code == 302
    assert response["Location"] == f"/classes/add/?copy_from={gold.pk}"
    page = client.get(response["Location"])
    assert messages_of(page) == ["Customer class “Gold” saved."]
    values = submitted(page.content, "class-form")
    expected = {
        "name": [""],
        "managed_by": [""],
        "business_model": [str(bm.pk)],
        "currency": ["EUR"],
        "description": ["Gold tier"],
        "taxation_method": ["fixed_vat"],
        "vat_rate": ["19.5"],
        "vat_inclusive": ["false", "on"],
        "generate_statistics": ["false", "on"],
        "send_statistics": ["summary"],
        "generate_regular_invoices": ["false"],
        "period_close": ["approval"],
        "approval_max_days": ["7"],
        "fraud_daily_limit": ["250.5"],
        "notifications": ["", "invoice_issued", "suspended"],
        "mandatory_custom_fields": ["", "tax_id"],
        "grace_period_days": ["21"],
        "termination_delay_days": ["30"],
    }
    assert {k: values[k] for k in expected} == expected
    # Posting the copy form back with a name makes an identical class.
    values["name"] = ["Gold 2"]
    values["_save"] = ["1"]
    assert client.post("/classes/add/", values).status_code == 302
    copy = CustomerClass.objects.get(name="Gold 2")
    for field in SIMPLE_FIELDS:
        assert getattr(copy, field) == getattr(gold, field), field
    assert copy.currency_id == "EUR"
    assert copy.business_model_id == bm.pk
    assert list(copy.mandatory_custom_fields.values_list("name", flat=True)) == ["tax_id"]


def test_add_form_shows_the_model_defaults(client: Any, admin: Any) -> None:
    """CC-03, CC-06, CC-07, CC-11, CC-20: a new class starts from the defaults."""
    client.force_login(admin)
    values = submitted(client.get("/classes/add/").content, "class-form")
    assert values["name"] == [""]
    assert values["currency"] == [""]
    assert values["generate_statistics"] == ["false", "on"]
    assert values["generate_regular_invoices"] == ["false", "on"]
    assert values["termination_delay_days"] == ["30"]
    assert values["grace_period_days"] == ["10"]
    assert values["taxation_method"] == ["none"]
    html = client.get("/classes/add/").content.decode()
    assert '<option value="" selected>— any currency —</option>' in html
    assert '<option value="" selected>Administrator only</option>' in html


def test_edit_class_shows_currency_read_only_and_never_posts_it(
    client: Any, world: dict[str, Any]
) -> None:
    """CC-06: the currency is shown, not editable; a posted currency is ignored."""
    cls = world["classes"]["usd"]
    client.force_login(world["admin"])
    html = client.get(f"/classes/{cls.pk}/").content.decode()
    currency = block(html, "class-form")
    assert '<select name="currency"' not in currency
    assert '<input type="hidden" name="currency" value="USD" disabled data-readonly>' in currency
    assert '<span class="readonly-value"><span class="mono">USD</span> US Dollar</span>' in currency
    values = submitted(html, "class-form")
    assert "currency" not in values
    values.update({"currency": ["EUR"], "description": ["Now described"], "_continue": ["1"]})
    response = client.post(f"/classes/{cls.pk}/", values)
    assert response.status_code == 302
    assert response["Location"] == f"/classes/{cls.pk}/"
    cls.refresh_from_db()
    assert (cls.currency_id, cls.description) == ("USD", "Now described")


def test_edit_class_save_and_close(client: Any, world: dict[str, Any]) -> None:
    """CC-18, CC-22: one form, one save; Save & Close goes back to the list."""
    cls = world["classes"]["usd"]
    client.force_login(world["admin"])
    values = submitted(client.get(f"/classes/{cls.pk}/").content, "class-form")
    values.update(
        {"period_close": ["approval"], "approval_max_days": ["12"], "_save": ["1"]},
    )
    response = client.post(f"/classes/{cls.pk}/", values, follow=True)
    assert response.redirect_chain == [("/classes/", 302)]
    assert messages_of(response) == ["Customer class “Retail USD” saved."]
    cls.refresh_from_db()
    assert (cls.period_close, cls.approval_max_days) == ("approval", 12)


def test_dependent_fields_carry_show_if_rules(client: Any, admin: Any) -> None:
    """The rules of classes.services drive what billcore.js hides and disables."""
    client.force_login(admin)
    html = client.get("/classes/add/").content.decode()
    expected = {
        "send_statistics": "generate_statistics",
        "generate_regular_invoices": "generate_statistics",
        "separate_recurring_fee_invoice": "auto_charge_invoices",
        "fraud_daily_limit": "currency",
        "fraud_action": "currency",
        "approval_max_days": "period_close=approval",
        "vat_rate": "taxation_method=fixed_vat",
        "vat_inclusive": "taxation_method=fixed_vat",
        "taxes": "taxation_method=custom",
        "invoice_rounding_pattern": "invoice_rounding=custom",
        "notification_from_name": "notification_from_override",
        "notification_from_address": "notification_from_override",
    }
    for name, condition in expected.items():
        start = re.search(rf'<div [^>]*id="field-{name}"[^>]*>', html)
        assert start is not None, name
        assert f'data-show-if="{condition}"' in start.group(0), name


def test_installation_options_decide_which_class_fields_exist(
    client: Any, admin: Any, now: Any
) -> None:
    """CC-12, CC-16: not rendered at all unless the installation option is on."""
    client.force_login(admin)
    html = client.get("/classes/add/").content.decode()
    for name in (
        "postpaid_billed_externally",
        "reset_balance_every_period",
        "hide_balance_reset_xdr",
        "generate_financial_documentation",
    ):
        assert f'name="{name}"' not in html
    update_settings(
        actor=admin,
        now=now,
        changes={"allow_external_billing": True, "show_financial_documents_page": True},
    )
    html = client.get("/classes/add/").content.decode()
    for name in (
        "postpaid_billed_externally",
        "reset_balance_every_period",
        "hide_balance_reset_xdr",
        "generate_financial_documentation",
    ):
        assert f'name="{name}"' in html
    assert 'data-show-if="reset_balance_every_period"' in block(
        html, "field-hide_balance_reset_xdr"
    )


def test_a_field_not_posted_is_reset_and_a_posted_unavailable_one_is_an_error(
    client: Any, world: dict[str, Any], now: Any
) -> None:
    """CC-11: send statistics exists only while statistics are on."""
    cls = world["classes"]["usd"]
    update_class(
        actor=world["admin"],
        now=now,
        class_id=cls.pk,
        changes={"send_statistics": "full"},
    )
    client.force_login(world["admin"])
    bad = client.post(
        f"/classes/{cls.pk}/",
        {"name": "Retail USD", "generate_statistics": "false", "send_statistics": "summary"},
    )
    assert bad.status_code == 400
    assert_error_beside(
        bad,
        "send_statistics",
        "Send statistics via e-mail is available only while statistics generation is on",
    )
    cls.refresh_from_db()
    assert (cls.generate_statistics, cls.send_statistics) == (True, "full")
    # With the field hidden and disabled (not posted) the service resets it.
    good = client.post(
        f"/classes/{cls.pk}/", {"name": "Retail USD", "generate_statistics": "false"}
    )
    assert good.status_code == 302
    cls.refresh_from_db()
    assert (cls.generate_statistics, cls.send_statistics) == (False, "none")


def test_named_taxes_are_posted_as_rows(client: Any, admin: Any) -> None:
    """CC-10, CC-22: custom taxation with several named taxes."""
    client.force_login(admin)
    response = client.post(
        "/classes/add/",
        {
            "name": "Taxed",
            "taxation_method": "custom",
            "taxes": "",
            "taxes-0-name": "State tax",
            "taxes-0-rate": "6.25",
            "taxes-1-name": "",
            "taxes-1-rate": "",
            "taxes-7-name": "911 fee",
            "taxes-7-rate": "1.5",
            "_continue": "1",
        },
    )
    assert response.status_code == 302
    cls = CustomerClass.objects.get(name="Taxed")
    assert cls.taxes == [
        {"name": "State tax", "rate": "6.25000"},
        {"name": "911 fee", "rate": "1.50000"},
    ]
    html = client.get(f"/classes/{cls.pk}/").content.decode()
    values = submitted(html, "class-form")
    assert values["taxes-0-name"] == ["State tax"]
    assert values["taxes-0-rate"] == ["6.25"]
    assert values["taxes-1-name"] == ["911 fee"]
    assert values["taxes-1-rate"] == ["1.5"]
    bad = client.post(
        f"/classes/{cls.pk}/",
        {"name": "Taxed", "taxes": "", "taxes-0-name": "X", "taxes-0-rate": "101"},
    )
    assert bad.status_code == 400
    assert_error_beside(bad, "taxes", "taxes[0].rate must be a percentage between 0 and 100")
    cls.refresh_from_db()
    assert len(cls.taxes) == 2


def test_duplicate_class_name_in_other_letter_case(client: Any, world: dict[str, Any]) -> None:
    """CC-04: the error is shown beside Name and nothing is saved."""
    client.force_login(world["admin"])
    before = CustomerClass.objects.count()
    response = client.post("/classes/add/", class_post(name="retail usd", _save="1"))
    assert response.status_code == 400
    assert_error_beside(
        response,
        "name",
        "A customer class named 'retail usd' already exists (names are unique regardless of "
        "letter case)",
    )
    assert CustomerClass.objects.count() == before
    # The form keeps what was typed.
    assert submitted(response.content, "class-form")["name"] == ["retail usd"]


def test_invalid_rounding_pattern(client: Any, admin: Any) -> None:
    """CC-17: the pattern error is shown beside the pattern, nothing is saved."""
    client.force_login(admin)
    before = CustomerClass.objects.count()
    response = client.post(
        "/classes/add/",
        class_post(invoice_rounding="custom", invoice_rounding_pattern="XX.X9", _save="1"),
    )
    assert response.status_code == 400
    assert_error_beside(
        response,
        "invoice_rounding_pattern",
        "Invalid rounding pattern 'XX.X9': integer part must be exactly 5 characters, got 2",
    )
    assert CustomerClass.objects.count() == before
    html = response.content.decode()
    assert 'aria-invalid="true" aria-describedby="id_invoice_rounding_pattern-error"' in html
    assert "Please correct the error below; nothing was saved." in html


def test_delete_class(client: Any, world: dict[str, Any], now: Any) -> None:
    """CC-02: Default and classes in use cannot be deleted; the message says why."""
    client.force_login(world["admin"])
    default = CustomerClass.objects.get(is_default=True)
    response = client.post(f"/classes/{default.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert response.redirect_chain == [(f"/classes/{default.pk}/", 302)]
    assert messages_of(response) == ["The Default customer class cannot be deleted"]
    used = world["classes"]["usd"]
    response = client.post(f"/classes/{used.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert messages_of(response) == [
        "Customer class 'Retail USD' is used by 2 customers and cannot be deleted; move them "
        "to another class first"
    ]
    assert CustomerClass.objects.filter(pk__in=[default.pk, used.pk]).count() == 2
    spare = create_class(actor=world["admin"], now=now, data={"name": "Spare"})
    response = client.post(f"/classes/{spare.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert response.redirect_chain == [("/classes/", 302)]
    assert messages_of(response) == ["Customer class “Spare” deleted."]
    assert not CustomerClass.objects.filter(pk=spare.pk).exists()
    assert client.get(f"/classes/{spare.pk}/delete/").status_code == 405


def test_reseller_class_form_has_no_managed_by_and_saves_for_the_reseller(
    client: Any, world: dict[str, Any]
) -> None:
    """CC-07: a reseller's user manages only its own classes."""
    client.force_login(world["ua"])
    html = client.get("/classes/add/").content.decode()
    assert 'name="managed_by"' not in html
    response = client.post("/classes/add/", class_post(name="A Gold", _save="1"))
    assert response.status_code == 302
    assert CustomerClass.objects.get(name="A Gold").managed_by_id == world["ra"].pk


def test_class_form_covers_every_service_field() -> None:
    """Every settable field of classes.services has an input, a label and a tab."""
    placed = set(web_forms.CLASS_TOP)
    for _slug, _title, sections in web_forms.CLASS_TABS:
        for _section, names in sections:
            placed.update(names)
    assert set(SIMPLE_FIELDS) <= placed
    assert set(SIMPLE_FIELDS) <= set(web_forms.CLASS_LABELS)


# --------------------------------------------------------------------------- customers


def _customer(admin: Any, now: Any, **data: Any) -> Customer:
    base = {
        "currency": "USD",
        "balance_control": "postpaid",
        "customer_class": CustomerClass.objects.get(is_default=True).pk,
    }
    return create_customer(actor=admin, now=now, data={**base, **data})


def test_customer_list_columns_and_exact_money(client: Any, admin: Any, now: Any) -> None:
    """CU-05, CU-08: postpaid balance; prepaid available funds shown positive and labelled;
    money with the currency's decimals unless that would drop a digit."""
    Currency.objects.create(code="BHD", name="Bahraini Dinar", decimals=3)
    prepaid = _customer(admin, now, name="Pre", balance_control="prepaid", available_funds="100")
    post = _customer(admin, now, name="Post", credit_limit="50")
    record_transaction(
        actor=admin, now=now, customer_id=post.pk, action="Manual charge", amount="12.34567"
    )
    dinar = _customer(
        admin,
        now,
        name="Dinar",
        currency="BHD",
        balance_control="prepaid",
        available_funds="1234.5",
    )
    blocked = _customer(admin, now, name="Stopped", blocked=True)
    client.force_login(admin)
    table = block(client.get("/customers/").content, "customer-table")
    headers = re.findall(r"<th(?:\s[^>]*)?>(?:<a[^>]*>)?([^<]+)", table)
    assert headers == [
        "Name",
        "Class",
        "Currency",
        "Balance control",
        "Balance / available funds",
        "Status",
    ]

    def row(customer: Customer) -> str:
        start = table.index(f'href="/customers/{customer.pk}/"')
        return table[start : table.index("</tr>", start)]

    assert '<td class="num">100.00 <span class="money-label">available funds</span></td>' in row(
        prepaid
    )
    assert '<td class="num">12.34567 <span class="money-label">balance</span></td>' in row(post)
    assert '<td class="num">1,234.500 <span class="money-label">available funds</span></td>' in row(
        dinar
    )
    assert '<span class="badge badge-danger">Blocked</span>' in row(blocked)
    assert '<span class="badge badge-on">Open</span>' in row(post)
    assert "<td>Default</td>" in row(post)
    assert '<td class="mono">BHD</td>' in row(dinar)
    assert "<td>Prepaid</td>" in row(prepaid) and "<td>Postpaid</td>" in row(post)


def test_permanently_terminated_only_through_advanced_status_filter(
    client: Any, admin: Any, now: Any
) -> None:
    """CU-17."""
    gone = _customer(admin, now, name="Gone")
    Customer.objects.filter(pk=gone.pk).update(status=Status.CLOSED)
    _customer(admin, now, name="Here")
    client.force_login(admin)
    assert "Gone" not in block(client.get("/customers/").content, "customer-table")
    assert "Gone" not in block(client.get("/customers/?q=gone").content, "customer-table")
    table = block(client.get("/customers/?status=closed").content, "customer-table")
    assert '<span class="badge badge-dark">Permanently terminated</span>' in table
    assert "Here" not in table
    html = client.get("/customers/?status=closed").content.decode()
    assert '<details class="advanced" open>' in html
    assert '<option value="closed" selected>Permanently terminated</option>' in html


def test_customer_list_filters_and_sorting(client: Any, world: dict[str, Any], now: Any) -> None:
    """CU-01, CU-04, CU-06, CU-09: filter by class, currency, balance control, type, reseller;
    sortable."""
    admin = world["admin"]
    eur_class = create_class(actor=admin, now=now, data={"name": "Euro", "currency": "EUR"})
    _customer(admin, now, name="Eve", currency="EUR", customer_class=eur_class.pk)
    _customer(admin, now, name="Pia", balance_control="prepaid", available_funds="5")
    client.force_login(admin)

    def names(url: str) -> list[str]:
        table = block(client.get(url).content, "customer-table")
        return re.findall(r'class="row-link" href="/customers/\d+/">([^<]+)<', table)

    assert names("/customers/") == ["Eve", "Pia", "Reseller A", "Reseller B"]
    assert names("/customers/?order=-name") == ["Reseller B", "Reseller A", "Pia", "Eve"]
    assert names("/customers/?currency=EUR") == ["Eve"]
    assert names(f"/customers/?class={eur_class.pk}") == ["Eve"]
    assert names("/customers/?balance_control=prepaid") == ["Pia"]
    assert names("/customers/?q=reseller") == ["Reseller A", "Reseller B"]
    assert names("/customers/?customer_type=reseller&order=-name") == ["Reseller B", "Reseller A"]
    assert names(f"/customers/?reseller={world['ra'].pk}") == []
    assert names("/customers/?order=balance&balance_control=prepaid") == ["Pia"]


def test_customer_list_query_count_does_not_grow_with_rows(
    client: Any, admin: Any, now: Any
) -> None:
    """No per-row queries: 2 customers and 30 customers cost the same."""
    client.force_login(admin)
    for i in range(2):
        _customer(admin, now, name=f"First {i}")
    client.get("/customers/")
    with CaptureQueriesContext(connection) as few:
        client.get("/customers/")
    for i in range(28):
        _customer(admin, now, name=f"More {i}", balance_control="prepaid", available_funds="1")
    with CaptureQueriesContext(connection) as many:
        html = client.get("/customers/").content.decode()
    assert html.count('class="row-link"') == 30
    assert len(many) == len(few)


def test_customer_list_paginates_by_50(client: Any, admin: Any, now: Any) -> None:
    """CU-01: 50 customers a page."""
    default = CustomerClass.objects.get(is_default=True)
    Customer.objects.bulk_create(
        Customer(
            name=f"N{i:03d}",
            balance_control="postpaid",
            currency_id="USD",
            customer_class=default,
            created_at=now,
            updated_at=now,
        )
        for i in range(120)
    )
    client.force_login(admin)
    html = client.get("/customers/?page=3").content.decode()
    assert '<span class="pagination-info">101\u2013120 of 120</span>' in html
    assert block(html, "customer-table").count('class="row-link"') == 20


def test_add_customer(client: Any, admin: Any, tax_id: CustomField) -> None:
    """CU-01 … CU-10: the form's values reach the service; the list shows the customer."""
    client.force_login(admin)
    response = client.post(
        "/customers/add/",
        customer_post(
            name="Carol",
            balance_control="prepaid",
            available_funds="100",
            blocked=["false", "on"],
            time_zone="Europe/Prague",
            billing_period="2",
            company_name="Carol Ltd",
            email="carol@example.com",
            country="CZ",
            note="VIP",
            send_statistics="summary",
            **{"custom_fields.tax_id": "CZ123"},
            _save="1",
        ),
        follow=True,
    )
    assert response.redirect_chain == [("/customers/", 302)]
    assert messages_of(response) == ["Customer “Carol” saved."]
    carol = Customer.objects.get(name="Carol")
    assert (carol.balance, carol.available_funds) == (Decimal("-100.00000"), Decimal("100.00000"))
    assert (carol.blocked, carol.time_zone, carol.billing_period) == (True, "Europe/Prague", 2)
    assert (carol.company_name, carol.email, carol.country, carol.note) == (
        "Carol Ltd",
        "carol@example.com",
        "CZ",
        "VIP",
    )
    assert carol.send_statistics == "summary"
    assert carol.custom_fields == {"tax_id": "CZ123"}
    assert carol.credit_limit is None
    table = block(response.content, "customer-table")
    assert '<span class="badge badge-danger">Blocked</span>' in table


def test_add_customer_save_and_edit_details(client: Any, admin: Any) -> None:
    """CU-07: Save & Edit details opens the new customer; the credit limit is saved."""
    client.force_login(admin)
    response = client.post("/customers/add/", customer_post(credit_limit="500", _continue="1"))
    carol = Customer.objects.get(name="Carol")
    assert response["Location"] == f"/customers/{carol.pk}/"
    assert carol.credit_limit == Decimal("500.00000")


def test_prepaid_customer_with_credit_limit(client: Any, admin: Any) -> None:
    """CU-07: the credit limit is for postpaid customers only; nothing is saved."""
    client.force_login(admin)
    before = Customer.objects.count()
    response = client.post(
        "/customers/add/",
        customer_post(balance_control="prepaid", credit_limit="50", available_funds="10"),
    )
    assert response.status_code == 400
    assert_error_beside(
        response,
        "credit_limit",
        "Permanent credit limit applies only to postpaid customers; a prepaid "
        "customer has available funds instead",
    )
    assert Customer.objects.count() == before
    assert Transaction.objects.count() == 0


def test_class_of_another_currency(client: Any, world: dict[str, Any]) -> None:
    """CU-09: a USD class for a EUR customer is refused beside the class input."""
    client.force_login(world["admin"])
    before = Customer.objects.count()
    response = client.post(
        "/customers/add/",
        customer_post(currency="EUR", customer_class=str(world["classes"]["usd"].pk)),
    )
    assert response.status_code == 400
    assert_error_beside(
        response,
        "customer_class",
        "'Retail USD' is a USD class and the customer's currency is EUR",
    )
    assert Customer.objects.count() == before


def test_missing_mandatory_custom_field(
    client: Any, admin: Any, now: Any, tax_id: CustomField
) -> None:
    """CU-11: the class makes Tax ID mandatory; the error is beside the Tax ID input."""
    cls = create_class(
        actor=admin, now=now, data={"name": "Business", "mandatory_custom_fields": ["tax_id"]}
    )
    client.force_login(admin)
    before = Customer.objects.count()
    response = client.post(
        "/customers/add/",
        customer_post(customer_class=str(cls.pk), **{"custom_fields.tax_id": "  "}),
    )
    assert response.status_code == 400
    assert_error_beside(
        response,
        "custom_fields.tax_id",
        "Tax ID is mandatory for customers of class 'Business'",
    )
    assert Customer.objects.count() == before
    # The selected class marks the field mandatory on the re-rendered form.
    wrapper = block(response.content, "field-custom_fields.tax_id")
    assert wrapper.startswith('<div class="field field-text has-error is-mandatory"')


def test_customer_form_offers_classes_with_their_currency_and_mandatory_fields(
    client: Any, world: dict[str, Any], now: Any, tax_id: CustomField
) -> None:
    """CU-06, CU-09, CU-11, CC-07: every assignable class, tagged for billcore.js."""
    admin = world["admin"]
    eur = create_class(
        actor=admin,
        now=now,
        data={"name": "Euro Biz", "currency": "EUR", "mandatory_custom_fields": ["tax_id"]},
    )
    client.force_login(admin)
    html = client.get("/customers/add/").content.decode()
    options = option_attrs(html, "customer_class")
    default = CustomerClass.objects.get(is_default=True)
    usd = world["classes"]["usd"]
    assert options == {
        "": {"value": ""},
        str(default.pk): {
            "value": str(default.pk),
            "data-currency": "",
            "data-mandatory": "",
        },
        str(eur.pk): {"value": str(eur.pk), "data-currency": "EUR", "data-mandatory": "tax_id"},
        str(usd.pk): {"value": str(usd.pk), "data-currency": "USD", "data-mandatory": ""},
    }
    # Reseller-managed classes are not offered to the administrator (CC-07).
    assert str(world["classes"]["a"].pk) not in options
    assert str(world["classes"]["b"].pk) not in options
    assert f'<option value="{default.pk}" selected data-currency="" data-mandatory="">' in html
    # The reseller's user sees only its own classes.
    client.force_login(world["ua"])
    html = client.get("/customers/add/").content.decode()
    assert set(option_attrs(html, "customer_class")) == {"", str(world["classes"]["a"].pk)}
    assert 'name="customer_type"' not in html and 'name="reseller"' not in html


def test_reseller_user_creates_its_own_sub_customer(client: Any, world: dict[str, Any]) -> None:
    """CC-07: a reseller's user creates sub-customers of its reseller."""
    client.force_login(world["ua"])
    response = client.post(
        "/customers/add/",
        {
            "name": "A Two",
            "balance_control": "postpaid",
            "currency": "USD",
            "customer_class": str(world["classes"]["a"].pk),
            "billing_period": "4",
            "time_zone": "UTC",
        },
    )
    assert response.status_code == 302
    assert Customer.objects.get(name="A Two").reseller_id == world["ra"].pk


def test_edit_customer_page(
    client: Any, world: dict[str, Any], now: Any, tax_id: CustomField
) -> None:
    """CU-03, CU-06, CU-13: currency and business model read-only; the tabs."""
    admin = world["admin"]
    bm = BusinessModel.objects.get(name="Cloud PBX")
    update_class(
        actor=admin, now=now, class_id=world["classes"]["usd"].pk, changes={"business_model": bm.pk}
    )
    client.force_login(admin)
    ra = world["ra"]
    html = client.get(f"/customers/{ra.pk}/").content.decode()
    form = block(html, "customer-form")
    assert '<select name="currency"' not in form
    assert '<span class="readonly-value">Cloud PBX</span>' in form
    assert '<span class="readonly-value"><span class="mono">USD</span> US Dollar</span>' in form
    assert 'name="blocked"' not in form and 'name="available_funds"' not in form
    tabs = re.findall(r'<button type="button" role="tab"[^>]*>([^<]+)</button>', form)
    assert tabs[:4] == ["Address Info", "Additional Info", "Custom Fields", "Balance &amp; Credits"]
    assert set(tabs[4:]) == {
        "Subscriptions",
        "Payment Method",
        "Invoices &amp; Taxation",
        "Life Cycle",
        "Fraud Protection",
        "Measured Services",
        "DIDs",
        "Discounts",
        "Abbreviated Dialing",
        "Override Tariffs",
        "Quotas &amp; Service Wallets",
        "Service Configuration",
        "Web Self-Care",
    }
    assert "Measured Services arrives with a later release" not in form  # issue 14
    assert 'id="measured-table"' in form
    # CU-13 Life Cycle: the status and the class's lifecycle settings, and the way to change it
    lifecycle = block(html, "panel-lifecycle")
    assert '<dd id="lifecycle-status">Open</dd>' in lifecycle
    assert f'href="/customers/{ra.pk}/status/"' in lifecycle
    assert '<dd>30 days <span class="muted">(customer class)</span></dd>' in lifecycle
    assert (
        '<span class="value" id="customer-balance">0.00 <span class="unit">USD</span></span>'
        in (html)
    )
    values = submitted(html, "customer-form")
    values.update(
        {
            "company_name": ["Reseller A Ltd"],
            "city": ["Brno"],
            "custom_fields.tax_id": ["CZ9"],
            "currency": ["EUR"],
            "_continue": ["1"],
        }
    )
    response = client.post(f"/customers/{ra.pk}/", values, follow=True)
    assert response.redirect_chain == [(f"/customers/{ra.pk}/", 302)]
    assert messages_of(response) == ["Customer “Reseller A” saved."]
    ra.refresh_from_db()
    assert (ra.company_name, ra.city, ra.currency_id) == ("Reseller A Ltd", "Brno", "USD")
    assert ra.custom_fields == {"tax_id": "CZ9"}


def test_edit_customer_error_is_shown_and_nothing_saved(client: Any, world: dict[str, Any]) -> None:
    """CU-13 Address Info: the service's error beside the input; nothing saved."""
    ra = world["ra"]
    client.force_login(world["admin"])
    values = submitted(client.get(f"/customers/{ra.pk}/").content, "customer-form")
    values.update({"email": ["not-an-address"], "city": ["Brno"]})
    response = client.post(f"/customers/{ra.pk}/", values)
    assert response.status_code == 400
    assert_error_beside(response, "email", "E-mail is not a valid e-mail address")
    ra.refresh_from_db()
    assert (ra.email, ra.city) == ("", "")


def test_admin_editing_a_resellers_sub_customer_keeps_its_class(
    client: Any, world: dict[str, Any], ucust: dict[str, Customer]
) -> None:
    """CC-07: the administrator may not assign a reseller's class, so the class input is
    locked (disabled, not posted) and the rest of the form saves."""
    sub = ucust["a"]
    client.force_login(world["admin"])
    html = client.get(f"/customers/{sub.pk}/").content.decode()
    assert re.search(r'<select name="customer_class" disabled [^>]*id="id_customer_class">', html)
    values = submitted(html, "customer-form")
    assert "customer_class" not in values
    values["note"] = ["checked by admin"]
    assert client.post(f"/customers/{sub.pk}/", values).status_code == 302
    sub.refresh_from_db()
    assert (sub.note, sub.customer_class_id) == ("checked by admin", world["classes"]["a"].pk)


def test_balance_adjustment_posts_once_for_a_double_submit(
    client: Any, admin: Any, now: Any
) -> None:
    """CU-12: the dialog's token is the idempotency key; the second submit changes nothing."""
    carol = _customer(admin, now, name="Carol", balance_control="prepaid", available_funds="100")
    client.force_login(admin)
    html = client.get(f"/customers/{carol.pk}/").content.decode()
    dialog = submitted(html, "adjust-dialog")
    token = dialog["idempotency_key"][0]
    assert len(token) == 32
    assert dialog["action"] == [""]  # no default action: the clerk chooses (issue 17)
    post = {
        "action": "manual_payment",
        "amount": "25.5",
        "visible_comment": "Thanks",
        "internal_comment": "cash",
        "idempotency_key": token,
    }
    first = client.post(f"/customers/{carol.pk}/adjust/", post, follow=True)
    assert first.redirect_chain == [(f"/customers/{carol.pk}/#tab-balance", 302)]
    assert messages_of(first) == [
        "Manual payment of 25.50 USD posted. Available funds: 125.50 USD."
    ]
    second = client.post(f"/customers/{carol.pk}/adjust/", post, follow=True)
    assert messages_of(second) == [
        "This balance adjustment was already posted; nothing changed. Available funds: 125.50 USD."
    ]
    carol.refresh_from_db()
    assert carol.available_funds == Decimal("125.50000")
    assert Transaction.objects.filter(customer=carol).count() == 2  # opening + one payment
    # A fresh dialog gets a fresh token.
    assert submitted(second.content, "adjust-dialog")["idempotency_key"] != [token]
    # Ledger tab: date, action, amount, balance after, comments, who.
    ledger = block(second.content, "ledger-table")
    assert (
        '<td>Manual payment</td>\n          \n          <td class="num">+25.50</td>\n'
        '          <td class="num">125.50</td>'
    ) in ledger
    assert '<td>Thanks<div class="muted small">Internal: cash</div></td>' in ledger
    assert "<td>admin</td>" in ledger


def test_balance_adjustment_for_postpaid_shows_the_balance(
    client: Any, admin: Any, now: Any
) -> None:
    """CU-05, CU-12: a postpaid charge; the message and ledger show the balance, all 5 digits."""
    bob = _customer(admin, now, name="Bob")
    client.force_login(admin)
    response = client.post(
        f"/customers/{bob.pk}/adjust/",
        {"action": "manual_charge", "amount": "0.00001", "idempotency_key": "t-1"},
        follow=True,
    )
    assert messages_of(response) == ["Manual charge of 0.00001 USD posted. Balance: 0.00001 USD."]
    ledger = block(response.content, "ledger-table")
    assert '<td class="num">+0.00001</td>\n          <td class="num">0.00001</td>' in ledger


def test_pages_show_money_as_invoices_do(client: Any, admin: Any, now: Any) -> None:
    """Issue 11: the currency's decimals, more only when the amount has them — 100.123 in
    USD is "100.123" in the message, the ledger and the balance (it was "100.12300")."""
    bob = _customer(admin, now, name="Bob")
    client.force_login(admin)
    response = client.post(
        f"/customers/{bob.pk}/adjust/",
        {"action": "manual_charge", "amount": "100.123", "idempotency_key": "t-1"},
        follow=True,
    )
    assert messages_of(response) == ["Manual charge of 100.123 USD posted. Balance: 100.123 USD."]
    ledger = block(response.content, "ledger-table")
    assert '<td class="num">+100.123</td>\n          <td class="num">100.123</td>' in ledger
    response = client.post(
        f"/customers/{bob.pk}/adjust/",
        {"action": "manual_charge", "amount": "1000.877", "idempotency_key": "t-2"},
        follow=True,
    )
    assert messages_of(response) == [
        "Manual charge of 1,000.877 USD posted. Balance: 1,101.00 USD."
    ]
    assert "100.12300" not in response.content.decode()


def test_balance_adjustment_error_reopens_the_dialog(client: Any, admin: Any, now: Any) -> None:
    """CU-12: a bad amount reopens the dialog with the error and keeps the token; nothing posted."""
    bob = _customer(admin, now, name="Bob")
    client.force_login(admin)
    response = client.post(
        f"/customers/{bob.pk}/adjust/",
        {"action": "manual_charge", "amount": "1.234567", "idempotency_key": "t-2"},
    )
    assert response.status_code == 400
    assert_error_beside(response, "amount", "More than 5 decimal places")
    assert (
        '<dialog class="modal" id="adjust-dialog" aria-labelledby="adjust-title" data-open-on-load>'
        in (response.content.decode())
    )
    assert submitted(response.content, "adjust-dialog")["idempotency_key"] == ["t-2"]
    assert Transaction.objects.filter(customer=bob).count() == 0
    bob.refresh_from_db()
    assert bob.balance == Decimal("0.00000")


def test_delete_customer(client: Any, admin: Any, now: Any) -> None:
    """A customer without transactions can be deleted; one with money history cannot."""
    gone = _customer(admin, now, name="Gone")
    paid = _customer(admin, now, name="Paid", balance_control="prepaid", available_funds="1")
    client.force_login(admin)
    response = client.post(f"/customers/{gone.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert messages_of(response) == ["Customer “Gone” deleted."]
    assert not Customer.objects.filter(pk=gone.pk).exists()
    response = client.post(f"/customers/{paid.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert response.redirect_chain == [(f"/customers/{paid.pk}/", 302)]
    assert messages_of(response) == [
        "customer 'Paid' has 1 transactions and cannot be deleted; terminate it instead"
    ]
    assert Customer.objects.filter(pk=paid.pk).exists()


# --------------------------------------------------------------------------- administrator pages


def test_business_model_catalogue(client: Any, world: dict[str, Any], now: Any) -> None:
    """CC-05: list, add, edit, delete; in-use and duplicate names refused."""
    client.force_login(world["admin"])
    response = client.post("/business-models/add/", {"name": "IoT", "description": "Sensors"})
    assert response.status_code == 302
    iot = BusinessModel.objects.get(name="IoT")
    dup = client.post("/business-models/add/", {"name": "iot"})
    assert dup.status_code == 400
    assert_error_beside(dup, "name", "A business model named 'iot' already exists")
    response = client.post(f"/business-models/{iot.pk}/", {"name": "IoT M2M", "description": ""})
    assert response.status_code == 302
    iot.refresh_from_db()
    assert (iot.name, iot.description) == ("IoT M2M", "")
    update_class(
        actor=world["admin"],
        now=now,
        class_id=world["classes"]["usd"].pk,
        changes={"business_model": iot.pk},
    )
    table = block(client.get("/business-models/").content, "business-model-table")
    assert (
        f'<td><a class="row-link" href="/business-models/{iot.pk}/">IoT M2M</a></td>\n'
        '        <td></td>\n        <td class="num">1</td>'
    ) in table
    refused = client.post(f"/business-models/{iot.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert messages_of(refused) == [
        "business model 'IoT M2M' is used by 1 customer classes and cannot be deleted"
    ]
    free = BusinessModel.objects.get(name="Hosted IP PBX")
    done = client.post(f"/business-models/{free.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert messages_of(done) == ["Business model “Hosted IP PBX” deleted."]
    assert not BusinessModel.objects.filter(pk=free.pk).exists()


def test_settings_form(client: Any, admin: Any) -> None:
    """CC-08 (default From), CC-12, CC-16, CC-10 endpoints, tax rounding."""
    client.force_login(admin)
    response = client.post(
        "/settings/",
        {
            "legal_name": "Acme Telecom s.r.o.",
            "notification_from_name": "Acme Billing",
            "notification_from_address": "billing@acme.example",
            "allow_external_billing": ["false", "on"],
            "show_financial_documents_page": "false",
            "eztax_endpoint": "https://eztax.example/api",
            "suretax_endpoint": "",
            "tax_rounding_half_up": ["false", "on"],
        },
        follow=True,
    )
    assert messages_of(response) == ["Installation settings saved."]
    s = get_settings()
    assert (s.legal_name, s.notification_from_name, s.notification_from_address) == (
        "Acme Telecom s.r.o.",
        "Acme Billing",
        "billing@acme.example",
    )
    assert (s.allow_external_billing, s.show_financial_documents_page) == (True, False)
    assert (s.eztax_endpoint, s.suretax_endpoint, s.tax_rounding_half_up) == (
        "https://eztax.example/api",
        "",
        True,
    )
    bad = client.post("/settings/", {"legal_name": "X", "suretax_endpoint": "ftp://x"})
    assert bad.status_code == 400
    assert_error_beside(
        bad, "suretax_endpoint", "SureTax endpoint must be an http:// or https:// URL"
    )
    assert get_settings().legal_name == "Acme Telecom s.r.o."
    # The class form shows the installation's default From (CC-08).
    html = client.get("/classes/add/").content.decode()
    assert "<strong>Acme Billing</strong>\n        &lt;billing@acme.example&gt;." in html


def test_currencies_in_use(client: Any, world: dict[str, Any]) -> None:
    """CC-06, CU-06: add with ISO decimals, refuse unknown codes, remove only unused ones."""
    client.force_login(world["admin"])
    added = client.post("/settings/currencies/add/", {"code": "bhd", "decimals": ""}, follow=True)
    assert messages_of(added) == ["Currency BHD (Bahraini Dinar, 3 decimals) added."]
    assert Currency.objects.get(code="BHD").decimals == 3
    unknown = client.post("/settings/currencies/add/", {"code": "XYZ"})
    assert unknown.status_code == 400
    error = block(unknown.content, "field-code")
    assert '<p class="field-error" id="id_code-error">' in error
    assert not Currency.objects.filter(code="XYZ").exists()
    in_use = client.post("/settings/currencies/USD/remove/", follow=True)
    assert messages_of(in_use) == [
        "code: USD is used by 4 customers or classes and cannot be removed"
    ]
    assert Currency.objects.filter(code="USD").exists()
    removed = client.post("/settings/currencies/GBP/remove/", follow=True)
    assert messages_of(removed) == ["Currency GBP removed."]
    assert not Currency.objects.filter(code="GBP").exists()
    assert client.post("/settings/currencies/QQQ/remove/").status_code == 404


def test_custom_fields_on_settings(client: Any, admin: Any) -> None:
    """CU-11, CC-22: the administrator defines the custom fields."""
    client.force_login(admin)
    response = client.post(
        "/settings/custom-fields/add/",
        {"name": "tier", "label": "Tier", "field_type": "list", "choices": "Gold, Silver,"},
        follow=True,
    )
    assert messages_of(response) == ["Custom field “Tier” added."]
    cf = CustomField.objects.get(name="tier")
    assert (cf.label, cf.field_type, cf.choices) == ("Tier", "list", ["Gold", "Silver"])
    bad = client.post(
        "/settings/custom-fields/add/", {"name": "Bad Name", "label": "X", "field_type": "text"}
    )
    assert bad.status_code == 400
    assert_error_beside(bad, "name", "Name must use lower-case letters, digits and _")
    assert not CustomField.objects.filter(label="X").exists()
    # A list custom field is a select on the customer form.
    html = client.get("/customers/add/").content.decode()
    assert '<option value="Gold">Gold</option>' in block(html, "field-custom_fields.tier")


def test_audit_log(client: Any, world: dict[str, Any]) -> None:
    """DESIGN rule 6: the audit log shows who changed what; filtered by object type."""
    client.force_login(world["admin"])
    client.post(f"/classes/{world['classes']['usd'].pk}/", {"name": "Retail Dollars"})
    html = client.get("/audit/").content.decode()
    table = block(html, "audit-table")
    first_row = table.split('<td class="nowrap">')[1]
    assert "<td>admin</td>" in first_row
    assert '<span class="badge badge-update">Updated</span>' in first_row
    assert 'customerclass <span class="muted">#' in first_row
    assert '<td class="mono">name</td><td>Retail USD</td><td>Retail Dollars</td>' in first_row
    filtered = block(client.get("/audit/?type=customer").content, "audit-table")
    assert "customerclass" not in filtered
    assert filtered.count('<span class="badge badge-create">Created</span>') == (
        AuditEntry.objects.filter(object_type="customer").count()
    )


def test_nul_characters_are_a_field_error_not_a_server_error(
    client: Any, admin: Any, now: Any
) -> None:
    """PostgreSQL refuses NUL in text: the pages refuse it first, naming the field."""
    client.force_login(admin)
    before = CustomerClass.objects.count()
    response = client.post("/classes/add/", class_post(name="Bad\x00name", _save="1"))
    assert response.status_code == 400
    assert_error_beside(response, "name", "Name contains a NUL character")
    assert CustomerClass.objects.count() == before
    bob = _customer(admin, now, name="Bob")
    response = client.post(
        f"/customers/{bob.pk}/adjust/",
        {
            "action": "manual_charge",
            "amount": "1",
            "visible_comment": "x\x00",
            "idempotency_key": "n",
        },
    )
    assert response.status_code == 400
    assert_error_beside(response, "visible_comment", "Visible comment contains a NUL character")
    assert Transaction.objects.filter(customer=bob).count() == 0
    assert client.post("/settings/currencies/%00/remove/").status_code == 404
    assert client.get("/customers/?q=%00&order=%00name&type=%00").status_code == 200
    assert client.get("/audit/?type=%00").status_code == 200


def test_settings_form_covers_every_service_field() -> None:
    """Every installation setting the service accepts has an input on /settings/."""
    from billcore.installation.services import SETTINGS_FIELDS

    assert set(web_forms.SettingsForm().fields) == set(SETTINGS_FIELDS)


def test_class_page_refuses_a_pattern_finer_than_the_currency(client: Any, admin: Any) -> None:
    """CC-17: the class page shows the refusal beside the pattern input; nothing saved."""
    client.force_login(admin)
    post = class_post(
        currency="USD",
        invoice_rounding="custom",
        invoice_rounding_pattern="XXXXX.XX500",
        _save="1",
    )
    response = client.post("/classes/add/", post)
    assert response.status_code == 400
    assert_error_beside(
        response,
        "invoice_rounding_pattern",
        "XXXXX.XX500 rounds to 3 decimal places, finer than the class's currency USD (2); a "
        "class with a currency rounds invoice totals to its minor unit or coarser, "
        "e.g. XXXXX.XX000",
    )
    assert not CustomerClass.objects.filter(name="Gold").exists()

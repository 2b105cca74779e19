"""The customer page's Balance & Credits and Fraud Protection tabs and its Accounts view
(``billcore.web.views_customer_tabs``), through Django's test client.

Data is made through the services (charge with parse_usage, create_account, post_transaction).
The pages' clock starts at ``NOW`` (2026-11-01 12:00 UTC) and moves a millisecond a request;
the customer's time zone is Europe/Prague (UTC+1 that day), so 2026-10-31 23:30 UTC is already
1 November for it. Values are asserted exactly; a refused request also asserts that nothing
changed. Run on SQLite and, with ``DATABASE_URL=postgres://…``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from billcore.audit.models import AuditEntry
from billcore.charging.models import Xdr
from billcore.charging.services import charge, parse_usage, reserve
from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscribers.models import Account
from billcore.subscribers.services import create_account
from billcore.web import base
from tests.conftest import NOW
from tests.e2e.test_pages import _Submitted, assert_error_beside, block, messages_of, submitted

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _clock(monkeypatch: Any) -> None:
    """The pages read the time once per request through ``base.now``: from NOW on, a
    millisecond later at each reading, as two requests never share an instant."""
    readings = iter(range(10**6))
    monkeypatch.setattr(base, "now", lambda: NOW + dt.timedelta(milliseconds=next(readings)))


# --------------------------------------------------------------------------- helpers


def cells(html: str, table_id: str, part: str = "tbody") -> list[list[str]]:
    """The text of each cell of each row of ``<part>`` in table ``table_id``."""
    section = re.search(rf"<{part}>(.*?)</{part}>", block(html, table_id), re.S)
    assert section is not None
    out = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section.group(1), re.S):
        texts = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        out.append([" ".join(unescape(re.sub(r"<[^>]+>", " ", t)).split()) for t in texts])
    return out


def text(html: str, element_id: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", block(html, element_id))).split())


class _Owned(_Submitted):
    """What a browser submits for ``<form id=form_id>`` whose inputs sit elsewhere in the page
    and name it with the ``form`` attribute (plus the form's own hidden inputs)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = 1 if a.get("id") == self.form_id else 0
        if tag in ("input", "select", "textarea") and not (
            self.inside or a.get("form") == self.form_id
        ):
            return
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = 0
        super().handle_endtag(tag)


def owned(html: str | bytes, form_id: str) -> dict[str, list[str]]:
    parser = _Owned(form_id)
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    values = parser.values
    values.pop("csrfmiddlewaretoken", None)
    return values


def external_ids(html: str) -> list[str]:
    return [row[-1] for row in cells(html, "xdr-table")]


def usage(
    actor: Any, account: Account, service: str, amount: str, quantity: str, unit: str, **kw: Any
) -> None:
    charge(
        actor=actor,
        now=NOW,
        account_id=account.pk,
        usage=parse_usage(
            service=service, amount=amount, quantity=quantity, unit=unit, now=NOW, **kw
        ),
    )


def _balances(*accounts: Account) -> list[Decimal]:
    return [Account.objects.get(pk=a.pk).balance for a in accounts]


def _class(admin: Any, name: str, **data: Any) -> Any:
    return create_class(actor=admin, now=NOW, data={"name": name, **data})


def _customer(admin: Any, name: str, cls: Any, **data: Any) -> Customer:
    base = {"currency": "USD", "balance_control": "postpaid", "customer_class": cls.pk}
    return create_customer(actor=admin, now=NOW, data={"name": name, **base, **data})


@pytest.fixture
def carol(admin: Any) -> SimpleNamespace:
    """A postpaid customer in Prague (limit 100), a USD class with transfers on and a fraud
    limit of 50 (block); three accounts, two payments and five usage records."""
    cls = _class(
        admin,
        "Plus",
        currency="USD",
        s2s_transfers_allowed=True,
        fraud_daily_limit="50",
        fraud_action="block",
    )
    c = _customer(admin, "Carol", cls, credit_limit="100", time_zone="Europe/Prague")

    def account(**data: Any) -> Account:
        return create_account(actor=admin, now=NOW, customer_id=c.pk, data=data)

    a1 = account(identifier="420111")
    a2 = account(identifier="420222", credit_limit="30")
    d1 = account(identifier="420333", account_type="debit")
    record_transaction(
        actor=admin,
        now=NOW,
        customer_id=c.pk,
        action="Manual payment",
        amount="20",
        visible_comment="Thanks",
        internal_comment="cash",
    )
    record_transaction(
        actor=admin,
        now=NOW,
        customer_id=c.pk,
        action="Manual payment",
        amount="25",
        account_id=d1.pk,
        visible_comment="Top-up",
    )
    usage(
        admin,
        a1,
        "voice",
        "1.5",
        "90",
        "s",
        started_at="2026-10-31T22:30:00+00:00",
        external_id="c-1",
        details={"cli": "420111", "cld": "420999"},
    )
    usage(
        admin, a1, "voice", "0.75", "45", "s", started_at="2026-10-31T23:30:00Z", external_id="c-2"
    )
    usage(admin, a2, "data", "2", "1.5", "GB", started_at="2026-11-01T08:00Z", external_id="c-3")
    # Past the account's individual limit of 30: denied, kept with its reason.
    usage(admin, a2, "data", "40", "30", "GB", started_at="2026-11-01T09:00Z", external_id="c-4")
    usage(admin, d1, "messaging", "0.1", "1", "msg", started_at="2026-11-01T10:00Z")
    return SimpleNamespace(customer=c, cls=cls, a1=a1, a2=a2, d1=d1, admin=admin)


def page_of(client: Any, customer: Customer, query: str = "") -> str:
    response = client.get(f"/customers/{customer.pk}/{query}")
    assert response.status_code == 200
    return str(response.content.decode())


# --------------------------------------------------------------------------- Balance & Credits


def test_balance_tab_shows_money_ledger_and_usage_records(
    client: Any, carol: SimpleNamespace
) -> None:
    """CU-12, issue 3 §7: balance, reserved, limit in force; the ledger with account, comments
    and who; the xDRs newest first in the customer's time zone, denied ones with the reason."""
    reserve(actor=carol.admin, now=NOW, account_id=carol.a1.pk, service="voice", amount="3")
    client.force_login(carol.admin)
    html = page_of(client, carol.customer)
    assert text(html, "balance-figures") == (
        "Balance -40.65 USD Reserved 3.00 USD Held by open reservations. "
        "Credit limit in force 100.00 USD Permanent: 100.00 USD."
    )
    assert cells(html, "ledger-table", "thead") == [
        [
            "Date (UTC)",
            "Action",
            "Change in balance",
            "Balance after",
            "Account",
            "Comments",
            "By",
        ]
    ]
    assert [row[1:] for row in cells(html, "ledger-table")] == [
        ["Usage charge", "+0.10", "-40.65", "420333", "", "admin"],
        ["Usage charge", "+2.00", "-40.75", "420222", "", "admin"],
        ["Usage charge", "+0.75", "-42.75", "420111", "", "admin"],
        ["Usage charge", "+1.50", "-43.50", "420111", "", "admin"],
        ["Manual payment", "-25.00", "-45.00", "420333", "Top-up", "admin"],
        ["Manual payment", "-20.00", "-20.00", "", "Thanks Internal: cash", "admin"],
    ]
    assert {row[0] for row in cells(html, "ledger-table")} == {"2026-11-01 12:00:00"}
    assert cells(html, "xdr-table", "thead") == [
        [
            "Start (Europe/Prague)",
            "Account",
            "Service",
            "Called number",
            "Quantity",
            "Charged quantity",
            "Amount",
            "Status",
            "External ID",
        ]
    ]
    # Pre-rated records: no called number of their own (c-1's is in its details), nothing
    # charged by rating.
    assert cells(html, "xdr-table") == [
        ["2026-11-01 11:00:00", "420333", "Messaging", "", "1 msg", "", "0.10", "Charged", ""],
        [
            "2026-11-01 10:00:00",
            "420222",
            "Data",
            "",
            "30 GB",
            "",
            "40.00",
            "Denied the amount would take the account past its credit limit",
            "c-4",
        ],
        ["2026-11-01 09:00:00", "420222", "Data", "", "1.5 GB", "", "2.00", "Charged", "c-3"],
        ["2026-11-01 00:30:00", "420111", "Voice", "", "45 s", "", "0.75", "Charged", "c-2"],
        ["2026-10-31 23:30:00", "420111", "Voice", "", "90 s", "", "1.50", "Charged", "c-1"],
    ]
    # The tab's own forms, not the customer form's Save, act on it.
    assert '<section class="tab-panel" role="tabpanel" id="panel-balance"' in html
    assert 'aria-labelledby="tab-balance" data-own-actions>' in html


def test_prepaid_balance_tab_shows_available_funds_and_no_temporary_limit(
    client: Any, admin: Any
) -> None:
    """CU-08: prepaid funds shown positive; a temporary credit limit is for postpaid only."""
    cls = _class(admin, "Pre", currency="USD")
    pia = _customer(admin, "Pia", cls, balance_control="prepaid", available_funds="60")
    client.force_login(admin)
    html = page_of(client, pia)
    assert text(html, "balance-figures") == (
        "Available funds 60.00 USD Reserved 0.00 USD Held by open reservations."
    )
    assert 'id="temp-limit"' not in html
    assert cells(html, "ledger-table") == [
        [
            "2026-11-01 12:00:00",
            "Opening balance",
            "+60.00",
            "60.00",
            "",
            "Opening balance",
            "admin",
        ]
    ]
    assert cells(html, "xdr-table") == [["No usage records match."]]
    assert 'id="xdr-summary"' not in html


def test_usage_statistics_are_exact(client: Any, carol: SimpleNamespace) -> None:
    """CC-11 summary of the filtered list: per service charged / denied counts, quantity and
    charged amount; denied records never in the totals."""
    client.force_login(carol.admin)
    html = page_of(client, carol.customer)
    assert cells(html, "xdr-summary", "thead") == [
        ["Service", "Charged", "Denied", "Quantity", "Amount"]
    ]
    assert cells(html, "xdr-summary") == [
        ["Data", "1", "1", "1.5", "2.00"],
        ["Messaging", "1", "0", "1", "0.10"],
        ["Voice", "2", "0", "135", "2.25"],
    ]
    assert cells(html, "xdr-summary", "tfoot") == [["Total charged", "", "", "", "4.35 USD"]]
    html = page_of(client, carol.customer, "?xdr_from=2026-11-01&xdr_service=voice")
    assert cells(html, "xdr-summary") == [["Voice", "1", "0", "45", "0.75"]]
    assert cells(html, "xdr-summary", "tfoot") == [["Total charged", "", "", "", "0.75 USD"]]


def test_usage_filters_narrow_the_list_exactly(client: Any, carol: SimpleNamespace) -> None:
    """Service, status, from / to (whole days in the customer's time zone, both inclusive)
    and account; the chosen values are shown again and the CSV link carries them."""
    client.force_login(carol.admin)
    c = carol.customer

    def ids(query: str) -> list[str]:
        return external_ids(page_of(client, c, query))

    assert ids("") == ["", "c-4", "c-3", "c-2", "c-1"]
    assert ids("?xdr_service=voice") == ["c-2", "c-1"]
    assert ids("?xdr_status=denied") == ["c-4"]
    assert ids("?xdr_status=charged&xdr_service=data") == ["c-3"]
    # 2026-10-31 23:30 UTC is 00:30 on 1 November in Prague.
    assert ids("?xdr_from=2026-11-01") == ["", "c-4", "c-3", "c-2"]
    assert ids("?xdr_to=2026-10-31") == ["c-1"]
    assert ids("?xdr_from=2026-11-01&xdr_to=2026-11-01") == ["", "c-4", "c-3", "c-2"]
    assert ids("?xdr_from=2026-11-02") == ["No usage records match."]
    assert ids(f"?xdr_account={carol.a2.pk}") == ["c-4", "c-3"]
    assert ids(f"?xdr_account={carol.a2.pk}&xdr_status=charged&xdr_to=2026-11-01") == ["c-3"]
    html = page_of(client, c, f"?xdr_service=data&xdr_status=charged&xdr_account={carol.a2.pk}")
    assert '<option value="data" selected>Data</option>' in html
    assert '<option value="charged" selected>Charged</option>' in html
    assert f'<option value="{carol.a2.pk}" selected>420222</option>' in html
    link = re.search(r'id="xdr-csv" href="([^"]+)"', html)
    assert link is not None
    assert unescape(link.group(1)) == (
        f"/customers/{c.pk}/xdrs.csv?xdr_service=data&xdr_status=charged&xdr_account={carol.a2.pk}"
    )
    # The filter inputs belong to the GET form drawn after the customer form.
    assert owned(html, "xdr-filters") == {
        "xdr_service": ["data"],
        "xdr_status": ["charged"],
        "xdr_from": [""],
        "xdr_to": [""],
        "xdr_account": [str(carol.a2.pk)],
    }
    assert re.search(
        rf'<form method="get" action="/customers/{c.pk}/#tab-balance" id="xdr-filters">', html
    )


def test_a_bad_date_filter_is_named_and_not_applied(client: Any, carol: SimpleNamespace) -> None:
    """A date that is not YYYY-MM-DD is shown as an error beside the filters, the list is
    not narrowed by it and the CSV link leaves it out; never a server error."""
    client.force_login(carol.admin)
    html = page_of(client, carol.customer, "?xdr_from=2026-13-01&xdr_service=voice")
    assert (
        '<p class="field-error" id="xdr_from-error">From: Enter a date as YYYY-MM-DD.</p>' in html
    )
    assert external_ids(html) == ["c-2", "c-1"]
    assert f'href="/customers/{carol.customer.pk}/xdrs.csv?xdr_service=voice"' in html
    for query in ("?xdr_to=0001-01-01", "?xdr_to=9999-12-31", "?xdr_account=x&xdr_status=zz"):
        response = client.get(f"/customers/{carol.customer.pk}/{query}")
        assert response.status_code == 200, query


def test_usage_csv_download_streams_the_filtered_list(client: Any, carol: SimpleNamespace) -> None:
    """CC-11 "Full": the header and one line per xDR of the same filtered list."""
    client.force_login(carol.admin)
    c = carol.customer
    x = {x.external_id: x.pk for x in Xdr.objects.filter(customer=c)}
    response = client.get(f"/customers/{c.pk}/xdrs.csv?xdr_service=voice")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="xdrs-{c.pk}.csv"'
    body = b"".join(response.streaming_content).decode()
    assert body.split("\r\n") == [
        "id,started_at,account,service,quantity,unit,amount,status,deny_reason,external_id,details",
        f"{x['c-2']},2026-10-31T23:30:00+00:00,420111,voice,45.00000,s,0.75000,charged,,c-2,",
        f"{x['c-1']},2026-10-31T22:30:00+00:00,420111,voice,90.00000,s,1.50000,charged,,c-1,"
        "cld=420999;cli=420111",
        "",
    ]
    response = client.get(f"/customers/{c.pk}/xdrs.csv?xdr_status=denied&xdr_from=2026-11-01")
    body = b"".join(response.streaming_content).decode()
    assert body.split("\r\n")[1:] == [
        f"{x['c-4']},2026-11-01T09:00:00+00:00,420222,data,30.00000,GB,40.00000,denied,"
        "account_limit_exceeded,c-4,",
        "",
    ]


def test_ledger_and_usage_paginate_by_50_without_per_row_queries(
    client: Any, carol: SimpleNamespace
) -> None:
    """50 a page each, page links come back to the tab; the number of queries does not grow
    with the rows."""
    client.force_login(carol.admin)
    c = carol.customer
    page_of(client, c)
    with CaptureQueriesContext(connection) as few:
        page_of(client, c)
    for i in range(46):
        usage(
            carol.admin,
            carol.a1,
            "voice",
            "0.01",
            "1",
            "s",
            started_at=f"2026-10-30T10:{i:02d}Z",
            external_id=f"p-{i}",
        )
    with CaptureQueriesContext(connection) as many:
        html = page_of(client, c)
    assert len(many) == len(few)
    assert len(cells(html, "xdr-table")) == 50
    assert len(cells(html, "ledger-table")) == 50
    infos = re.findall(r'<span class="pagination-info">([^<]+)</span>', html)
    assert infos == ["1\u201350 of 52", "1\u201350 of 51"]
    for param in ("tx_page", "xdr_page"):
        assert f'<a class="page-link" href="?{param}=2#tab-balance" rel="next">' in html
    assert external_ids(page_of(client, c, "?xdr_page=2")) == ["p-0"]
    # Page links keep the filters: 48 voice records fit one page; the ledger's next page
    # keeps the xDR filter.
    html = page_of(client, c, "?xdr_service=voice")
    assert len(cells(html, "xdr-table")) == 48
    assert '<a class="page-link" href="?xdr_service=voice&amp;tx_page=2#tab-balance"' in html
    html = page_of(client, c, "?tx_page=2")
    assert [row[1:4] for row in cells(html, "ledger-table")] == [
        ["Manual payment", "-25.00", "-45.00"],
        ["Manual payment", "-20.00", "-20.00"],
    ]


# --------------------------------------------------------------------------- temporary limit


def test_temporary_credit_limit_set_and_removed(client: Any, carol: SimpleNamespace) -> None:
    """Issue 3 §7: the limit and the date-time on the customer's wall clock; the service gets
    an aware datetime. Remove posts both empty."""
    client.force_login(carol.admin)
    c = carol.customer
    html = page_of(client, c)
    assert owned(html, "temp-limit-form") == {"temp_credit_limit": [""], "credit_limit_until": [""]}
    assert text(html, "temp-limit-current") == (
        "None set. A temporary limit replaces the permanent one until the date and time given."
    )
    assert '<input type="datetime-local" name="credit_limit_until" form="temp-limit-form"' in html
    response = client.post(
        f"/customers/{c.pk}/credit-limit/",
        {"temp_credit_limit": "250", "credit_limit_until": "2026-11-15T18:30"},
        follow=True,
    )
    assert response.redirect_chain == [(f"/customers/{c.pk}/#tab-balance", 302)]
    assert messages_of(response) == [
        "Temporary credit limit of 250.00 USD set until 2026-11-15 18:30 (Europe/Prague)."
    ]
    c.refresh_from_db()
    assert (c.temp_credit_limit, c.credit_limit_until) == (
        D("250.00000"),
        dt.datetime(2026, 11, 15, 17, 30, tzinfo=dt.UTC),
    )
    html = response.content.decode()
    assert text(html, "temp-limit-current") == (
        "Set: 250.00 USD until 2026-11-15 18:30 (Europe/Prague); "
        "the permanent limit applies again after it."
    )
    assert "Credit limit in force 250.00 USD Permanent: 100.00 USD." in text(
        html, "balance-figures"
    )
    assert owned(html, "temp-limit-form") == {
        "temp_credit_limit": ["250"],
        "credit_limit_until": ["2026-11-15T18:30"],
    }
    remove = owned(html, "temp-limit-remove")
    assert remove == {"temp_credit_limit": [""], "credit_limit_until": [""]}
    response = client.post(f"/customers/{c.pk}/credit-limit/", remove, follow=True)
    assert messages_of(response) == ["Temporary credit limit removed."]
    c.refresh_from_db()
    assert (c.temp_credit_limit, c.credit_limit_until, c.credit_limit) == (
        None,
        None,
        D("100.00000"),
    )
    assert 'form="temp-limit-remove"' not in response.content.decode()


@pytest.mark.parametrize(
    ("post", "field", "message"),
    [
        (
            {"temp_credit_limit": "abc", "credit_limit_until": "2026-11-15T18:30"},
            "temp_credit_limit",
            "Not a plain decimal number (expected e.g. '12.5' or '-3')",
        ),
        (
            {"temp_credit_limit": "250", "credit_limit_until": "18:30"},
            "credit_limit_until",
            "In force until must be an ISO 8601 date-time",
        ),
        (
            {"temp_credit_limit": "-1", "credit_limit_until": "2026-11-15T18:30"},
            "temp_credit_limit",
            "Temporary credit limit must be at least 0",
        ),
    ],
)
def test_temporary_credit_limit_bad_input_saves_nothing(
    client: Any, carol: SimpleNamespace, post: dict[str, str], field: str, message: str
) -> None:
    """The service's error beside the input it names, inside the Balance & Credits panel;
    the posted values stay; nothing saved."""
    client.force_login(carol.admin)
    c = carol.customer
    audit = AuditEntry.objects.count()
    response = client.post(f"/customers/{c.pk}/credit-limit/", post)
    assert response.status_code == 400
    assert_error_beside(response, field, message)
    assert f'id="field-{field}"' in block(response.content, "panel-balance")
    assert owned(response.content, "temp-limit-form") == {k: [v] for k, v in post.items()}
    c.refresh_from_db()
    assert (c.temp_credit_limit, c.credit_limit_until) == (None, None)
    assert AuditEntry.objects.count() == audit


def test_temporary_credit_limit_for_a_prepaid_customer_is_refused(client: Any, admin: Any) -> None:
    """Postpaid only: a forced POST for a prepaid customer shows the service's error."""
    cls = _class(admin, "Pre", currency="USD")
    pia = _customer(admin, "Pia", cls, balance_control="prepaid", available_funds="60")
    client.force_login(admin)
    response = client.post(
        f"/customers/{pia.pk}/credit-limit/",
        {"temp_credit_limit": "250", "credit_limit_until": "2026-11-15T18:30"},
    )
    assert response.status_code == 400
    assert_error_beside(
        response, "temp_credit_limit", "Temporary credit limit applies only to postpaid customers"
    )
    pia.refresh_from_db()
    assert (pia.temp_credit_limit, pia.credit_limit_until, pia.balance) == (
        None,
        None,
        D("-60.00000"),
    )


# --------------------------------------------------------------------------- fraud protection


def test_fraud_protection_tab_shows_the_class_and_todays_spending(
    client: Any, carol: SimpleNamespace, admin: Any
) -> None:
    """CU-13: the class's values as the default; spending of today in the customer's zone."""
    client.force_login(admin)
    html = page_of(client, carol.customer)
    tabs = re.findall(r'<button type="button" role="tab"[^>]*>([^<]+)</button>', html)
    assert tabs.count("Fraud Protection") == 1
    assert "Fraud Protection arrives with a later release" not in html
    assert text(html, "fraud-class") == "Class: 50.00 USD, block"
    assert text(html, "fraud-spent") == "4.35 USD (2026-11-01, Europe/Prague)"
    assert owned(html, "fraud-form") == {"fraud_daily_limit": [""], "fraud_action": [""]}
    # Spending of another day is not today's.
    Customer.objects.filter(pk=carol.customer.pk).update(fraud_day=dt.date(2026, 10, 31))
    assert text(page_of(client, carol.customer), "fraud-spent") == (
        "0.00 USD (2026-11-01, Europe/Prague)"
    )
    no_limit = _customer(admin, "Nolimit", _class(admin, "Dollar", currency="USD"))
    assert text(page_of(client, no_limit), "fraud-class") == "Class: no daily limit"
    anywhere = _customer(admin, "Anywhere", _class(admin, "Any currency"))
    assert text(page_of(client, anywhere), "fraud-class") == (
        "Class has no currency: fraud protection unavailable"
    )


def test_fraud_override_set_and_cleared(client: Any, carol: SimpleNamespace) -> None:
    """The customer's limit and action override the class's; both empty follow the class."""
    client.force_login(carol.admin)
    c = carol.customer
    response = client.post(
        f"/customers/{c.pk}/fraud/",
        {"fraud_daily_limit": "30", "fraud_action": "notify"},
        follow=True,
    )
    assert response.redirect_chain == [(f"/customers/{c.pk}/#tab-fraud", 302)]
    assert messages_of(response) == [
        "Fraud protection override saved: 30.00 USD a day, notify only."
    ]
    c.refresh_from_db()
    assert (c.fraud_daily_limit, c.fraud_action) == (D("30.00000"), "notify")
    html = response.content.decode()
    assert owned(html, "fraud-form") == {"fraud_daily_limit": ["30"], "fraud_action": ["notify"]}
    response = client.post(
        f"/customers/{c.pk}/fraud/", {"fraud_daily_limit": "", "fraud_action": "block"}, follow=True
    )
    assert messages_of(response) == [
        "Fraud protection override saved: the class's daily limit, "
        "block new charges until the next day."
    ]
    clear = owned(response.content, "fraud-clear")
    assert clear == {"fraud_daily_limit": [""], "fraud_action": [""]}
    response = client.post(f"/customers/{c.pk}/fraud/", clear, follow=True)
    assert messages_of(response) == [
        "Fraud protection override cleared: the class's settings apply."
    ]
    c.refresh_from_db()
    assert (c.fraud_daily_limit, c.fraud_action) == (None, None)
    assert 'form="fraud-clear"' not in response.content.decode()


@pytest.mark.parametrize(
    ("post", "field", "message"),
    [
        (
            {"fraud_daily_limit": "-5", "fraud_action": ""},
            "fraud_daily_limit",
            "Daily spending limit must be at least 0",
        ),
        (
            {"fraud_daily_limit": "20", "fraud_action": "shout"},
            "fraud_action",
            "When the limit is reached must be one of: notify, block (got 'shout')",
        ),
    ],
)
def test_fraud_override_bad_input_saves_nothing(
    client: Any, carol: SimpleNamespace, post: dict[str, str], field: str, message: str
) -> None:
    client.force_login(carol.admin)
    c = carol.customer
    response = client.post(f"/customers/{c.pk}/fraud/", post)
    assert response.status_code == 400
    assert_error_beside(response, field, message)
    assert f'id="field-{field}"' in block(response.content, "panel-fraud")
    c.refresh_from_db()
    assert (c.fraud_daily_limit, c.fraud_action) == (None, None)


# --------------------------------------------------------------------------- accounts


def test_accounts_view_lists_the_customers_accounts(client: Any, carol: SimpleNamespace) -> None:
    """Issue 3 §1: identifier, type, blocked, individual limit, balance, reserved, available
    funds; reached from the customer page."""
    client.force_login(carol.admin)
    c = carol.customer
    html = page_of(client, c)
    assert (
        f'<a href="/customers/{c.pk}/accounts/">Accounts <span class="count">3</span></a>' in html
    )
    response = client.get(f"/customers/{c.pk}/accounts/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="customer-form"' not in html
    assert (
        f'<a href="/customers/{c.pk}/accounts/" aria-current="page">Accounts '
        '<span class="count">3</span></a>'
    ) in html
    assert cells(html, "account-table") == [
        ["420111", "Credit", "Active", "Save", "2.25", "0.00", "no own limit", "Block"],
        ["420222", "Credit", "Active", "Save", "2.00", "0.00", "28.00", "Block"],
        ["420333", "Debit", "Active", "— own funds", "-24.90", "0.00", "24.90", "Block"],
    ]
    assert submitted(html, f"account-{carol.a2.pk}")["credit_limit"] == ["30"]
    assert submitted(html, f"account-{carol.a1.pk}")["credit_limit"] == [""]


def test_accounts_view_queries_do_not_grow_with_accounts(
    client: Any, carol: SimpleNamespace
) -> None:
    client.force_login(carol.admin)
    url = f"/customers/{carol.customer.pk}/accounts/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(30):
        data = {"identifier": f"42150{i:02d}", "credit_limit": "5"}
        create_account(actor=carol.admin, now=NOW, customer_id=carol.customer.pk, data=data)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert len(cells(html, "account-table")) == 33
    assert len(many) == len(few)


def test_add_account_and_duplicate_identifier(client: Any, carol: SimpleNamespace) -> None:
    client.force_login(carol.admin)
    c = carol.customer
    url = f"/customers/{c.pk}/accounts/"
    response = client.post(
        url, {"identifier": "420444", "account_type": "credit", "credit_limit": "15"}, follow=True
    )
    assert response.redirect_chain == [(url, 302)]
    assert messages_of(response) == ["Account “420444” added."]
    added = Account.objects.get(identifier="420444")
    assert (added.customer_id, added.account_type, added.credit_limit, added.blocked) == (
        c.pk,
        "credit",
        D("15.00000"),
        False,
    )
    assert ["420444", "Credit", "Active", "Save", "0.00", "0.00", "15.00", "Block"] in cells(
        response.content.decode(), "account-table"
    )
    response = client.post(
        url, {"identifier": "420111", "account_type": "debit", "credit_limit": ""}
    )
    assert response.status_code == 400
    assert_error_beside(response, "identifier", "An account '420111' already exists")
    response = client.post(
        url, {"identifier": "420555", "account_type": "debit", "credit_limit": "5"}
    )
    assert response.status_code == 400
    assert_error_beside(
        response,
        "credit_limit",
        "Individual credit limit applies only to credit accounts; "
        "a debit account spends its own funds",
    )
    assert owned(response.content, "account-add-form") == {
        "identifier": ["420555"],
        "account_type": ["debit"],
        "credit_limit": ["5"],
    }
    assert Account.objects.filter(customer=c).count() == 4


def test_block_unblock_and_change_an_accounts_limit(client: Any, carol: SimpleNamespace) -> None:
    client.force_login(carol.admin)
    c, a1 = carol.customer, carol.a1
    url = f"/customers/{c.pk}/accounts/{a1.pk}/"
    response = client.post(url, {"blocked": "true"}, follow=True)
    assert response.redirect_chain == [(f"/customers/{c.pk}/accounts/", 302)]
    assert messages_of(response) == ["Account “420111” blocked."]
    a1.refresh_from_db()
    assert a1.blocked is True
    row = cells(response.content.decode(), "account-table")[0]
    assert (row[2], row[-1]) == ("Blocked", "Unblock")
    assert submitted(response.content, f"account-{a1.pk}")["credit_limit"] == [""]
    response = client.post(url, {"blocked": "false"}, follow=True)
    assert messages_of(response) == ["Account “420111” unblocked."]
    response = client.post(url, {"credit_limit": "12.5"}, follow=True)
    assert messages_of(response) == ["Credit limit of account “420111” set to 12.50 USD."]
    a1.refresh_from_db()
    assert (a1.blocked, a1.credit_limit) == (False, D("12.50000"))
    assert cells(response.content.decode(), "account-table")[0][6] == "10.25"
    response = client.post(url, {"credit_limit": "1.234567"})
    assert response.status_code == 400
    row_html = block(response.content, f"account-{a1.pk}")
    assert (
        f'<p class="field-error" id="account-{a1.pk}-credit_limit-error">'
        "More than 5 decimal places</p>"
    ) in row_html
    assert 'value="1.234567"' in row_html and 'aria-invalid="true"' in row_html
    response = client.post(url, {"credit_limit": ""}, follow=True)
    assert messages_of(response) == ["Account “420111” has no individual credit limit."]
    a1.refresh_from_db()
    assert (a1.blocked, a1.credit_limit) == (False, None)


def test_another_customers_accounts_are_not_found_here(
    client: Any, carol: SimpleNamespace, admin: Any
) -> None:
    other = _customer(admin, "Other", carol.cls)
    client.force_login(admin)
    response = client.post(f"/customers/{other.pk}/accounts/{carol.a1.pk}/", {"blocked": "true"})
    assert response.status_code == 404
    carol.a1.refresh_from_db()
    assert carol.a1.blocked is False
    response = client.post(
        f"/customers/{other.pk}/transfer/",
        {"from_account": carol.d1.pk, "to_account": carol.a2.pk, "transfer_amount": "1"},
    )
    assert response.status_code == 404
    assert _balances(carol.d1, carol.a2) == [D("-24.90000"), D("2.00000")]


# --------------------------------------------------------------------------- transfers


def test_transfer_moves_funds_once_for_a_double_submit(client: Any, carol: SimpleNamespace) -> None:
    """CC-21: both accounts move, the customer's balance does not; the form's token is the
    idempotency key, so the second submit changes nothing."""
    client.force_login(carol.admin)
    c, a2, d1 = carol.customer, carol.a2, carol.d1
    html = client.get(f"/customers/{c.pk}/accounts/").content.decode()
    form = submitted(html, "transfer-form")
    token = form["transfer_key"][0]
    assert len(token) == 32
    assert form["from_account"] == [""]
    post = {
        "from_account": str(d1.pk),
        "to_account": str(a2.pk),
        "transfer_amount": "10",
        "transfer_comment": "Data plan",
        "transfer_key": token,
    }
    transactions = Transaction.objects.count()
    first = client.post(f"/customers/{c.pk}/transfer/", post, follow=True)
    assert first.redirect_chain == [(f"/customers/{c.pk}/accounts/", 302)]
    assert messages_of(first) == ["Transferred 10.00 USD from “420333” to “420222”."]
    assert _balances(d1, a2) == [D("-14.90000"), D("-8.00000")]
    assert [row[6] for row in cells(first.content.decode(), "account-table")] == [
        "no own limit",
        "38.00",
        "14.90",
    ]
    second = client.post(f"/customers/{c.pk}/transfer/", post, follow=True)
    assert messages_of(second) == ["This transfer was already made; nothing changed."]
    assert _balances(d1, a2) == [D("-14.90000"), D("-8.00000")]
    assert Transaction.objects.count() == transactions + 2
    c.refresh_from_db()
    assert c.balance == D("-40.65000")
    # A fresh form gets a fresh token; the ledger shows both sides.
    assert submitted(second.content, "transfer-form")["transfer_key"] != [token]
    ledger = cells(page_of(client, c), "ledger-table")
    assert [row[1:6] for row in ledger[:2]] == [
        [
            "Subscriber-to-subscriber transfer",
            "0.00",
            "-40.65",
            "420222 received 10.00",
            "Data plan",
        ],
        ["Subscriber-to-subscriber transfer", "0.00", "-40.65", "420333 sent 10.00", "Data plan"],
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"transfer_amount": "100"}, "transfer_amount", "420333 has 24.90000 available"),
        ({"transfer_amount": "0"}, "transfer_amount", "Amount must be greater than 0"),
        ({"from_account": ""}, "from_account", "Choose an account"),
        (
            {"from_account": "@ACCOUNT1"},
            "from_account",
            "Only debit accounts and credit accounts with an individual credit limit can "
            "transfer funds",
        ),
        ({"to_account": "@ACCOUNT3"}, "to_account", "To account must differ from from_account"),
    ],
)
def test_transfer_errors_change_nothing(
    client: Any, carol: SimpleNamespace, change: dict[str, str], field: str, message: str
) -> None:
    client.force_login(carol.admin)
    c = carol.customer
    ids = {"@ACCOUNT1": str(carol.a1.pk), "@ACCOUNT3": str(carol.d1.pk)}
    post = {
        "from_account": str(carol.d1.pk),
        "to_account": str(carol.a2.pk),
        "transfer_amount": "5",
        "transfer_comment": "",
        "transfer_key": "t-1",
    }
    post.update({k: ids.get(v, v) for k, v in change.items()})
    before = _balances(carol.a1, carol.a2, carol.d1)
    transactions = Transaction.objects.count()
    response = client.post(f"/customers/{c.pk}/transfer/", post)
    assert response.status_code == 400
    assert_error_beside(response, field, message)
    assert submitted(response.content, "transfer-form")["transfer_key"] == ["t-1"]
    assert _balances(carol.a1, carol.a2, carol.d1) == before
    assert Transaction.objects.count() == transactions


def test_transfers_off_in_the_class(client: Any, admin: Any) -> None:
    """CC-21 off: a notice instead of the form; a forced POST is refused, nothing moves."""
    plain = _class(admin, "Plain", currency="USD")
    dan = _customer(admin, "Dan", plain)
    a = create_account(
        actor=admin, now=NOW, customer_id=dan.pk, data={"identifier": "1", "account_type": "debit"}
    )
    b = create_account(
        actor=admin, now=NOW, customer_id=dan.pk, data={"identifier": "2", "account_type": "debit"}
    )
    record_transaction(
        actor=admin,
        now=NOW,
        customer_id=dan.pk,
        action="Manual payment",
        amount="9",
        account_id=a.pk,
    )
    client.force_login(admin)
    html = client.get(f"/customers/{dan.pk}/accounts/").content.decode()
    assert 'id="transfer-form"' not in html
    assert text(html, "transfers-off") == (
        "Subscriber-to-subscriber transfers are off in the customer class “Plain”."
    )
    response = client.post(
        f"/customers/{dan.pk}/transfer/",
        {"from_account": a.pk, "to_account": b.pk, "transfer_amount": "5", "transfer_key": "k"},
    )
    assert response.status_code == 400
    assert escape("subscriber-to-subscriber transfers are not allowed in class 'Plain'") in block(
        response.content, "transfers-off"
    )
    assert _balances(a, b) == [D("-9.00000"), D("0.00000")]
    assert Transaction.objects.filter(customer=dan).count() == 1


# --------------------------------------------------------------------------- access


def _pages(customer: Customer) -> list[str]:
    return [
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/accounts/",
        f"/customers/{customer.pk}/xdrs.csv",
    ]


def test_anonymous_is_sent_to_login(client: Any, carol: SimpleNamespace) -> None:
    for url in _pages(carol.customer):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next="), url
    response = client.post(f"/customers/{carol.customer.pk}/fraud/", {"fraud_action": "block"})
    assert response.status_code == 302
    carol.customer.refresh_from_db()
    assert carol.customer.fraud_action is None


def test_reseller_sees_only_its_own_customers_tabs(
    client: Any, world: dict[str, Any], admin: Any
) -> None:
    """DESIGN rule 4: reseller A on reseller B's customer gets 404 everywhere and its POSTs
    change nothing; on its own customer the tabs work."""
    ub, ua = world["ub"], world["ua"]
    bee = create_customer(
        actor=ub,
        now=NOW,
        data={
            "name": "B Sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["b"].pk,
        },
    )
    acc = create_account(
        actor=ub, now=NOW, customer_id=bee.pk, data={"identifier": "b-1", "account_type": "debit"}
    )
    other = create_account(
        actor=ub, now=NOW, customer_id=bee.pk, data={"identifier": "b-2", "account_type": "debit"}
    )
    record_transaction(
        actor=ub,
        now=NOW,
        customer_id=bee.pk,
        action="Manual payment",
        amount="5",
        account_id=acc.pk,
    )
    usage(ub, acc, "voice", "1", "60", "s", started_at="2026-11-01T08:00Z")
    audit = AuditEntry.objects.count()
    client.force_login(ua)
    for url in _pages(bee):
        assert client.get(url).status_code == 404, url
    posts = [
        (
            f"/customers/{bee.pk}/credit-limit/",
            {"temp_credit_limit": "9", "credit_limit_until": "2026-12-01T00:00"},
        ),
        (f"/customers/{bee.pk}/fraud/", {"fraud_daily_limit": "1", "fraud_action": "block"}),
        (f"/customers/{bee.pk}/accounts/", {"identifier": "a-1", "account_type": "debit"}),
        (f"/customers/{bee.pk}/accounts/{acc.pk}/", {"blocked": "true"}),
        (
            f"/customers/{bee.pk}/transfer/",
            {"from_account": acc.pk, "to_account": other.pk, "transfer_amount": "1"},
        ),
        (f"/customers/{bee.pk}/", {"name": "Taken", "_continue": "1"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    # Its own customer's URL does not reach B's accounts either.
    own = create_customer(
        actor=ua,
        now=NOW,
        data={
            "name": "A Sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    response = client.post(
        f"/customers/{own.pk}/transfer/",
        {"from_account": acc.pk, "to_account": other.pk, "transfer_amount": "1"},
    )
    assert response.status_code == 404
    assert (
        client.post(f"/customers/{own.pk}/accounts/{acc.pk}/", {"blocked": "true"}).status_code
        == 404
    )
    bee.refresh_from_db()
    assert (bee.name, bee.temp_credit_limit, bee.fraud_daily_limit, bee.fraud_action) == (
        "B Sub",
        None,
        None,
        None,
    )
    assert list(
        Account.objects.filter(customer=bee).values_list("identifier", "blocked", "balance")
    ) == [
        ("b-1", False, D("-4.00000")),
        ("b-2", False, D("0.00000")),
    ]
    assert AuditEntry.objects.count() == audit + 1  # A Sub's creation only
    for url in _pages(own):
        assert client.get(url).status_code == 200, url

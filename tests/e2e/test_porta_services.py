"""The ``Account``, ``Invoice`` and ``Currency`` services, ``Customer/get_customer_xdrs``,
custom fields written as ``{name, db_value}``, records exported from the original, and the
methods billcore does not offer (issue 18), over HTTP in both request styles (JSON + Bearer,
form fields), on SQLite and PostgreSQL."""

import datetime as dt
from decimal import Decimal

import pytest

from billcore.audit.models import AuditEntry
from billcore.charging.services import charge, parse_usage
from billcore.customers.models import Customer
from billcore.engine import run
from billcore.installation.services import create_custom_field
from billcore.porta.models import CustomerTimeZoneId
from billcore.subscribers.models import Account
from billcore.subscriptions.models import Subscription
from billcore.subscriptions.services import create_plan
from tests.e2e.porta_support import T0, fault
from tests.e2e.test_porta import add, info_of

D = Decimal


def account(porta, **info):
    return porta.ok("Account", "add_account", {"account_info": info})["i_account"]


def account_info(porta, i_account):
    return porta.ok("Account", "get_account_info", {"i_account": i_account})["account_info"]


# --- Account ----------------------------------------------------------------------------------


def test_add_account_and_read_it_back(porta, world):
    cid = add(porta, name="Lines Ltd", credit_limit=100)
    aid = account(porta, i_customer=cid, id="+420111", billing_model=1, credit_limit="50")
    debit = account(porta, i_customer=cid, id="+420222", billing_model=-1, blocked="Y")
    assert account_info(porta, aid) == {
        "i_account": aid,
        "id": "+420111",
        "i_customer": cid,
        "iso_4217": "USD",
        "billing_model": 1,
        "balance": D("0.00000"),
        "credit_limit": D("50.00000"),
        "blocked": "N",
        "bill_status": "O",
        "terminate_on": None,
        "i_product": None,
        "creation_date": "2026-11-01 12:00:00",
    }
    by_id = porta.ok("Account", "get_account_info", {"id": "+420222"})["account_info"]
    assert (
        by_id["i_account"],
        by_id["billing_model"],
        by_id["blocked"],
        by_id["credit_limit"],
    ) == (
        debit,
        -1,
        "Y",
        None,
    )
    account_row = Account.objects.get(pk=debit)
    assert (account_row.account_type, account_row.blocked) == ("debit", True)


def test_add_account_faults_and_saves_nothing(porta, world):
    cid = add(porta, name="Lines Ltd")
    account(porta, i_customer=cid, id="+420111")
    before = (Account.objects.count(), AuditEntry.objects.count())
    m = "Client.Account.add_account."
    for info, reason, string in (
        ({"id": "+1"}, "required_i_customer", "i_customer is required"),
        (
            {"i_customer": 99999, "id": "+1"},
            "not_found_i_customer",
            "i_customer: customer 99999 not found",
        ),
        ({"i_customer": cid}, "required_id", "id is required"),
        (
            {"i_customer": cid, "id": "+420111"},
            "duplicate_id",
            "id: an account '+420111' already exists",
        ),
        (
            {"i_customer": cid, "id": "+2", "billing_model": 0},
            "invalid_billing_model",
            "billing_model must be 1 (credit) or -1 (debit) (got 0)",
        ),
        (
            {"i_customer": cid, "id": "+2", "billing_model": -1, "credit_limit": 5},
            "not_applicable_credit_limit",
            "credit_limit applies only to credit accounts; a debit account spends its own funds",
        ),
        (
            {"i_customer": cid, "id": "+2", "iso_4217": "EUR"},
            "currency_mismatch_iso_4217",
            "iso_4217: an account uses its customer's currency, USD (got 'EUR')",
        ),
        (
            {"i_customer": cid, "id": "+2", "blocked": "X"},
            "invalid_blocked",
            "blocked must be 'Y' or 'N' (got 'X')",
        ),
    ):
        fault(porta.call("Account", "add_account", {"account_info": info}), m + reason, string)
    fault(
        porta.call("Account", "add_account", {}),
        m + "required_account_info",
        "account_info is required (an object)",
    )
    assert (Account.objects.count(), AuditEntry.objects.count()) == before


def test_add_account_lists_ignored_fields_and_an_unapplied_product(porta, world):
    cid = add(porta, name="Lines Ltd")
    r = porta.ok(
        "Account",
        "add_account",
        {
            "account_info": {
                "i_customer": cid,
                "id": "+1",
                "i_product": 7,
                "balance": 5,
                "bill_status": "O",
                "h323_password": "x",
                "um_enabled": "N",
            }
        },
    )
    assert r == {
        "i_account": r["i_account"],
        "warnings": [
            "i_product 7 is not applied: billcore has no products yet (rating comes with its "
            "own issue); the account is charged by usage records as sent",
            "read-only fields not applied (a new record starts without them; balances move "
            "only by transactions): balance (sent 5, is 0.00000)",
            "ignored fields billcore does not model: h323_password, um_enabled",
        ],
    }
    assert account_info(porta, r["i_account"])["i_product"] is None


def test_get_account_list_filters_and_paging(porta, world):
    c1 = add(porta, name="One")
    c2 = add(porta, name="Two")
    ids = {
        name: account(porta, i_customer=cid, id=name, blocked=blocked)
        for name, cid, blocked in (
            ("+4201", c1, "N"),
            ("+4202", c1, "Y"),
            ("+4203", c1, "N"),
            ("+4911", c2, "N"),
        )
    }

    def listed(**params):
        body = porta.ok("Account", "get_account_list", {"get_total": 1, **params})
        return [a["id"] for a in body["account_list"]], body["total"]

    assert listed() == (["+4201", "+4202", "+4203", "+4911"], 4)
    assert listed(i_customer=c1) == (["+4201", "+4202", "+4203"], 3)
    assert listed(id="+420%") == (["+4201", "+4202", "+4203"], 3)
    assert listed(id="+49__") == (["+4911"], 1)
    assert listed(blocked="Y") == (["+4202"], 1)
    assert listed(i_customer=c1, offset=1, limit=1) == (["+4202"], 3)
    assert listed(offset=3, limit=100) == (["+4911"], 4)
    assert listed(offset=4, limit=100) == ([], 4)
    porta.ok("Account", "terminate_account", {"i_account": ids["+4203"]})
    assert listed(bill_status="C") == (["+4203"], 1)
    assert listed(bill_status="O") == (["+4201", "+4202", "+4911"], 3)
    m = "Client.Account.get_account_list."
    fault(
        porta.call("Account", "get_account_list", {"bill_status": "X"}),
        m + "invalid_bill_status",
        "bill_status must be O (open) or C (terminated); got 'X'",
    )
    fault(porta.call("Account", "get_account_list", {"limit": 0}), m + "invalid_limit")
    assert porta.ok("Account", "get_account_list", {"i_customer": 99999}) == {"account_list": []}


def test_update_account_blocked_and_credit_limit(porta, world):
    """The billing middleware retries ``update_account {i_account, blocked}`` three times:
    the same change three times is one change."""
    cid = add(porta, name="Lines Ltd")
    aid = account(porta, i_customer=cid, id="+1", credit_limit=10)
    for _ in range(3):
        r = porta.ok(
            "Account", "update_account", {"account_info": {"i_account": aid, "blocked": "Y"}}
        )
        assert r == {"i_account": aid}
    assert account_info(porta, aid)["blocked"] == "Y"
    updates = AuditEntry.objects.filter(object_type="account", operation="update").order_by("id")
    assert [e.after for e in updates] == [{"blocked": True}, {}, {}]
    porta.ok(
        "Account",
        "update_account",
        {"account_info": {"i_account": aid, "blocked": 0, "credit_limit": "75.5"}},
    )
    got = account_info(porta, aid)
    assert (got["blocked"], got["credit_limit"]) == ("N", D("75.50000"))
    # A record read back, changed and sent whole: only the change applies.
    record = {**got, "credit_limit": None}
    assert porta.ok("Account", "update_account", {"account_info": record}) == {"i_account": aid}
    assert account_info(porta, aid)["credit_limit"] is None
    m = "Client.Account.update_account."
    for info, reason, string in (
        ({"id": "+2"}, "read_only_id", "id cannot be changed through update_account"),
        (
            {"i_customer": 1},
            "read_only_i_customer",
            "i_customer cannot be changed through update_account",
        ),
        (
            {"billing_model": -1},
            "read_only_billing_model",
            "billing_model cannot be changed through update_account",
        ),
        (
            {"bill_status": "C"},
            "read_only_bill_status",
            "bill_status cannot be changed through update_account (use terminate_account)",
        ),
        ({"credit_limit": "-1"}, "invalid_credit_limit", "credit_limit must be at least 0"),
    ):
        fault(
            porta.call("Account", "update_account", {"account_info": {"i_account": aid, **info}}),
            m + reason,
            string,
        )
    fault(
        porta.call(
            "Account", "update_account", {"account_info": {"i_account": 99999, "blocked": "Y"}}
        ),
        m + "not_found_i_account",
        "i_account: account 99999 not found",
    )


def test_terminate_account_blocks_it_for_good_and_ends_its_subscriptions(porta, world, clock):
    cid = add(porta, name="Lines Ltd")
    aid = account(porta, i_customer=cid, id="+1")
    plan = create_plan(
        actor=world["admin"], now=T0, data={"name": "Line", "currency": "USD", "fee": "5"}
    )
    running = porta.ok(
        "Account",
        "add_subscription",
        {"i_account": aid, "subscription_info": {"i_subscription": plan.pk}},
    )
    later = porta.ok(
        "Account",
        "add_subscription",
        {
            "i_account": aid,
            "subscription_info": {"i_subscription": plan.pk, "start_date": "2026-12-01"},
        },
    )
    clock.advance(minutes=30)
    assert porta.ok("Account", "terminate_account", {"i_account": aid}) == {"success": 1}
    got = account_info(porta, aid)
    assert (got["bill_status"], got["blocked"], got["terminate_on"]) == (
        "C",
        "Y",
        "2026-11-01 12:30:00",
    )
    subs = {s.pk: (s.end_at, s.status) for s in Subscription.objects.all()}
    assert subs[later["i_account_subscription"]] == (
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        "ended",
    )
    assert subs[running["i_account_subscription"]][0] == T0 + dt.timedelta(minutes=30)
    m = "Client.Account."
    fault(
        porta.call("Account", "terminate_account", {"i_account": aid}),
        m + "terminate_account.terminated_i_account",
        "i_account: account '+1' is terminated; it cannot change any more",
    )
    fault(
        porta.call(
            "Account", "update_account", {"account_info": {"i_account": aid, "blocked": "N"}}
        ),
        m + "update_account.terminated_i_account",
        "i_account: account '+1' is terminated; it cannot change any more",
    )
    usage = parse_usage(service="voice", amount="1", now=clock.now)
    result = charge(actor=world["admin"], now=clock.now, account_id=aid, usage=usage)
    assert (result.allowed, result.reason) == (False, "account_blocked")
    fault(
        porta.call("Account", "terminate_account", {}),
        m + "terminate_account.required_i_account",
        "i_account is required",
    )
    fault(
        porta.call(
            "Account",
            "close_subscription",
            {"i_account": aid, "i_account_subscription": later["i_account_subscription"]},
        ),
        m + "close_subscription.ended_finish_date",
        f"finish_date: subscription {later['i_account_subscription']} has ended; subscribe "
        "again instead",
    )


def test_a_resellers_user_sees_only_its_own_accounts(porta_a, world):
    from billcore.subscribers.services import create_account

    other = create_account(
        actor=world["admin"], now=T0, customer_id=world["rb"].pk, data={"identifier": "+b"}
    )
    mine = account(
        porta_a,
        i_customer=add(porta_a, name="A's", i_customer_class=world["classes"]["a"].pk),
        id="+a",
    )
    assert [
        a["i_account"] for a in porta_a.ok("Account", "get_account_list", {})["account_list"]
    ] == [mine]
    for method, params in (
        ("get_account_info", {"i_account": other.pk}),
        ("update_account", {"account_info": {"i_account": other.pk, "blocked": "Y"}}),
        ("terminate_account", {"i_account": other.pk}),
        ("get_custom_fields_values", {"i_account": other.pk}),
        ("get_subscriptions", {"i_account": other.pk}),
        ("get_xdr_list", {"i_account": other.pk}),
    ):
        fault(
            porta_a.call("Account", method, params),
            f"Client.Account.{method}.not_found_i_account",
            f"i_account: account {other.pk} not found",
        )
    fault(
        porta_a.call("Account", "get_account_info", {"id": "+b"}),
        "Client.Account.get_account_info.not_found_id",
        "id: no account '+b'",
    )
    fault(
        porta_a.call(
            "Account", "add_account", {"account_info": {"i_customer": world["rb"].pk, "id": "+x"}}
        ),
        "Client.Account.add_account.not_found_i_customer",
        f"i_customer: customer {world['rb'].pk} not found",
    )


def test_account_subscriptions(porta, world, clock):
    cid = add(porta, name="Lines Ltd")
    aid = account(porta, i_customer=cid, id="+1")
    plan = create_plan(
        actor=world["admin"], now=T0, data={"name": "Line", "currency": "USD", "fee": "5.5"}
    )
    eur = create_plan(
        actor=world["admin"], now=T0, data={"name": "Euro line", "currency": "EUR", "fee": "5"}
    )
    # A date alone on the customer's creation day starts at its creation.
    r = porta.ok(
        "Account",
        "add_subscription",
        {
            "i_account": aid,
            "subscription_info": {
                "i_subscription": plan.pk,
                "start_date": "2026-11-01",
                "finish_date": "2027-11-01",
            },
        },
    )
    sid = r["i_account_subscription"]
    assert porta.ok("Account", "get_subscriptions", {"i_account": aid}) == {
        "subscriptions": [
            {
                "i_account_subscription": sid,
                "i_subscription": plan.pk,
                "name": "Line",
                "i_account": aid,
                "i_customer": cid,
                "fee": D("5.50000"),
                "start_date": "2026-11-01 12:00:00",
                "finish_date": "2027-11-01 00:00:00",
                "status": "active",
                "is_finished": "N",
                "charged_to": None,
            }
        ]
    }
    assert Subscription.objects.get(pk=sid).account_id == aid
    clock.advance(minutes=45)
    assert porta.ok(
        "Account", "close_subscription", {"i_account": aid, "i_account_subscription": sid}
    ) == {"success": 1}
    assert (
        porta.ok("Account", "get_subscriptions", {"i_account": aid})["subscriptions"][0][
            "finish_date"
        ]
        == "2026-11-01 12:45:00"
    )
    m = "Client.Account."
    for params, reason, string in (
        (
            {"i_account": aid, "subscription_info": {"i_subscription": eur.pk}},
            "currency_mismatch_i_subscription",
            "i_subscription: 'Euro line' charges in EUR but the customer's currency is USD",
        ),
        (
            {"i_account": aid, "subscription_info": {"i_subscription": 99999}},
            "not_found_i_subscription",
            "i_subscription: subscription plan 99999 does not exist",
        ),
        (
            {"i_account": aid, "subscription_info": {}},
            "required_i_subscription",
            "i_subscription is required",
        ),
        (
            {
                "i_account": aid,
                "subscription_info": {"i_subscription": plan.pk, "start_date": "soon"},
            },
            "invalid_start_date",
            "start_date must be a UTC date-time 'YYYY-MM-DD HH:MM:SS' (got 'soon')",
        ),
        (
            {"i_account": aid},
            "required_subscription_info",
            "subscription_info is required (an object)",
        ),
    ):
        fault(
            porta.call("Account", "add_subscription", params),
            m + "add_subscription." + reason,
            string,
        )
    fault(
        porta.call(
            "Account", "close_subscription", {"i_account": aid, "i_account_subscription": 99999}
        ),
        m + "close_subscription.not_found_i_account_subscription",
        f"i_account_subscription: account {aid} has no subscription 99999",
    )
    future = porta.ok(
        "Account",
        "add_subscription",
        {
            "i_account": aid,
            "subscription_info": {"i_subscription": plan.pk, "start_date": "2027-01-01"},
        },
    )["i_account_subscription"]
    fault(
        porta.call(
            "Account", "close_subscription", {"i_account": aid, "i_account_subscription": future}
        ),
        m + "close_subscription.invalid_finish_date",
        "finish_date must be after the subscription's start (2027-01-01T00:00:00+00:00)",
    )
    fault(
        porta.call(
            "Account",
            "add_subscription",
            {
                "i_account": aid,
                "subscription_info": {
                    "i_subscription": plan.pk,
                    "start_date": "2027-01-01",
                    "finish_date": "2026-12-01",
                },
            },
        ),
        m + "add_subscription.invalid_finish_date",
        "finish_date must be after start_date",
    )


def test_account_custom_fields_values_by_name_label_and_db_value(porta, world):
    """Custom fields (CU-11) on accounts, written as clients write them."""
    cost = create_custom_field(
        actor=world["admin"], now=T0, name="cost_center", label="Cost Center"
    )
    vip = create_custom_field(actor=world["admin"], now=T0, name="vip", label="VIP")
    cid = add(porta, name="Lines Ltd")
    aid = account(porta, i_customer=cid, id="+1")
    r = porta.ok(
        "Account",
        "update_custom_fields_values",
        {
            "i_account": aid,
            "custom_fields_values": [
                {"name": "Cost Center", "db_value": "CC-7"},
                {"name": "vip", "db_value": True},
            ],
        },
    )
    assert r == {"success": 1}
    assert porta.ok("Account", "get_custom_fields_values", {"i_account": aid}) == {
        "custom_fields_values": [
            {
                "i_custom_field": cost.pk,
                "name": "cost_center",
                "label": "Cost Center",
                "type": "text",
                "db_value": "CC-7",
                "text_value": "CC-7",
            },
            {
                "i_custom_field": vip.pk,
                "name": "vip",
                "label": "VIP",
                "type": "text",
                "db_value": "1",
                "text_value": "1",
            },
        ]
    }
    assert Account.objects.get(pk=aid).custom_fields == {"cost_center": "CC-7", "vip": "1"}
    porta.ok(
        "Account",
        "update_custom_fields_values",
        {
            "i_account": aid,
            "custom_fields_values": [
                {"name": "VIP", "db_value": 0},
                {"name": "cost-center", "db_value": None},
            ],
        },
    )
    assert Account.objects.get(pk=aid).custom_fields == {"vip": "0"}
    fault(
        porta.call(
            "Account",
            "update_custom_fields_values",
            {"i_account": aid, "custom_fields_values": [{"name": "vip", "value": "1"}]},
        ),
        "Client.Account.update_custom_fields_values.required_custom_fields_values",
        "custom_fields_values[0] needs db_value (or text_value) with the value; its keys: "
        "name, value",
    )
    assert Account.objects.get(pk=aid).custom_fields == {"vip": "0"}


# --- xDRs -------------------------------------------------------------------------------------


@pytest.fixture
def usage(porta, world):
    """A customer with two accounts and four xDRs (one denied), the customer's own one too."""
    cid = add(porta, name="Talker", credit_limit=10)
    a1 = account(porta, i_customer=cid, id="+1")
    a2 = account(porta, i_customer=cid, id="+2")
    admin = world["admin"]
    rows = []
    for target, amount, at, ext in (
        ({"account_id": a1}, "1.5", dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC), "x1"),
        ({"account_id": a2}, "2.25", dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC), "x2"),
        ({"account_id": a1}, "50", dt.datetime(2026, 11, 4, 8, 0, tzinfo=dt.UTC), "x3"),  # denied
        ({"customer_id": cid}, "0.5", dt.datetime(2026, 11, 5, 23, 59, 59, tzinfo=dt.UTC), "x4"),
    ):
        u = parse_usage(
            service="voice",
            amount=amount,
            quantity="60",
            unit="s",
            started_at=at,
            external_id=ext,
            details={"cld": "+420999"},
            now=at,
        )
        rows.append(charge(actor=admin, now=at, usage=u, **target))
    return {"customer": cid, "a1": a1, "a2": a2, "xdrs": [r.xdr_id for r in rows]}


def test_account_xdr_list_with_dates_and_paging(porta, usage):
    x1, _, x3, _ = usage["xdrs"]
    body = porta.ok("Account", "get_xdr_list", {"i_account": usage["a1"], "get_total": 1})
    assert body == {
        "xdr_list": [
            {
                "i_xdr": x3,
                "i_customer": usage["customer"],
                "i_account": usage["a1"],
                "account_id": "+1",
                "connect_time": "2026-11-04 08:00:00",
                "bill_time": "2026-11-04 08:00:00",
                "service": "voice",
                "charged_quantity": D("60.00000"),
                "unit": "s",
                "charged_amount": D("0.00000"),
                "status": "denied",
                "deny_reason": "credit_limit_exceeded",
                "external_id": "x3",
                "details": {"cld": "+420999"},
            },
            {
                "i_xdr": x1,
                "i_customer": usage["customer"],
                "i_account": usage["a1"],
                "account_id": "+1",
                "connect_time": "2026-11-02 08:00:00",
                "bill_time": "2026-11-02 08:00:00",
                "service": "voice",
                "charged_quantity": D("60.00000"),
                "unit": "s",
                "charged_amount": D("1.50000"),
                "status": "charged",
                "deny_reason": "",
                "external_id": "x1",
                "details": {"cld": "+420999"},
            },
        ],
        "total": 2,
    }
    dated = porta.ok(
        "Account",
        "get_xdr_list",
        {"i_account": usage["a1"], "from_date": "2026-11-02 08:00:00", "to_date": "2026-11-04"},
    )
    assert [x["i_xdr"] for x in dated["xdr_list"]] == [x1]
    paged = porta.ok("Account", "get_xdr_list", {"i_account": usage["a1"], "offset": 1, "limit": 1})
    assert [x["i_xdr"] for x in paged["xdr_list"]] == [x1]


def test_customer_xdrs_with_the_filters_clients_use(porta, usage):
    x1, x2, x3, x4 = usage["xdrs"]

    def listed(**params):
        body = porta.ok(
            "Customer",
            "get_customer_xdrs",
            {"i_customer": usage["customer"], "get_total": 1, **params},
        )
        return [x["i_xdr"] for x in body["xdr_list"]], body["total"]

    assert listed() == ([x4, x3, x2, x1], 4)
    assert listed(from_date="2026-11-03", to_date="2026-11-05") == ([x3, x2], 2)
    assert listed(from_date="2026-11-05") == ([x4], 1)
    assert listed(to_date="2026-11-05 23:59:59") == ([x3, x2, x1], 3)
    assert listed(offset=1, limit=2) == ([x3, x2], 4)
    assert listed(i_account=usage["a2"]) == ([x2], 1)
    own = porta.ok("Customer", "get_customer_xdrs", {"i_customer": usage["customer"], "limit": 1})[
        "xdr_list"
    ][0]
    assert (own["i_account"], own["account_id"], own["charged_amount"]) == (
        None,
        None,
        D("0.50000"),
    )
    m = "Client.Customer.get_customer_xdrs."
    fault(
        porta.call(
            "Customer",
            "get_customer_xdrs",
            {"i_customer": usage["customer"], "from_date": "2026-11-05", "to_date": "2026-11-01"},
        ),
        m + "invalid_to_date",
        "to_date must be after from_date",
    )
    fault(
        porta.call(
            "Customer",
            "get_customer_xdrs",
            {"i_customer": usage["customer"], "from_date": "yesterday"},
        ),
        m + "invalid_from_date",
        "from_date must be a UTC date-time 'YYYY-MM-DD HH:MM:SS' (got 'yesterday')",
    )
    fault(
        porta.call("Customer", "get_customer_xdrs", {"i_customer": 99999}),
        m + "not_found_i_customer",
        "i_customer: customer 99999 not found",
    )
    fault(
        porta.call("Customer", "get_customer_xdrs", {}),
        m + "required_i_customer",
        "i_customer is required",
    )


# --- Invoice, Currency ------------------------------------------------------------------------


def test_invoice_list_and_info(porta, world):
    cid = add(porta, name="Billed", credit_limit=100)
    at = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    u = parse_usage(service="voice", amount="12.34", quantity="60", started_at=at, now=at)
    assert charge(actor=world["admin"], now=at, customer_id=cid, usage=u).allowed
    report = run(now=dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=dt.UTC), steps=["close"])
    assert report.errors == []
    body = porta.ok("Invoice", "get_invoice_list", {"i_customer": cid, "get_total": 1})
    assert body["total"] == 1
    (listed,) = body["invoice_list"]
    info = porta.ok("Invoice", "get_invoice_info", {"i_invoice": listed["i_invoice"]})[
        "invoice_info"
    ]
    assert info == listed
    assert {k: v for k, v in info.items() if k not in ("i_invoice", "invoice_number")} == {
        "i_customer": cid,
        "iso_4217": "USD",
        "invoice_type": "regular",
        "issue_date": "2026-12-01 00:00:01",
        "due_date": info["due_date"],
        "period_from": "2026-11-01 12:00:00",
        "period_to": "2026-12-01 00:00:00",
        "previous_balance": D("0.00000"),
        "payments": D("0.00000"),
        "amount_net": D("12.34000"),
        "taxes": D("0.00000"),
        "rounding": info["rounding"],
        "amount_total": info["amount_total"],
        "amount_paid": D("0.00000"),
        "amount_due": info["amount_total"],
        "balance_after": info["amount_total"],
        "invoice_status": "issued",
        "paid_date": None,
    }
    assert info["amount_total"] == D("12.34000") + info["rounding"]
    assert porta.ok(
        "Invoice", "get_invoice_list", {"i_customer": cid, "from_date": "2026-12-02"}
    ) == {"invoice_list": []}
    assert porta.ok("Invoice", "get_invoice_list", {"to_date": "2026-12-02"})["invoice_list"] == [
        listed
    ]
    m = "Client.Invoice."
    fault(
        porta.call("Invoice", "get_invoice_info", {"i_invoice": 99999}),
        m + "get_invoice_info.not_found_i_invoice",
        "i_invoice: invoice 99999 not found",
    )
    fault(
        porta.call("Invoice", "get_invoice_info", {}),
        m + "get_invoice_info.required_i_invoice",
        "i_invoice is required",
    )
    fault(
        porta.call("Invoice", "get_invoice_list", {"i_customer": 99999}),
        m + "get_invoice_list.not_found_i_customer",
        "i_customer: customer 99999 not found",
    )


def test_a_resellers_user_sees_only_its_own_invoices(porta_a, world):
    at = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    u = parse_usage(service="voice", amount="1", started_at=at, now=at)
    charge(actor=world["admin"], now=at, customer_id=world["rb"].pk, usage=u)
    run(now=dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=dt.UTC), steps=["close"])
    assert porta_a.ok("Invoice", "get_invoice_list", {}) == {"invoice_list": []}


def test_currency_list(porta):
    assert porta.ok("Currency", "get_currency_list", {}) == {
        "currency_list": [
            {"iso_4217": c.code, "name": c.name, "decimal_digits": c.decimals}
            for c in __import__(
                "billcore.installation.models", fromlist=["Currency"]
            ).Currency.objects.order_by("code")
        ]
    }
    usd = [
        c
        for c in porta.ok("Currency", "get_currency_list")["currency_list"]
        if c["iso_4217"] == "USD"
    ]
    assert usd == [{"iso_4217": "USD", "name": "US Dollar", "decimal_digits": 2}]


# --- records exported from the original, unsupported methods ----------------------------------

TZ_WARNING = (
    "i_time_zone 367 is a numeric PortaBilling time zone id, which billcore cannot translate "
    "(the original's ids are not public): it is stored and returned as given, and the customer "
    "is billed in the installation's default time zone, UTC. Send an IANA name (e.g. "
    "Europe/Prague) to bill in another zone."
)
POSTPAID = (
    "i_balance_control_type was not given: the customer is postpaid (i_balance_control_type 1)"
)


def test_add_customer_with_a_numeric_time_zone_and_no_balance_control(porta):
    r = porta.ok(
        "Customer",
        "add_customer",
        {
            "customer_info": {
                "name": "Imported",
                "iso_4217": "USD",
                "i_time_zone": 367,
                "i_acl": 3,
                "out_date_format": "x",
            }
        },
    )
    cid = r["i_customer"]
    assert r == {
        "i_customer": cid,
        "warnings": [
            TZ_WARNING,
            POSTPAID,
            "ignored fields billcore does not model: i_acl, out_date_format",
        ],
    }
    info = info_of(porta, cid)
    assert (info["i_time_zone"], info["i_balance_control_type"]) == (367, 1)
    customer = Customer.objects.get(pk=cid)
    assert (customer.time_zone, customer.balance_control) == ("UTC", "postpaid")
    # Sent back unchanged: nothing to say; another id: kept, with the warning; a name: bills there.
    assert porta.ok("Customer", "update_customer", {"customer_info": {**info}}) == {
        "i_customer": cid
    }
    r = porta.ok(
        "Customer", "update_customer", {"customer_info": {"i_customer": cid, "i_time_zone": "368"}}
    )
    assert r == {"i_customer": cid, "warnings": [TZ_WARNING.replace("367", "368")]}
    assert info_of(porta, cid)["i_time_zone"] == 368
    porta.ok(
        "Customer",
        "update_customer",
        {"customer_info": {"i_customer": cid, "i_time_zone": "Europe/Prague"}},
    )
    assert info_of(porta, cid)["i_time_zone"] == "Europe/Prague"
    assert CustomerTimeZoneId.objects.count() == 0
    r = porta.ok(
        "Customer",
        "validate_customer_info",
        {"customer_info": {"name": "Checked", "iso_4217": "USD", "i_time_zone": 367}},
    )
    assert r == {"success": 1, "warnings": [TZ_WARNING, POSTPAID]}
    assert CustomerTimeZoneId.objects.count() == 0


def test_unsupported_services_and_methods_fault_with_the_reason(porta):
    fault(
        porta.call("Customer", "add_customer_extension", {"i_customer": 1, "id": "101"}),
        "Server.Customer.add_customer_extension.not_supported",
        "Customer/add_customer_extension is not supported: customer extensions (the Cloud PBX "
        "extensions and hunt groups of a customer) are outside billcore's scope: billcore "
        "bills, it does not run a PBX",
    )
    fault(
        porta.call("Destination", "add_destination", {"destination": "420"}),
        "Server.Destination.add_destination.not_supported",
        "Destination/add_destination is not supported: billcore's destinations are kept in its "
        "own catalogue, through /api/v1/destinations and the Rating pages, not through /rest/",
    )


def test_extreme_values_are_faults_not_errors(porta, world):
    """Numbers too large for what they name are refused with a fault; stored JSON with
    floats (details sent through the native API) is returned as exact decimals."""
    m = "Client.Customer.add_customer."

    def raw(params_text):
        """Params written by hand (``1e999999`` is a JSON number the encoder would expand)."""
        return f'{{"params": {params_text}}}' if porta.style == "json" else params_text

    # 1e999999 is beyond what any number may be (the guard every request passes, issue 10
    # §1, names its path); the others are numbers no time zone id can be.
    for tz, reason in (
        ('"' + "9" * 30 + '"', "invalid_i_time_zone"),
        ("1e999999", "invalid_customer_info_i_time_zone"),
        ("2.5", "invalid_i_time_zone"),
        ('"' + "9" * 5000 + '"', "invalid_i_time_zone"),
    ):
        text = f'{{"customer_info": {{"name": "Huge", "iso_4217": "USD", "i_time_zone": {tz}}}}}'
        r = porta.call("Customer", "add_customer", {}, raw=raw(text))
        fault(r, m + reason)
    assert not Customer.objects.filter(name="Huge").exists()
    create_custom_field(actor=world["admin"], now=T0, name="note2", label="Note 2")
    cid = add(porta, name="Edge")
    item = '{"name": "note2", "db_value": 1e999999}'
    text = f'{{"i_customer": {cid}, "custom_fields_values": [{item}]}}'
    fault(
        porta.call("Customer", "update_custom_fields_values", {}, raw=raw(text)),
        "Client.Customer.update_custom_fields_values.invalid_custom_fields_values_0_db_value",
        "custom_fields_values.0.db_value must be a finite number",
    )
    at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    usage = parse_usage(
        service="data", amount="0.1", details={"mb": 1.5, "cells": [0.1, 2]}, now=at
    )
    charge(actor=world["admin"], now=at, customer_id=cid, usage=usage)
    (xdr,) = porta.ok("Customer", "get_customer_xdrs", {"i_customer": cid})["xdr_list"]
    assert xdr["details"] == {"mb": D("1.5"), "cells": [D("0.1"), 2]}

"""Customer services: CU-01 … CU-12 and CC-07 assignment rules, on SQLite and PostgreSQL."""

from decimal import Decimal

import pytest

from billcore.classes.models import CustomerClass
from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.customers.services import delete_customer, update_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.services import create_custom_field
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction


def _fails(field, fn, **kwargs):
    before = Customer.objects.count()
    with pytest.raises(ValidationFailed) as info:
        fn(**kwargs)
    assert info.value.field == field, info.value.message
    assert Customer.objects.count() == before
    return info.value


def _default():
    return CustomerClass.objects.get(is_default=True).pk


def _data(**extra):
    data = {
        "name": "Acme",
        "currency": "USD",
        "balance_control": "postpaid",
        "customer_class": _default(),
    }
    data.update(extra)
    return data


def test_postpaid_customer_with_credit_limit(admin, now):
    """CU-04, CU-05, CU-07."""
    c = create_customer(actor=admin, now=now, data=_data(credit_limit="500.5"))
    c.refresh_from_db()
    assert (c.balance_control, c.balance, c.credit_limit, c.available_funds) == (
        "postpaid",
        Decimal("0.00000"),
        Decimal("500.50000"),
        None,
    )
    assert Transaction.objects.filter(customer=c).count() == 0


def test_prepaid_opening_funds_are_first_ledger_row(admin, now):
    """CU-08: available funds are the initial payment; shown positive."""
    c = create_customer(
        actor=admin, now=now, data=_data(balance_control="prepaid", available_funds="25.00001")
    )
    c.refresh_from_db()
    assert (c.balance, c.available_funds, c.credit_limit) == (
        Decimal("-25.00001"),
        Decimal("25.00001"),
        None,
    )
    (row,) = Transaction.objects.filter(customer=c)
    assert (row.action, row.amount, row.balance_after, row.actor_id) == (
        "opening_balance",
        Decimal("-25.00001"),
        Decimal("-25.00001"),
        admin.pk,
    )


def test_credit_limit_only_for_postpaid(admin, now):
    """CU-07."""
    err = _fails(
        "credit_limit",
        create_customer,
        actor=admin,
        now=now,
        data=_data(balance_control="prepaid", credit_limit="10"),
    )
    assert err.code == "not_applicable"


def test_available_funds_only_for_prepaid(admin, now):
    """CU-08."""
    _fails(
        "available_funds", create_customer, actor=admin, now=now, data=_data(available_funds="10")
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1.000001", "more than 5 decimal places"),
        ("1e3", "exponent"),
        ("-5", "at least 0"),
        ("abc", ""),
    ],
)
def test_bad_amounts(admin, now, amount, message):
    err = _fails(
        "credit_limit", create_customer, actor=admin, now=now, data=_data(credit_limit=amount)
    )
    assert message in err.message


def test_name_unique_in_any_case(admin, now):
    """CU-01."""
    create_customer(actor=admin, now=now, data=_data())
    err = _fails("name", create_customer, actor=admin, now=now, data=_data(name="ACME"))
    assert err.code == "duplicate"


def test_currency_fixed_for_life(admin, now):
    """CU-06."""
    c = create_customer(actor=admin, now=now, data=_data())
    with pytest.raises(ValidationFailed) as info:
        update_customer(actor=admin, now=now, customer_id=c.pk, changes={"currency": "EUR"})
    assert (info.value.field, info.value.code) == ("currency", "immutable")
    c.refresh_from_db()
    assert c.currency_id == "USD"


def test_class_currency_must_match(admin, now):
    """CU-09 / CC-06: a EUR class cannot serve a USD customer, in either direction."""
    eur = create_class(actor=admin, now=now, data={"name": "EUR", "currency": "EUR"})
    err = _fails(
        "customer_class", create_customer, actor=admin, now=now, data=_data(customer_class=eur.pk)
    )
    assert err.code == "currency_mismatch"
    c = create_customer(actor=admin, now=now, data=_data())
    with pytest.raises(ValidationFailed) as info:
        update_customer(actor=admin, now=now, customer_id=c.pk, changes={"customer_class": eur.pk})
    assert info.value.field == "customer_class"
    c.refresh_from_db()
    assert c.customer_class_id == _default()
    # A class without currency serves any currency.
    any_cur = create_class(actor=admin, now=now, data={"name": "Any"})
    gbp = create_customer(
        actor=admin, now=now, data=_data(name="Brit", currency="GBP", customer_class=any_cur.pk)
    )
    assert gbp.customer_class_id == any_cur.pk


def test_mandatory_custom_fields(admin, now):
    """CU-11."""
    create_custom_field(actor=admin, now=now, name="tax_id", label="Tax ID")
    create_custom_field(
        actor=admin, now=now, name="contract", label="Contract date", field_type="date"
    )
    cls = create_class(
        actor=admin, now=now, data={"name": "Biz", "mandatory_custom_fields": ["tax_id"]}
    )
    err = _fails(
        "custom_fields.tax_id",
        create_customer,
        actor=admin,
        now=now,
        data=_data(customer_class=cls.pk),
    )
    assert err.message == (
        "custom_fields.tax_id: Tax ID is mandatory for customers of class 'Biz' (CU-11)"
    )
    _fails(
        "custom_fields.contract",
        create_customer,
        actor=admin,
        now=now,
        data=_data(
            customer_class=cls.pk, custom_fields={"tax_id": "CZ1", "contract": "31/12/2026"}
        ),
    )
    _fails(
        "custom_fields.nope",
        create_customer,
        actor=admin,
        now=now,
        data=_data(customer_class=cls.pk, custom_fields={"tax_id": "CZ1", "nope": "x"}),
    )
    c = create_customer(
        actor=admin,
        now=now,
        data=_data(
            customer_class=cls.pk, custom_fields={"tax_id": "CZ1", "contract": "2026-12-31"}
        ),
    )
    assert c.custom_fields == {"tax_id": "CZ1", "contract": "2026-12-31"}
    with pytest.raises(ValidationFailed):
        update_customer(
            actor=admin, now=now, customer_id=c.pk, changes={"custom_fields": {"tax_id": ""}}
        )
    c.refresh_from_db()
    assert c.custom_fields["tax_id"] == "CZ1"


def test_address_info_and_validation(admin, now):
    c = create_customer(
        actor=admin,
        now=now,
        data=_data(
            company_name="Acme s.r.o.",
            first_name="Jana",
            last_name="Novak",
            address_line1="Main 1",
            city="Prague",
            zip_code="11000",
            country="CZ",
            phone="+420 123",
            email="jana@acme.cz",
            note="VIP",
            time_zone="Europe/Prague",
            billing_period=5,
        ),
    )
    c.refresh_from_db()
    assert (c.company_name, c.country, c.email, c.time_zone, c.billing_period) == (
        "Acme s.r.o.",
        "CZ",
        "jana@acme.cz",
        "Europe/Prague",
        5,
    )
    _fails("country", create_customer, actor=admin, now=now, data=_data(name="X", country="XX"))
    _fails(
        "time_zone",
        create_customer,
        actor=admin,
        now=now,
        data=_data(name="X", time_zone="Mars/Olympus"),
    )
    _fails(
        "billing_period",
        create_customer,
        actor=admin,
        now=now,
        data=_data(name="X", billing_period=7),
    )
    _fails("email", create_customer, actor=admin, now=now, data=_data(name="X", email="x@"))


def test_balance_only_through_transactions(admin, now):
    """CU-12, DESIGN rule 1."""
    c = create_customer(
        actor=admin, now=now, data=_data(balance_control="prepaid", available_funds="10")
    )
    for field in ("available_funds", "balance"):
        with pytest.raises(ValidationFailed) as info:
            update_customer(actor=admin, now=now, customer_id=c.pk, changes={field: "99"})
        assert info.value.code == "use_transaction"
    c.refresh_from_db()
    assert c.available_funds == Decimal("10.00000")


def test_switching_to_prepaid_drops_credit_limit(admin, now):
    c = create_customer(actor=admin, now=now, data=_data(credit_limit="100"))
    update_customer(actor=admin, now=now, customer_id=c.pk, changes={"balance_control": "prepaid"})
    c.refresh_from_db()
    assert (c.balance_control, c.credit_limit) == ("prepaid", None)


def test_delete_only_without_history(admin, now):
    c = create_customer(actor=admin, now=now, data=_data())
    record_transaction(actor=admin, now=now, customer_id=c.pk, action="Manual charge", amount="1")
    with pytest.raises(ValidationFailed) as info:
        delete_customer(actor=admin, now=now, customer_id=c.pk)
    assert info.value.message == (
        "customer 'Acme' has 1 transactions and cannot be deleted; terminate it instead"
    )
    fresh = create_customer(actor=admin, now=now, data=_data(name="Fresh"))
    delete_customer(actor=admin, now=now, customer_id=fresh.pk)
    assert not Customer.objects.filter(pk=fresh.pk).exists()


def test_reseller_assignment_rules(world, now):
    """CC-07: a reseller's class is assigned only by that reseller, to its own customers."""
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    cls_a, cls_b = world["classes"]["a"], world["classes"]["b"]
    # Administrators cannot assign a reseller's class.
    err = _fails(
        "customer_class", create_customer, actor=admin, now=now, data=_data(customer_class=cls_a.pk)
    )
    assert err.code == "not_assignable"
    # Reseller A cannot assign B's class, nor the administrator's.
    _fails(
        "customer_class", create_customer, actor=ua, now=now, data=_data(customer_class=cls_b.pk)
    )
    _fails(
        "customer_class",
        create_customer,
        actor=ua,
        now=now,
        data=_data(customer_class=world["classes"]["usd"].pk),
    )
    # Its own class works and the customer becomes its sub-customer.
    c = create_customer(actor=ua, now=now, data=_data(customer_class=cls_a.pk))
    assert (c.reseller_id, c.customer_type) == (world["ra"].pk, "retail")
    # Reseller B neither sees nor changes it.
    with pytest.raises(NotFound):
        update_customer(actor=ub, now=now, customer_id=c.pk, changes={"note": "hacked"})
    with pytest.raises(NotFound):
        record_transaction(
            actor=ub, now=now, customer_id=c.pk, action="Manual credit", amount="100"
        )
    with pytest.raises(NotFound):
        delete_customer(actor=ub, now=now, customer_id=c.pk)
    c.refresh_from_db()
    assert (c.note, c.balance) == ("", Decimal("0.00000"))
    # A reseller's user cannot create customers for another reseller.
    _fails(
        "reseller",
        create_customer,
        actor=ua,
        now=now,
        data=_data(name="Other", customer_class=cls_a.pk, reseller=world["rb"].pk),
    )


def test_a_new_customer_given_no_class_gets_the_default_class(world, now):
    """The default class is the service's rule, whichever interface calls it: absent or null
    gives an administrator's new customer the Default class; a reseller's user names one of
    its own; an empty choice (the page's "— choose —") and a change to null are refused."""
    admin, ua = world["admin"], world["ua"]
    data = _data()
    del data["customer_class"]
    assert create_customer(actor=admin, now=now, data=data).customer_class_id == _default()
    given_null = create_customer(actor=admin, now=now, data=_data(name="B", customer_class=None))
    assert given_null.customer_class_id == _default()
    for actor, value in ((ua, None), (admin, "")):
        error = _fails(
            "customer_class",
            create_customer,
            actor=actor,
            now=now,
            data=_data(name="C", customer_class=value),
        )
        assert (error.code, error.message) == ("required", "customer_class is required")
    error = _fails(
        "customer_class",
        update_customer,
        actor=admin,
        now=now,
        customer_id=given_null.pk,
        changes={"customer_class": None},
    )
    assert error.code == "required"


def test_temporary_credit_limit_and_fraud_override(admin, now):
    """Issue 3: credit_limit_until; CU-13 Fraud Protection tab override."""
    import datetime as dt

    c = create_customer(
        actor=admin,
        now=now,
        data=_data(
            credit_limit="100",
            temp_credit_limit="250",
            credit_limit_until="2026-11-15T00:00:00+00:00",
            fraud_daily_limit="30",
            fraud_action="block",
        ),
    )
    c.refresh_from_db()
    assert (c.temp_credit_limit, c.credit_limit_until, c.fraud_daily_limit, c.fraud_action) == (
        Decimal("250.00000"),
        dt.datetime(2026, 11, 15, tzinfo=dt.UTC),
        Decimal("30.00000"),
        "block",
    )
    assert c.effective_credit_limit(now=now) == Decimal("250.00000")
    assert c.effective_credit_limit(now=dt.datetime(2026, 11, 15, tzinfo=dt.UTC)) == Decimal(
        "100.00000"
    )
    _fails(
        "credit_limit_until",
        create_customer,
        actor=admin,
        now=now,
        data=_data(name="T2", temp_credit_limit="5", credit_limit_until="2026-11-15"),
    )
    _fails(
        "temp_credit_limit",
        create_customer,
        actor=admin,
        now=now,
        data=_data(
            name="T3",
            balance_control="prepaid",
            temp_credit_limit="5",
            credit_limit_until="2026-11-15T00:00:00Z",
        ),
    )
    _fails(
        "fraud_action",
        create_customer,
        actor=admin,
        now=now,
        data=_data(name="T4", fraud_action="shout"),
    )
    update_customer(
        actor=admin,
        now=now,
        customer_id=c.pk,
        changes={"temp_credit_limit": None, "fraud_action": None},
    )
    c.refresh_from_db()
    assert (c.temp_credit_limit, c.credit_limit_until, c.fraud_action) == (None, None, None)


def test_temporary_limit_needs_both_parts(admin, now):
    c = create_customer(actor=admin, now=now, data=_data(credit_limit="10"))
    with pytest.raises(ValidationFailed) as info:
        update_customer(actor=admin, now=now, customer_id=c.pk, changes={"temp_credit_limit": "20"})
    assert (info.value.field, info.value.code) == ("credit_limit_until", "required")
    update_customer(
        actor=admin,
        now=now,
        customer_id=c.pk,
        changes={"temp_credit_limit": "20", "credit_limit_until": "2026-12-01T00:00:00+00:00"},
    )
    # With a date already set, the limit alone can change.
    update_customer(actor=admin, now=now, customer_id=c.pk, changes={"temp_credit_limit": "25"})
    c.refresh_from_db()
    assert (c.temp_credit_limit, c.credit_limit_until.isoformat()) == (
        Decimal("25.00000"),
        "2026-12-01T00:00:00+00:00",
    )
    with pytest.raises(ValidationFailed) as info:  # "Set" with the date left empty
        update_customer(
            actor=admin,
            now=now,
            customer_id=c.pk,
            changes={"temp_credit_limit": "30", "credit_limit_until": ""},
        )
    assert (info.value.field, info.value.code) == ("credit_limit_until", "required")
    update_customer(
        actor=admin,
        now=now,
        customer_id=c.pk,
        changes={"temp_credit_limit": "", "credit_limit_until": ""},
    )
    c.refresh_from_db()
    assert (c.temp_credit_limit, c.credit_limit_until) == (None, None)


def test_update_returns_the_customer_and_audits(admin, now):
    from billcore.audit.models import AuditEntry

    c = create_customer(actor=admin, now=now, data=_data())
    updated = update_customer(actor=admin, now=now, customer_id=c.pk, changes={"city": "Brno"})
    assert (updated.pk, updated.city) == (c.pk, "Brno")
    entry = AuditEntry.objects.filter(object_type="customer", operation="update").get()
    assert (entry.before, entry.after) == ({"city": ""}, {"city": "Brno"})

"""Customer-class services: CC-02 … CC-22 rules, on SQLite and PostgreSQL."""

from decimal import Decimal

import pytest

from billcore.audit.models import AuditEntry
from billcore.classes.models import CustomerClass
from billcore.classes.services import (
    copy_class,
    copy_data,
    create_class,
    delete_class,
    update_class,
)
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.models import InstallationSettings
from billcore.installation.services import create_custom_field, update_settings
from billcore.ledger.customers import create_customer


def _fails(field, fn, *args, **kwargs):
    with pytest.raises(ValidationFailed) as info:
        fn(*args, **kwargs)
    assert info.value.field == field, info.value.message
    return info.value


def test_defaults_of_a_new_class(admin, now):
    cls = create_class(actor=admin, now=now, data={"name": "Retail"})
    cls.refresh_from_db()
    assert (cls.currency_id, cls.managed_by_id, cls.taxation_method) == (None, None, "none")
    assert cls.generate_statistics is True
    assert cls.send_statistics == "none"
    assert cls.generate_regular_invoices is True
    assert cls.termination_delay_days == 30  # CC-20 default
    assert cls.period_close == "automatic"
    assert cls.invoice_rounding == "currency_default"
    assert cls.created_at == now


def test_name_unique_case_insensitively(admin, now):
    """CC-04."""
    create_class(actor=admin, now=now, data={"name": "Business"})
    err = _fails("name", create_class, actor=admin, now=now, data={"name": "bUSINESS"})
    assert err.code == "duplicate"
    assert "already exists" in err.message
    assert CustomerClass.objects.count() == 2  # Default + Business
    other = create_class(actor=admin, now=now, data={"name": "Other"})
    _fails(
        "name", update_class, actor=admin, now=now, class_id=other.pk, changes={"name": "default"}
    )
    other.refresh_from_db()
    assert other.name == "Other"


def test_currency_set_at_creation_only(admin, now):
    """CC-06."""
    cls = create_class(actor=admin, now=now, data={"name": "EUR class", "currency": "EUR"})
    err = _fails(
        "currency", update_class, actor=admin, now=now, class_id=cls.pk, changes={"currency": "USD"}
    )
    assert err.code == "immutable"
    # Sending the same currency back is harmless.
    update_class(actor=admin, now=now, class_id=cls.pk, changes={"currency": "EUR"})
    cls.refresh_from_db()
    assert cls.currency_id == "EUR"


@pytest.mark.parametrize(
    ("code", "reason"),
    [("XYZ", "unknown_currency"), ("usd", "unknown_currency"), ("JPY", "currency_not_in_use")],
)
def test_unknown_or_unused_currency(admin, now, code, reason):
    err = _fails(
        "currency", create_class, actor=admin, now=now, data={"name": "C", "currency": code}
    )
    assert err.code == reason
    assert not CustomerClass.objects.filter(name="C").exists()


def test_default_class_cannot_be_deleted(admin, now):
    """CC-02."""
    default = CustomerClass.objects.get(is_default=True)
    err = _fails("id", delete_class, actor=admin, now=now, class_id=default.pk)
    assert err.message == "The Default customer class cannot be deleted (CC-02)"
    assert CustomerClass.objects.filter(pk=default.pk).exists()


def test_class_in_use_cannot_be_deleted(admin, now):
    cls = create_class(actor=admin, now=now, data={"name": "Used"})
    for n in range(2):
        create_customer(
            actor=admin,
            now=now,
            data={
                "name": f"c{n}",
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": cls.pk,
            },
        )
    err = _fails("id", delete_class, actor=admin, now=now, class_id=cls.pk)
    assert err.message == (
        "Customer class 'Used' is used by 2 customers and cannot be deleted; move them to "
        "another class first"
    )
    assert CustomerClass.objects.filter(pk=cls.pk).exists()


def test_delete_unused_class_writes_audit(admin, now):
    cls = create_class(actor=admin, now=now, data={"name": "Temp"})
    delete_class(actor=admin, now=now, class_id=cls.pk)
    assert not CustomerClass.objects.filter(pk=cls.pk).exists()
    entry = AuditEntry.objects.filter(object_type="customerclass", object_id=str(cls.pk)).first()
    assert entry.operation == "delete"
    assert entry.before["name"] == "Temp"
    assert entry.after is None
    assert entry.actor_name == "admin"


def test_update_audit_has_only_changed_fields(admin, now):
    cls = create_class(actor=admin, now=now, data={"name": "Audited"})
    update_class(
        actor=admin,
        now=now,
        class_id=cls.pk,
        changes={"description": "new", "grace_period_days": 15},
    )
    entry = AuditEntry.objects.filter(operation="update", object_id=str(cls.pk)).get()
    assert entry.before == {"description": "", "grace_period_days": 10}
    assert entry.after == {"description": "new", "grace_period_days": 15}


def test_statistics_email_only_with_statistics(admin, now):
    """CC-11: the e-mail choice exists only while statistics are on."""
    err = _fails(
        "send_statistics",
        create_class,
        actor=admin,
        now=now,
        data={"name": "S", "generate_statistics": False, "send_statistics": "full"},
    )
    assert err.code == "unavailable"
    cls = create_class(actor=admin, now=now, data={"name": "S", "send_statistics": "full"})
    # Turning statistics off resets the dependent choices that were not given.
    update_class(actor=admin, now=now, class_id=cls.pk, changes={"generate_statistics": False})
    cls.refresh_from_db()
    assert (cls.send_statistics, cls.generate_regular_invoices) == ("none", False)


def test_regular_invoices_unavailable_without_statistics(admin, now):
    """CC-13: with statistics off only out-of-turn invoices are available."""
    _fails(
        "generate_regular_invoices",
        create_class,
        actor=admin,
        now=now,
        data={"name": "R", "generate_statistics": False, "generate_regular_invoices": True},
    )
    cls = create_class(
        actor=admin,
        now=now,
        data={"name": "R", "generate_statistics": False, "allow_out_of_turn_invoices": True},
    )
    assert (cls.generate_regular_invoices, cls.allow_out_of_turn_invoices) == (False, True)


def test_external_billing_fields_need_installation_option(admin, now):
    """CC-12."""
    for field in ("postpaid_billed_externally", "reset_balance_every_period"):
        _fails(field, create_class, actor=admin, now=now, data={"name": "E", field: True})
    update_settings(actor=admin, now=now, changes={"allow_external_billing": True})
    cls = create_class(
        actor=admin,
        now=now,
        data={
            "name": "E",
            "postpaid_billed_externally": True,
            "reset_balance_every_period": True,
            "hide_balance_reset_xdr": True,
        },
    )
    assert (
        cls.postpaid_billed_externally,
        cls.reset_balance_every_period,
        cls.hide_balance_reset_xdr,
    ) == (True, True, True)
    _fails(
        "hide_balance_reset_xdr",
        create_class,
        actor=admin,
        now=now,
        data={"name": "E2", "hide_balance_reset_xdr": True},
    )


def test_financial_documentation_needs_installation_option(admin, now):
    """CC-16."""
    _fails(
        "generate_financial_documentation",
        create_class,
        actor=admin,
        now=now,
        data={"name": "F", "generate_financial_documentation": True},
    )
    InstallationSettings.objects.filter(pk=1).update(show_financial_documents_page=True)
    cls = create_class(
        actor=admin, now=now, data={"name": "F", "generate_financial_documentation": True}
    )
    assert cls.generate_financial_documentation is True


def test_separate_recurring_invoice_needs_auto_charge(admin, now):
    """CC-14."""
    err = _fails(
        "separate_recurring_fee_invoice",
        create_class,
        actor=admin,
        now=now,
        data={"name": "Rec", "separate_recurring_fee_invoice": True},
    )
    assert "auto-charging" in err.message
    cls = create_class(
        actor=admin,
        now=now,
        data={"name": "Rec", "separate_recurring_fee_invoice": True, "auto_charge_invoices": True},
    )
    assert cls.separate_recurring_fee_invoice is True


def test_fraud_protection_needs_a_currency(admin, now):
    """CC-06: a class without currency has fraud protection disabled."""
    _fails(
        "fraud_daily_limit",
        create_class,
        actor=admin,
        now=now,
        data={"name": "NoCur", "fraud_daily_limit": "50"},
    )
    cls = create_class(
        actor=admin, now=now, data={"name": "Cur", "currency": "USD", "fraud_daily_limit": "50.125"}
    )
    cls.refresh_from_db()
    assert cls.fraud_daily_limit == Decimal("50.12500")


def test_approval_closing_needs_days(admin, now):
    """CC-18."""
    err = _fails(
        "approval_max_days",
        create_class,
        actor=admin,
        now=now,
        data={"name": "A", "period_close": "approval"},
    )
    assert err.code == "required"
    cls = create_class(
        actor=admin, now=now, data={"name": "A", "period_close": "approval", "approval_max_days": 5}
    )
    assert cls.approval_max_days == 5
    update_class(actor=admin, now=now, class_id=cls.pk, changes={"period_close": "automatic"})
    cls.refresh_from_db()
    assert cls.approval_max_days is None


def test_taxation_methods(admin, now):
    """CC-10."""
    _fails(
        "vat_rate",
        create_class,
        actor=admin,
        now=now,
        data={"name": "T", "taxation_method": "fixed_vat"},
    )
    _fails(
        "vat_rate",
        create_class,
        actor=admin,
        now=now,
        data={"name": "T", "taxation_method": "fixed_vat", "vat_rate": "100.5"},
    )
    vat = create_class(
        actor=admin,
        now=now,
        data={
            "name": "VAT",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            "vat_inclusive": True,
        },
    )
    vat.refresh_from_db()
    assert (vat.vat_rate, vat.vat_inclusive) == (Decimal("20.00000"), True)
    _fails(
        "taxes", create_class, actor=admin, now=now, data={"name": "T", "taxation_method": "custom"}
    )
    _fails(
        "taxes",
        create_class,
        actor=admin,
        now=now,
        data={
            "name": "T",
            "taxation_method": "custom",
            "taxes": [{"name": "State", "rate": "5"}, {"name": "state", "rate": "1"}],
        },
    )
    custom = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Custom",
            "taxation_method": "custom",
            "taxes": [{"name": "State tax", "rate": "6.25"}, {"name": "City tax", "rate": "1.5"}],
        },
    )
    custom.refresh_from_db()
    assert custom.taxes == [
        {"name": "State tax", "rate": "6.25000"},
        {"name": "City tax", "rate": "1.50000"},
    ]


def test_external_tax_engines_need_an_endpoint(admin, now):
    """CC-10: EZTax and SureTax are refused clearly without a configured endpoint."""
    err = _fails(
        "taxation_method",
        create_class,
        actor=admin,
        now=now,
        data={"name": "EZ", "taxation_method": "eztax"},
    )
    assert err.message == (
        "taxation_method: EZTax (US, Canada) is an external tax engine and no endpoint is "
        "configured for it in the installation settings"
    )
    update_settings(actor=admin, now=now, changes={"eztax_endpoint": "http://127.0.0.1:9/ez"})
    assert (
        create_class(
            actor=admin, now=now, data={"name": "EZ", "taxation_method": "eztax"}
        ).taxation_method
        == "eztax"
    )
    _fails(
        "taxation_method",
        create_class,
        actor=admin,
        now=now,
        data={"name": "Sure", "taxation_method": "suretax"},
    )


@pytest.mark.parametrize(
    "pattern", ["XXXXX.XX50", "XXXXX.X5500", "XXX0X.XX000", "XXXXXXXX000", "XXXXX.XX5A0", ""]
)
def test_invalid_rounding_pattern(admin, now, pattern):
    """CC-17: the pattern is validated on save."""
    err = _fails(
        "invoice_rounding_pattern",
        create_class,
        actor=admin,
        now=now,
        data={"name": "Round", "invoice_rounding": "custom", "invoice_rounding_pattern": pattern},
    )
    assert err.message.startswith("invoice_rounding_pattern")
    assert not CustomerClass.objects.filter(name="Round").exists()


def test_valid_rounding_pattern(admin, now):
    cls = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Round",
            "invoice_rounding": "custom",
            "invoice_rounding_pattern": "XXXXX.XX500",
        },
    )
    assert cls.invoice_rounding_pattern == "XXXXX.XX500"


def test_from_override_needs_an_address(admin, now):
    """CC-08."""
    _fails(
        "notification_from_address",
        create_class,
        actor=admin,
        now=now,
        data={"name": "N", "notification_from_override": True},
    )
    _fails(
        "notification_from_address",
        create_class,
        actor=admin,
        now=now,
        data={
            "name": "N",
            "notification_from_override": True,
            "notification_from_address": "not-an-email",
        },
    )
    cls = create_class(
        actor=admin,
        now=now,
        data={
            "name": "N",
            "notification_from_override": True,
            "notification_from_name": "Billing",
            "notification_from_address": "billing@example.net",
        },
    )
    assert (cls.notification_from_name, cls.notification_from_address) == (
        "Billing",
        "billing@example.net",
    )


def test_notifications_and_mandatory_fields(admin, now):
    create_custom_field(actor=admin, now=now, name="tax_id", label="Tax ID")
    cls = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Notif",
            "notifications": ["suspended", "invoice_issued", "suspended"],
            "mandatory_custom_fields": ["tax_id"],
        },
    )
    assert cls.notifications == ["invoice_issued", "suspended"]
    assert list(cls.mandatory_custom_fields.values_list("name", flat=True)) == ["tax_id"]
    _fails(
        "notifications",
        create_class,
        actor=admin,
        now=now,
        data={"name": "N2", "notifications": ["party"]},
    )
    _fails(
        "mandatory_custom_fields",
        create_class,
        actor=admin,
        now=now,
        data={"name": "N2", "mandatory_custom_fields": ["nope"]},
    )


def test_unknown_field_is_refused(admin, now):
    err = _fails("colour", create_class, actor=admin, now=now, data={"name": "X", "colour": 1})
    assert err.code == "unknown"


def test_copy_keeps_settings_and_clears_name(admin, now):
    """CC-03 Save & Add a copy."""
    src = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Source",
            "currency": "EUR",
            "grace_period_days": 21,
            "taxation_method": "fixed_vat",
            "vat_rate": "19",
        },
    )
    data = copy_data(src)
    assert data["name"] == ""
    assert (data["currency"], data["grace_period_days"], data["vat_rate"]) == (
        "EUR",
        21,
        Decimal("19.00000"),
    )
    copy = copy_class(actor=admin, now=now, class_id=src.pk, name="Source copy")
    assert (copy.name, copy.currency_id, copy.grace_period_days, copy.vat_rate) == (
        "Source copy",
        "EUR",
        21,
        Decimal("19.00000"),
    )


def test_reseller_classes_are_scoped(world, now):
    """CC-07: a reseller's user sees and changes only the reseller's own classes."""
    ua, cls_b = world["ua"], world["classes"]["b"]
    assert world["classes"]["a"].managed_by_id == world["ra"].pk
    with pytest.raises(NotFound):
        update_class(actor=ua, now=now, class_id=cls_b.pk, changes={"description": "mine"})
    with pytest.raises(NotFound):
        delete_class(actor=ua, now=now, class_id=cls_b.pk)
    cls_b.refresh_from_db()
    assert cls_b.description == ""
    _fails(
        "managed_by",
        create_class,
        actor=ua,
        now=now,
        data={"name": "Sneaky", "managed_by": world["rb"].pk},
    )
    assert not CustomerClass.objects.filter(name="Sneaky").exists()
    # Administrators view and edit resellers' classes (CC-07).
    update_class(
        actor=world["admin"], now=now, class_id=cls_b.pk, changes={"description": "by admin"}
    )
    cls_b.refresh_from_db()
    assert cls_b.description == "by admin"


@pytest.mark.parametrize(
    ("currency", "pattern", "unit"),
    [
        ("USD", "XXXXX.XX500", "XXXXX.XX000"),
        ("USD", "XXXXX.XXX00", "XXXXX.XX000"),
        ("USD", "XXXXX.XXXXX", "XXXXX.XX000"),
        ("JPY", "XXXXX.50000", "XXXXX.00000"),
    ],
)
def test_pattern_finer_than_the_class_currency_is_refused(admin, now, currency, pattern, unit):
    """CC-17 (features.md, rounding decisions): a class with a currency cannot save a custom
    pattern keeping more decimals than the currency, on create and on update; nothing saved."""
    if currency == "JPY":
        from billcore.installation.services import add_currency

        add_currency(actor=admin, now=now, code="JPY")
    data = {"name": "Fine", "currency": currency, "invoice_rounding": "custom"}
    err = _fails(
        "invoice_rounding_pattern",
        create_class,
        actor=admin,
        now=now,
        data={**data, "invoice_rounding_pattern": pattern},
    )
    decimals = {"USD": 2, "JPY": 0}[currency]
    places = {"XXXXX.XX500": 3, "XXXXX.XXX00": 3, "XXXXX.XXXXX": 5, "XXXXX.50000": 1}[pattern]
    assert err.code == "finer_than_currency"
    assert err.message == (
        f"invoice_rounding_pattern: {pattern} rounds to {places} decimal places, finer than "
        f"the class's currency {currency} ({decimals}); a class with a currency rounds invoice "
        f"totals to its minor unit or coarser (CC-17), e.g. {unit}"
    )
    assert not CustomerClass.objects.filter(name="Fine").exists()
    cls = create_class(actor=admin, now=now, data={**data, "invoice_rounding_pattern": unit})
    _fails(
        "invoice_rounding_pattern",
        update_class,
        actor=admin,
        now=now,
        class_id=cls.pk,
        changes={"invoice_rounding_pattern": pattern},
    )
    cls.refresh_from_db()
    assert cls.invoice_rounding_pattern == unit


@pytest.mark.parametrize(
    ("currency", "pattern"),
    [
        ("USD", "XXXXX.XX000"),
        ("USD", "XXXXX.X5000"),
        ("USD", "XXXX0.00000"),
        ("BHD", "XXXXX.XX500"),
        (None, "XXXXX.XX500"),
        (None, "XXXXX.XXXXX"),
    ],
)
def test_pattern_at_or_coarser_than_the_currency_is_accepted(admin, now, currency, pattern):
    """CC-17: the currency's own unit or coarser; a class without currency takes any pattern
    (its totals are rounded by the pattern, then to each customer's currency)."""
    if currency == "BHD":
        from billcore.installation.services import add_currency

        add_currency(actor=admin, now=now, code="BHD")
    data = {"name": "Ok", "invoice_rounding": "custom", "invoice_rounding_pattern": pattern}
    if currency:
        data["currency"] = currency
    assert create_class(actor=admin, now=now, data=data).invoice_rounding_pattern == pattern


def test_migration_switches_finer_patterns_to_currency_default(admin, now, capsys):
    """CC-17: classes saved before the rule with a pattern finer than their currency are
    switched to Currency default rounding by migration classes 0005, one audit row each, and
    listed on stdout; every other class is left as it was."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "billcore.classes.migrations.0005_rounding_patterns_finer_than_currency"
    )
    fine = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Fine USD",
            "currency": "USD",
            "invoice_rounding": "custom",
            "invoice_rounding_pattern": "XXXXX.XX000",
        },
    )
    loose = create_class(
        actor=admin,
        now=now,
        data={
            "name": "No currency",
            "invoice_rounding": "custom",
            "invoice_rounding_pattern": "XXXXX.XX500",
        },
    )
    old = create_class(actor=admin, now=now, data={"name": "Old USD", "currency": "USD"})
    # As saved before the rule existed (the service refuses it now).
    CustomerClass.objects.filter(pk=old.pk).update(
        invoice_rounding="custom", invoice_rounding_pattern="XXXXX.XX500"
    )
    audit_before = AuditEntry.objects.count()
    migration.coerce(apps, None)
    old.refresh_from_db()
    assert (old.invoice_rounding, old.invoice_rounding_pattern) == ("currency_default", "")
    fine.refresh_from_db()
    loose.refresh_from_db()
    assert fine.invoice_rounding_pattern == "XXXXX.XX000"
    assert loose.invoice_rounding_pattern == "XXXXX.XX500"
    entries = list(AuditEntry.objects.all()[: AuditEntry.objects.count() - audit_before])
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.object_type, entry.object_id, entry.actor_name) == (
        "customerclass",
        str(old.pk),
        "system",
    )
    assert entry.before == {"invoice_rounding": "custom", "invoice_rounding_pattern": "XXXXX.XX500"}
    assert entry.after == {"invoice_rounding": "currency_default", "invoice_rounding_pattern": ""}
    out = capsys.readouterr().out
    assert f"class {old.pk} 'Old USD' (USD): XXXXX.XX500" in out
    assert "Fine USD" not in out and "No currency" not in out
    # Run again: nothing left to change, nothing printed.
    migration.coerce(apps, None)
    assert AuditEntry.objects.count() == audit_before + 1
    assert capsys.readouterr().out == ""

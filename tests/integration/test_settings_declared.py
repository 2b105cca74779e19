"""The settings' declarations (classes/settings.py, customers/settings.py) against the models
they describe: a column added without its declaration, or declared with other bounds than the
column's, fails here."""

from __future__ import annotations

from typing import Any

from django.db import models

from billcore.classes import settings as class_settings
from billcore.classes.models import CustomerClass
from billcore.classes.settings import DECIMAL_KINDS, RELATION_KINDS, Kind, Setting
from billcore.customers import settings as customer_settings
from billcore.customers.models import Customer
from billcore.db import DecimalUnitsField

NOT_SETTINGS = {"id", "name_key", "is_default", "created_at", "updated_at"}


def _column(model: type[models.Model], setting: Setting) -> Any:
    return model._meta.get_field(setting.name)


def _agrees(model: type[models.Model], setting: Setting) -> None:
    field = _column(model, setting)
    kind = setting.kind
    if kind in RELATION_KINDS:
        assert field.is_relation, setting.name
        return
    if kind is Kind.BOOL:
        assert isinstance(field, models.BooleanField), setting.name
    elif kind in DECIMAL_KINDS:
        assert isinstance(field, DecimalUnitsField), setting.name
    elif kind is Kind.INT:
        assert isinstance(field, models.IntegerField), setting.name
    elif kind in (Kind.TEXT, Kind.EMAIL, Kind.TIME_ZONE):
        assert isinstance(field, models.CharField | models.TextField), setting.name
        if kind is Kind.TEXT and field.max_length is not None:
            assert setting.max_length == field.max_length, setting.name
    if kind is Kind.CHOICE:
        assert setting.choices is not None
        if field.choices:  # a customer's override of a class setting has none of its own
            assert list(setting.choices.choices) == list(field.choices), setting.name
    if kind not in (Kind.CHOICES, Kind.TAXES, Kind.MAPPING):
        assert setting.optional == field.null, setting.name


def test_every_class_column_is_declared_once_with_its_bounds() -> None:
    columns = {
        f.name for f in CustomerClass._meta.get_fields() if f.concrete or f.many_to_many
    } - NOT_SETTINGS
    declared = [s.name for s in class_settings.SETTINGS]
    assert len(declared) == len(set(declared))
    assert set(declared) == columns
    for setting in class_settings.SETTINGS:
        _agrees(CustomerClass, setting)


def test_every_class_rule_names_a_setting_or_an_installation_option() -> None:
    names = set(class_settings.BY_NAME)
    for rule in class_settings.RULES:
        assert rule.installation or rule.field in names, rule
        assert class_settings.DEPENDENTS[rule], rule
        for setting in class_settings.DEPENDENTS[rule]:
            setting.off_value  # noqa: B018 — every dependent has an off value
    for setting in class_settings.SETTINGS:
        assert setting.tab in {t.slug for t in class_settings.TABS} | {class_settings.TOP}


def test_every_customer_setting_is_a_column_with_its_bounds() -> None:
    declared = [s.name for s in customer_settings.SETTINGS]
    assert len(declared) == len(set(declared))
    for setting in customer_settings.SETTINGS:
        if setting.name == "available_funds":  # the opening funds, a ledger row
            continue
        _agrees(Customer, setting)

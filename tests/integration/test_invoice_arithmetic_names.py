"""core/invoices.py names statuses, line kinds, actions and taxation methods by their string
values (core imports no Django): they are the models' choices."""

from __future__ import annotations

from billcore.classes.models import TaxationMethod
from billcore.core import invoices
from billcore.invoicing.models import InvoiceStatus, LineKind
from billcore.ledger.models import Action


def test_core_names_are_the_models_choices() -> None:
    assert {
        invoices.ISSUED,
        invoices.PARTLY_PAID,
        invoices.PAID,
        invoices.OVERDUE,
        invoices.VOID,
    } == set(InvoiceStatus.values)
    kinds = {
        *invoices.LINE_OF_ACTION.values(),
        invoices.LINE_TAX,
        invoices.LINE_TAX_INCLUDED,
        invoices.LINE_SPECIAL_ROUNDING,
        invoices.LINE_ROUNDING,
    }
    assert kinds == set(LineKind.values)
    assert set(invoices.LINE_OF_ACTION) <= set(Action.values)
    assert set(invoices.LINE_TEXT) <= set(Action.values)
    assert {invoices.FIXED_VAT, invoices.CUSTOM, invoices.GST_MY} <= set(TaxationMethod.values)

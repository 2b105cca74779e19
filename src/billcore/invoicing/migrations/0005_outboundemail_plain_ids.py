"""The e-mail outbox moves to notifications (issue 11), step 1 of 2: its invoice and period
foreign keys lose their database constraints (columns and indexes stay), as the moved model
names them by plain id (notifications sits below invoicing). No other change."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("invoicing", "0004_alter_invoice_kind"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboundemail",
            name="invoice",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                to="invoicing.invoice",
            ),
        ),
        migrations.AlterField(
            model_name="outboundemail",
            name="period",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                to="invoicing.closedperiod",
            ),
        ),
    ]

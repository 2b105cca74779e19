"""The e-mail outbox moves to notifications (issue 11), step 2 of 2: invoicing forgets the
model; its table ``invoicing_outboundemail`` stays, now ``notifications.OutboundEmail``'s
(notifications.0002, applied first). State only: no SQL."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("invoicing", "0005_outboundemail_plain_ids"),
        ("notifications", "0002_outboundemail"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="OutboundEmail")],
            database_operations=[],
        ),
    ]

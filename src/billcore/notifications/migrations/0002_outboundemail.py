"""The e-mail outbox moves here from invoicing (issue 11): ``OutboundEmail`` on its existing
table ``invoicing_outboundemail`` (created and altered by invoicing.0001 … 0005), with the
invoice and period named by plain id. State only: no SQL. invoicing.0006 then drops the model
from invoicing's state; this migration depends on nothing of invoicing (notifications sits
below it)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0009_name_key"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="OutboundEmail",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("invoice", "Invoice"),
                                    ("statistics", "Statistics"),
                                    ("notification", "Notification"),
                                ],
                                max_length=14,
                            ),
                        ),
                        ("invoice_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ("period_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ("variant", models.CharField(blank=True, default="", max_length=16)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("sent", "Sent"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=8,
                            ),
                        ),
                        ("to_address", models.CharField(blank=True, default="", max_length=254)),
                        ("from_address", models.CharField(blank=True, default="", max_length=300)),
                        ("subject", models.CharField(blank=True, default="", max_length=300)),
                        ("notification", models.CharField(blank=True, default="", max_length=32)),
                        ("body", models.TextField(blank=True, default="")),
                        ("dedupe_key", models.CharField(blank=True, max_length=120, null=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.CharField(blank=True, default="", max_length=500)),
                        ("created_at", models.DateTimeField()),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "customer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="emails",
                                to="customers.customer",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "invoicing_outboundemail",
                        "ordering": ["-id"],
                        "indexes": [
                            models.Index(
                                fields=["status", "id"], name="invoicing_o_status_512eac_idx"
                            ),
                            models.Index(
                                fields=["customer", "kind", "-id"],
                                name="invoicing_o_custome_c06761_idx",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("customer", "dedupe_key"),
                                name="outbound_email_dedupe_unique",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]

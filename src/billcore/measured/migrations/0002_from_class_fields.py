"""Issue 14: the customer class's measured-service fields (``measured_service_enabled``,
``_unit``, ``_quota``, ``_overage_rate``) become the class's default definition of a measured
service. A class that had any of them set (enabled, a quota or a rate) gets one definition of
active calls: charged when it was enabled (else statistics only), the quota as free items, the
overage rate as the price per item, charged on the maximum, and the old unit kept as the rate
code (``minutes``, ``mb``, ``gb``, ``messages``) so nothing is lost. The next migration of
``classes`` removes the fields."""

from decimal import Decimal

from django.db import migrations


def forward(apps, schema_editor):
    CustomerClass = apps.get_model("classes", "CustomerClass")
    MeasuredService = apps.get_model("measured", "MeasuredService")
    rows = []
    for cls in CustomerClass.objects.all().order_by("pk"):
        quota = cls.measured_service_quota
        rate = cls.measured_service_overage_rate
        if not cls.measured_service_enabled and quota is None and rate is None:
            continue
        rows.append(
            MeasuredService(
                customer_class_id=cls.pk,
                metric="active_calls",
                apply_charge=bool(cls.measured_service_enabled),
                charge_basis="maximum",
                price=rate if rate is not None else Decimal(0),
                free_items=quota if quota is not None else Decimal(0),
                rate_code=cls.measured_service_unit or "",
                service="",
                created_at=cls.updated_at,
                updated_at=cls.updated_at,
            )
        )
    MeasuredService.objects.bulk_create(rows)


def backward(apps, schema_editor):
    CustomerClass = apps.get_model("classes", "CustomerClass")
    MeasuredService = apps.get_model("measured", "MeasuredService")
    units = {"minutes", "mb", "gb", "messages"}
    for row in MeasuredService.objects.filter(
        customer_class__isnull=False, metric="active_calls"
    ):
        CustomerClass.objects.filter(pk=row.customer_class_id).update(
            measured_service_enabled=row.apply_charge,
            measured_service_unit=row.rate_code if row.rate_code in units else "minutes",
            measured_service_quota=row.free_items,
            measured_service_overage_rate=row.price,
        )
    MeasuredService.objects.filter(customer_class__isnull=False).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("measured", "0001_initial"),
        ("classes", "0007_managed_by_resellers_only"),
    ]

    operations = [migrations.RunPython(forward, backward)]

"""Issue 14: the measured-service fields moved to ``measured.MeasuredService`` (its
migration 0002 copied them first)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('classes', '0007_managed_by_resellers_only'),
        ('measured', '0002_from_class_fields'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='customerclass',
            name='measured_service_enabled',
        ),
        migrations.RemoveField(
            model_name='customerclass',
            name='measured_service_overage_rate',
        ),
        migrations.RemoveField(
            model_name='customerclass',
            name='measured_service_quota',
        ),
        migrations.RemoveField(
            model_name='customerclass',
            name='measured_service_unit',
        ),
    ]

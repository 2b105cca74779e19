"""CC-02: the Default customer class exists on every installation."""

from django.db import migrations
from django.utils import timezone


def create_default(apps, schema_editor):
    CustomerClass = apps.get_model("classes", "CustomerClass")
    if not CustomerClass.objects.filter(is_default=True).exists():
        now = timezone.now()
        CustomerClass.objects.create(
            name="Default",
            is_default=True,
            description="Default settings for customers without a class of their own",
            created_at=now,
            updated_at=now,
        )


class Migration(migrations.Migration):
    dependencies = [("classes", "0002_initial"), ("installation", "0002_seed")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]

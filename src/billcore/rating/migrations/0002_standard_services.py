"""The four standard services: the codes usage carries today (``charging.models.Service``),
read-only, so that clients sending them keep working."""

import datetime as dt

from django.db import migrations

from billcore.core.text import name_key

STANDARD = (
    ("voice", "Voice calls", "time", "second"),
    ("data", "Data", "data", "mb"),
    ("messaging", "Messaging", "messages", "message"),
    ("other", "Other", "other", "unit"),
)
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def seed(apps, schema_editor):
    Service = apps.get_model("rating", "Service")
    for code, name, base, unit in STANDARD:
        Service.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_key": name_key(name),
                "rating_base": base,
                "base_unit": unit,
                "standard": True,
                "created_at": EPOCH,
                "updated_at": EPOCH,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("rating", "Service").objects.filter(standard=True).delete()


class Migration(migrations.Migration):
    dependencies = [("rating", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]

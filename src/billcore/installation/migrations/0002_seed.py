"""Seed the installation: settings row, a few currencies in use, the business-model
catalogue named in the product documents (CC-05)."""

from django.db import migrations

CURRENCIES = [("USD", "US Dollar", 2), ("EUR", "Euro", 2), ("GBP", "Pound Sterling", 2)]
BUSINESS_MODELS = [
    ("Cloud PBX", "Hosted telephony for businesses"),
    ("Internet access", "Broadband and fibre subscribers"),
    ("Hosted IP PBX", "Dedicated IP PBX hosted by the operator"),
]


def seed(apps, schema_editor):
    apps.get_model("installation", "InstallationSettings").objects.get_or_create(pk=1)
    Currency = apps.get_model("installation", "Currency")
    for code, name, decimals in CURRENCIES:
        Currency.objects.get_or_create(code=code, defaults={"name": name, "decimals": decimals})
    BusinessModel = apps.get_model("installation", "BusinessModel")
    for name, description in BUSINESS_MODELS:
        BusinessModel.objects.get_or_create(name=name, defaults={"description": description})


class Migration(migrations.Migration):
    dependencies = [("installation", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

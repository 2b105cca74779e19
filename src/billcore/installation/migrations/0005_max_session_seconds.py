# The longest session /authorize grants (issue 12 §2): one field, default 3 hours.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("installation", "0004_name_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="installationsettings",
            name="max_session_seconds",
            field=models.PositiveIntegerField(default=10800),
        ),
    ]

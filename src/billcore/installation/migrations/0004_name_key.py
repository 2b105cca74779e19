# Names unique regardless of letter case in every script, on SQLite too (issue 10).

from django.db import migrations, models

from billcore.db import fill_name_keys


class Migration(migrations.Migration):

    dependencies = [
        ('installation', '0003_installationsettings_test_mode'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='businessmodel',
            name='business_model_name_ci_unique',
        ),
        migrations.AddField(
            model_name='businessmodel',
            name='name_key',
            field=models.CharField(blank=True, editable=False, max_length=400, null=True),
        ),
        migrations.RunPython(
            fill_name_keys('installation', 'BusinessModel'), migrations.RunPython.noop, elidable=False
        ),
        migrations.AddConstraint(
            model_name='businessmodel',
            constraint=models.UniqueConstraint(fields=('name_key',), name='business_model_name_key_unique'),
        ),
    ]

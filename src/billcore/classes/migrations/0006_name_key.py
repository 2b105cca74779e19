# Names unique regardless of letter case in every script, on SQLite too (issue 10).

from django.db import migrations, models

from billcore.db import fill_name_keys


class Migration(migrations.Migration):

    dependencies = [
        ('classes', '0005_rounding_patterns_finer_than_currency'),
        ('customers', '0008_alter_customer_suspension_reason'),
        ('installation', '0004_name_key'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='customerclass',
            name='customer_class_name_ci_unique',
        ),
        migrations.AddField(
            model_name='customerclass',
            name='name_key',
            field=models.CharField(blank=True, editable=False, max_length=400, null=True),
        ),
        migrations.RunPython(
            fill_name_keys('classes', 'CustomerClass'), migrations.RunPython.noop, elidable=False
        ),
        migrations.AddConstraint(
            model_name='customerclass',
            constraint=models.UniqueConstraint(fields=('name_key',), name='customer_class_name_key_unique'),
        ),
    ]

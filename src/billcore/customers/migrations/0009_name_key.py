# Names unique regardless of letter case in every script, on SQLite too (issue 10).

from django.db import migrations, models

from billcore.db import fill_name_keys


class Migration(migrations.Migration):

    dependencies = [
        ('classes', '0006_name_key'),
        ('customers', '0008_alter_customer_suspension_reason'),
        ('installation', '0004_name_key'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='customer',
            name='customer_name_ci_unique',
        ),
        migrations.AddField(
            model_name='customer',
            name='name_key',
            field=models.CharField(blank=True, editable=False, max_length=400, null=True),
        ),
        migrations.RunPython(
            fill_name_keys('customers', 'Customer'), migrations.RunPython.noop, elidable=False
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('name_key',), name='customer_name_key_unique'),
        ),
    ]

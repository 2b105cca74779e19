# Names unique regardless of letter case in every script, on SQLite too (issue 10).

from django.db import migrations, models

from billcore.db import fill_name_keys


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0009_name_key'),
        ('installation', '0004_name_key'),
        ('subscriptions', '0003_subscription_account'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='subscriptionplan',
            name='subscription_plan_name_ci_unique',
        ),
        migrations.AddField(
            model_name='subscriptionplan',
            name='name_key',
            field=models.CharField(blank=True, editable=False, max_length=400, null=True),
        ),
        migrations.RunPython(
            fill_name_keys('subscriptions', 'SubscriptionPlan'), migrations.RunPython.noop, elidable=False
        ),
        migrations.AddConstraint(
            model_name='subscriptionplan',
            constraint=models.UniqueConstraint(fields=('name_key',), name='subscription_plan_name_key_unique'),
        ),
    ]

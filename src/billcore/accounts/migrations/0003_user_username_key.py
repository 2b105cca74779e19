"""Usernames unique regardless of letter case (issue 10 §3): a ``username_key`` column (NFKC,
casefolded) with a unique index. Existing names that differ only in case keep working: the
second and later of them get a key with ``#<id>`` appended (the migration prints them)."""

import unicodedata

from django.db import migrations, models


def _key(username):
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def fill_keys(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    seen = set()
    for user in User.objects.order_by("id").only("id", "username"):
        key = _key(user.username)
        if key in seen:
            print(
                f"\n  user {user.id} {user.username!r}: another user has the same name in "
                "another letter case; rename one of them"
            )
            key = f"{key}#{user.id}"
        seen.add(key)
        User.objects.filter(pk=user.pk).update(username_key=key)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=models.CharField(editable=False, max_length=300, null=True),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=models.CharField(editable=False, max_length=300, unique=True),
        ),
    ]

from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.subscribers"
    label = "subscribers"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.dids"
    label = "dids"
    default_auto_field = "django.db.models.BigAutoField"

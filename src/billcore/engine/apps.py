from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.engine"
    label = "engine"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Billing engine"

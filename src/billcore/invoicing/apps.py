from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.invoicing"
    label = "invoicing"
    default_auto_field = "django.db.models.BigAutoField"

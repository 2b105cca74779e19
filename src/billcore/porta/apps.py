from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.porta"
    label = "porta"
    default_auto_field = "django.db.models.BigAutoField"

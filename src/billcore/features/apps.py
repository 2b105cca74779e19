from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.features"
    label = "features"
    default_auto_field = "django.db.models.BigAutoField"

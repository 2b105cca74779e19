from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.measured"
    label = "measured"
    default_auto_field = "django.db.models.BigAutoField"

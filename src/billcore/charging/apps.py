from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.charging"
    label = "charging"
    default_auto_field = "django.db.models.BigAutoField"

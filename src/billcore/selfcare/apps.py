from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.selfcare"
    label = "selfcare"
    default_auto_field = "django.db.models.BigAutoField"

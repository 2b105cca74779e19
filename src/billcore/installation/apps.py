from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.installation"
    label = "installation"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.classes"
    label = "classes"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.rating"
    label = "rating"
    default_auto_field = "django.db.models.BigAutoField"

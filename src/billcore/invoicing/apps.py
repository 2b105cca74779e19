from django.apps import AppConfig


class Config(AppConfig):
    name = "billcore.invoicing"
    label = "invoicing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Inside ready(): payments imports models, which Django loads only once apps are ready.
        from billcore.invoicing.payments import check_gateway_setting

        check_gateway_setting()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteropConfig(AppConfig):
    name = "interop"
    verbose_name = _("EHR interoperability (FHIR)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from interop import receivers  # noqa: F401  (connects the signal receivers)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = _("Community resource directory")
    default_auto_field = "django.db.models.BigAutoField"

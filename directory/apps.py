from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = _("Community resource directory")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from directory.taxonomy import forget_term_choices

        # The search form's list of service types (directory.taxonomy.term_choices).
        for event, signal in (("saved", post_save), ("deleted", post_delete)):
            signal.connect(
                forget_term_choices, sender="directory.TaxonomyTerm", dispatch_uid=f"term-{event}"
            )

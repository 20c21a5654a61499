"""Languages services commonly offer, by ISO 639-1 code (names shown translated)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

LANGUAGES = {
    "en": _("English"),
    "es": _("Spanish"),
    "zh": _("Chinese"),
    "vi": _("Vietnamese"),
    "ht": _("Haitian Creole"),
    "pt": _("Portuguese"),
    "ru": _("Russian"),
    "ar": _("Arabic"),
    "fr": _("French"),
    "ko": _("Korean"),
    "so": _("Somali"),
    "tl": _("Tagalog"),
    "pl": _("Polish"),
    "asl": _("American Sign Language"),
}


def language_name(code: str) -> str:
    return str(LANGUAGES.get(code, code))

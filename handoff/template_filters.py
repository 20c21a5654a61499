"""Template filters for every app's pages: ``{% load handoff %}``."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import formats, timezone, translation
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from handoff.forms import error_links

register = template.Library()

# Languages that write a weekday's name in lower case within a sentence, where Django's names
# are capitalized ("Fecha límite de respuesta: jueves, …", not "…: Jueves, …").
LOWER_CASE_WEEKDAYS = frozenset({"es"})


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words: "just now" under a minute (never "0 minutes"), else "4 minutes ago"."""
    if not value:
        return ""
    now = now or timezone.now()
    if now - value < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value, now)}


@register.filter(expects_localtime=True)
def day_and_time(value: datetime | None) -> str:
    """A moment someone must act by or turn up at, with its weekday, in the page's language:
    "Thursday, March 5, 2026, 10:30 AM", "jueves, 5 de marzo de 2026 a las 10:30"."""
    if not value:
        return ""
    weekday = formats.date_format(value, "l")
    if translation.get_language() in LOWER_CASE_WEEKDAYS:
        weekday = weekday.lower()
    return _("%(weekday)s, %(date)s, %(time)s") % {
        "weekday": weekday,
        "date": formats.date_format(value, "DATE_FORMAT"),
        "time": formats.time_format(value, "TIME_FORMAT"),
    }


@register.inclusion_tag("forms/_error_summary.html")
def error_summary(*forms_or_formsets) -> dict:
    """The list of a page's form errors at its top, each linked to its field."""
    return {"errors": error_links(*forms_or_formsets)}

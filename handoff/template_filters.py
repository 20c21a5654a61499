"""Template filters for every app's pages: ``{% load handoff %}``."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from handoff.forms import error_links

register = template.Library()


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words: "just now" under a minute (never "0 minutes"), else "4 minutes ago"."""
    if not value:
        return ""
    now = now or timezone.now()
    if now - value < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value, now)}


@register.inclusion_tag("forms/_error_summary.html")
def error_summary(*forms_or_formsets) -> dict:
    """The list of a page's form errors at its top, each linked to its field."""
    return {"errors": error_links(*forms_or_formsets)}

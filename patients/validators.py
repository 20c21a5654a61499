"""Checks for what people type about a patient; each message says what to enter instead."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Digits with the usual separators, then an optional extension: "(617) 555-0100 ext. 12".
_PHONE = re.compile(r"\+?[\d\s().-]+?(?:\s*(?:ext\.?|x)\s*\d{1,6})?", re.IGNORECASE)
_EXTENSION = re.compile(r"(?:ext\.?|x)\s*\d+$", re.IGNORECASE)
MIN_PHONE_DIGITS = 7
# An absolute URI starts with a scheme (RFC 3986): "urn:", "https:", ...
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def validate_birth_date(value: date) -> None:
    if value > timezone.localdate():
        raise ValidationError(
            _("The date of birth cannot be in the future."), code="birth_date_future"
        )


def validate_phone(value: str) -> None:
    number = _EXTENSION.sub("", value.strip())
    digits = sum(c.isdigit() for c in number)
    if not _PHONE.fullmatch(value.strip()) or digits < MIN_PHONE_DIGITS:
        raise ValidationError(
            _(
                "Enter a phone number with at least 7 digits, like 617-555-0100. "
                "Use only digits, spaces, +, -, ( ), dots, and “ext” for an extension."
            ),
            code="phone",
        )


def validate_absolute_uri(value: str) -> None:
    """An absolute URI, as FHIR Identifier.system requires: urn:oid:…, https://…"""
    ok = bool(_SCHEME.match(value)) and not any(c.isspace() for c in value)
    if ok:
        scheme, _sep, rest = value.partition(":")
        if scheme.lower() in ("http", "https"):
            ok = bool(urlsplit(value).netloc)
        elif scheme.lower() == "urn":
            ok = bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+", rest))
        else:
            ok = bool(rest)
    if not ok:
        raise ValidationError(
            _(
                "Enter the system as a full URI, like urn:oid:2.16.840.1.113883.19.5 or "
                "https://ehr.example.org/mrn. The EHR team can tell you which one."
            ),
            code="uri",
        )

"""Turning one HSDS cell (a CSV string or a JSON value) into a Python value, or saying why not."""

from __future__ import annotations

import datetime
import math
import re
import uuid
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext as _

from directory.hsds import schema
from directory.hsds.schema import Column

_email = EmailValidator()
_url = URLValidator()
_TIME_RE = re.compile(
    r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class BadValue(Exception):
    """A cell that cannot be stored; the message says why, in plain words."""


def is_blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _show(raw: object, limit: int = 40) -> str:
    text = str(raw)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def parse(column: Column, raw: object) -> object:
    """The typed value of a non-blank cell; raises BadValue."""
    if isinstance(raw, dict | list):
        raise BadValue(_("holds a list or an object where a single value belongs"))
    kind = column.kind
    if kind == schema.BOOLEAN:
        value: object = _boolean(raw)
    elif kind == schema.UUID:
        value = _uuid(raw)
    elif kind == schema.INTEGER:
        value = _integer(raw)
    elif kind == schema.NUMBER:
        value = _number(raw)
    elif kind == schema.DECIMAL:
        value = _decimal(raw)
    elif kind == schema.DATE:
        value = _date(raw)
    elif kind == schema.TIME:
        value = parse_time(raw)
    else:
        value = str(raw).strip() if not isinstance(raw, str) else raw.strip()
        if kind == schema.EMAIL:
            try:
                _email(value)
            except ValidationError:
                raise BadValue(
                    _("%(value)s is not an email address") % {"value": _show(value)}
                ) from None
        elif kind == schema.URL:
            try:
                _url(value)
            except ValidationError:
                raise BadValue(
                    _("%(value)s is not a web address (it should start with https:// or http://)")
                    % {"value": _show(value)}
                ) from None
        if column.choices:
            value = _choice(column, value)
        if column.max_length is not None and len(value) > column.max_length:
            raise BadValue(
                _("is %(length)d characters long; at most %(max)d fit")
                % {"length": len(value), "max": column.max_length}
            )
    if column.minimum is not None or column.maximum is not None:
        number = value if not isinstance(value, tuple) else None
        if isinstance(number, int | float | Decimal) and not isinstance(number, bool):
            low, high = column.minimum, column.maximum
            if (low is not None and number < low) or (high is not None and number > high):
                raise BadValue(
                    _("%(value)s is out of range: it must be between %(low)s and %(high)s")
                    % {"value": _show(raw), "low": _fmt(low), "high": _fmt(high)}
                )
    return value


def _fmt(bound: float | None) -> str:
    if bound is None:
        return "…"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _choice(column: Column, value: str) -> str:
    for choice in column.choices:
        if value.lower() == choice.lower():
            return choice
    raise BadValue(
        _("%(value)s is not one of the allowed values: %(choices)s")
        % {"value": _show(value), "choices": ", ".join(column.choices)}
    )


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(_("%(value)s is not true or false") % {"value": _show(raw)})


def _uuid(raw: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw).strip())
    except ValueError:
        raise BadValue(
            _(
                "%(value)s is not a valid id: HSDS ids are UUIDs such as 2f1c9a3e-8d4b-4c1a-9e2f-5b6a7c8d9e0f"
            )
            % {"value": _show(raw)}
        ) from None


def _integer(raw: object) -> int:
    if isinstance(raw, bool):
        raise BadValue(_("%(value)s is not a whole number") % {"value": _show(raw)})
    if isinstance(raw, int):
        return raw
    try:
        number = float(str(raw).strip())
    except ValueError:
        raise BadValue(_("%(value)s is not a whole number") % {"value": _show(raw)}) from None
    if not number.is_integer():
        raise BadValue(_("%(value)s is not a whole number") % {"value": _show(raw)})
    return int(number)


def _number(raw: object) -> float:
    if isinstance(raw, bool):
        raise BadValue(_("%(value)s is not a number") % {"value": _show(raw)})
    try:
        number = float(raw if isinstance(raw, int | float) else str(raw).strip())
    except ValueError:
        raise BadValue(_("%(value)s is not a number") % {"value": _show(raw)}) from None
    if not math.isfinite(number):
        raise BadValue(_("%(value)s is not a number") % {"value": _show(raw)})
    return number


def _decimal(raw: object) -> Decimal:
    if isinstance(raw, bool):
        raise BadValue(_("%(value)s is not an amount") % {"value": _show(raw)})
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise BadValue(_("%(value)s is not an amount") % {"value": _show(raw)}) from None
    if not amount.is_finite():
        raise BadValue(_("%(value)s is not an amount") % {"value": _show(raw)})
    if amount != amount.quantize(Decimal("0.01")):
        raise BadValue(_("%(value)s has more than two decimal places") % {"value": _show(raw)})
    return amount.quantize(Decimal("0.01"))


def _date(raw: object) -> datetime.date:
    text = str(raw).strip()
    try:
        return datetime.date.fromisoformat(
            text[:10] if len(text) > 10 and text[10] == "T" else text
        )
    except ValueError:
        raise BadValue(
            _("%(value)s is not a date in the form YYYY-MM-DD") % {"value": _show(raw)}
        ) from None


def parse_time(raw: object) -> tuple[datetime.time, int | None]:
    """(local time, UTC offset in minutes if the value carries one)."""
    match = _TIME_RE.match(str(raw).strip())
    if match is None:
        raise BadValue(_("%(value)s is not a time in the form HH:MM") % {"value": _show(raw)})
    try:
        value = datetime.time(int(match["h"]), int(match["m"]), int(match["s"] or 0))
    except ValueError:
        raise BadValue(_("%(value)s is not a time of day") % {"value": _show(raw)}) from None
    offset = None
    if tz := match["tz"]:
        if tz.upper() == "Z":
            offset = 0
        else:
            digits = tz[1:].replace(":", "")
            minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
            offset = -minutes if tz[0] == "-" else minutes
    return value, offset


def format_value(value: object) -> str:
    """A value as it is written to a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)

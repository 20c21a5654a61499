"""Response-time arithmetic in business days (Monday to Friday, in the portal's time zone)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone


def add_business_days(start: datetime, days: int) -> datetime:
    """The moment ``days`` business days after ``start``.

    A referral sent on Friday afternoon with a 1-day promise is due Monday afternoon; one sent
    on Saturday counts from Monday morning's start of day plus the same clock time — weekends
    never count.
    """
    local = timezone.localtime(start)
    # Sent on a weekend: the clock starts at the beginning of Monday.
    while local.weekday() >= 5:
        local = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    return local

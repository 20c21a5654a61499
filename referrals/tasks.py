"""Background work for referrals (django-tasks, run by `manage.py db_worker`)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

logger = logging.getLogger(__name__)

# How often the overdue sweep runs. Response times are promised in business days, so a few
# minutes of delay in flagging is harmless; the inbox shows overdue from due_at at once anyway.
OVERDUE_SWEEP_EVERY = timedelta(minutes=5)


@task()
def email_notifications(notification_ids: list[int]) -> int:
    """Email the notifications whose owners want email; each is emailed at most once."""
    from referrals.models import Notification
    from referrals.notify import wants_email

    sent = 0
    for notification in Notification.objects.filter(
        pk__in=notification_ids, emailed_at__isnull=True
    ).select_related("user", "referral"):
        if not wants_email(notification.user, notification.kind):
            continue
        # The language the notification was written in (notify: the reader's).
        with translation.override(notification.user.preferred_language or settings.LANGUAGE_CODE):
            subject = _("Handoff: %(text)s") % {"text": notification.text}
            body = _("%(text)s\n\nOpen Handoff to see the referral.") % {"text": notification.text}
        send_mail(
            subject=subject[:150],
            message=body,
            from_email=None,
            recipient_list=[notification.user.email],
        )
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
        sent += 1
    return sent


@task()
def sweep_overdue_referrals(reschedule: bool = True) -> int:
    """Flag referrals not acknowledged by their due date, once each, and tell the right people."""
    from referrals.models import Referral

    flagged = 0
    for referral_id in (
        Referral.objects.overdue().filter(escalated_at__isnull=True).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            referral = Referral.objects.select_for_update().get(pk=referral_id)
            if referral.flag_overdue():
                flagged += 1
    if reschedule:
        sweep_overdue_referrals.using(run_after=timezone.now() + OVERDUE_SWEEP_EVERY).enqueue()
    return flagged

"""Who hears about a referral change, in the portal and by email."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role, User
from handoff import live
from referrals.models import EmailPreference, Notification, Referral, ReferralEvent
from referrals.transitions import Status

RECEIVING_ROLES = [Role.CBO_STAFF, Role.ORG_ADMIN]


def _members(organization_id: int, roles: list[str]) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            memberships__organization_id=organization_id,
            memberships__role__in=roles,
        ).distinct()
    )


def recipients_for(referral: Referral, event: ReferralEvent) -> tuple[str, list[User]]:
    """The kind of notification and who gets it, for one event (never the person who acted)."""
    if event.kind == ReferralEvent.Kind.OVERDUE:
        admins = _members(referral.receiving_organization_id, [Role.ORG_ADMIN])
        return Notification.Kind.OVERDUE, [*admins, referral.referred_by]
    if event.kind == ReferralEvent.Kind.MESSAGE:
        if event.actor_organization_id == referral.receiving_organization_id:
            people = [referral.referred_by]
        else:
            people = _members(referral.receiving_organization_id, RECEIVING_ROLES)
        return Notification.Kind.MESSAGE, people
    if event.to_status == Status.REQUESTED:
        return Notification.Kind.NEW_REFERRAL, _members(
            referral.receiving_organization_id, RECEIVING_ROLES
        )
    if event.actor_organization_id == referral.referring_organization_id:
        # The referring side changed something (cancelled): the receiving side hears of it.
        return Notification.Kind.STATUS, _members(
            referral.receiving_organization_id, RECEIVING_ROLES
        )
    return Notification.Kind.STATUS, [referral.referred_by]


def describe(referral: Referral, event: ReferralEvent) -> str:
    service = referral.service.name
    if event.kind == ReferralEvent.Kind.OVERDUE:
        return _("Referral to %(service)s is overdue: no response yet.") % {"service": service}
    if event.kind == ReferralEvent.Kind.MESSAGE:
        return _("New message about the referral to %(service)s.") % {"service": service}
    if event.kind == ReferralEvent.Kind.STEP:
        # The step itself ("Waitlisted"), not the kind of event ("Step updated").
        return _("Referral to %(service)s: %(step)s.") % {
            "service": service,
            "step": event.step_label,
        }
    if event.to_status == Status.REQUESTED:
        return _("New referral from %(org)s for %(service)s.") % {
            "org": referral.referring_organization.name,
            "service": service,
        }
    return _("Referral to %(service)s is now: %(status)s.") % {
        "service": service,
        "status": Status(event.to_status).label if event.to_status else event.get_kind_display(),
    }


def notify(referral: Referral, event: ReferralEvent) -> list[Notification]:
    """Write the in-app notifications for ``event`` and, after commit, email and push them."""
    kind, people = recipients_for(referral, event)
    texts: dict[str, str] = {}
    seen: set[int] = set()
    created = []
    for person in people:
        if person.pk in seen or person.pk == event.actor_id:
            continue
        seen.add(person.pk)
        # Stored and read later, emailed too: in the reader's language, never the language of
        # whoever made the change.
        language = person.preferred_language or settings.LANGUAGE_CODE
        if language not in texts:
            with translation.override(language):
                texts[language] = describe(referral, event)
        created.append(
            Notification(user=person, referral=referral, kind=kind, text=texts[language][:300])
        )
    Notification.objects.bulk_create(created)
    ids = [n.pk for n in created]
    transaction.on_commit(lambda: _after_commit(ids))
    return created


def _after_commit(notification_ids: list[int]) -> None:
    from referrals.tasks import email_notifications

    if notification_ids:
        email_notifications.enqueue(notification_ids)
    readers = (
        Notification.objects.filter(pk__in=notification_ids)
        .values_list("user_id", "user__preferred_language")
        .distinct()
    )
    for user_id, language in readers:
        # Pushed to someone else's open pages: their language, not the one of the request
        # that made the change.
        with translation.override(language or settings.LANGUAGE_CODE):
            publish_unread_count(user_id)


def publish_unread_count(user_id: int) -> None:
    count = Notification.objects.filter(user_id=user_id).unread().count()
    live.publish_user_fragment(user_id, unread_badge_html(count))


def unread_badge_html(count: int) -> str:
    from django.template.loader import render_to_string

    return render_to_string("referrals/_unread_badge.html", {"unread_count": count, "oob": True})


def wants_email(user: User, kind: str) -> bool:
    preference = EmailPreference.objects.filter(user=user).first()
    return preference is None or preference.wants(kind)

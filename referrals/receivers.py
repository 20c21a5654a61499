"""What happens around every referral change: notifications and live updates."""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import AuditEvent
from handoff import live
from referrals.models import Referral, ReferralEvent
from referrals.signals import referral_changed


def status_tags(referral: Referral) -> dict[str, str]:
    """The referral's status tag rendered in every interface language (for the live signal)."""
    tags = {}
    for lang, _name in settings.LANGUAGES:
        with translation.override(lang):
            tags[lang] = render_to_string(
                "referrals/_status_tag.html", {"referral": referral}
            ).strip()
    return tags


@receiver(referral_changed, dispatch_uid="referrals.notify_and_publish")
def notify_and_publish(sender, referral: Referral, event: ReferralEvent, **kwargs) -> None:
    from referrals.notify import notify

    organizations = [referral.referring_organization_id]
    # The receiving side only ever knows of referrals that were sent to it; a draft
    # discarded by its author concerns nobody else.
    sent = referral.sent_at is not None
    if sent:
        organizations.append(referral.receiving_organization_id)
    # Registered first, so it is the first thing sent after commit: open pages update
    # before notifications and emails are written out.
    live.publish_referral_changed(referral.pk, organizations, status_tags(referral))
    if sent:
        notify(referral, event)
    if event.kind in (ReferralEvent.Kind.STATUS, ReferralEvent.Kind.STEP):
        # Every change is on the audit log of the patient's organization.
        AuditEvent.record(
            organization=referral.patient.organization_id,
            actor=event.actor,
            actor_organization=event.actor_organization,
            action=AuditEvent.Action.CHANGE,
            obj=referral,
            detail=f"{event.from_status or ''} → {event.to_status}".strip()
            if event.kind == ReferralEvent.Kind.STATUS
            else f"step: {event.text}",
        )

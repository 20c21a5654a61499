"""What the EHR sync does when referrals and consents change: queue the EHR's copy in the
change's own transaction (connected in InteropConfig.ready)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from patients.signals import consent_changed
from referrals.signals import referral_changed


@receiver(referral_changed, dispatch_uid="interop.queue_referral")
def queue_referral(sender, referral, event, **kwargs) -> None:
    from interop.outbox import enqueue_referral

    enqueue_referral(referral, event)


@receiver(consent_changed, dispatch_uid="interop.queue_consent")
def queue_consent(sender, consent, **kwargs) -> None:
    from interop.outbox import enqueue_consent

    # The senders call this inside their transaction; a caller that does not still gets the
    # copy queued, in a transaction of its own.
    with transaction.atomic():
        enqueue_consent(consent)

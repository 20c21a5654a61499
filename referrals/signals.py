"""Signals other apps listen to (interop writes its outbox row in the same transaction)."""

from django.dispatch import Signal

# Sent inside the transaction of every referral change, with ``referral`` and ``event``.
referral_changed = Signal()

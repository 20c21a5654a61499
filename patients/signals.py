"""Signals other apps listen to (interop queues the EHR's copy in the same transaction)."""

from django.dispatch import Signal

# Sent inside the transaction that records or withdraws a consent, with ``consent``.
consent_changed = Signal()

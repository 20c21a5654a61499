"""``{% ehr_sync_state screening %}``: where a record's changes are on their way to the EHR."""

from __future__ import annotations

from django import template

from interop.outbox import sync_state_for

register = template.Library()


@register.inclusion_tag("interop/_sync_state.html")
def ehr_sync_state(record) -> dict:
    """Takes a model instance (its aggregate is "<model name>:<pk>") or an aggregate key."""
    aggregate = record if isinstance(record, str) else f"{record._meta.model_name}:{record.pk}"
    return {"sync_state": sync_state_for(aggregate)}

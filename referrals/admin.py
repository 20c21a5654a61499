from __future__ import annotations

from django.contrib import admin

from referrals.models import (
    EmailPreference,
    Message,
    Notification,
    ReadMark,
    Referral,
    ReferralEvent,
)


class EventInline(admin.TabularInline):
    model = ReferralEvent
    extra = 0
    fields = ["created_at", "kind", "from_status", "to_status", "actor", "reason", "text"]
    readonly_fields = fields
    can_delete = False


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    """Platform staff may look; changes go through the portal so the status rules hold."""

    list_display = ["pk", "patient", "service", "receiving_organization", "status", "due_at"]
    list_filter = ["status", "priority"]
    search_fields = ["patient__family_name", "service__name", "receiving_organization__name"]
    list_select_related = ["patient", "service", "receiving_organization"]
    raw_id_fields = [
        "patient",
        "referring_organization",
        "referred_by",
        "service",
        "receiving_organization",
        "consent",
        "rerouted_from",
    ]
    filter_horizontal = ["needs"]
    readonly_fields = [
        "identifier",
        "status",
        "version",
        "sent_at",
        "received_at",
        "accepted_at",
        "closed_at",
        "escalated_at",
    ]
    inlines = [EventInline]


@admin.register(ReferralEvent)
class ReferralEventAdmin(admin.ModelAdmin):
    list_display = ["referral", "kind", "to_status", "actor", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["referral", "actor", "actor_organization"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["referral", "author", "created_at"]
    raw_id_fields = ["referral", "author", "author_organization"]


@admin.register(ReadMark)
class ReadMarkAdmin(admin.ModelAdmin):
    list_display = ["referral", "user", "read_at"]
    raw_id_fields = ["referral", "user"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "text", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user", "referral"]


@admin.register(EmailPreference)
class EmailPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "new_referrals", "status_changes", "messages", "overdue"]
    raw_id_fields = ["user"]

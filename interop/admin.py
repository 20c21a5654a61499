from __future__ import annotations

from django.contrib import admin

from interop.models import ApiClient, EhrConnection, OutboxMessage


@admin.register(EhrConnection)
class EhrConnectionAdmin(admin.ModelAdmin):
    list_display = ["organization", "base_url", "auth_kind", "is_active", "unreachable_since"]
    list_filter = ["auth_kind", "is_active"]
    raw_id_fields = ["organization"]
    # Secrets are neither shown nor edited here; the organization's admin sets them.
    exclude = ["bearer_token", "private_key_pem"]
    readonly_fields = ["unreachable_since", "consecutive_failures", "retry_at", "last_error"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Platform staff may look; retries go through the organization admin's page."""

    list_display = ["aggregate", "sequence", "resource_type", "state", "attempts", "sent_at"]
    list_filter = ["state", "resource_type"]
    search_fields = ["aggregate", "identifier_value"]
    raw_id_fields = ["connection"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "token_hint", "created_at", "last_used", "revoked_at"]
    raw_id_fields = ["organization", "created_by"]
    readonly_fields = ["token_hint", "created_at", "last_used"]

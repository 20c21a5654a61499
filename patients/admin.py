from __future__ import annotations

from django.contrib import admin

from patients.models import Consent, Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["family_name", "given_name", "birth_date", "organization", "mrn"]
    list_filter = ["organization"]
    search_fields = ["family_name", "given_name", "mrn"]
    readonly_fields = ["created_at", "updated_at", "registered_by"]
    list_select_related = ["organization"]


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["patient", "organization", "method", "given_at", "expires_on", "withdrawn_at"]
    list_filter = ["method"]
    search_fields = ["patient__family_name", "organization__name"]
    raw_id_fields = ["patient", "organization", "recorded_by", "withdrawn_by"]
    list_select_related = ["patient", "organization"]

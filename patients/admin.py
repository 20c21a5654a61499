from __future__ import annotations

from django.contrib import admin

from patients.models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["family_name", "given_name", "birth_date", "organization", "mrn"]
    list_filter = ["organization"]
    search_fields = ["family_name", "given_name", "mrn"]
    readonly_fields = ["created_at", "updated_at", "registered_by"]
    list_select_related = ["organization"]

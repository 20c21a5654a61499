from __future__ import annotations

from django.contrib import admin

from screening.models import Answer, Need, Screening


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    readonly_fields = ["updated_at"]


@admin.register(Screening)
class ScreeningAdmin(admin.ModelAdmin):
    list_display = ["patient", "instrument_id", "language", "status", "started_at", "completed_at"]
    list_filter = ["status", "instrument_id", "language"]
    search_fields = ["patient__family_name", "patient__given_name", "patient__mrn"]
    raw_id_fields = ["patient", "started_by", "completed_by"]
    inlines = [AnswerInline]


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["screening", "question", "status", "codes", "updated_at"]
    list_filter = ["status"]
    raw_id_fields = ["screening"]


@admin.register(Need)
class NeedAdmin(admin.ModelAdmin):
    list_display = ["patient", "category", "status", "found_at", "resolved_at"]
    list_filter = ["status", "category"]
    search_fields = ["patient__family_name", "patient__given_name", "patient__mrn"]
    raw_id_fields = ["patient", "screening", "added_by", "resolved_by"]

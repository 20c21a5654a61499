from __future__ import annotations

from django.contrib import admin

from directory.hsds import admin as hsds_admin  # noqa: F401  (HSDS import/export pages)
from directory.models import (
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    RequiredDocument,
    Schedule,
    SearchWord,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceNeed,
    ServiceTaxonomy,
    TaxonomyTerm,
    refresh_search_documents,
    services_under_terms,
)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "email", "website"]
    list_filter = ["kind"]
    search_fields = ["name", "alternate_name", "email", "tax_id"]
    readonly_fields = ["hsds_id", "created_at", "updated_at"]


class ServiceTaxonomyInline(admin.TabularInline):
    model = ServiceTaxonomy
    autocomplete_fields = ["taxonomy_term"]
    extra = 0


class ServiceAtLocationInline(admin.TabularInline):
    model = ServiceAtLocation
    autocomplete_fields = ["location"]
    extra = 0


class ScheduleInline(admin.TabularInline):
    model = Schedule
    fk_name = "service"
    fields = ["byday", "opens_at", "closes_at", "timezone", "valid_from", "valid_to"]
    extra = 0


class PhoneInline(admin.TabularInline):
    model = Phone
    fk_name = "service"
    fields = ["number", "extension", "type", "description"]
    extra = 0


class LanguageInline(admin.TabularInline):
    model = Language
    fk_name = "service"
    fields = ["name", "code"]
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "capacity", "accepts_referrals"]
    list_filter = ["status", "capacity", "accepts_referrals"]
    search_fields = ["name", "organization__name"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    readonly_fields = [
        "hsds_id",
        "capacity_updated_at",
        "capacity_updated_by",
        "created_at",
        "updated_at",
    ]
    inlines = [
        ServiceTaxonomyInline,
        ServiceAtLocationInline,
        ScheduleInline,
        PhoneInline,
        LanguageInline,
    ]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Terms may have changed in the inline: search must see them now.
        refresh_search_documents(Service.objects.filter(pk=form.instance.pk))


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "organization", "city", "postal_code", "latitude", "longitude"]
    search_fields = ["name", "address_1", "city", "postal_code"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["hsds_id", "address_hsds_id"]


@admin.register(TaxonomyTerm)
class TaxonomyTermAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent", "vocabulary"]
    list_filter = ["vocabulary"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["hsds_id"]

    # A service is found by its terms' names and their ancestors', and meets the needs of
    # their ancestors' codes: renaming, recoding, moving or deleting a term changes the
    # services under it and under its descendants.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and {"name", "code", "parent"} & set(form.changed_data):
            refresh_search_documents(services_under_terms([obj.pk]))

    def delete_model(self, request, obj):
        self.delete_queryset(request, TaxonomyTerm.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        affected = list(
            services_under_terms(queryset.values_list("pk", flat=True)).values_list("pk", flat=True)
        )
        super().delete_queryset(request, queryset)
        refresh_search_documents(Service.objects.filter(pk__in=affected))


@admin.register(ServiceAtLocation)
class ServiceAtLocationAdmin(admin.ModelAdmin):
    list_display = ["service", "location"]
    search_fields = ["service__name", "location__name"]
    list_select_related = ["service", "location"]
    raw_id_fields = ["service", "location"]
    readonly_fields = ["hsds_id"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "service", "timezone"]
    list_filter = ["timezone"]
    raw_id_fields = ["service", "location", "service_at_location"]
    readonly_fields = ["hsds_id"]


@admin.register(Phone)
class PhoneAdmin(admin.ModelAdmin):
    list_display = ["number", "service", "location", "organization"]
    search_fields = ["number"]
    raw_id_fields = ["service", "location", "organization"]
    readonly_fields = ["hsds_id"]


@admin.register(Language)
class LanguageAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "service"]
    list_filter = ["code"]
    raw_id_fields = ["service", "location", "phone"]
    readonly_fields = ["hsds_id"]


@admin.register(ServiceArea, CostOption, RequiredDocument)
class ServiceDetailAdmin(admin.ModelAdmin):
    raw_id_fields = ["service"]
    readonly_fields = ["hsds_id"]


@admin.register(ServiceTaxonomy)
class ServiceTaxonomyAdmin(admin.ModelAdmin):
    list_display = ["service", "taxonomy_term"]
    raw_id_fields = ["service", "taxonomy_term"]
    readonly_fields = ["hsds_id"]


@admin.register(ServiceNeed)
class ServiceNeedAdmin(admin.ModelAdmin):
    list_display = ["service", "category"]
    list_filter = ["category"]
    raw_id_fields = ["service"]


@admin.register(SearchWord)
class SearchWordAdmin(admin.ModelAdmin):
    search_fields = ["word"]

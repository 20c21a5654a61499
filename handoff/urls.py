from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from handoff import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("organizations/", include("accounts.urls")),
    path("directory/", include("directory.urls")),
    path("api/hsds/", include("directory.hsds.urls")),
    path("patients/", include("patients.urls")),
    path("screening/", include("screening.urls")),
    path("referrals/", include("referrals.urls")),
    path("ehr/", include("interop.urls")),
    path("fhir/", include("interop.api_urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
]

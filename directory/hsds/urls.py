"""The read-only HSDS API, included at api/hsds/ (see directory/hsds/openapi.json)."""

from __future__ import annotations

from django.urls import path, re_path

from directory.hsds import api

app_name = "hsds_api"

urlpatterns = [
    path("", api.root, name="root"),
    path("openapi.json", api.openapi, name="openapi"),
    path("services", api.services, name="services"),
    path("services/<str:hsds_id>", api.service, name="service"),
    path("organizations", api.organizations, name="organizations"),
    path("organizations/<str:hsds_id>", api.organization, name="organization"),
    path("taxonomy_terms", api.taxonomy_terms, name="taxonomy_terms"),
    path("service_at_locations", api.service_at_locations, name="service_at_locations"),
    # Last: whatever else is asked for under api/hsds/ gets a JSON 404, not the site's HTML one.
    re_path(r"^(?P<rest>.*)$", api.unknown, name="unknown"),
]

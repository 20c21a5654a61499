"""The portal's FHIR R4 API (mounted at /fhir/): only what is really supported is routed."""

from __future__ import annotations

from django.urls import path, re_path

from interop import api, api_resources

app_name = "fhir"

SERVED = r"Task|ServiceRequest|Procedure|Consent"

urlpatterns = [
    path("", api.transaction, name="transaction"),
    path("metadata", api.metadata, name="metadata"),
    re_path(rf"^(?P<resource_type>{SERVED})$", api_resources.search, name="search"),
    re_path(
        rf"^(?P<resource_type>{SERVED}|Patient)/(?P<resource_id>[A-Za-z0-9\-.]{{1,64}})$",
        api_resources.read,
        name="read",
    ),
    # Anything else is answered as FHIR (an OperationOutcome), never with an HTML page.
    re_path(r"^(?P<path>.*)$", api.not_supported, name="not_supported"),
]

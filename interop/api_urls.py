"""The portal's FHIR R4 API (mounted at /fhir/): only what is really supported is routed."""

from __future__ import annotations

from django.urls import path, re_path

from interop import api

app_name = "fhir"

urlpatterns = [
    path("metadata", api.metadata, name="metadata"),
    # Anything else is answered as FHIR (an OperationOutcome), never with an HTML page.
    re_path(r"^(?P<path>.*)$", api.not_supported, name="not_supported"),
]

from __future__ import annotations

from django.urls import path

from directory import views

app_name = "directory"

urlpatterns = [
    path("", views.search, name="search"),
    path("services/<uuid:hsds_id>/", views.service_detail, name="service"),
    path("my-services/", views.my_services, name="my_services"),
    path("my-services/<uuid:hsds_id>/edit/", views.edit_service, name="edit_service"),
]

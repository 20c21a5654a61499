from __future__ import annotations

from django.urls import path

from interop import views

app_name = "interop"

urlpatterns = [
    path("", views.connection, name="connection"),
    path("<int:pk>/test/", views.test_connection, name="test_connection"),
    path("outbox/", views.outbox_list, name="outbox"),
    path("outbox/<int:pk>/retry/", views.retry, name="retry"),
    path("outbox/retry/", views.retry_all, name="retry_all"),
    path("api-clients/", views.api_clients, name="api_clients"),
    path("api-clients/<int:pk>/revoke/", views.revoke_api_client, name="revoke_api_client"),
]

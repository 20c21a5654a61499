from __future__ import annotations

from django.urls import path

from screening import views

app_name = "screening"

urlpatterns = [
    path("", views.start, name="start"),
    path("patients/<int:patient_pk>/begin/", views.begin, name="begin"),
    path("<int:pk>/", views.screen, name="screen"),
    path("<int:pk>/language/", views.switch_language, name="language"),
    path("<int:pk>/results/", views.results, name="results"),
    path("patients/<int:patient_pk>/needs/add/", views.add_need, name="add_need"),
    path("needs/<int:pk>/resolve/", views.resolve_need, name="resolve_need"),
]

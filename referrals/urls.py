from __future__ import annotations

from django.urls import path

from referrals import views

app_name = "referrals"

urlpatterns = [
    path("", views.referral_list, name="list"),
    path("inbox/", views.inbox, name="inbox"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/act/<slug:action>/", views.act, name="act"),
    path("<int:pk>/messages/", views.post_message, name="message"),
    path("<int:pk>/step/", views.set_step, name="step"),
    path("<int:pk>/reroute/", views.reroute, name="reroute"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/email/", views.email_settings, name="email_settings"),
    path("audit/", views.audit_log, name="audit"),
    path("audit.csv", views.audit_csv, name="audit_csv"),
    path("consents/<int:pk>/withdraw/", views.withdraw_consent, name="withdraw_consent"),
]

"""The org admin's EHR pages: connection + test, waiting/failed list with retry, API clients."""

from __future__ import annotations

import hashlib
import html
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.urls import reverse

from interop.models import ApiClient, EhrConnection, OutboxMessage
from interop.tasks import send_outbox
from tests.interop.conftest import completed_screening

pytestmark = pytest.mark.django_db


@pytest.fixture
def stranger_connection(other_org, fhir):
    return EhrConnection.objects.create(organization=other_org, base_url=fhir.base_url)


# --- connection --------------------------------------------------------------------------


def test_not_signed_in_goes_to_sign_in(client):
    response = client.get(reverse("interop:connection"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_a_referrer_may_not_configure_the_ehr(client, referrer):
    client.force_login(referrer)
    assert client.get(reverse("interop:connection")).status_code == 403


def test_other_organizations_connection_is_404(client, clinic_admin, stranger_connection):
    client.force_login(clinic_admin)
    url = reverse("interop:test_connection", args=[stranger_connection.pk])
    assert client.post(url).status_code == 404


def test_admin_sets_up_a_connection_and_secrets_are_never_shown(client, clinic, clinic_admin):
    client.force_login(clinic_admin)
    response = client.post(
        reverse("interop:connection"),
        {
            "base_url": "https://ehr.example.org/fhir/r4",
            "auth_kind": "bearer",
            "new_bearer_token": "s3cret-token-value",
            "algorithm": "RS384",
            "scope": "system/*.write",
            "send_screenings": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    connection = EhrConnection.objects.get(organization=clinic)
    assert connection.base_url == "https://ehr.example.org/fhir/r4/"
    assert connection.bearer_token == "s3cret-token-value"
    assert not connection.send_referrals
    page = client.get(reverse("interop:connection"))
    assert b"s3cret-token-value" not in page.content
    # Saving again without retyping the token keeps it.
    client.post(
        reverse("interop:connection"),
        {"base_url": connection.base_url, "auth_kind": "bearer", "algorithm": "RS384"},
    )
    connection.refresh_from_db()
    assert connection.bearer_token == "s3cret-token-value"


def test_bearer_without_a_token_is_refused_at_the_field(client, clinic, clinic_admin):
    client.force_login(clinic_admin)
    response = client.post(
        reverse("interop:connection"),
        {"base_url": "https://ehr.example.org/fhir", "auth_kind": "bearer", "algorithm": "RS384"},
    )
    assert response.status_code == 400
    assert "Enter the bearer token" in response.content.decode()
    assert not EhrConnection.objects.exists()


def test_an_mrn_system_that_is_not_a_uri_is_refused_at_the_field(client, clinic, clinic_admin):
    client.force_login(clinic_admin)
    response = client.post(
        reverse("interop:connection"),
        {
            "base_url": "https://ehr.example.org/fhir",
            "auth_kind": "none",
            "algorithm": "RS384",
            "mrn_system": "not a uri",
        },
    )
    assert response.status_code == 400
    assert "Enter the system as a full URI" in response.content.decode()
    assert not EhrConnection.objects.exists()


def test_a_key_that_does_not_fit_the_algorithm_is_refused(client, clinic_admin):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    client.force_login(clinic_admin)
    response = client.post(
        reverse("interop:connection"),
        {
            "base_url": "https://ehr.example.org/fhir",
            "auth_kind": "smart-backend",
            "client_id": "handoff",
            "token_url": "https://ehr.example.org/token",
            "algorithm": "ES384",
            "new_private_key_pem": pem,
        },
    )
    assert response.status_code == 400
    assert "ES384 needs an elliptic-curve key on P-384." in response.content.decode()


def test_test_connection_says_what_works(client, clinic_admin, connection):
    client.force_login(clinic_admin)
    response = client.post(reverse("interop:test_connection", args=[connection.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "The connection works" in text
    assert "FHIR version 4.0.1 (R4)" in text
    report = response.context["report"]
    assert report.ok
    assert report.supports("Observation") == (True, True, True)


def test_test_connection_as_htmx_returns_only_the_report(client, clinic_admin, connection):
    client.force_login(clinic_admin)
    response = client.post(
        reverse("interop:test_connection", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )
    text = response.content.decode()
    assert text.strip().startswith('<div id="connection-report"')
    assert "<form" not in text


def test_test_connection_says_plainly_when_the_ehr_is_down(client, clinic_admin, connection, fhir):
    fhir.stop()
    client.force_login(clinic_admin)
    response = client.post(reverse("interop:test_connection", args=[connection.pk]))
    text = response.content.decode()
    assert "The EHR could not be reached" in text
    assert "Reachable: no." in text


def test_test_connection_reports_a_server_that_is_not_fhir(client, clinic, clinic_admin):
    class NotFhir(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"hello": "world"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFhir)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = EhrConnection.objects.create(
            organization=clinic, base_url=f"http://127.0.0.1:{server.server_port}/fhir/"
        )
        client.force_login(clinic_admin)
        response = client.post(reverse("interop:test_connection", args=[connection.pk]))
    finally:
        server.shutdown()
        server.server_close()
    report = response.context["report"]
    assert report.reachable and not report.ok
    assert "not with a valid CapabilityStatement" in report.problems[0]


# --- waiting and failed ------------------------------------------------------------------


def test_outbox_lists_rejected_changes_with_the_reason_and_retry_sends_them(
    client, clinic_admin, connection, patient, referrer, fhir
):
    screening = completed_screening(patient, referrer)
    first = OutboxMessage.objects.get(aggregate=f"screening:{screening.pk}", sequence=1)
    good = first.payload
    OutboxMessage.objects.filter(pk=first.pk).update(payload={**good, "colour": "blue"})
    send_outbox.call()

    client.force_login(clinic_admin)
    page = client.get(reverse("interop:outbox"))
    text = html.unescape(page.content.decode())
    assert 'Invalid additional property "colour"' in text
    assert len(page.context["rows"]) == OutboxMessage.objects.count()  # held ones too
    assert "Held behind an earlier change that was not sent" in text
    assert f"Screening {screening.pk}, #1" in text

    OutboxMessage.objects.filter(pk=first.pk).update(payload=good)
    response = client.post(reverse("interop:retry", args=[first.pk]))
    assert response.status_code == 302
    send_outbox.call()
    assert not OutboxMessage.objects.exclude(state="sent").exists()
    assert client.get(reverse("interop:outbox")).context["rows"] == []


def test_clinic_admin_cannot_retry_another_organizations_message(
    client, clinic_admin, stranger_connection
):
    from django.db import transaction

    from interop.outbox import enqueue

    with transaction.atomic():
        [message] = enqueue(
            stranger_connection,
            "screening:99",
            [{"resourceType": "Basic", "id": "x", "code": {"text": "x"}}],
        )
    OutboxMessage.objects.filter(pk=message.pk).update(state="rejected")
    client.force_login(clinic_admin)
    assert client.post(reverse("interop:retry", args=[message.pk])).status_code == 404
    assert client.get(reverse("interop:outbox")).context["rows"] == []
    message.refresh_from_db()
    assert message.state == "rejected"


# --- the screening results page ------------------------------------------------------------


def test_results_page_shows_the_sync_state(client, connection, patient, referrer):
    screening = completed_screening(patient, referrer)
    client.force_login(referrer)
    url = reverse("screening:results", args=[screening.pk])
    assert "Waiting to be sent to the EHR" in client.get(url).content.decode()
    send_outbox.call()
    assert "Sent to EHR now" in client.get(url).content.decode()


def test_the_sync_state_is_in_the_pages_language(client, connection, patient, referrer):
    from tests.spanish import in_spanish, text_of

    screening = completed_screening(patient, referrer)
    in_spanish(client, referrer)
    url = reverse("screening:results", args=[screening.pk])

    assert "En espera de enviarse a la historia clínica electrónica" in text_of(
        client.get(url).content.decode()
    )
    send_outbox.call()
    text = text_of(client.get(url).content.decode())
    assert "Enviado a la historia clínica electrónica ahora" in text
    assert "Sent to EHR" not in text


def test_results_page_without_a_connection_says_nothing_about_the_ehr(client, patient, referrer):
    screening = completed_screening(patient, referrer)
    client.force_login(referrer)
    page = client.get(reverse("screening:results", args=[screening.pk]))
    assert b'data-testid="ehr-sync-state"' not in page.content


# --- API clients -----------------------------------------------------------------------------


def test_api_client_token_is_shown_once_and_stored_only_as_a_hash(client, clinic, clinic_admin):
    client.force_login(clinic_admin)
    response = client.post(reverse("interop:api_clients"), {"name": "Riverside EHR"})
    assert response.status_code == 200
    token = response.context["new_token"]
    assert token.startswith("hfx_") and len(token) > 40
    made = ApiClient.objects.get(organization=clinic)
    assert made.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {made.token_hash, made.token_hint, made.name}
    assert token not in client.get(reverse("interop:api_clients")).content.decode()


def test_api_clients_of_another_organization_are_not_listed_or_revocable(
    client, clinic_admin, other_org
):
    theirs, _token = ApiClient.issue(other_org, "Their EHR")
    client.force_login(clinic_admin)
    assert list(client.get(reverse("interop:api_clients")).context["clients"]) == []
    response = client.post(reverse("interop:revoke_api_client", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_admin_revokes_a_client(client, clinic, clinic_admin):
    made, token = ApiClient.issue(clinic, "Riverside EHR")
    client.force_login(clinic_admin)
    client.post(reverse("interop:revoke_api_client", args=[made.pk]))
    made.refresh_from_db()
    assert made.revoked_at is not None
    assert ApiClient.authenticate(token) is None


def test_retry_all_sends_everything_rejected_again(
    client, clinic_admin, clinic, fhir, patient, referrer
):
    connection = EhrConnection.objects.create(
        organization=clinic, base_url=fhir.base_url, auth_kind="bearer", bearer_token="old"
    )
    fhir.require_auth(bearer="new")
    completed_screening(patient, referrer)
    completed_screening(patient, referrer)
    send_outbox.call()
    assert OutboxMessage.objects.filter(state="rejected").count() == 2  # each screening's first
    connection.bearer_token = "new"
    connection.save()
    client.force_login(clinic_admin)
    assert client.post(reverse("interop:retry_all")).status_code == 302
    send_outbox.call()
    assert not OutboxMessage.objects.exclude(state="sent").exists()


def test_retry_all_touches_only_the_admins_organization(client, clinic_admin, stranger_connection):
    from django.db import transaction

    from interop.outbox import enqueue

    with transaction.atomic():
        enqueue(
            stranger_connection,
            "screening:99",
            [{"resourceType": "Basic", "id": "x", "code": {"text": "x"}}],
        )
    OutboxMessage.objects.update(state="rejected")
    client.force_login(clinic_admin)
    client.post(reverse("interop:retry_all"))
    assert OutboxMessage.objects.get().state == "rejected"

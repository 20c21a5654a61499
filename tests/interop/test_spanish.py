"""The org admin's EHR pages in Spanish."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from interop.models import ApiClient, EhrConnection, OutboxMessage, readable_error
from interop.outbox import sync_state_for
from interop.tasks import send_outbox
from tests.interop.conftest import completed_screening
from tests.spanish import assert_spanish, in_spanish, template_msgids, text_of, untranslated

pytestmark = pytest.mark.django_db


def test_the_ehr_connection_page_in_spanish_has_no_english_left(client, clinic, clinic_admin):
    EhrConnection.objects.create(
        organization=clinic,
        base_url="https://ehr.example.org/fhir/r4/",
        auth_kind=EhrConnection.AuthKind.BEARER,
        bearer_token="secret-token",
    )
    in_spanish(client, clinic_admin)

    page = text_of(client.get(reverse("interop:connection")).content.decode())

    assert_spanish(
        page,
        spanish=[
            "Conexión con la historia clínica electrónica",
            "Probar la conexión",
            "URL base de FHIR",
            "Un token de portador (bearer token)",
            "Déjelo en blanco para conservar el que está guardado.",
            "En espera y fallidos",
            "Clientes de la API",
            "Guardar",
        ],
        english=[
            "EHR connection",
            "Test connection",
            "FHIR base URL",
            "A bearer token",
            "Leave blank",
            "Waiting and failed",
            "API clients",
            "Save",
        ],
    )


def test_the_waiting_list_in_spanish_says_there_is_no_connection(client, clinic_admin):
    in_spanish(client, clinic_admin)

    page = text_of(client.get(reverse("interop:outbox")).content.decode())

    assert_spanish(
        page,
        spanish=["En espera de la historia clínica electrónica", "Configurar una"],
        english=["Waiting for the EHR", "No EHR connection is set up", "Set one up"],
    )


def test_the_api_clients_page_in_spanish_has_no_english_left(client, clinic, clinic_admin):
    ApiClient.issue(clinic, "Riverside EHR", by=clinic_admin)
    in_spanish(client, clinic_admin)

    page = text_of(client.get(reverse("interop:api_clients")).content.decode())

    assert_spanish(
        page,
        spanish=[
            "Clientes de la API",
            "El token empieza con",
            "Agregar un cliente de la API",
            "Crear un token",
            "Riverside EHR",
        ],
        english=["API clients", "Token starts with", "Add an API client", "Create a token"],
    )


def test_every_message_of_the_ehr_templates_has_a_spanish_translation():
    msgids = template_msgids("interop")
    assert "Retry everything failed or rejected" in msgids
    assert untranslated(msgids) == []


# --- errors the sender stored, shown in the reader's language --------------------------------


def send_as_the_worker() -> dict:
    """The sender runs with no reader: in the settings' language, English."""
    with translation.override("en"):
        return send_outbox.call()


def test_an_unreachable_ehr_is_reported_in_the_readers_language(
    client, clinic_admin, connection, patient, referrer, fhir
):
    completed_screening(patient, referrer)
    fhir.stop()
    assert send_as_the_worker()["retrying"] == 1
    connection.refresh_from_db()
    message = OutboxMessage.objects.exclude(last_error="").get()
    # Stored in English, for logs and the admin.
    assert connection.last_error.startswith("The EHR could not be reached: ")
    assert message.last_error == connection.last_error
    in_spanish(client, clinic_admin)

    for url in (reverse("interop:connection"), reverse("interop:outbox")):
        page = text_of(client.get(url).content.decode())

        assert_spanish(
            page,
            spanish=["No se pudo conectar con la historia clínica electrónica: ConnectionError"],
            english=["could not be reached"],
        )
    client.cookies["django_language"] = "en"
    page = text_of(client.get(reverse("interop:outbox")).content.decode())
    assert "The EHR could not be reached: ConnectionError" in page


def test_testing_the_connection_in_spanish_says_in_spanish_that_the_ehr_is_down(
    client, clinic_admin, connection, fhir
):
    fhir.stop()
    in_spanish(client, clinic_admin)

    response = client.post(reverse("interop:test_connection", args=[connection.pk]))

    assert_spanish(
        text_of(response.content.decode()),
        spanish=["No se pudo conectar con la historia clínica electrónica: ConnectionError"],
        english=["could not be reached"],
    )


def test_a_rejection_the_sender_stored_reads_in_spanish_on_the_patients_page(
    connection, patient, referrer, fhir
):
    screening = completed_screening(patient, referrer)
    patient.delete()
    assert send_as_the_worker()["rejected"] == 1

    with translation.override("es"):
        state = sync_state_for(f"screening:{screening.pk}")
    with translation.override("en"):
        english = sync_state_for(f"screening:{screening.pk}")

    assert state.text == "No enviado: El paciente ya no existe en el portal."
    assert english.text == "Not sent: The patient no longer exists in the portal."


def test_an_error_stored_without_its_message_is_shown_as_stored():
    with translation.override("es"):
        assert readable_error("HTTP 503: Service Unavailable", None) == (
            "HTTP 503: Service Unavailable"
        )
        # A message whose details no longer fit it (changed since): what was stored.
        assert (
            readable_error(
                "The EHR could not be reached: ConnectTimeout",
                {"id": "The EHR could not be reached: %(error)s", "params": {}},
            )
            == "The EHR could not be reached: ConnectTimeout"
        )
        assert readable_error(
            "The EHR could not be reached: ConnectTimeout",
            {
                "id": "The EHR could not be reached: %(error)s",
                "params": {"error": "ConnectTimeout"},
            },
        ) == ("No se pudo conectar con la historia clínica electrónica: ConnectTimeout")

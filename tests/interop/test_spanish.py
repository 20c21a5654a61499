"""The org admin's EHR pages in Spanish."""

from __future__ import annotations

import pytest
from django.urls import reverse

from interop.models import ApiClient, EhrConnection
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

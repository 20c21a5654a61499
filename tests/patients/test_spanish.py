"""The patient pages in a Spanish interface: every page in Spanish, none of it left in English."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from screening.models import Need
from tests.factories import (
    PatientFactory,
    ScreeningFactory,
    answer_all,
    directory_service,
    referral,
)
from tests.spanish import assert_spanish, in_spanish, text_of

pytestmark = pytest.mark.django_db

# A Tuesday morning in Boston.
NOW = datetime.datetime(2026, 3, 3, 10, 30, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def maria(clinic, now):
    return PatientFactory(
        organization=clinic,
        given_name="María",
        family_name="Lopez",
        birth_date=datetime.date(1980, 5, 17),
        mrn="A-100",
        phone="617-555-0100",
        contact_method="text",
        contact_times="mañanas",
        interpreter_needed=True,
        preferred_language="es",
    )


@pytest.fixture
def helped(maria, referrer, staff, food_bank):
    """Screened (food found), a need added in conversation and one resolved, and a referral to
    the food bank's pantry that the food bank closed with the need met."""
    screening = ScreeningFactory(patient=maria, started_by=referrer)
    answer_all(screening, {q.code: "not-asked" for q in screening.instrument.questions})
    answer_all(screening, {"88122-7": "LA28397-0"})
    screening.complete(by=referrer)
    Need.add(maria, "housing-instability", by=referrer, note="Atrasada con la renta")
    bus = Need.add(maria, "transportation-insecurity", by=referrer)
    bus.resolve(by=referrer, note="Consiguió un pase de autobús")
    pantry = directory_service(
        organization=food_bank, name="Eastside Pantry", terms=("food.food-pantry",)
    )
    made = referral(maria, pantry, referrer)
    made.needs.set(maria.needs.filter(category="food-insecurity"))
    for action in ("accept", "start"):
        made.apply(action, by=staff, organization=food_bank)
    made.apply(
        "complete",
        by=staff,
        organization=food_bank,
        outcome="met",
        outcome_provided="Comida para dos semanas",
    )
    return maria


def test_the_patient_page_in_spanish_has_no_english_left(client, referrer, helped):
    in_spanish(client, referrer)

    html = client.get(helped.get_absolute_url()).content.decode()

    assert '<html lang="es">' in html
    assert_spanish(
        text_of(html),
        spanish=[
            "Volver a los pacientes",
            "Fecha de nacimiento: 05/17/1980",
            "MRN: A-100",
            "Idioma preferido: Español — necesita intérprete",
            "Teléfono: 617-555-0100",
            "Contactar por: Mensaje de texto, mañanas",
            "Evaluar necesidades sociales",
            "Editar los datos",
            "Necesidades Inestabilidad de vivienda Buscar un servicio para Inestabilidad de "
            "vivienda — agregada el 03/03/2026 Atrasada con la renta",
            "Alimentos Buscar un servicio para Alimentos — encontrada por la evaluación el "
            "03/03/2026",
            "Eastside Food Bank informó que atendió esta necesidad el 03/03/2026: "
            "Comida para dos semanas Ver el referido",
            "Resolver “Alimentos” ¿Cómo se resolvió?",
            "Se atendió con el referido a Eastside Pantry (Eastside Food Bank): "
            "Comida para dos semanas",
            "Resolver la necesidad",
            "Agregar una necesidad encontrada en una conversación",
            "Necesidades resueltas Transporte — resuelta el 03/03/2026: Consiguió un pase",
            "Referidos Referidos de esta persona Servicio Estado Fecha de inicio Eastside Pantry · "
            "Eastside Food Bank Completado 03/03/2026",
            "Consentimiento para compartir Eastside Food Bank — De palabra, en persona o por "
            "teléfono, dado el 03/03/2026, termina el 03/03/2027 "
            "(datos de contacto, necesidades)",
            "Retirar el consentimiento para Eastside Food Bank",
            "Eastside Food Bank ya no verá los datos de esta persona, y se cancelarán sus "
            "referidos abiertos para ella.",
            "Evaluaciones",
            "completada el 03/03/2026",
            "Historial 03/03/2026 10:30 — Evaluación completada",
            "03/03/2026 10:30 — Referido a Eastside Pantry (Completado)",
            "Necesidad: Alimentos (Encontrada por la evaluación)",
            "Necesidad: Inestabilidad de vivienda (Agregada en una conversación)",
            "Necesidad resuelta: Transporte (Consiguió un pase de autobús)",
        ],
        english=[
            "Back to",
            "Date of birth",
            "Preferred language",
            "Spanish",
            "interpreter",
            "Text message",
            "Contact by",
            "Edit details",
            "Needs",
            "Find a service",
            "found by screening",
            "reported",
            "See the referral",
            "Resolve “",
            "Resolve need",
            "Add a need",
            "Housing",
            "Transportation",
            "Service Status",
            "Completed",
            "Consent to",
            "given",
            "Withdraw",
            "Screenings",
            "Timeline",
            "Referral to",
            "Screening completed",
            "Need:",
            "Verbal",
            " AM",
        ],
    )


def test_the_patient_list_in_spanish_has_no_english_left(client, referrer, maria):
    in_spanish(client, referrer)

    everyone = text_of(client.get(reverse("patients:list")).content.decode())
    found = text_of(client.get(reverse("patients:list"), {"q": "lopez"}).content.decode())
    nobody = text_of(client.get(reverse("patients:list"), {"q": "zzz"}).content.decode())

    assert_spanish(
        everyone,
        spanish=[
            "Pacientes Registrar a un paciente",
            "Nombre, fecha de nacimiento o número de historia clínica (MRN) "
            "Fecha de nacimiento como MM/DD/AAAA o AAAA-MM-DD.",
            "Buscar Todos los pacientes",
            "Nombre Fecha de nacimiento MRN Código postal Lopez, María 05/17/1980 A-100 02118",
        ],
        english=["Register a patient", "All patients", "Date of birth", "ZIP code", "Search"],
    )
    assert "Pacientes que coinciden con “lopez”" in found
    assert "No se encontraron pacientes." in nobody


def test_registering_in_spanish_warns_of_a_duplicate_and_errors_in_spanish(client, referrer, maria):
    in_spanish(client, referrer)
    url = reverse("patients:register")

    page = text_of(client.get(url).content.decode())
    errors = text_of(
        client.post(
            url, {"given_name": "", "family_name": "X", "birth_date": "2999-01-01", "zip_code": "1"}
        ).content.decode()
    )
    duplicate = text_of(
        client.post(
            url,
            {
                "given_name": "María",
                "family_name": "Lopez",
                "birth_date": "1980-05-17",
                "preferred_language": "es",
            },
        ).content.decode()
    )

    assert_spanish(
        page,
        spanish=[
            "Volver a los pacientes Registrar a un paciente",
            "La persona Nombre * Apellido * Fecha de nacimiento * Sexo",
            "Femenino Masculino Otro Desconocido",
            "Identidad de género Idioma preferido * Inglés Español",
            "Necesita intérprete",
            "Dirección y contacto Dirección Ciudad Estado Código postal Teléfono",
            "Correo electrónico Forma preferida de contacto",
            "Llamada telefónica Mensaje de texto Correo electrónico Correo postal En persona",
            "Mejores horarios para comunicarse",
            "Historia clínica Número de historia clínica (MRN) Sistema del MRN",
            "El sistema de identificadores del expediente médico electrónico (EHR) que dio el "
            "MRN (un URI).",
            "Registrar",
        ],
        english=["The person", "First name", "Female", "Phone call", "Health record", "Register "],
    )
    assert_spanish(
        errors,
        spanish=[
            "Este campo es obligatorio.",
            "La fecha de nacimiento no puede ser en el futuro.",
            "Escriba un código postal de 5 dígitos, como 02118.",
        ],
        english=["This field", "cannot be in the future", "Enter a 5-digit"],
    )
    assert_spanish(
        duplicate,
        spanish=[
            "Es posible que esta persona ya esté registrada",
            "Ya hay aquí un paciente con el mismo nombre y fecha de nacimiento.",
            "María Lopez, 05/17/1980 — MRN A-100",
            "Lo verifiqué: es otra persona, registrarla de todos modos",
        ],
        english=["may already be registered", "I checked"],
    )


def test_editing_a_patient_in_spanish(client, referrer, maria):
    in_spanish(client, referrer)
    url = reverse("patients:edit", args=[maria.pk])

    page = text_of(client.get(url).content.decode())
    saved = client.post(
        url,
        {
            "given_name": "María",
            "family_name": "Lopez",
            "birth_date": "1980-05-17",
            "preferred_language": "es",
            "phone": "12",
        },
    )

    assert_spanish(
        page,
        spanish=["Editar María Lopez", "Volver al paciente", "Guardar los cambios"],
        english=["Edit ", "Back to", "Save changes"],
    )
    assert "Escriba un número de teléfono de al menos 7 dígitos" in text_of(saved.content.decode())

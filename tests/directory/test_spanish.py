"""The directory in a Spanish interface: every page in Spanish, none of it left in English."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from directory.models import Service
from tests.factories import ScheduleFactory, directory_service
from tests.spanish import assert_spanish, in_spanish, template_msgids, text_of, untranslated

pytestmark = pytest.mark.usefixtures("taxonomy")

# A Tuesday morning in Boston: the pantry below is open, and Sunday is its day off.
NOW = datetime(2026, 3, 3, 10, 30, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def pantry(now, food_bank, food_admin):
    service = directory_service(
        name="Weekly Food Pantry",
        organization=food_bank,
        terms=("food.food-pantry",),
        at=(42.3399, -71.0752),
        languages=("en", "es", "ht"),  # stored as HSDS stores them, by code and English name
        minimum_age=18,
    )
    ScheduleFactory(
        service=service, byday="MO,TU,WE,TH,FR,SA", opens_at=time(9), closes_at=time(17)
    )
    service.set_capacity(Service.Capacity.WAITLIST, by=food_admin)
    Service.objects.filter(pk=service.pk).update(capacity_updated_at=now - timedelta(minutes=1))
    return service


def test_the_search_page_in_spanish_has_no_english_left(client, referrer, pantry, food_bank):
    for n in range(20):  # a second page of results
        directory_service(
            name=f"Zeta Pantry {n:02d}", organization=food_bank, terms=("food.food-pantry",)
        )
    in_spanish(client, referrer)

    response = client.get(reverse("directory:search"), {"need": "food-insecurity", "age": "200"})

    html = response.content.decode()
    assert '<html lang="es">' in html
    assert_spanish(
        text_of(html),
        spanish=[
            "Buscar un servicio comunitario",
            "Necesidad Cualquier necesidad Alimentos",
            "Tipo de servicio Cualquier tipo de servicio",
            "Idioma que se habla Cualquier idioma Inglés Español Chino",
            "Criollo haitiano",
            "Somalí",
            "A menos de 1 milla 2 millas",
            "Abierto A cualquier hora Abierto ahora Lunes Martes",
            "Ordenar Automático: los más cercanos primero",
            "Edad de la persona Escriba una edad de 0 a 120.",  # the error at its field
            "Se encontraron 21 servicios",
            "No se usó “Edad de la persona”: vea el mensaje junto al campo.",
            "Por necesidad",
            "Por idioma",
            "Inglés 1 Español 1 Criollo haitiano 1",  # the language facets
            "Abierto ahora Hoy: 09:00–17:00",
            "Idiomas: Inglés, Español, Criollo haitiano",
            "Cupo: Lista de espera",
            "Cupo: Acepta nuevos clientes",
            "Dirección: 1 Main St, Boston, MA 02118",
            "Página 1 de 2",
            "Siguiente",
            "Cambiar el idioma",
        ],
        english=[
            "Any need",
            "Any language",
            "Capacity:",
            "Waitlist",
            "Closed",
            "Today:",
            "Languages:",
            "Address:",
            "English",
            "Haitian Creole",
            "Somali",
            "AM",
            "services found",
            "Enter an age",
            "was not used",
            "By need",
            "Page 1",
            "Next",
        ],
    )


def test_the_search_page_in_spanish_says_no_results_and_distance_in_spanish(
    client, referrer, pantry
):
    in_spanish(client, referrer)

    near = text_of(client.get(reverse("directory:search"), {"zip": "02118"}).content.decode())
    none = text_of(
        client.get(reverse("directory:search"), {"zip": "02118", "q": "zzzz"}).content.decode()
    )

    assert "a 0,3 millas" in near
    assert "Dirección: 1 Main St, Boston, MA 02118" in near
    assert (
        "No hay servicios a menos de 10 millas del código postal 02118. "
        "Pruebe con una distancia mayor o con menos filtros." in none
    )
    assert "No services" not in none
    assert "Try a larger" not in none


def test_the_service_page_in_spanish_has_no_english_left(client, referrer, pantry):
    in_spanish(client, referrer)

    html = client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode()

    assert_spanish(
        text_of(html),
        spanish=[
            "Abierto ahora",
            "Cupo: Lista de espera (actualizado hace 1 minuto)",
            "Promete responder en 2 días hábiles",
            "Idiomas: Inglés, Español, Criollo haitiano",
            "Edades: 18–",
            "Quién puede recibir este servicio",
            "Horario semanal de Weekly Food Pantry",
            "Lunes 09:00–17:00",
            "Domingo Cerrado",
            "Las horas son hora local (America/New_York).",
            "Tipos de servicio",
            "Este servicio dice que tiene lista de espera (actualizado hace 1 minuto).",
            "Referir a alguien",
        ],
        english=[
            "Capacity:",
            "updated",
            "ago",
            "Closed",
            "Monday",
            "Languages:",
            "Address:",
            "English",
            "AM",
            "Promises",
            "Opening hours",
            "waitlist",
            "Refer someone",
        ],
    )


def test_my_services_in_spanish_has_no_english_left(client, food_admin, pantry):
    in_spanish(client, food_admin)

    text = text_of(client.get(reverse("directory:my_services")).content.decode())

    assert_spanish(
        text,
        spanish=[
            "Servicios",
            "Tiempo de respuesta",
            "Weekly Food Pantry Lista de espera 2 días hábiles Sí Editar Weekly Food Pantry",
            "Administración de la organización",
        ],
        english=["Capacity", "Waitlist", "business days", "Response time", "Edit Weekly", "Yes"],
    )


def test_the_edit_page_in_spanish_shows_its_errors_in_spanish(client, food_admin, pantry):
    in_spanish(client, food_admin)
    url = reverse("directory:edit_service", args=[pantry.hsds_id])
    schedule = pantry.schedules.get()

    response = client.post(
        url,
        {
            "name": "",
            "description": pantry.description,
            "minimum_age": "18",
            "maximum_age": "10",
            "accepts_referrals": "on",
            "capacity": pantry.capacity,
            "response_time_days": "2",
            "languages": ["en", "es"],
            "hours-TOTAL_FORMS": "2",
            "hours-INITIAL_FORMS": "1",
            "hours-MIN_NUM_FORMS": "0",
            "hours-MAX_NUM_FORMS": "1000",
            "hours-0-id": schedule.pk,
            "hours-0-days": [],
            "hours-0-opens_at": "09:00",
            "hours-0-closes_at": "17:00",
            "hours-0-timezone": "America/New_York",
            "hours-1-timezone": "America/New_York",
        },
    )

    assert response.status_code == 400
    assert_spanish(
        text_of(response.content.decode()),
        spanish=[
            "Editar Weekly Food Pantry",
            "Corrija estas 3 cosas antes de guardar",
            "Nombre: Este campo es obligatorio.",
            "Edad máxima: La edad máxima no puede ser menor que la edad mínima.",
            "Horario 1, Días: Elija los días de este horario.",
            "Cupo",
            "Lista de espera",
            "Idiomas que se hablan",
            "Horario",
            "Agregar un horario",
            "Opcional. Llénelo para agregar otro horario.",
            "Lunes",
            "Guardar",
        ],
        english=[
            "Fix these",
            "This field is required",
            "maximum age",
            "Days",
            "Choose the days",
            "Capacity",
            "Waitlist",
            "Languages spoken",
            "Opening hours",
            "Add hours",
            "Monday",
            "Save",
        ],
    )


def test_every_message_of_the_directory_templates_has_a_spanish_translation():
    msgids = template_msgids("directory")
    assert len(msgids) > 60  # the extraction found the templates' messages
    assert untranslated(msgids) == []


def test_a_spanish_search_word_finds_its_services_and_says_how_in_spanish(client, referrer, pantry):
    directory_service(name="Bicycle Repair Cafe")
    in_spanish(client, referrer)

    response = client.get(reverse("directory:search"), {"q": "comida"})

    text = text_of(response.content.decode())
    assert "Weekly Food Pantry" in text
    assert "Bicycle Repair Cafe" not in text
    assert_spanish(
        text,
        spanish=[
            "Los servicios aquí están descritos en inglés, así que para “comida” también"
            " buscamos “food”, “baby food and formula”."
        ],
        english=["described in English"],
    )

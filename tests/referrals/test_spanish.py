"""The referral pages in a Spanish interface: every page in Spanish, none of it left in English."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import Role
from referrals.models import BusinessStatus, Notification, ReasonCode, ReferralEvent
from referrals.tasks import email_notifications
from tests.factories import (
    NeedFactory,
    OrganizationFactory,
    consent_for,
    directory_service,
    member,
    referral,
)
from tests.spanish import assert_spanish, in_spanish, template_msgids, text_of, untranslated

pytestmark = pytest.mark.django_db

# A Tuesday morning in Boston.
NOW = datetime(2026, 3, 3, 10, 30, tzinfo=ZoneInfo("America/New_York"))
# The intake the food bank books: Thursday afternoon.
INTAKE = datetime(2026, 3, 5, 14, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _later(minutes: int):
    return time_machine.travel(NOW + timedelta(minutes=minutes), tick=False)


@pytest.fixture
def worked(now, patient, service, referrer, staff):
    """Sent on Tuesday at 10:30, opened and accepted by the food bank, an intake booked for
    Thursday, and a message each way."""
    NeedFactory(patient=patient, category="food-insecurity")
    made = referral(patient, service, referrer)
    made.needs.set(patient.needs.all())
    food_bank = service.organization
    with _later(5):
        made.apply("receive", by=staff, organization=food_bank)
        made.apply("accept", by=staff, organization=food_bank)
        made.set_step(
            by=staff,
            organization=food_bank,
            step=BusinessStatus.INTAKE_BOOKED,
            intake_at=INTAKE,
        )
        made.post_message(
            by=staff, organization=food_bank, body="Hablamos con Maria; viene el jueves."
        )
    with _later(10):
        made.post_message(
            by=referrer, organization=made.referring_organization, body="Gracias, Stan."
        )
    return made


def test_the_referral_page_in_spanish_has_no_english_left_for_the_referrer(
    client, referrer, worked
):
    in_spanish(client, referrer)
    with _later(15):
        html = client.get(reverse("referrals:detail", args=[worked.pk])).content.decode()

    assert '<html lang="es">' in html
    assert_spanish(
        text_of(html),
        spanish=[
            "Referido a Eastside Pantry, Eastside Food Bank",
            "Para Maria Lopez · necesidad: Alimentos · de Rita Referrer, Riverside Clinic",
            "Estado: Aceptado",
            "Paso: Cita de admisión programada — jueves, 5 de marzo de 2026 a las 14:00",
            "Enviado completado Visto completado Aceptado En curso sin completar",
            "Lo que puede hacer Cancelar el referido Motivo",
            "Elija un motivo La necesidad se atendió en otro lugar",
            "Más detalles Obligatorio cuando el motivo es “Otro”.",
            "Confirmar: Cancelar el referido",
            "Mensajes Stan Staff , Eastside Food Bank · 03/03/2026 10:35",
            "Hablamos con Maria; viene el jueves.",
            "Mensaje * Enviar el mensaje",
            "Transferencia cálida Urgencia De rutina",
            "Comunicarse por Llamada telefónica Teléfono 617-555-0100",
            "Correo electrónico maria@example.org",
            "Idioma Inglés Necesidades Alimentos",
            "Historial Estado: Enviado 03/03/2026 10:30 · Rita Referrer",
            "Estado: Visto",
            "Cita de admisión programada: jueves, 5 de marzo de 2026 a las 14:00",
            "Notificaciones 4 sin leer",
        ],
        english=[
            "Status",
            "Accepted",
            "Step",
            "Intake",
            "Thursday",
            "March",
            " AM",
            " PM",
            "completed",
            "What you can do",
            "Cancel referral",
            "Reason",
            "Choose a reason",
            "Confirm:",
            "Messages",
            "Send message",
            "Warm handoff",
            "Urgency",
            "Routine",
            "Reach them by",
            "Phone call",
            "English",
            "Needs",
            "Timeline",
            "Sent",
            "Seen",
            "unread",
        ],
    )


def test_the_referral_page_in_spanish_for_the_food_bank_offers_its_actions_in_spanish(
    client, staff, worked
):
    in_spanish(client, staff)
    with _later(15):
        text = text_of(client.get(reverse("referrals:detail", args=[worked.pk])).content.decode())

    assert_spanish(
        text,
        spanish=[
            "Empezar a trabajar",
            "Poner en pausa",
            "Confirmar: Poner en pausa",
            "En espera de la persona o de otro servicio",
            "Informe a quien refiere el paso actual",
            "Paso actual * Tratando de comunicarse con la persona En lista de espera",
            "Cita de admisión (fecha y hora)",
            "Actualizar el paso",
            "Visto por la organización que recibe",  # this visit, on the timeline
            "Rita Referrer , Riverside Clinic · 03/03/2026 10:40 Gracias, Stan.",
        ],
        english=["Start work", "Put on hold", "Current step", "Update step", "Viewed by"],
    )


def test_a_closed_referral_in_spanish_names_its_outcome_and_the_date_in_figures(
    client, referrer, staff, worked
):
    food_bank = worked.receiving_organization
    with _later(20):
        worked.apply("start", by=staff, organization=food_bank)
        worked.apply(
            "complete",
            by=staff,
            organization=food_bank,
            outcome="met",
            outcome_provided="Una caja de comida cada semana",
        )
    in_spanish(client, referrer)

    with _later(25):
        text = text_of(client.get(reverse("referrals:detail", args=[worked.pk])).content.decode())

    assert_spanish(
        text,
        spanish=[
            "Estado: Completado",
            "Resultado: Necesidad atendida — Una caja de comida cada semana ( 03/03/2026 )",
            "Estado: En curso",
        ],
        english=["Completed", "Outcome", "Need met", "In progress"],
    )


def test_the_food_banks_step_reads_in_each_readers_language_and_is_stored_in_english(
    client, referrer, staff, patient, service, now
):
    """A step set from a Spanish page: the referrer, in English, reads it in English."""
    made = referral(patient, service, referrer)
    made.apply("accept", by=staff, organization=service.organization)
    in_spanish(client, staff)
    client.post(reverse("referrals:step", args=[made.pk]), {"step": "waitlisted"})

    event = made.events.get(kind=ReferralEvent.Kind.STEP)
    assert event.text == "Waitlisted"  # for the audit log, whoever set it
    client.cookies["django_language"] = "en"
    client.force_login(referrer)
    english = text_of(client.get(reverse("referrals:detail", args=[made.pk])).content.decode())
    assert "Step: Waitlisted" in english
    assert "En lista de espera" not in english
    # Told the step itself, in the referrer's language (it read "is now: Step updated.").
    assert Notification.objects.filter(user=referrer, referral=made).latest("pk").text == (
        "Referral to Eastside Pantry: Waitlisted."
    )
    with translation.override("es"):
        assert gettext("Referral to %(service)s: %(step)s.") == (
            "El referido a %(service)s: %(step)s."
        )


def test_notifications_are_written_in_the_readers_language_not_the_actors(
    client, referrer, staff, patient, service, now
):
    clinic = patient.organization
    colega = member(clinic, Role.REFERRER, full_name="Carmen Colega", preferred_language="es")
    made = referral(patient, service, referrer)
    in_spanish(client, staff)
    accepted = client.post(reverse("referrals:act", args=[made.pk, "accept"]), follow=True)

    assert "Listo: el referido ahora está “Aceptado”." in text_of(accepted.content.decode())

    # The referrer prefers English: the food bank's Spanish page does not change that.
    assert Notification.objects.get(user=referrer, referral=made).text == (
        "Referral to Eastside Pantry is now: Accepted."
    )
    # A colleague who prefers Spanish gets hers in Spanish, email too.
    made.referred_by = colega
    made.save(update_fields=["referred_by"])
    mail.outbox.clear()
    client.force_login(staff)
    client.post(reverse("referrals:act", args=[made.pk, "hold"]), {"reason": ReasonCode.WAITING})
    notification = Notification.objects.get(user=colega, referral=made)
    assert notification.text == "El referido a Eastside Pantry ahora está: En pausa."
    email_notifications.call([notification.pk])
    assert mail.outbox[-1].subject == "Handoff: El referido a Eastside Pantry ahora está: En pausa."
    assert "Abra Handoff para ver el referido." in mail.outbox[-1].body


@pytest.fixture
def second_pantry(db):
    """Another pantry near the patient, taking new clients: where a declined referral can go."""
    return directory_service(
        organization=OrganizationFactory(name="Southside Pantry Network"),
        name="Southside Pantry",
        terms=("food.food-pantry",),
        at=(42.3400, -71.0750),
        response_time_days=1,
    )


def test_sending_a_declined_referral_elsewhere_in_spanish(
    client, referrer, staff, patient, service, second_pantry, now
):
    made = referral(patient, service, referrer)
    made.apply("reject", by=staff, organization=service.organization, reason=ReasonCode.NO_CAPACITY)
    in_spanish(client, referrer)

    detail = text_of(client.get(reverse("referrals:detail", args=[made.pk])).content.decode())
    page = text_of(client.get(reverse("referrals:reroute", args=[made.pk])).content.decode())

    assert_spanish(
        detail,
        spanish=[
            "Estado: Rechazado",
            "Motivo: No hay cupo por ahora",
            "Enviar a un servicio parecido",
            "Estado: Rechazado 03/03/2026 10:30 · Stan Staff · No hay cupo por ahora",
        ],
        english=["Declined", "No capacity", "Send to a similar service"],
    )
    assert_spanish(
        page,
        spanish=[
            "Enviar a un servicio parecido",
            "Maria Lopez todavía necesita ayuda con Alimentos. Eastside Pantry no pudo aceptar "
            "el referido. Estos servicios atienden la misma necesidad cerca de la persona y "
            "aceptan referidos.",
            "Elija un servicio",
            "Southside Pantry — Southside Pantry Network",
            "Acepta nuevos clientes",
            "Consentimiento para compartir con la nueva organización",
            "Vuelva a preguntarle a la persona: su consentimiento cubre una sola organización a "
            "la vez.",
            "Cómo dio la persona su consentimiento * De palabra, en persona o por teléfono",
            "Qué se puede compartir Datos de contacto Las necesidades encontradas",
            "Enviar a este servicio",
            "Volver al referido",
        ],
        english=[
            "still needs",
            "Choose a service",
            "Consent to",
            "Send to this service",
            "Back to",
        ],
    )

    response = client.post(reverse("referrals:reroute", args=[made.pk]), {"service": ""})
    assert "Elija uno de los servicios." in text_of(response.content.decode())
    consent_for(patient, second_pantry.organization, referrer)
    response = client.post(
        reverse("referrals:reroute", args=[made.pk]), {"service": second_pantry.pk}, follow=True
    )
    assert "Se envió a Southside Pantry Network en su lugar." in text_of(response.content.decode())


def test_starting_a_referral_in_spanish_asks_for_the_handoff_and_consent_in_spanish(
    client, referrer, patient, service, now
):
    consent_for(patient, service.organization, referrer)
    in_spanish(client, referrer)
    url = reverse("referrals:new")

    page = client.get(
        url, {"service": service.pk, "patient": patient.pk, "need": "food-insecurity"}
    )
    sent = client.post(
        url,
        {
            "service": service.pk,
            "patient": patient.pk,
            "send": "1",
            "use_consent": "",
            "need_category": "food-insecurity",
            "priority": "routine",
            "contact_method": "phone",
            "language": "es",
        },
    )

    assert_spanish(
        text_of(page.content.decode()),
        spanish=[
            "Referir a Maria Lopez a Eastside Pantry",
            "Eastside Food Bank promete una primera respuesta en 2 días hábiles.",
            "La transferencia",
            "Necesidad que atiende este referido * Elija una necesidad Alimentos",
            "Urgencia * Emergencia (hoy) Lo antes posible Urgente (necesita ayuda en un día) "
            "De rutina",
            "Cómo comunicarse con la persona * Llamada telefónica Mensaje de texto",
            "Mejores horarios para comunicarse",
            "Idioma que se debe usar * Inglés Español",
            "Necesita intérprete",
            "No comunicarse directamente con la persona (por ejemplo, por su seguridad)",
            "Nota para la organización que recibe",
            "¿Qué les ayudaría a ayudar a esta persona? Use palabras sencillas, sin abreviaturas.",
            "Consentimiento para compartir con Eastside Food Bank",
            "Pregunte a Maria Lopez si Eastside Food Bank puede recibir su información.",
            "Usar el consentimiento que ya está registrado: De palabra, en persona o por "
            "teléfono, dado el 03/03/2026, termina el 03/03/2027",
            "Registrar un consentimiento nuevo aquí abajo",
            "Firma electrónica escrita por la persona",
            "Respuestas de la evaluación sobre esta necesidad",
            "El consentimiento termina el * Como máximo, un año a partir de hoy.",
            "Le expliqué a la persona qué se va a compartir y con quién",
            "Enviar el referido",
            "Guardar como borrador",
        ],
        english=[
            "Refer ",
            "promises",
            "business day",
            "Urgency",
            "Routine",
            "Phone call",
            "Needs an interpreter",
            "Consent to",
            "on file",
            "What may be shared",
            "Send referral",
            "Save as draft",
            "HIPAA-protected",
            "Mar.",
            "March",
        ],
    )
    # A new consent was chosen and not recorded: the errors are in Spanish too.
    assert_spanish(
        text_of(sent.content.decode()),
        spanish=["Corrija los errores que aparecen abajo.", "Este campo es obligatorio."],
        english=["Please correct", "This field is required"],
    )


def test_choosing_whom_a_referral_is_for_in_spanish(client, referrer, patient, service, now):
    in_spanish(client, referrer)

    text = text_of(client.get(reverse("referrals:new"), {"service": service.pk}).content.decode())

    assert_spanish(
        text,
        spanish=[
            "¿Para quién es este referido?",
            "Está refiriendo a alguien a Eastside Pantry (Eastside Food Bank). Primero busque a "
            "la persona.",
            "Buscar",
            "Maria Lopez · nació el 05/17/1980",
        ],
        english=["Who is this", "born", "Find"],
    )


def test_the_referral_list_in_spanish_has_no_english_left(client, referrer, worked):
    in_spanish(client, referrer)
    with _later(15):
        text = text_of(client.get(reverse("referrals:list")).content.decode())

    assert_spanish(
        text,
        spanish=[
            "Referidos Los referidos que envió su organización y cómo va cada uno.",
            "Filtrar Estado Cualquier estado Borrador Enviado Visto Aceptado En curso En pausa "
            "Completado Rechazado Cancelado No se pudo completar",
            "Necesidad Cualquier necesidad Alimentos",
            "Enviado a Cualquier organización Eastside Food Bank",
            "Solo los míos Solo los atrasados Mostrar",
            "Persona Necesidad Enviado a Estado Actualizado",
            "Maria Lopez Alimentos Eastside Pantry · Eastside Food Bank Aceptado hace 5 minutos",
        ],
        english=["Filter", "Any status", "Draft", "Sent to", "Only mine", "Show", "Updated", "ago"],
    )
    with _later(15):
        none = text_of(client.get(reverse("referrals:list"), {"status": "failed"}).content.decode())
    assert "Ningún referido coincide." in none


def test_the_inbox_in_spanish_has_no_english_left(client, staff, patient, service, referrer, now):
    made = referral(patient, service, referrer, priority="urgent")
    made.post_message(by=referrer, organization=patient.organization, body="¿Pueden llamarla hoy?")
    in_spanish(client, staff)

    with _later(5):
        html = client.get(reverse("referrals:inbox")).content.decode()

    assert_spanish(
        text_of(html),
        spanish=[
            "Bandeja de entrada de referidos",
            "Referidos enviados a su organización. Abra uno nuevo para que quien refiere sepa "
            "que usted lo vio.",
            "Nuevos 1 En curso 0 Atrasados 0 Cerrados 0",
            "Persona Servicio De Estado Fecha límite de respuesta Mensajes",
            "Maria Lopez Urgente (necesita ayuda en un día) Eastside Pantry Riverside Clinic "
            "Enviado miércoles, 4 de marzo de 2026 a las 10:30 1 nuevo",
        ],
        english=[
            "Inbox",
            "New",
            "In progress",
            "Overdue",
            "Closed",
            "Urgent (",
            "Wednesday",
            " new",
        ],
    )
    with _later(5):
        closed = text_of(client.get(reverse("referrals:inbox"), {"tab": "closed"}).content.decode())
    assert "No hay nada aquí por ahora." in closed


def test_a_late_referral_in_spanish_says_so_in_the_inbox_and_on_its_page(
    client, staff, referrer, patient, service, now
):
    made = referral(patient, service, referrer)

    with _later(60 * 24 * 2 + 30):  # Thursday 11:00, half an hour past its due time
        in_spanish(client, staff)
        inbox = text_of(client.get(reverse("referrals:inbox"), {"tab": "overdue"}).content.decode())
        page = text_of(client.get(reverse("referrals:detail", args=[made.pk])).content.decode())

    assert "Atrasados 1" in inbox
    assert "Enviado Atrasado" in inbox
    assert "Fecha límite de respuesta: jueves, 5 de marzo de 2026 a las 10:30 — atrasado" in page
    assert "Overdue" not in inbox + page


def test_notifications_email_settings_and_audit_log_in_spanish(
    client, referrer, clinic_admin, worked
):
    in_spanish(client, referrer)
    with _later(15):
        # (The notifications themselves are in the referrer's preferred language, English: see
        # test_notifications_are_written_in_the_readers_language_not_the_actors.)
        notifications = text_of(client.get(reverse("referrals:notifications")).content.decode())
        settings_page = text_of(client.get(reverse("referrals:email_settings")).content.decode())
        in_spanish(client, clinic_admin)
        audit = text_of(client.get(reverse("referrals:audit")).content.decode())

    assert_spanish(
        notifications,
        spanish=[
            "Notificaciones",
            "Elija qué notificaciones también quiere recibir por correo electrónico",
            "Marcar todas como leídas",
            "Nueva",
        ],
        english=["Choose which", "Mark all"],
    )
    assert_spanish(
        settings_page,
        spanish=[
            "Configuración de correo electrónico",
            "Enviarme también un correo electrónico por",
            "Referidos nuevos para mi organización",
            "Cambios de estado de los referidos",
            "Mensajes nuevos",
            "Referidos atrasados",
            "Guardar",
        ],
        english=["Email settings", "New referrals", "Status changes", "Overdue", "Save"],
    )
    assert_spanish(
        audit,
        spanish=[
            "Registro de accesos",
            "Persona (nombre o correo electrónico)",
            "Acción Cualquier acción Vio a un paciente Vio un referido Cambió un registro",
            "Filtrar Descargar como CSV",
            "Cuándo Quién Acción Qué Detalle",
            "03/03/2026 10:35 Stan Staff, Eastside Food Bank Cambió un registro",
        ],
        english=["Audit", "Any action", "Changed a record", "Download", "When", "Who"],
    )


def test_every_message_of_the_referral_and_patient_templates_has_a_spanish_translation():
    msgids = template_msgids("referrals") | template_msgids("patients")
    assert len(msgids) > 150  # the extraction found the templates' messages
    assert untranslated(msgids) == []

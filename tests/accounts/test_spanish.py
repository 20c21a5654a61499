"""The home page, and the accounts messages the referral and patient pages show, in Spanish."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, User
from tests.factories import UserFactory
from tests.spanish import assert_spanish, in_spanish, template_msgids, text_of, untranslated

pytestmark = pytest.mark.django_db


def test_a_referrers_home_page_in_spanish_says_what_to_do_next(client, referrer):
    in_spanish(client, referrer)

    text = text_of(client.get(reverse("home")).content.decode())

    assert_spanish(
        text,
        spanish=[
            "Le damos la bienvenida, Rita Referrer",
            "Trabaja para Riverside Clinic como: Refiere (personal clínico o coordinación de "
            "atención).",
            "Qué hacer ahora",
            "Busque o registre a un paciente y luego evalúe sus necesidades sociales",
            "envíe un referido con el consentimiento de la persona",
            "Siga sus referidos",
            "Pacientes Ir a Pacientes",
            "Referidos Ir a Referidos",
        ],
        english=["Welcome", "You are working", "What to do next", "Go to", "Referrer ("],
    )


def test_community_staff_home_page_in_spanish(client, staff):
    in_spanish(client, staff)

    text = text_of(client.get(reverse("home")).content.decode())

    assert_spanish(
        text,
        spanish=[
            "Trabaja para Eastside Food Bank como: Personal de una organización comunitaria.",
            "Revise su bandeja de entrada para ver los referidos nuevos.",
            "Acepte o rechace cada referido",
            "Bandeja de entrada Ir a Bandeja de entrada",
        ],
        english=["Check your inbox", "Accept or decline", "Go to", "Community organization"],
    )


def test_someone_in_no_organization_and_a_visitor_read_the_home_page_in_spanish(client, db):
    client.cookies["django_language"] = "es"
    visitor = text_of(client.get(reverse("home")).content.decode())
    in_spanish(client, UserFactory(full_name="Nadia Nueva"))
    nobody = text_of(client.get(reverse("home")).content.decode())

    assert "Cierre el ciclo entre la atención médica y los servicios comunitarios" in visitor
    assert "Iniciar sesión" in visitor
    assert "Todavía no forma parte de una organización" in nobody
    assert "Close the loop" not in visitor + nobody


def test_switching_organization_says_so_in_spanish(client, referrer, food_bank):
    Membership.objects.create(user=referrer, organization=food_bank, role=Role.CBO_STAFF)
    in_spanish(client, referrer)

    response = client.post(
        reverse("accounts:switch"),
        {"organization": food_bank.pk, "next": reverse("referrals:inbox")},
        follow=True,
    )

    assert "Ahora trabaja para Eastside Food Bank." in text_of(response.content.decode())


def test_every_message_of_the_home_page_has_a_spanish_translation():
    msgids = template_msgids("core")
    assert len(msgids) > 10  # the extraction found the template's messages
    assert untranslated(msgids) == []


@pytest.mark.parametrize("page", ["account_login", "account_reset_password"])
def test_the_sign_in_pages_in_spanish_have_no_english_left(client, page):
    """Where everyone starts: allauth's own words come from its Spanish catalog, ours from
    the portal's."""
    client.cookies["django_language"] = "es"

    text = text_of(client.get(reverse(page)).content.decode())

    assert_spanish(
        text,
        spanish=["Correo electrónico", "Contraseña"]
        + (
            ["Iniciar sesión", "¿Todavía no tiene cuenta? Pida al administrador"]
            if page == "account_login"
            else ["Restablecer"]
        ),
        english=["Sign In", "No account yet", "Email", "Password", "Reset"],
    )


def test_every_message_of_the_sign_in_pages_has_a_spanish_translation():
    msgids = template_msgids("account")
    assert "Sign In" in msgids
    assert untranslated(msgids) == []


def test_a_reset_asked_in_spanish_for_an_unknown_address_answers_in_spanish(client, mailoutbox):
    client.cookies["django_language"] = "es"

    client.post(reverse("account_reset_password"), {"email": "nadie@example.org"})

    (sent,) = mailoutbox
    assert "ninguna cuenta usa esta dirección de correo" in sent.body
    assert "pida al administrador de su organización que lo agregue" in sent.body
    assert "no account uses" not in sent.body


def test_the_members_page_in_spanish_has_no_english_left(client, food_admin, staff):
    in_spanish(client, food_admin)

    page = text_of(client.get(reverse("accounts:members")).content.decode())
    table = text_of(
        client.get(
            reverse("accounts:members") + "?part=table", HTTP_HX_REQUEST="true"
        ).content.decode()
    )

    assert_spanish(
        page,
        spanish=[
            "Miembros",
            "Las personas que trabajan para Eastside Food Bank en Handoff",
            "Cambiar el rol",
            "Quitar a Stan Staff",
            "Agregar un miembro",
            "Correo electrónico",
            "Nombre completo",
            "Recibirá un correo con un enlace para crear su contraseña.",
        ],
        english=["Members", "Change role", "Remove", "Add a member", "Full name", "Email"],
    )
    # What a live update fetches is in the admin's own language too.
    assert_spanish(table, spanish=["Cambiar el rol", "Quitar a Stan Staff"], english=["Remove"])


def test_a_person_added_in_spanish_is_invited_in_spanish_and_reads_spanish_from_then_on(
    client, food_admin, mailoutbox, django_capture_on_commit_callbacks
):
    in_spanish(client, food_admin)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:members"),
            {"email": "nueva@example.org", "full_name": "Nora Nueva", "role": "cbo_staff"},
        )

    (sent,) = mailoutbox
    assert sent.subject == "Se le agregó a Eastside Food Bank en Handoff"
    assert sent.body.startswith("Hola, Nora Nueva:")
    assert "con el rol: Personal de una organización comunitaria" in sent.body
    assert "Para empezar, elija su contraseña aquí:" in sent.body
    assert "added you" not in sent.body and "choose your password" not in sent.body
    assert User.objects.get(email="nueva@example.org").preferred_language == "es"


def test_someone_who_reads_english_is_told_in_english_whoever_adds_them(
    client, food_admin, stranger, mailoutbox, django_capture_on_commit_callbacks
):
    in_spanish(client, food_admin)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:members"),
            {"email": stranger.email, "full_name": "Sol Stranger", "role": "cbo_staff"},
        )

    (sent,) = mailoutbox
    assert sent.subject == "You have been added to Eastside Food Bank on Handoff"
    assert "Sign in with your usual password:" in sent.body
    assert "Inicie sesión" not in sent.body


def test_every_message_of_the_members_page_has_a_spanish_translation():
    msgids = template_msgids("accounts")
    assert "Change role" in msgids
    assert untranslated(msgids) == []

"""The screening page's two languages: the questions' (the person's) and the interface's."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from screening.instrument import get_instrument
from tests.spanish import template_msgids, untranslated

pytestmark = pytest.mark.django_db

AHC = get_instrument("ahc-hrsn-core")


def screening_page(client, user, screening, *, interface: str, questions: str) -> str:
    screening.language = questions
    screening.save(update_fields=["language"])
    client.force_login(user)
    client.cookies["django_language"] = interface
    return client.get(reverse("screening:screen", args=[screening.pk])).content.decode()


def title_shown(html: str) -> str:
    return re.search(r'data-testid="instrument-title">([^<]*)<', html).group(1)


@pytest.mark.parametrize(("interface", "questions"), [("es", "en"), ("en", "es")])
def test_the_instrument_title_is_in_the_language_of_the_questions(
    client, referrer, screening, interface, questions
):
    html = screening_page(client, referrer, screening, interface=interface, questions=questions)
    assert title_shown(html) == AHC.title_in(questions)


HINTS = {"en": "Choose all that apply", "es": "Marque todas las que correspondan"}


@pytest.mark.parametrize("questions", ["en", "es"])
def test_a_choose_all_question_says_so_once_in_its_own_language(
    client, referrer, screening, questions
):
    html = screening_page(client, referrer, screening, interface="en", questions=questions)
    assert HINTS[questions] in AHC.question("96778-6").text_in(questions)
    assert html.count(HINTS[questions]) == 1
    other = "es" if questions == "en" else "en"
    assert HINTS[other] not in html


def test_the_screening_page_in_a_spanish_interface_is_in_spanish(client, referrer, screening):
    html = screening_page(client, referrer, screening, interface="es", questions="en")
    for spanish in (
        "Preguntas en:",
        "No quiso responder",
        "No se preguntó",
        "Terminar la evaluación",
    ):
        assert spanish in html
    assert "Finish screening" not in html
    response = client.post(reverse("screening:screen", args=[screening.pk]), {"action": "finish"})
    assert "Responda esta pregunta" in response.content.decode()


def test_every_message_of_the_screening_templates_has_a_spanish_translation():
    msgids = template_msgids("screening")
    assert len(msgids) > 30  # the extraction found the templates' messages
    assert untranslated(msgids) == []

"""The shipped taxonomy in Spanish: its terms' names on Spanish pages, and their words in a
Spanish search finding the services under those terms."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from directory.models import TaxonomyTerm
from directory.search import SearchParams, search_services
from directory.taxonomy import DATA_DIR, taxonomy_document, term_choices, translated_term_names
from tests.factories import UserFactory, directory_service
from tests.spanish import in_spanish, text_of

pytestmark = pytest.mark.usefixtures("taxonomy")

SPANISH = translated_term_names("es")


def test_every_shipped_term_has_one_spanish_name():
    shipped = [spec["code"] for spec in taxonomy_document()["terms"]]
    document = json.loads((DATA_DIR / "taxonomy_es.json").read_text(encoding="utf-8"))

    assert list(document["names"]) == shipped
    assert all(name.strip() == name and name for name in SPANISH.values())


def test_the_service_types_list_is_in_the_pages_language_in_its_order():
    from django.utils import translation

    with translation.override("es"):
        spanish = {value: str(label) for value, label in term_choices()}
    with translation.override("en"):
        english = {value: str(label) for value, label in term_choices()}

    pantry = str(TaxonomyTerm.objects.get(code="food.food-pantry").pk)
    assert english[pantry] == "\u2003Food Pantry"
    assert spanish[pantry] == "\u2003" + SPANISH["food.food-pantry"]
    assert spanish[""] == "Cualquier tipo de servicio"
    tops = [label for value, label in term_choices() if value and not label.startswith("\u2003")]
    assert tops == sorted(tops, key=str.casefold)


def test_a_service_page_in_spanish_names_its_types_in_spanish(client, referrer):
    pantry = directory_service(name="Weekly Food Pantry", terms=("food.food-pantry",))
    in_spanish(client, referrer)

    text = text_of(client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode())

    assert f"Tipos de servicio {SPANISH['food.food-pantry']}" in text
    assert "Food Pantry" not in text.replace("Weekly Food Pantry", "")


def test_a_term_renamed_here_shows_its_new_name_in_every_language(client, referrer):
    pantry = directory_service(name="Weekly Market", terms=("food.food-pantry",))
    TaxonomyTerm.objects.filter(code="food.food-pantry").update(name="Grocery Shelf")
    in_spanish(client, referrer)

    text = text_of(client.get(reverse("directory:service", args=[pantry.hsds_id])).content.decode())

    assert "Tipos de servicio Grocery Shelf" in text
    assert SPANISH["food.food-pantry"] not in text


def test_renaming_a_term_in_the_admin_refreshes_the_list_in_every_language(client):
    from django.utils import translation

    pantry = TaxonomyTerm.objects.get(code="food.food-pantry")
    for language in ("en", "es"):
        with translation.override(language):
            term_choices()  # kept in the cache
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:directory_taxonomyterm_change", args=[pantry.pk]),
        {
            "code": pantry.code,
            "name": "Grocery Shelf",
            "description": pantry.description,
            "parent": pantry.parent_id,
            "vocabulary": pantry.vocabulary,
            "term_uri": pantry.term_uri,
        },
    )

    assert response.status_code == 302
    for language in ("en", "es"):
        with translation.override(language):
            assert dict(term_choices())[str(pantry.pk)] == "\u2003Grocery Shelf"


@pytest.mark.parametrize(
    "words, found",
    [
        ("despensa", ["Corner Pantry", "Mobile Pantry Truck"]),
        ("ropero", ["Free Clothes"]),
        ("anteojos", ["Vision Van"]),
        ("impuestos", ["VITA Site"]),
        ("despensa movil", ["Mobile Pantry Truck"]),  # every word must still match
        ("despensas", ["Corner Pantry", "Mobile Pantry Truck"]),  # the other number
        ("roperos", ["Free Clothes"]),
    ],
)
def test_a_spanish_word_of_a_service_type_finds_its_services(words, found):
    directory_service(name="Corner Pantry", terms=("food.food-pantry",))
    directory_service(
        name="Mobile Pantry Truck", terms=("emergency.emergency-food.mobile-food-pantry",)
    )
    directory_service(name="Free Clothes", terms=("goods.clothing.clothing-closet",))
    directory_service(name="Vision Van", terms=("goods.medical-supplies.eyeglasses",))
    directory_service(name="VITA Site", terms=("money.tax-preparation.free-tax-preparation-vita",))
    directory_service(name="Bicycle Repair Cafe")

    assert sorted(s.name for s in search_services(SearchParams(q=words)).services) == found


def test_a_word_in_many_service_types_is_not_read_as_all_of_them():
    from directory.taxonomy import english_words_for

    assert "ayuda" in " ".join(SPANISH.values()).lower()
    assert english_words_for("ayuda") == []
    # Nor is a word that is English too.
    assert english_words_for("internet") == []


def test_the_note_names_a_few_of_what_was_searched_and_counts_the_rest(client, referrer):
    directory_service(name="Night Shelter", terms=("emergency.emergency-shelter",))
    client.force_login(referrer)

    html = client.get(reverse("directory:search"), {"q": "refugio"}).content.decode()

    assert "Night Shelter" in html
    assert "we also searched for “homelessness”, “disaster shelter”, “emergency shelter” and" in (
        html.replace("&quot;", '"')
    )
    assert " more." in html


def test_the_search_page_in_spanish_lists_and_explains_in_spanish(client, referrer):
    directory_service(name="Night Shelter", terms=("emergency.emergency-shelter",))
    in_spanish(client, referrer)

    text = text_of(client.get(reverse("directory:search"), {"q": "refugio"}).content.decode())

    assert "Night Shelter" in text
    assert SPANISH["food.food-pantry"] in text  # in the list of service types
    assert "Los servicios aquí están descritos en inglés, así que para “refugio”" in text
    assert "y 4 más." in text


@pytest.mark.parametrize(
    "words, found",
    [
        ("dentista", ["Smile Clinic"]),
        ("dentistas", ["Smile Clinic"]),  # the other number
        ("abogados", ["Neighborhood Law Office"]),  # a term under "Legal Aid"
        ("embarazada", ["Mothers First"]),
        ("embarazo", ["Mothers First"]),
    ],
)
def test_an_everyday_spanish_word_for_a_kind_of_service_finds_it(words, found):
    directory_service(name="Smile Clinic", terms=("health.dental-care",))
    directory_service(name="Neighborhood Law Office", terms=("legal.legal-aid.civil-legal-aid",))
    directory_service(
        name="Mothers First", terms=("health.maternal-and-child-health.prenatal-care",)
    )
    directory_service(name="Bicycle Repair Cafe")

    assert sorted(s.name for s in search_services(SearchParams(q=words)).services) == found


def test_every_everyday_word_names_a_shipped_term_and_is_not_english():
    from directory.taxonomy import TERM_WORDS_IN_LANGUAGE, english_words_for

    shipped = {spec["code"]: spec["name"] for spec in taxonomy_document()["terms"]}
    for by_term in TERM_WORDS_IN_LANGUAGE.values():
        assert set(by_term) <= set(shipped)
        for code, words in by_term.items():
            for word in words.split():
                # [] for a word of an English term name: it would change English searches
                assert shipped[code].lower() in english_words_for(word), word

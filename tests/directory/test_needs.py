from __future__ import annotations

import re
from pathlib import Path

import pytest

from directory.search import services_for_need
from directory.taxonomy import NEED_NAMES, TermTree, sdoh_mapping
from tests.factories import directory_service

pytestmark = pytest.mark.usefixtures("taxonomy")

FHIR_SDOH = Path("/work/shared/reference/fhir-sdoh.md")


def test_every_sdoh_category_has_terms_and_a_name():
    codes = set(sdoh_mapping())
    assert codes == set(NEED_NAMES)
    tree = TermTree.load()
    for code in codes:
        assert tree.terms_for_need(code), code


@pytest.mark.skipif(not FHIR_SDOH.exists(), reason="the shared reference is not in this checkout")
def test_the_mapping_covers_every_category_code_of_the_gravity_code_system():
    text = FHIR_SDOH.read_text().split("## SDOH categories", 1)[1].split("##", 1)[0]
    listed = set(
        re.findall(
            r"\b[a-z]+(?:-[a-z]+)+\b|\bstress\b|\bhomelessness\b", text.split("(the last")[0]
        )
    )
    listed.discard("sdoh-clinicalcare")
    assert listed <= set(sdoh_mapping())


@pytest.mark.parametrize("category", sorted(NEED_NAMES))
def test_a_screened_need_finds_a_service_under_its_mapped_terms(category):
    first_term = sdoh_mapping()[category][0]
    directory_service(name=f"Helps with {category}", terms=(first_term,))
    directory_service(name="Unrelated", terms=())

    found = services_for_need(category)

    assert [s.name for s in found] == [f"Helps with {category}"]


def test_food_insecurity_finds_pantries_and_meal_programs_without_words():
    directory_service(name="Pantry", terms=("food.food-pantry",))
    directory_service(name="Soup kitchen", terms=("emergency.emergency-food.soup-kitchen",))
    directory_service(name="Meals on wheels", terms=("food.meals.home-delivered-meals",))
    directory_service(name="Shelter", terms=("emergency.emergency-shelter",))

    found = {s.name for s in services_for_need("food-insecurity", limit=10)}

    assert found == {"Pantry", "Soup kitchen", "Meals on wheels"}


def test_services_for_need_puts_accepting_services_first_then_nearest():
    directory_service(
        name="Full, next door",
        terms=("food.food-pantry",),
        capacity="not_accepting",
        at=(42.3362, -71.0729),
    )
    directory_service(name="Open, farther", terms=("food.food-pantry",), at=(42.40, -71.0729))
    directory_service(name="Open, near", terms=("food.food-pantry",), at=(42.34, -71.0729))

    found = services_for_need("food-insecurity", zip_code="02118")

    assert [s.name for s in found] == ["Open, near", "Open, farther", "Full, next door"]
    assert found[0].distance < found[1].distance


def test_suggestions_rank_services_nearby_before_far_ones_open_now_or_not():
    from datetime import time

    from tests.factories import ScheduleFactory

    around_the_clock = {"byday": "MO,TU,WE,TH,FR,SA,SU", "opens_at": time(0), "closes_at": time(0)}
    far_open = directory_service(
        name="Open, 24 miles out", terms=("food.food-pantry",), at=(42.68, -71.0729)
    )
    ScheduleFactory(service=far_open, **around_the_clock)
    near_open = directory_service(
        name="Open, 5 miles out", terms=("food.food-pantry",), at=(42.41, -71.0729)
    )
    ScheduleFactory(service=near_open, **around_the_clock)
    directory_service(name="No hours, next door", terms=("food.food-pantry",), at=(42.34, -71.0729))

    found = services_for_need("food-insecurity", zip_code="02118")

    # Within 10 miles, open now comes first; anything farther comes after all of those.
    assert [s.name for s in found] == [
        "Open, 5 miles out",
        "No hours, next door",
        "Open, 24 miles out",
    ]
    assert found[2].distance > 20

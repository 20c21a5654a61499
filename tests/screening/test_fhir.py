"""FHIR output of a screening: every resource validates as R4 and carries the reference codes."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.condition import Condition as R4Condition
from fhir.resources.R4B.observation import Observation as R4Observation
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse as R4QuestionnaireResponse,
)

from screening import fhir
from tests.factories import NeedFactory, ScreeningFactory, answer_all
from tests.screening.conftest import NEGATIVE_AHC

pytestmark = pytest.mark.django_db

# fhir.resources 8 ships R5 by default plus R4B and STU3; R4B is the R4-compatible release
# (Observation, Condition and QuestionnaireResponse are unchanged between R4 and R4B).
VALIDATORS = {
    "QuestionnaireResponse": R4QuestionnaireResponse,
    "Observation": R4Observation,
    "Condition": R4Condition,
}
SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
HITS_FREQUENTLY = "LA6482-9"


@pytest.fixture
def completed(screening, referrer):
    answer_all(
        screening,
        {
            **NEGATIVE_AHC,
            "88122-7": "LA6729-3",
            "71802-3": "LA31995-6",
            "96778-6": ["LA28580-1", "LA31998-0"],
            "93030-5": "declined",
            "96779-4": "not-asked",
            **dict.fromkeys(("95618-5", "95617-7", "95616-9"), HITS_FREQUENTLY),
            "95615-1": "LA6270-8",
        },
    )
    screening.complete(by=referrer)
    return screening


def as_json(resource) -> dict:
    data = resource.as_json()
    VALIDATORS[data["resourceType"]].model_validate(data)
    return data


def by_code(observations: list[dict], code: str) -> dict:
    return next(o for o in observations if o["code"]["coding"][0]["code"] == code)


def codes(concepts: list[dict]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for concept in concepts for c in concept["coding"]}


def test_every_resource_validates_as_r4(completed):
    resources = [as_json(r) for r in fhir.screening_resources(completed)]
    kinds = [r["resourceType"] for r in resources]
    assert kinds.count("QuestionnaireResponse") == 1
    assert kinds.count("Observation") == 10 + 1  # ten questions and the HITS score
    assert kinds.count("Condition") == 4


def test_questionnaire_response_has_an_item_per_question_and_no_answer_for_skips(completed):
    qr = as_json(fhir.questionnaire_response(completed))
    assert qr["meta"]["profile"] == [fhir.PROFILE_QUESTIONNAIRE_RESPONSE]
    assert qr["status"] == "completed"
    items = {i["linkId"]: i for i in qr["item"]}
    assert len(items) == 10
    assert [a["valueCoding"]["code"] for a in items["96778-6"]["answer"]] == [
        "LA28580-1",
        "LA31998-0",
    ]
    assert "answer" not in items["93030-5"]
    assert items["88122-7"]["answer"][0]["valueCoding"] == {
        "system": "http://loinc.org",
        "code": "LA6729-3",
        "display": "Sometimes true",
    }


def test_answer_observations_carry_categories_codes_and_positive_interpretation(completed):
    observations = [as_json(o) for o in fhir.answer_observations(completed)]
    food = by_code(observations, "88122-7")
    assert food["meta"]["profile"] == [fhir.PROFILE_SCREENING_RESPONSE]
    assert codes(food["category"]) == {
        ("http://terminology.hl7.org/CodeSystem/observation-category", "social-history"),
        ("http://terminology.hl7.org/CodeSystem/observation-category", "survey"),
        (SDOHCC, "food-insecurity"),
    }
    assert food["valueCodeableConcept"]["coding"][0]["code"] == "LA6729-3"
    assert food["interpretation"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "code": "POS",
        "display": "Positive",
    }
    assert food["derivedFrom"] == [{"reference": f"QuestionnaireResponse/screening-{completed.pk}"}]
    never = by_code(observations, "88123-5")
    assert "interpretation" not in never
    housing = by_code(observations, "71802-3")
    assert (SDOHCC, "homelessness") in codes(housing["category"])
    assert (SDOHCC, "housing-instability") in codes(housing["category"])
    assert "interpretation" in housing


def test_a_multiple_choice_answer_is_one_component_per_choice(completed):
    problems = by_code([as_json(o) for o in fhir.answer_observations(completed)], "96778-6")
    assert "valueCodeableConcept" not in problems
    assert [c["valueCodeableConcept"]["coding"][0]["code"] for c in problems["component"]] == [
        "LA28580-1",
        "LA31998-0",
    ]
    assert problems["interpretation"][0]["coding"][0]["code"] == "POS"


@pytest.mark.parametrize(
    ("code", "reason"), [("93030-5", "asked-declined"), ("96779-4", "not-asked")]
)
def test_skipped_questions_have_a_data_absent_reason_and_no_value(completed, code, reason):
    observation = by_code([as_json(o) for o in fhir.answer_observations(completed)], code)
    assert observation["dataAbsentReason"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
        "code": reason,
        "display": {"asked-declined": "Asked But Declined", "not-asked": "Not Asked"}[reason],
    }
    assert not {"valueCodeableConcept", "component", "interpretation"} & set(observation)


def test_the_safety_score_observation_sums_the_four_items(completed):
    (score,) = [as_json(o) for o in fhir.score_observations(completed)]
    assert score["code"]["coding"][0]["code"] == "95614-4"
    assert score["valueQuantity"]["value"] == 16
    assert score["interpretation"][0]["coding"][0]["code"] == "POS"
    assert (SDOHCC, "intimate-partner-violence") in codes(score["category"])
    assert len(score["derivedFrom"]) == 4


def test_no_safety_score_when_an_item_is_missing(screening, referrer):
    answer_all(screening, {**NEGATIVE_AHC, "95615-1": "declined"})
    screening.complete(by=referrer)
    assert fhir.score_observations(screening) == []


def test_a_negative_safety_score_has_no_interpretation(screening, referrer):
    answer_all(screening, NEGATIVE_AHC)
    screening.complete(by=referrer)
    (score,) = [as_json(o) for o in fhir.score_observations(screening)]
    assert score["valueQuantity"]["value"] == 4 and "interpretation" not in score


def test_hunger_vital_sign_yields_its_risk_result(patient, referrer):
    hvs = answer_all(
        ScreeningFactory(patient=patient, instrument_id="hunger-vital-sign"),
        {"88122-7": "LA28398-8", "88123-5": "LA28397-0"},
    )
    hvs.complete(by=referrer)
    (risk,) = [as_json(o) for o in fhir.score_observations(hvs)]
    assert risk["code"]["coding"][0]["code"] == "88124-3"
    assert risk["valueCodeableConcept"]["coding"][0]["code"] == "LA19952-3"


def test_conditions_are_sdohcc_health_concerns_with_evidence(completed):
    conditions = {
        c["category"][1]["coding"][0]["code"]: c
        for c in (as_json(fhir.condition(n)) for n in completed.needs.all())
    }
    assert set(conditions) == {
        "food-insecurity",
        "homelessness",
        "inadequate-housing",
        "intimate-partner-violence",
    }
    food = conditions["food-insecurity"]
    assert food["meta"]["profile"] == [fhir.PROFILE_CONDITION]
    assert food["category"][0]["coding"][0]["code"] == "health-concern"
    assert food["clinicalStatus"]["coding"][0]["code"] == "active"
    assert food["verificationStatus"]["coding"][0]["code"] == "unconfirmed"
    assert ("http://snomed.info/sct", "733423003") in codes([food["code"]])
    assert {d["reference"] for d in food["evidence"][0]["detail"]} == {
        f"Observation/screening-{completed.pk}-88122-7",
        f"Observation/screening-{completed.pk}-88123-5",
    }


def test_a_resolved_need_found_in_conversation_is_a_confirmed_resolved_condition(patient, referrer):
    need = NeedFactory(patient=patient, category="stress", note="Says so")
    need.resolve(by=referrer, note="Counselling")
    data = as_json(fhir.condition(need))
    assert data["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert data["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert "abatementDateTime" in data and "evidence" not in data
    assert data["code"] == {"text": "Stress"}

"""A completed screening as FHIR R4 resources (fhirclient models), per the SDOH Clinical Care IG.

The ``interop`` app calls these and decides where the resources go; ids here are stable
local ids (``screening-<pk>``, ``screening-<pk>-<loinc>``, ``need-<pk>``) so re-sending
updates in place.
"""

from __future__ import annotations

from datetime import datetime

from fhirclient.models.condition import Condition
from fhirclient.models.observation import Observation
from fhirclient.models.questionnaireresponse import QuestionnaireResponse

from screening.instrument import ANSWERED, DECLINED, LOINC, NEGATIVE, NOT_ASKED, POSITIVE
from screening.models import Need, Screening, need_name

IG = "http://hl7.org/fhir/us/sdoh-clinicalcare"
SDOHCC_CODES = f"{IG}/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
PROFILE_QUESTIONNAIRE_RESPONSE = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse"
)
PROFILE_SCREENING_RESPONSE = f"{IG}/StructureDefinition/SDOHCC-ObservationScreeningResponse"
PROFILE_CONDITION = f"{IG}/StructureDefinition/SDOHCC-Condition"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"

ABSENT = {
    DECLINED: ("asked-declined", "Asked But Declined"),
    NOT_ASKED: ("not-asked", "Not Asked"),
}

# Condition.code for the needs the shipped instruments find (SNOMED CT and ICD-10-CM codes
# from the Gravity value sets). A category missing here gets a text-only code.
CONDITION_CODES: dict[str, list[tuple[str, str, str]]] = {
    "food-insecurity": [
        (SNOMED, "733423003", "Food insecurity"),
        (ICD10CM, "Z59.41", "Food insecurity"),
    ],
    "housing-instability": [
        (ICD10CM, "Z59.811", "Housing instability, housed, with risk of homelessness")
    ],
    "homelessness": [
        (SNOMED, "32911000", "Homeless"),
        (ICD10CM, "Z59.00", "Homelessness, unspecified"),
    ],
    "inadequate-housing": [(ICD10CM, "Z59.10", "Inadequate housing, unspecified")],
    "utility-insecurity": [(ICD10CM, "Z59.12", "Inadequate housing utilities")],
    "transportation-insecurity": [(ICD10CM, "Z59.82", "Transportation insecurity")],
    "intimate-partner-violence": [(SNOMED, "706893006", "Victim of intimate partner abuse")],
}

CATEGORY_DISPLAY = {
    "food-insecurity": "Food Insecurity",
    "housing-instability": "Housing Instability",
    "homelessness": "Homelessness",
    "inadequate-housing": "Inadequate Housing",
    "utility-insecurity": "Utility Insecurity",
    "transportation-insecurity": "Transportation Insecurity",
    "intimate-partner-violence": "Intimate Partner Violence",
}


def _coding(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _sdoh_category(category: str) -> dict:
    return {"coding": [_coding(SDOHCC_CODES, category, CATEGORY_DISPLAY.get(category))]}


def _instant(when: datetime) -> str:
    return when.isoformat()


def patient_reference(screening_or_need) -> dict:
    return {"reference": f"Patient/{screening_or_need.patient_id}"}


def questionnaire_response_id(screening: Screening) -> str:
    return f"screening-{screening.pk}"


def observation_id(screening: Screening, code: str) -> str:
    return f"screening-{screening.pk}-{code}"


def questionnaire_response(screening: Screening) -> QuestionnaireResponse:
    """The answers as given: one item per question, skipped questions without an answer."""
    instrument = screening.instrument
    responses = screening.responses()
    items = []
    for question in instrument.questions:
        item = {"linkId": question.code, "text": question.text_in(screening.language)}
        response = responses.get(question.code)
        if response is not None and response.status == ANSWERED:
            item["answer"] = [
                {"valueCoding": _coding(LOINC, code, question.answer(code).display)}
                for code in response.codes
            ]
        items.append(item)
    return QuestionnaireResponse(
        {
            "resourceType": "QuestionnaireResponse",
            "id": questionnaire_response_id(screening),
            "meta": {"profile": [PROFILE_QUESTIONNAIRE_RESPONSE]},
            "questionnaire": f"{LOINC}/q/{instrument.code['code']}",
            "status": "completed" if screening.is_completed else "in-progress",
            "subject": patient_reference(screening),
            "authored": _instant(screening.completed_at or screening.started_at),
            "item": items,
        }
    )


def _observation_base(screening: Screening, code: str, display: str, categories: list[str]) -> dict:
    when = _instant(screening.completed_at or screening.started_at)
    return {
        "resourceType": "Observation",
        "id": observation_id(screening, code),
        "meta": {"profile": [PROFILE_SCREENING_RESPONSE]},
        "status": "final",
        "category": [
            {"coding": [_coding(OBSERVATION_CATEGORY, "social-history", "Social History")]},
            {"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")]},
            *(_sdoh_category(c) for c in categories),
        ],
        "code": {"coding": [_coding(LOINC, code, display)]},
        "subject": patient_reference(screening),
        "effectiveDateTime": when,
        "issued": when,
    }


POSITIVE_INTERPRETATION = [{"coding": [_coding(INTERPRETATION, "POS", "Positive")]}]


def answer_observations(screening: Screening) -> list[Observation]:
    """One Observation per answered or skipped question, derived from the QuestionnaireResponse."""
    instrument = screening.instrument
    derived_from = [{"reference": f"QuestionnaireResponse/{questionnaire_response_id(screening)}"}]
    responses = screening.responses()
    result = []
    for question in instrument.questions:
        response = responses.get(question.code)
        if response is None:
            continue
        data = _observation_base(
            screening, question.code, question.display, instrument.categories_for(question.code)
        )
        data["derivedFrom"] = derived_from
        if response.status in ABSENT:
            code, display = ABSENT[response.status]
            data["dataAbsentReason"] = {"coding": [_coding(DATA_ABSENT_REASON, code, display)]}
        else:
            values = [
                {"coding": [_coding(LOINC, c, question.answer(c).display)]} for c in response.codes
            ]
            if question.multiple:
                # Choose-all-that-apply: one component per chosen answer (as the IG's multiselect
                # example does), since a CodeableConcept's codings must all mean the same thing.
                data["component"] = [
                    {
                        "code": {"coding": [_coding(LOINC, question.code, question.display)]},
                        "valueCodeableConcept": value,
                    }
                    for value in values
                ]
            else:
                data["valueCodeableConcept"] = values[0]
            if any(instrument.is_positive_answer(question.code, c) for c in response.codes):
                data["interpretation"] = POSITIVE_INTERPRETATION
        result.append(Observation(data))
    return result


def score_observations(screening: Screening) -> list[Observation]:
    """Derived results: rule scores (the HITS total, 95614-4) and results such as HVS risk."""
    result = []
    for outcome in screening.outcomes():
        rule = outcome.rule
        derived_from = [
            {"reference": f"Observation/{observation_id(screening, code)}"}
            for code in rule.questions
        ]
        score = rule.params.get("score")
        if score and outcome.score is not None and outcome.status in (POSITIVE, NEGATIVE):
            data = _observation_base(screening, score["code"], score["display"], [rule.category])
            data["valueQuantity"] = {
                "value": outcome.score,
                "unit": "{score}",
                "system": UCUM,
                "code": "{score}",
            }
            data["derivedFrom"] = derived_from
            if outcome.positive:
                data["interpretation"] = POSITIVE_INTERPRETATION
            result.append(Observation(data))
        derived = rule.params.get("result")
        if derived and outcome.status in (POSITIVE, NEGATIVE):
            data = _observation_base(
                screening, derived["code"], derived["display"], [rule.category]
            )
            answer = derived["positive"] if outcome.positive else derived["negative"]
            data["valueCodeableConcept"] = {
                "coding": [_coding(LOINC, answer["code"], answer["display"])]
            }
            data["derivedFrom"] = derived_from
            if outcome.positive:
                data["interpretation"] = POSITIVE_INTERPRETATION
            result.append(Observation(data))
    return result


def condition(need: Need) -> Condition:
    """A need as a health concern Condition (SDOHCC-Condition)."""
    codings = [_coding(s, c, d) for s, c, d in CONDITION_CODES.get(need.category, [])]
    data = {
        "resourceType": "Condition",
        "id": f"need-{need.pk}",
        "meta": {"profile": [PROFILE_CONDITION]},
        "clinicalStatus": {
            "coding": [_coding(CONDITION_CLINICAL, "active" if need.is_active else "resolved")]
        },
        # Found by a screening answer: unconfirmed (as in the IG's examples); recorded by a
        # referrer from conversation: confirmed by that person.
        "verificationStatus": {
            "coding": [
                _coding(CONDITION_VERIFICATION, "unconfirmed" if need.screening_id else "confirmed")
            ]
        },
        "category": [
            {"coding": [_coding(CONDITION_CATEGORY, "health-concern", "Health Concern")]},
            _sdoh_category(need.category),
        ],
        "code": {"coding": codings, "text": need_name(need.category)}
        if codings
        else {"text": need_name(need.category)},
        "subject": patient_reference(need),
        "onsetDateTime": _instant(need.found_at),
        "recordedDate": _instant(need.found_at),
    }
    if need.resolved_at:
        data["abatementDateTime"] = _instant(need.resolved_at)
    notes = [n for n in (need.note, need.resolution_note) if n]
    if notes:
        data["note"] = [{"text": n} for n in notes]
    if need.screening_id:
        screening = need.screening
        codes = [
            code
            for rule in screening.instrument.rules
            if rule.category == need.category
            for code in rule.questions
        ]
        data["evidence"] = [
            {
                "detail": [
                    {"reference": f"Observation/{observation_id(screening, c)}"} for c in codes
                ]
            }
        ]
    return Condition(data)


def screening_resources(screening: Screening) -> list:
    """Everything a completed screening produces: QuestionnaireResponse, Observations, Conditions."""
    return [
        questionnaire_response(screening),
        *answer_observations(screening),
        *score_observations(screening),
        *(condition(n) for n in screening.needs.all()),
    ]

"""Instrument files: every scoring rule with its edges, strict loading, Spanish text."""

from __future__ import annotations

import copy
import itertools
import json

import pytest

from screening.instrument import (
    ANSWERED,
    DECLINED,
    INCOMPLETE,
    INSTRUMENT_DIR,
    NEGATIVE,
    NOT_ASKED,
    POSITIVE,
    UNANSWERED,
    InstrumentError,
    Response,
    get_instrument,
    instruments,
    load_instrument,
    parse_instrument,
    score,
)

AHC = "ahc-hrsn-core"
HVS = "hunger-vital-sign"
OFTEN, SOMETIMES, NEVER = "LA28397-0", "LA6729-3", "LA28398-8"
SAFETY = ["95618-5", "95617-7", "95616-9", "95615-1"]
HITS_VALUES = {"LA6270-8": 1, "LA10066-1": 2, "LA10082-8": 3, "LA16644-9": 4, "LA6482-9": 5}
BY_VALUE = {v: k for k, v in HITS_VALUES.items()}


def answered(*codes: str) -> Response:
    return Response(ANSWERED, codes)


def outcome(instrument_id: str, responses: dict, rule_id: str):
    return next(o for o in score(get_instrument(instrument_id), responses) if o.rule.id == rule_id)


def raw(instrument_id: str = AHC) -> dict:
    return json.loads((INSTRUMENT_DIR / f"{instrument_id}.json").read_text(encoding="utf-8"))


# --- the shipped files ---------------------------------------------------------------------


def test_shipped_instruments_load():
    assert set(instruments()) == {AHC, HVS}


def test_ahc_core_has_the_ten_questions_with_their_loinc_codes():
    assert [q.code for q in get_instrument(AHC).questions] == [
        "71802-3",
        "96778-6",
        "88122-7",
        "88123-5",
        "93030-5",
        "96779-4",
        *SAFETY,
    ]
    assert get_instrument(AHC).code["code"] == "96777-8"
    assert get_instrument(HVS).code["code"] == "88121-9"


@pytest.mark.parametrize("instrument_id", [AHC, HVS])
def test_every_question_answer_domain_and_rule_has_spanish_text(instrument_id):
    instrument = get_instrument(instrument_id)
    assert "es" in instrument.languages
    assert instrument.title["es"].strip()
    for domain in instrument.domains:
        assert domain.title["es"].strip()
        for rule in domain.rules:
            assert rule.summary["es"].strip()
        for question in domain.questions:
            assert question.text["es"].strip() and question.text["es"] != question.text["en"]
            for answer in question.answers:
                assert answer.text["es"].strip(), (question.code, answer.code)


def test_hits_answers_carry_values_one_to_five():
    for code in SAFETY:
        question = get_instrument(AHC).question(code)
        assert {a.code: a.value for a in question.answers} == HITS_VALUES


# --- living situation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "instability", "homeless"),
    [
        ("LA31993-1", NEGATIVE, NEGATIVE),
        ("LA31994-9", POSITIVE, NEGATIVE),
        ("LA31995-6", NEGATIVE, POSITIVE),
    ],
)
def test_living_situation_each_answer(answer, instability, homeless):
    responses = {"71802-3": answered(answer)}
    assert outcome(AHC, responses, "housing-instability").status == instability
    assert outcome(AHC, responses, "homelessness").status == homeless


@pytest.mark.parametrize(
    "problem",
    ["LA31996-4", "LA28580-1", "LA31997-2", "LA31998-0", "LA31999-8", "LA32000-4", "LA32001-2"],
)
def test_any_housing_problem_is_inadequate_housing(problem):
    assert outcome(AHC, {"96778-6": answered(problem)}, "inadequate-housing").status == POSITIVE


def test_several_housing_problems_are_inadequate_housing():
    responses = {"96778-6": answered("LA28580-1", "LA32001-2")}
    assert outcome(AHC, responses, "inadequate-housing").status == POSITIVE


def test_no_housing_problems_is_negative():
    assert outcome(AHC, {"96778-6": answered("LA9-3")}, "inadequate-housing").status == NEGATIVE


# --- utilities and transportation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"), [("LA33-6", POSITIVE), ("LA32-8", NEGATIVE), ("LA32002-0", POSITIVE)]
)
def test_utilities_yes_or_already_shut_off_is_positive(answer, expected):
    assert outcome(AHC, {"96779-4": answered(answer)}, "utility-insecurity").status == expected


@pytest.mark.parametrize(("answer", "expected"), [("LA33-6", POSITIVE), ("LA32-8", NEGATIVE)])
def test_transportation_yes_is_positive(answer, expected):
    assert (
        outcome(AHC, {"93030-5": answered(answer)}, "transportation-insecurity").status == expected
    )


# --- food (same rule in AHC and the Hunger Vital Sign) -------------------------------------


@pytest.mark.parametrize("instrument_id", [AHC, HVS])
@pytest.mark.parametrize(
    ("first", "second"), list(itertools.product([OFTEN, SOMETIMES, NEVER], repeat=2))
)
def test_food_is_positive_when_either_item_is_often_or_sometimes_true(instrument_id, first, second):
    responses = {"88122-7": answered(first), "88123-5": answered(second)}
    expected = POSITIVE if {first, second} & {OFTEN, SOMETIMES} else NEGATIVE
    assert outcome(instrument_id, responses, "food-insecurity").status == expected


@pytest.mark.parametrize("skip", [DECLINED, NOT_ASKED])
def test_food_one_item_positive_and_the_other_skipped_is_positive(skip):
    responses = {"88122-7": Response(skip), "88123-5": answered(SOMETIMES)}
    assert outcome(AHC, responses, "food-insecurity").status == POSITIVE


@pytest.mark.parametrize("skip", [DECLINED, NOT_ASKED])
def test_food_never_true_and_the_other_skipped_is_incomplete_not_negative(skip):
    responses = {"88122-7": answered(NEVER), "88123-5": Response(skip)}
    assert outcome(AHC, responses, "food-insecurity").status == INCOMPLETE


def test_food_with_neither_item_answered_is_unanswered():
    responses = {"88122-7": Response(DECLINED), "88123-5": Response(NOT_ASKED)}
    assert outcome(HVS, responses, "food-insecurity").status == UNANSWERED


# --- safety (HITS) -------------------------------------------------------------------------


def safety(*values: int | None) -> dict:
    return {
        code: answered(BY_VALUE[v]) if v is not None else Response(DECLINED)
        for code, v in zip(SAFETY, values, strict=True)
    }


@pytest.mark.parametrize(
    ("values", "status", "total"),
    [
        ((1, 1, 1, 1), NEGATIVE, 4),
        ((3, 3, 3, 1), NEGATIVE, 10),
        ((3, 3, 3, 2), POSITIVE, 11),
        ((2, 3, 3, 3), POSITIVE, 11),
        ((5, 5, 5, 5), POSITIVE, 20),
        ((5, 1, 1, 3), NEGATIVE, 10),
        ((5, 1, 1, 4), POSITIVE, 11),
    ],
)
def test_safety_is_positive_at_eleven_or_more(values, status, total):
    result = outcome(AHC, safety(*values), "intimate-partner-violence")
    assert (result.status, result.score) == (status, total)


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("value", [1, 2, 3, 4, 5])
def test_each_safety_answer_adds_its_value(position, value):
    values = [2, 2, 2, 2]
    values[position] = value
    assert outcome(AHC, safety(*values), "intimate-partner-violence").score == 6 + value


@pytest.mark.parametrize("missing", range(4))
def test_safety_with_one_item_missing_is_incomplete_even_when_the_rest_sum_past_eleven(missing):
    values: list[int | None] = [5, 5, 5, 5]
    values[missing] = None
    result = outcome(AHC, safety(*values), "intimate-partner-violence")
    assert result.status == INCOMPLETE
    assert result.score is None


def test_safety_with_one_item_never_recorded_is_incomplete():
    responses = safety(1, 1, 1, 1)
    del responses[SAFETY[2]]
    assert outcome(AHC, responses, "intimate-partner-violence").status == INCOMPLETE


def test_safety_with_low_answers_and_one_missing_is_incomplete_not_negative():
    assert outcome(AHC, safety(1, 1, 1, None), "intimate-partner-violence").status == INCOMPLETE


def test_nothing_answered_is_unanswered_for_every_rule():
    assert {o.status for o in score(get_instrument(AHC), {})} == {UNANSWERED}


# --- positivity keyed on (instrument, question, answer) -------------------------------------


def prapare_like() -> dict:
    """A PRAPARE-shaped instrument reusing 71802-3 with its own answers and rule."""
    return {
        "format": 1,
        "id": "prapare-test",
        "version": "1",
        "languages": ["en", "es"],
        "title": {"en": "PRAPARE test", "es": "Prueba PRAPARE"},
        "code": {"system": "http://loinc.org", "code": "93025-5", "display": "PRAPARE"},
        "domains": [
            {
                "id": "housing",
                "title": {"en": "Housing", "es": "Vivienda"},
                "questions": [
                    {
                        "code": "71802-3",
                        "display": "Housing status",
                        "type": "single",
                        "text": {
                            "en": "What is your housing situation today?",
                            "es": "¿Cuál es su situación de vivienda hoy?",
                        },
                        "answers": [
                            {
                                "code": "LA30190-5",
                                "display": "I have housing",
                                "text": {"en": "I have housing", "es": "Tengo vivienda"},
                            },
                            {
                                "code": "LA30189-7",
                                "display": "I do not have housing",
                                "text": {"en": "I do not have housing", "es": "No tengo vivienda"},
                            },
                        ],
                    }
                ],
                "rules": [
                    {
                        "id": "homelessness",
                        "kind": "any_answer_in",
                        "category": "homelessness",
                        "questions": ["71802-3"],
                        "answers": ["LA30189-7"],
                        "summary": {"en": "No housing", "es": "Sin vivienda"},
                    }
                ],
            }
        ],
    }


def test_positivity_is_keyed_on_instrument_question_and_answer():
    prapare = parse_instrument(prapare_like())
    ahc = get_instrument(AHC)
    assert prapare.is_positive_answer("71802-3", "LA30189-7")
    assert not prapare.is_positive_answer("71802-3", "LA31995-6")
    assert ahc.is_positive_answer("71802-3", "LA31995-6")
    assert not ahc.is_positive_answer("71802-3", "LA30189-7")
    assert not ahc.is_positive_answer("88122-7", NEVER)
    assert ahc.is_positive_answer("88123-5", SOMETIMES)


def test_a_new_instrument_is_a_data_file(tmp_path):
    path = tmp_path / "prapare-test.json"
    path.write_text(json.dumps(prapare_like()))
    instrument = load_instrument(path)
    result = score(instrument, {"71802-3": answered("LA30189-7")})
    assert [(o.rule.category, o.status) for o in result] == [("homelessness", POSITIVE)]


# --- malformed files are rejected, naming the problem ---------------------------------------


def question(data: dict, code: str) -> dict:
    return next(q for d in data["domains"] for q in d["questions"] if q["code"] == code)


def rule(data: dict, rule_id: str) -> dict:
    return next(r for d in data["domains"] for r in d["rules"] if r["id"] == rule_id)


def _drop_spanish_answer(d):
    del question(d, "88123-5")["answers"][1]["text"]["es"]


def _drop_spanish_question(d):
    question(d, "93030-5")["text"]["es"] = "  "


def _unknown_kind(d):
    rule(d, "food-insecurity")["kind"] = "majority_vote"


def _unknown_question(d):
    rule(d, "food-insecurity")["questions"].append("12345-6")


def _foreign_answer(d):
    rule(d, "utility-insecurity")["answers"].append("LA28397-0")


def _bad_category(d):
    rule(d, "homelessness")["category"] = "houselessness"


def _missing_value(d):
    del question(d, "95616-9")["answers"][2]["value"]


def _duplicate_question(d):
    d["domains"][1]["questions"].append(copy.deepcopy(question(d, "71802-3")))


def _duplicate_answer(d):
    answers = question(d, "96779-4")["answers"]
    answers.append(copy.deepcopy(answers[0]))


def _unknown_field(d):
    question(d, "96778-6")["multiselect"] = True


def _bad_type(d):
    question(d, "96778-6")["type"] = "checkboxes"


def _no_threshold(d):
    del rule(d, "intimate-partner-violence")["threshold"]


def _threshold_text(d):
    rule(d, "intimate-partner-violence")["threshold"] = "11"


def _missing_title(d):
    del d["title"]


def _no_answers(d):
    question(d, "93030-5")["answers"] = []


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (
            _drop_spanish_answer,
            "domain 'food', question '88123-5', answer 'LA6729-3': 'text' has no 'es' text",
        ),
        (_drop_spanish_question, "question '93030-5': 'text' has no 'es' text"),
        (_unknown_kind, "rule 'food-insecurity': unknown rule kind 'majority_vote'"),
        (_unknown_question, "rule 'food-insecurity': question '12345-6' is not in this instrument"),
        (
            _foreign_answer,
            "rule 'utility-insecurity': answer 'LA28397-0' is not an answer of the rule's questions",
        ),
        (_bad_category, "rule 'homelessness': 'houselessness' is not an SDOH category code"),
        (_missing_value, "answer 'LA10082-8' of question '95616-9' needs a 'value'"),
        (_duplicate_question, "question '71802-3' appears more than once"),
        (_duplicate_answer, "question '96779-4': answer code(s) ['LA33-6'] appear more than once"),
        (_unknown_field, "question '96778-6': unknown field(s) 'multiselect'"),
        (_bad_type, "question '96778-6': 'type' must be 'single' or 'multiple', not 'checkboxes'"),
        (_no_threshold, "rule 'intimate-partner-violence': missing 'threshold'"),
        (_threshold_text, "rule 'intimate-partner-violence': 'threshold' must be a whole number"),
        (_missing_title, "ahc-hrsn-core.json: missing 'title'"),
        (_no_answers, "question '93030-5': 'answers' must be a non-empty list"),
    ],
)
def test_malformed_instrument_is_rejected_with_a_message_naming_the_problem(break_it, message):
    data = raw()
    break_it(data)
    with pytest.raises(InstrumentError) as caught:
        parse_instrument(data, "ahc-hrsn-core.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("ahc-hrsn-core.json")


def test_a_file_that_is_not_json_is_rejected(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": 1,')
    with pytest.raises(InstrumentError, match=r"broken\.json: not valid JSON"):
        load_instrument(path)


def test_a_file_whose_id_differs_from_its_name_is_rejected(tmp_path):
    path = tmp_path / "other-name.json"
    path.write_text(json.dumps(prapare_like()))
    with pytest.raises(InstrumentError, match="'id' 'prapare-test' must match the file name"):
        load_instrument(path)


def test_an_unknown_instrument_is_an_error():
    with pytest.raises(InstrumentError, match="No instrument named 'nope'"):
        get_instrument("nope")

"""Screenings: recording answers, completing into needs, rescreen changes, needs actions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from screening.models import Need, Screening
from tests.factories import NeedFactory, PatientFactory, ScreeningFactory, answer_all
from tests.screening.conftest import NEGATIVE_AHC

pytestmark = pytest.mark.django_db


def positive(screening, answers: dict) -> Screening:
    return answer_all(screening, {**NEGATIVE_AHC, **answers})


def test_start_uses_the_patients_language_when_the_instrument_has_it(patient, referrer):
    from screening.instrument import get_instrument

    started = Screening.start(patient, get_instrument("ahc-hrsn-core"), by=referrer)
    assert (started.language, started.instrument_version) == ("es", "2017")
    patient.preferred_language = "vi"
    assert Screening.start(patient, get_instrument("ahc-hrsn-core"), by=referrer).language == "en"


def test_record_saves_replaces_and_clears_an_answer(screening):
    screening.record("71802-3", ["LA31994-9"])
    screening.record("71802-3", ["LA31995-6"])
    assert screening.responses()["71802-3"].codes == ("LA31995-6",)
    screening.record("71802-3", [])
    assert "71802-3" not in screening.responses()


def test_record_keeps_declined_and_not_asked(screening):
    screening.record("88122-7", ["declined"])
    screening.record("88123-5", ["not-asked"])
    assert screening.answers.get(question="88122-7").status == "declined"
    assert screening.answers.get(question="88123-5").status == "not-asked"


@pytest.mark.parametrize(
    ("code", "tokens", "message"),
    [
        ("71802-3", ["LA31994-9", "LA31995-6"], "Choose one answer"),
        ("71802-3", ["LA28397-0"], "not an answer to this question"),
        ("96778-6", ["LA9-3", "LA28580-1"], "cannot be chosen with other answers"),
        ("96778-6", ["LA28580-1", "declined"], "not both"),
        ("12345-6", ["LA33-6"], "no such question"),
    ],
)
def test_record_rejects_answers_the_question_does_not_allow(screening, code, tokens, message):
    with pytest.raises(ValidationError, match=message):
        screening.record(code, tokens)
    assert not screening.answers.exists()


def test_completing_turns_positive_domains_into_needs(screening, referrer):
    positive(
        screening,
        {"88122-7": "LA6729-3", "71802-3": "LA31994-9", "96778-6": ["LA28580-1", "LA32001-2"]},
    )
    found = screening.complete(by=referrer)
    assert sorted(n.category for n in found) == [
        "food-insecurity",
        "housing-instability",
        "inadequate-housing",
    ]
    need = Need.objects.get(category="food-insecurity")
    assert (need.screening, need.status, need.patient) == (screening, "active", screening.patient)
    assert screening.status == "completed" and screening.completed_at is not None


def test_safety_sum_of_eleven_makes_a_need(screening, referrer):
    positive(
        screening,
        {
            "95618-5": "LA10082-8",
            "95617-7": "LA10082-8",
            "95616-9": "LA10082-8",
            "95615-1": "LA10066-1",
        },
    )
    assert [n.category for n in screening.complete(by=referrer)] == ["intimate-partner-violence"]


def test_safety_sum_of_ten_makes_no_need(screening, referrer):
    positive(
        screening,
        {
            "95618-5": "LA10082-8",
            "95617-7": "LA10082-8",
            "95616-9": "LA10082-8",
            "95615-1": "LA6270-8",
        },
    )
    assert screening.complete(by=referrer) == []


def test_safety_with_a_declined_item_makes_no_need_and_is_incomplete(screening, referrer):
    positive(
        screening,
        {
            "95618-5": "LA6482-9",
            "95617-7": "LA6482-9",
            "95616-9": "LA6482-9",
            "95615-1": "declined",
        },
    )
    assert screening.complete(by=referrer) == []
    ipv = next(o for o in screening.outcomes() if o.rule.category == "intimate-partner-violence")
    assert ipv.status == "incomplete"


def test_completing_needs_every_question_answered_or_skipped(screening, referrer):
    answer_all(screening, {"71802-3": "LA31994-9"})
    with pytest.raises(ValidationError, match="9 left"):
        screening.complete(by=referrer)
    screening.refresh_from_db()
    assert screening.status == "in-progress"
    assert not Need.objects.exists()


def test_completing_twice_records_needs_once(screening, referrer):
    positive(screening, {"93030-5": "LA33-6"})
    screening.complete(by=referrer)
    screening.complete(by=referrer)
    assert Need.objects.count() == 1


def test_a_need_already_active_is_not_duplicated(screening, referrer, patient):
    NeedFactory(patient=patient, category="transportation-insecurity")
    positive(screening, {"93030-5": "LA33-6"})
    assert screening.complete(by=referrer) == []
    assert Need.objects.filter(category="transportation-insecurity").count() == 1


def test_answers_of_a_completed_screening_are_final(screening, referrer):
    positive(screening, {})
    screening.complete(by=referrer)
    with pytest.raises(ValidationError, match="completed"):
        screening.record("93030-5", ["LA33-6"])


def test_rescreen_shows_what_changed(patient, referrer):
    first = positive(
        ScreeningFactory(patient=patient),
        {"88122-7": "LA28397-0", "93030-5": "LA33-6", "96779-4": "LA33-6"},
    )
    first.complete(by=referrer)
    second = positive(
        ScreeningFactory(patient=patient),
        {"88122-7": "LA28397-0", "71802-3": "LA31995-6", "96779-4": "declined"},
    )
    second.complete(by=referrer)
    assert second.previous() == first
    changes = second.changes_since(first)
    assert changes.new == ["homelessness"]
    assert changes.continuing == ["food-insecurity"]
    assert changes.no_longer == ["transportation-insecurity"]
    assert changes.unknown == ["utility-insecurity"]


def test_previous_ignores_other_patients_and_instruments(patient, referrer):
    other = positive(ScreeningFactory(patient=PatientFactory()), {})
    other.complete(by=referrer)
    hvs = answer_all(
        ScreeningFactory(patient=patient, instrument_id="hunger-vital-sign"),
        {"88122-7": "LA28398-8", "88123-5": "LA28398-8"},
    )
    hvs.complete(by=referrer)
    ahc = positive(ScreeningFactory(patient=patient), {})
    ahc.complete(by=referrer)
    assert ahc.previous() is None


def test_resolving_a_need_keeps_the_note(patient, referrer):
    need = NeedFactory(patient=patient)
    need.resolve(by=referrer, note="Enrolled in SNAP")
    assert (need.status, need.resolution_note, need.resolved_by) == (
        "resolved",
        "Enrolled in SNAP",
        referrer,
    )
    with pytest.raises(ValidationError, match="already resolved"):
        need.resolve(by=referrer, note="again")


def test_a_need_found_in_conversation_can_be_added_once_while_active(patient, referrer):
    need = Need.add(patient, "utility-insecurity", by=referrer, note="Shut-off notice")
    assert need.screening is None and need.note == "Shut-off notice"
    with pytest.raises(ValidationError, match="already active"):
        Need.add(patient, "utility-insecurity", by=referrer)
    need.resolve(by=referrer, note="Paid")
    assert Need.add(patient, "utility-insecurity", by=referrer).is_active

"""The FHIR API's reads and searches: each organization sees its own referrals, an EHR can
poll for changes, and everything served is valid R4."""

from __future__ import annotations

import datetime
from urllib.parse import quote, urlsplit

import pytest
import time_machine
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from interop.models import ApiClient
from tests.factories import ClinicFactory, PatientFactory, directory_service, member, referral
from tests.interop.conftest import MRN_SYSTEM, completed_screening

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def service(food_bank):
    return directory_service(organization=food_bank, name="Eastside Pantry")


def token_for(organization) -> str:
    return ApiClient.issue(organization, f"{organization.name} EHR")[1]


@pytest.fixture
def clinic_token(clinic):
    return token_for(clinic)


@pytest.fixture
def food_token(food_bank):
    return token_for(food_bank)


@pytest.fixture
def other_token(other_org):
    return token_for(other_org)


def get(client, token: str, path: str, status: int = 200) -> dict:
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    return response.json()


def search(client, token: str, path: str) -> list[dict]:
    bundle = get(client, token, path)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    return [entry["resource"] for entry in bundle.get("entry", [])]


def ids(resources: list[dict]) -> list[str]:
    return [r["id"] for r in resources]


def at(minutes: int):
    return time_machine.travel(START + datetime.timedelta(minutes=minutes), tick=False)


def assert_valid_r4(resource: dict) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.fixture
def cast(clinic, food_bank, referrer, staff, patient, service):
    """Three referrals from the clinic to the food bank (sent, completed, draft) and one from
    another clinic, each made a minute apart."""
    with at(0):
        sent = referral(patient, service, referrer)
    with at(1):
        done = referral(patient, service, referrer, need_category="housing-instability")
        for name in ("accept", "start"):
            done.apply(name, by=staff, organization=food_bank)
        done.apply(
            "complete",
            by=staff,
            organization=food_bank,
            outcome="partly-met",
            outcome_provided="Groceries for a week",
        )
    with at(2):
        draft = referral(patient, service, referrer, send=False)
    with at(3):
        elsewhere = ClinicFactory(name="Hillside Clinic")
        someone = member(elsewhere, "referrer")
        theirs = referral(PatientFactory(organization=elsewhere), service, someone)
    for made in (sent, done, draft, theirs):
        made.refresh_from_db()
    return {"sent": sent, "done": done, "draft": draft, "theirs": theirs}


# --- reading -------------------------------------------------------------------------------


def test_the_referring_side_reads_its_task_request_and_outcome(client, cast, clinic_token, patient):
    done = cast["done"]
    task = get(client, clinic_token, f"/fhir/Task/{done.identifier}")
    assert task["status"] == "completed"
    assert task["meta"]["versionId"] == str(done.version)
    assert task["meta"]["lastUpdated"] == done.updated_at.isoformat()
    assert {"system": "urn:handoff:task", "value": str(done.identifier)} in task["identifier"]
    assert task["for"] == {
        "reference": f"Patient/{patient.pk}",
        "identifier": {"system": MRN_SYSTEM, "value": "MRN-1001"},
        "display": "Rosa Diaz",
    }
    assert task["output"][0]["valueReference"] == {"reference": f"Procedure/{done.identifier}"}
    request = get(client, clinic_token, f"/fhir/ServiceRequest/{done.identifier}")
    assert request["status"] == "completed"
    procedure = get(client, clinic_token, f"/fhir/Procedure/{done.identifier}")
    assert procedure["outcome"]["coding"][0]["code"] == "partly-met"
    consent = get(client, clinic_token, f"/fhir/Consent/consent-{done.consent_id}")
    assert consent["status"] == "active"
    registered = get(client, clinic_token, f"/fhir/Patient/{patient.pk}")
    assert registered["identifier"][0] == {"system": MRN_SYSTEM, "value": "MRN-1001"}
    for resource in (task, request, procedure, consent, registered):
        assert_valid_r4(resource)


def test_a_read_carries_an_etag_of_the_referrals_version(client, cast, clinic_token):
    sent = cast["sent"]
    response = client.get(
        f"/fhir/Task/{sent.identifier}", HTTP_AUTHORIZATION=f"Bearer {clinic_token}"
    )
    assert response["ETag"] == f'W/"{sent.version}"'
    assert response["Last-Modified"]


def test_the_receiving_side_reads_them_but_knows_the_person_by_the_portals_identifier(
    client, cast, food_token, patient
):
    task = get(client, food_token, f"/fhir/Task/{cast['sent'].identifier}")
    assert task["for"] == {
        "type": "Patient",
        "identifier": {"system": "urn:handoff:patient", "value": str(patient.pk)},
        "display": "Rosa Diaz",
    }
    assert "MRN-1001" not in str(task)
    get(client, food_token, f"/fhir/Patient/{patient.pk}", status=404)


def test_the_receiving_side_sees_the_needs_only_while_consent_shares_them(
    client, connection, cast, food_token, patient, referrer
):
    screening = completed_screening(patient, referrer)
    sent = cast["sent"]
    sent.needs.set(screening.needs.all())
    request = get(client, food_token, f"/fhir/ServiceRequest/{sent.identifier}")
    assert len(request["reasonReference"]) == 2
    assert request["reasonReference"][0]["identifier"]["system"] == "urn:handoff:condition"
    sent.consent.withdraw(by=referrer, organization=patient.organization)
    request = get(client, food_token, f"/fhir/ServiceRequest/{sent.identifier}")
    assert "reasonReference" not in request
    assert request["status"] == "revoked"


def test_another_organizations_token_reads_nothing_and_finds_nothing(
    client, cast, other_token, clinic_token
):
    for made in cast.values():
        for kind in ("Task", "ServiceRequest", "Procedure"):
            get(client, other_token, f"/fhir/{kind}/{made.identifier}", status=404)
        get(client, other_token, f"/fhir/Consent/consent-{made.consent_id}", status=404)
        get(client, other_token, f"/fhir/Patient/{made.patient_id}", status=404)
    for kind in ("Task", "ServiceRequest", "Procedure", "Consent"):
        bundle = get(client, other_token, f"/fhir/{kind}")
        assert bundle["total"] == 0 and "entry" not in bundle
    # And the clinic does not see the other clinic's referral to the same food bank.
    get(client, clinic_token, f"/fhir/Task/{cast['theirs'].identifier}", status=404)
    assert str(cast["theirs"].identifier) not in ids(search(client, clinic_token, "/fhir/Task"))


def test_drafts_are_seen_by_their_author_only(client, cast, clinic_token, food_token):
    draft = cast["draft"]
    assert get(client, clinic_token, f"/fhir/Task/{draft.identifier}")["status"] == "draft"
    get(client, food_token, f"/fhir/Task/{draft.identifier}", status=404)
    assert str(draft.identifier) not in ids(search(client, food_token, "/fhir/Task"))


def test_unknown_ids_are_404(client, cast, clinic_token):
    for path in (
        "/fhir/Task/not-a-uuid",
        "/fhir/Task/00000000-0000-0000-0000-000000000000",
        f"/fhir/Procedure/{cast['sent'].identifier}",  # not completed: no outcome yet
        "/fhir/Consent/consent-99999999",
        "/fhir/Consent/12",
        "/fhir/Patient/abc",
    ):
        get(client, clinic_token, path, status=404)


# --- searching -----------------------------------------------------------------------------


def test_search_sees_both_sides_oldest_change_first(client, cast, clinic_token, food_token):
    sent, done, draft, theirs = (cast[k] for k in ("sent", "done", "draft", "theirs"))
    assert ids(search(client, clinic_token, "/fhir/Task")) == [
        str(sent.identifier),
        str(done.identifier),
        str(draft.identifier),
    ]
    assert ids(search(client, food_token, "/fhir/Task")) == [
        str(sent.identifier),
        str(done.identifier),
        str(theirs.identifier),
    ]
    assert ids(search(client, food_token, "/fhir/Procedure")) == [str(done.identifier)]


def test_polling_by_last_updated_sees_each_change_once(
    client, cast, clinic_token, staff, food_bank
):
    tasks = search(client, clinic_token, "/fhir/Task")
    newest = quote(tasks[-1]["meta"]["lastUpdated"])
    assert search(client, clinic_token, f"/fhir/Task?_lastUpdated=gt{newest}") == []
    sent = cast["sent"]
    with at(10):
        sent.apply("accept", by=staff, organization=food_bank)
    changed = search(client, clinic_token, f"/fhir/Task?_lastUpdated=gt{newest}")
    assert ids(changed) == [str(sent.identifier)]
    assert changed[0]["status"] == "accepted"
    again = changed[0]["meta"]["lastUpdated"]  # a "+" left unencoded is understood too
    assert search(client, clinic_token, f"/fhir/Task?_lastUpdated=gt{again}") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("_lastUpdated=ge2026-03-02T09:01:00Z", ["done", "draft"]),
        ("_lastUpdated=gt2026-03-02T09:01:00Z", ["draft"]),  # the whole second is past
        ("_lastUpdated=lt2026-03-02T09:01:00Z", ["sent"]),
        ("_lastUpdated=le2026-03-02T09:01Z", ["sent", "done"]),
        ("_lastUpdated=2026-03-02T09:01:00Z", ["done"]),
        ("_lastUpdated=2026-03-02", ["sent", "done", "draft"]),
        ("_lastUpdated=2026-03", ["sent", "done", "draft"]),
        ("_lastUpdated=ne2026-03-02T09:01:00Z", ["sent", "draft"]),
        ("_lastUpdated=ge2026-03-02T09:01:00Z&_lastUpdated=lt2026-03-02T09:02:00Z", ["done"]),
        ("_lastUpdated=gt2026-03-02T10:00:00%2B01:00", ["done", "draft"]),
        ("status=requested", ["sent"]),
        ("status=completed,draft", ["done", "draft"]),
        ("status=http://hl7.org/fhir/task-status|completed", ["done"]),
        ("status=accepted", []),
        ("owner=Organization/{food}", ["sent", "done", "draft"]),
        ("owner={food}", ["sent", "done", "draft"]),
        ("owner:identifier=urn:handoff:hsds:organization|{food}", ["sent", "done", "draft"]),
        ("owner:identifier=http://elsewhere|{food}", []),
        ("owner=Organization/{clinic}", []),
        ("requester=Organization/{clinic}", ["sent", "done", "draft"]),
        ("patient=Patient/{patient}", ["sent", "done", "draft"]),
        ("patient:identifier=" + MRN_SYSTEM + "|MRN-1001", ["sent", "done", "draft"]),
        ("patient:identifier=MRN-1001", ["sent", "done", "draft"]),
        ("patient:identifier=http://other|MRN-1001", []),
        ("patient=Patient/999999", []),
        ("status=requested,completed&owner={food}", ["sent", "done"]),
    ],
)
def test_task_search_parameters(
    client, cast, clinic_token, clinic, food_bank, patient, query, expected
):
    query = query.format(food=food_bank.hsds_id, clinic=clinic.hsds_id, patient=patient.pk)
    found = search(client, clinic_token, f"/fhir/Task?{query}")
    assert ids(found) == [str(cast[name].identifier) for name in expected]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/fhir/ServiceRequest?status=active", ["sent"]),
        ("/fhir/ServiceRequest?status=completed", ["done"]),
        ("/fhir/ServiceRequest?status=revoked", []),
        ("/fhir/ServiceRequest?status=draft", ["draft"]),
        ("/fhir/ServiceRequest?performer=Organization/{food}", ["sent", "done", "draft"]),
        ("/fhir/Procedure?status=completed", ["done"]),
        ("/fhir/Procedure?status=in-progress", []),
        ("/fhir/Procedure?patient=Patient/{patient}", ["done"]),
    ],
)
def test_other_types_search_parameters(
    client, cast, clinic_token, food_bank, patient, path, expected
):
    path = path.format(food=food_bank.hsds_id, patient=patient.pk)
    assert ids(search(client, clinic_token, path)) == [str(cast[n].identifier) for n in expected]


def test_consent_search_by_status_and_time(
    client, cast, clinic_token, food_token, referrer, patient
):
    consents = search(client, clinic_token, "/fhir/Consent")
    assert len(consents) == 3  # the clinic keeps every consent of its patients
    assert len(search(client, food_token, "/fhir/Consent")) == 3  # behind the sent referrals
    withdrawn = cast["sent"].consent
    with at(30):
        withdrawn.withdraw(by=referrer, organization=patient.organization)
    inactive = search(client, clinic_token, "/fhir/Consent?status=inactive")
    assert ids(inactive) == [f"consent-{withdrawn.pk}"]
    assert inactive[0]["meta"]["versionId"] == "2"
    recent = search(client, clinic_token, "/fhir/Consent?_lastUpdated=ge2026-03-02T09:30:00Z")
    assert ids(recent) == [f"consent-{withdrawn.pk}"]
    assert len(search(client, clinic_token, "/fhir/Consent?status=active")) == 2


def test_paging_gives_every_match_once_with_total_and_next_links(
    client, clinic_token, patient, service, referrer
):
    made = []
    for minute in range(7):
        with at(minute):
            made.append(str(referral(patient, service, referrer).identifier))
    seen, path, pages = [], "/fhir/Task?status=requested&_count=3", 0
    while path:
        bundle = get(client, clinic_token, path)
        assert bundle["total"] == 7
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert "status=requested" in links["self"]
        path = links.get("next")
        if path:
            parts = urlsplit(path)
            assert parts.path == "/fhir/Task"
            path = f"{parts.path}?{parts.query}"
        pages += 1
    assert seen == made and pages == 3
    assert get(client, clinic_token, "/fhir/Task?_count=0")["total"] == 7
    assert "entry" not in get(client, clinic_token, "/fhir/Task?_count=0")
    assert len(get(client, clinic_token, "/fhir/Task?_count=5000")["entry"]) == 7


@pytest.mark.parametrize(
    "query",
    [
        "_lastUpdated=yesterday",
        "_lastUpdated=gt2026-13-01",
        "_lastUpdated=2026-02-30",
        "_lastUpdated=xx2026-01-01",
        "_count=-1",
        "_count=ten",
        "_count=99999999999999999999",
        "_offset=-3",
        "colour=blue",
        "_sort=-_lastUpdated",
        "status:not=completed",
        "owner:missing=true",
        "_include=Task:focus",
        "subject=Patient/1",
        "patient=%00",
    ],
)
def test_what_a_search_cannot_honour_is_a_400_not_a_silent_wider_answer(
    client, clinic_token, query
):
    body = get(client, clinic_token, f"/fhir/Task?{query}", status=400)
    assert body["resourceType"] == "OperationOutcome"


def test_every_search_result_validates_as_r4(client, cast, clinic_token, food_token):
    for token in (clinic_token, food_token):
        for kind in ("Task", "ServiceRequest", "Procedure", "Consent"):
            for resource in search(client, token, f"/fhir/{kind}"):
                assert_valid_r4(resource)


def test_searching_is_audited_per_call(client, cast, clinic_token, clinic):
    from accounts.models import AuditEvent

    search(client, clinic_token, "/fhir/Task?status=requested")
    event = AuditEvent.objects.filter(action="api-call").last()
    assert event.actor_organization == clinic
    assert event.detail == "GET /fhir/Task?status=requested → 200"


def test_a_revoked_token_reads_nothing(client, cast, clinic_token):
    ApiClient.objects.filter(organization=cast["sent"].referring_organization).update(
        revoked_at=timezone.now()
    )
    get(client, clinic_token, f"/fhir/Task/{cast['sent'].identifier}", status=401)

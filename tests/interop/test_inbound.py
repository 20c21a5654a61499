"""Referrals an EHR sends in as a transaction Bundle: a valid one lands in the receiving inbox;
every kind of invalid one gets a 4xx OperationOutcome and changes nothing (fuzzed too)."""

from __future__ import annotations

import copy
import datetime
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from directory.models import Organization
from interop.models import ApiClient, InboundReferral, OutboxMessage
from patients.models import Consent, Patient
from referrals.models import Notification, Referral, ReferralEvent
from tests.factories import PatientFactory, consent_for, directory_service

pytestmark = pytest.mark.django_db

MRN_SYSTEM = "http://riverside.example.org/mrn"


@pytest.fixture
def service(food_bank):
    return directory_service(organization=food_bank, name="Eastside Pantry")


@pytest.fixture
def api_client(clinic):
    return ApiClient.issue(clinic, "Riverside EHR")


@pytest.fixture
def token(api_client):
    return api_client[1]


def valid_bundle(food_bank, *, mrn: str = "MRN-2002", task_id: str | None = None) -> dict:
    owner = {
        "identifier": {"system": "urn:handoff:hsds:organization", "value": str(food_bank.hsds_id)},
        "display": food_bank.name,
    }
    given = timezone.now().replace(microsecond=0)
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
                    "name": [{"family": "Okafor", "given": ["Ada"]}],
                    "birthDate": "1975-04-12",
                    "gender": "female",
                    "telecom": [{"system": "phone", "value": "617-555-0199"}],
                    "address": [{"line": ["9 Elm St"], "city": "Boston", "state": "MA", "postalCode": "02118"}],
                    "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]}}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "active",
                    "intent": "order",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes",
                                    "code": "food-insecurity",
                                }
                            ]
                        }
                    ],
                    "code": {"text": "Food pantry"},
                    "priority": "urgent",
                    "subject": {"reference": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000001"},
                    "requester": {"display": "Dr. Lee"},
                    "note": [{"text": "No car; evening calls."}],
                    "identifier": [{"system": "http://riverside.example.org/orders", "value": "SR-77"}],
                },
                "request": {"method": "POST", "url": "ServiceRequest"},
            },
            {
                "fullUrl": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000003",
                "resource": {
                    "resourceType": "Task",
                    "identifier": [
                        {"system": "http://riverside.example.org/tasks", "value": task_id or str(uuid.uuid4())}
                    ],
                    "status": "requested",
                    "intent": "order",
                    "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
                    "focus": {"reference": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000002"},
                    "for": {"reference": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000001"},
                    "authoredOn": given.isoformat(),
                    "owner": owner,
                },
                "request": {"method": "POST", "url": "Task"},
            },
            {
                "fullUrl": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000004",
                "resource": {
                    "resourceType": "Consent",
                    "status": "active",
                    "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}]}],
                    "patient": {"reference": "urn:uuid:7f9c2a5e-0000-4000-8000-000000000001"},
                    "dateTime": given.isoformat(),
                    "sourceAttachment": {"title": "Signed release"},
                    "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentpolicycodes", "code": "hipaa-auth"}]},
                    "provision": {
                        "type": "permit",
                        "actor": [
                            {
                                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                                "reference": owner,
                            }
                        ],
                        "class": [
                            {"system": "http://hl7.org/fhir/resource-types", "code": "Patient"},
                            {"system": "http://hl7.org/fhir/resource-types", "code": "Condition"},
                        ],
                    },
                },
                "request": {"method": "POST", "url": "Consent"},
            },
        ],
    }  # fmt: skip


def post(client, token: str | None, body, content_type: str = "application/fhir+json"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/fhir/", data=data, content_type=content_type, **headers)


def snapshot() -> dict:
    models = (
        Referral,
        Patient,
        Consent,
        InboundReferral,
        OutboxMessage,
        Notification,
        ReferralEvent,
        User,
    )
    return {model.__name__: model.objects.count() for model in models}


def entry(bundle: dict, resource_type: str) -> dict:
    return next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    )


# --- valid -----------------------------------------------------------------------------------


def test_a_valid_bundle_becomes_a_sent_referral_in_the_receiving_inbox(
    client, clinic, food_bank, service, staff, token
):
    response = post(client, token, valid_bundle(food_bank, task_id="T-1"))
    assert response.status_code == 200, response.content
    answer = response.json()
    Bundle.model_validate(answer)
    assert answer["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["201 Created"] * 4

    made = Referral.objects.get()
    assert made.status == "requested"
    assert made.referring_organization == clinic
    assert made.receiving_organization == food_bank and made.service == service
    assert made.need_category == "food-insecurity"
    assert made.priority == "urgent"
    assert made.note == "No car; evening calls."
    assert made.due_at is not None
    patient = made.patient
    assert (patient.mrn_system, patient.mrn) == (MRN_SYSTEM, "MRN-2002")
    assert (patient.given_name, patient.family_name, patient.sex) == ("Ada", "Okafor", "female")
    assert patient.preferred_language == "es" and patient.state == "MA"
    consent = made.consent
    assert consent.organization == food_bank and consent.method == "written"
    assert (consent.share_contact, consent.share_needs, consent.share_screening) == (
        True,
        True,
        False,
    )
    assert made.shared["contact"]["phone"] == "617-555-0199"
    assert made.referred_by.email.endswith("@api.handoff.invalid")
    assert not made.referred_by.is_active

    task_location = answer["entry"][2]["response"]["location"]
    assert task_location == f"Task/{made.identifier}/_history/{made.version}"
    # It is in the food bank's inbox, and its staff were told.
    assert Notification.objects.filter(user=staff, kind="new").count() == 1
    client.force_login(staff)
    inbox = client.get(reverse("referrals:inbox")).content.decode()
    assert "Okafor" in inbox
    # The EHR follows it like any other, and sees its own identifiers on it.
    task = client.get(
        f"/fhir/{task_location.split('/_history')[0]}", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert task["status"] == "requested"
    assert {"system": "http://riverside.example.org/tasks", "value": "T-1"} in task["identifier"]


def test_the_patient_is_found_by_mrn_and_never_duplicated(
    client, clinic, food_bank, service, token
):
    existing = PatientFactory(
        organization=clinic, mrn="MRN-2002", mrn_system=MRN_SYSTEM, given_name="A"
    )
    response = post(client, token, valid_bundle(food_bank))
    assert response.status_code == 200, response.content
    assert response.json()["entry"][0]["response"]["status"] == "200 OK"
    assert Patient.objects.count() == 1
    assert Referral.objects.get().patient == existing
    assert existing.given_name == "A"  # the portal's record is left as it was


def test_a_patient_of_another_organization_with_the_same_mrn_is_not_used(
    client, other_org, food_bank, service, token
):
    PatientFactory(organization=other_org, mrn="MRN-2002", mrn_system=MRN_SYSTEM)
    assert post(client, token, valid_bundle(food_bank)).status_code == 200
    assert Patient.objects.count() == 2


def test_a_patient_named_by_identifier_with_a_consent_on_file(
    client, clinic, food_bank, service, referrer, token
):
    patient = PatientFactory(organization=clinic, mrn="MRN-9", mrn_system=MRN_SYSTEM)
    consent = consent_for(patient, food_bank, referrer)
    bundle = valid_bundle(food_bank)
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] in ("ServiceRequest", "Task")
    ]
    reference = {"identifier": {"system": MRN_SYSTEM, "value": "MRN-9"}}
    entry(bundle, "ServiceRequest")["subject"] = reference
    entry(bundle, "Task")["for"] = reference
    response = post(client, token, bundle)
    assert response.status_code == 200, response.content
    made = Referral.objects.get()
    assert made.patient == patient and made.consent == consent


def test_resending_the_same_task_answers_with_the_referral_already_made(
    client, food_bank, service, token
):
    first = post(client, token, valid_bundle(food_bank, task_id="T-9")).json()
    again = post(client, token, valid_bundle(food_bank, task_id="T-9"))
    assert again.status_code == 200
    assert [e["response"]["status"] for e in again.json()["entry"]][1:3] == ["200 OK", "200 OK"]
    assert (
        again.json()["entry"][2]["response"]["location"]
        == first["entry"][2]["response"]["location"]
    )
    assert Referral.objects.count() == 1


def test_the_service_is_named_when_the_organization_has_several(client, food_bank, service, token):
    other = directory_service(organization=food_bank, name="Eastside Diapers")
    bundle = valid_bundle(food_bank)
    response = post(client, token, bundle)
    assert response.status_code == 422
    assert "several services" in response.json()["issue"][0]["details"]["text"]
    entry(bundle, "ServiceRequest")["performer"] = [
        {"identifier": {"system": "urn:handoff:hsds:service", "value": str(other.hsds_id)}}
    ]
    assert post(client, token, bundle).status_code == 200
    assert Referral.objects.get().service == other


def test_an_inbound_referral_is_followed_like_any_other(client, food_bank, service, staff, token):
    post(client, token, valid_bundle(food_bank))
    made = Referral.objects.get()
    made.apply("accept", by=staff, organization=food_bank)
    found = client.get("/fhir/Task?status=accepted", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert found["total"] == 1


# --- invalid -----------------------------------------------------------------------------------


def _without(resource_type):
    def change(bundle, **_):
        bundle["entry"] = [
            e for e in bundle["entry"] if e["resource"]["resourceType"] != resource_type
        ]

    return change


def _set(resource_type, path, value):
    def change(bundle, **kw):
        target = entry(bundle, resource_type)
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value(**kw) if callable(value) else value

    return change


def _drop(resource_type, key):
    def change(bundle, **_):
        entry(bundle, resource_type).pop(key)

    return change


def _duplicate(resource_type):
    def change(bundle, **_):
        twin = copy.deepcopy(
            next(e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type)
        )
        twin["fullUrl"] = "urn:uuid:7f9c2a5e-0000-4000-8000-0000000000ff"
        bundle["entry"].append(twin)

    return change


def _other_org_reference(other_org, **_):
    return {
        "identifier": {"system": "urn:handoff:hsds:organization", "value": str(other_org.hsds_id)}
    }


def _clinic_reference(clinic, **_):
    return {"identifier": {"system": "urn:handoff:hsds:organization", "value": str(clinic.hsds_id)}}


INVALID = {
    "no ServiceRequest": (_without("ServiceRequest"), 422, "needs a ServiceRequest"),
    "no Task": (_without("Task"), 422, "needs a Task"),
    "no consent and none on file": (_without("Consent"), 422, "consent"),
    "two Tasks": (_duplicate("Task"), 422, "2 Task"),
    "an Observation": (
        lambda bundle, **_: bundle["entry"].append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        ),
        422,
        "not accepted",
    ),
    "a PUT": (lambda bundle, **_: bundle["entry"][2]["request"].update(method="PUT"), 422, "POST"),
    "a batch": (lambda bundle, **_: bundle.update(type="batch"), 400, "transaction"),
    "an unknown element": (_set("Task", "colour", "blue"), 400, "colour"),
    "a wrong type": (_set("Task", "authoredOn", 12), 400, "Not valid FHIR R4"),
    "an owner not in the directory": (
        _set(
            "Task",
            "owner",
            {
                "identifier": {
                    "system": "urn:handoff:hsds:organization",
                    "value": str(uuid.UUID(int=7)),
                }
            },
        ),
        422,
        "Task.owner",
    ),
    "an owner without our identifier system": (
        _set("Task", "owner", {"identifier": {"system": "http://npi", "value": "123"}}),
        422,
        "Task.owner",
    ),
    "an owner that refers": (_set("Task", "owner", _clinic_reference), 422, "Task.owner"),
    "a service of another organization": (
        _set(
            "ServiceRequest",
            "performer",
            lambda elsewhere_service, **_: [
                {
                    "identifier": {
                        "system": "urn:handoff:hsds:service",
                        "value": str(elsewhere_service.hsds_id),
                    }
                }
            ],
        ),
        422,
        "no such service",
    ),
    "a performer organization that is not the owner": (
        _set(
            "ServiceRequest", "performer", lambda other_org, **_: [_other_org_reference(other_org)]
        ),
        422,
        "another organization",
    ),
    "no SDOH category": (
        _set("ServiceRequest", "category", [{"text": "food"}]),
        422,
        "SDOH category",
    ),
    "a Task that is not requested": (_set("Task", "status", "accepted"), 422, "Task.status"),
    "a ServiceRequest that is a plan": (_set("ServiceRequest", "intent", "plan"), 422, "intent"),
    "a Task that focuses elsewhere": (
        _set("Task", "focus", {"reference": "urn:uuid:nowhere"}),
        422,
        "Task.focus",
    ),
    "a Task for another patient": (
        _set("Task", "for", {"identifier": {"system": MRN_SYSTEM, "value": "X"}}),
        422,
        "Task.for",
    ),
    "a patient without an MRN": (_drop("Patient", "identifier"), 422, "MRN"),
    "a new patient without a birth date": (_drop("Patient", "birthDate"), 422, "birthDate"),
    "a new patient without a name": (_drop("Patient", "name"), 422, "name"),
    "a state that is not two letters": (
        _set("Patient", "address", [{"state": "Massachusetts"}]),
        422,
        "two letters",
    ),
    "an unknown patient by identifier": (
        lambda bundle, **_: (
            _without("Patient")(bundle),
            _without("Consent")(bundle),
            entry(bundle, "ServiceRequest").update(
                subject={"identifier": {"system": MRN_SYSTEM, "value": "nobody"}}
            ),
            entry(bundle, "Task").update(
                {"for": {"identifier": {"system": MRN_SYSTEM, "value": "nobody"}}}
            ),
        ),
        422,
        "No patient",
    ),
    "a withdrawn consent": (_set("Consent", "status", "inactive"), 422, "Consent.status"),
    "a consent for another organization": (
        _set(
            "Consent",
            "provision",
            lambda other_org, **_: {
                "actor": [{"role": {"text": "r"}, "reference": _other_org_reference(other_org)}]
            },
        ),
        422,
        "provision.actor",
    ),
    "a consent that has ended": (
        _set("Consent", "provision.period", {"end": "2020-01-01"}),
        422,
        "ended",
    ),
    "a consent of the future": (
        _set("Consent", "dateTime", "2099-01-01T00:00:00Z"),
        422,
        "future",
    ),
    "a requester of another organization": (
        _set("Task", "requester", _other_org_reference),
        422,
        "requester",
    ),
    "an unknown priority": (_set("ServiceRequest", "priority", "whenever"), 422, "priority"),
    "a NUL character": (_set("Patient", "gender", "fe\x00male"), 400, "NUL"),
    "a lone surrogate": (_set("ServiceRequest", "note", [{"text": "\ud800"}]), 400, "Unicode"),
    "a name that is too long": (
        _set("Patient", "name", [{"family": "x" * 500, "given": ["A"]}]),
        422,
        "longer",
    ),
}


@pytest.fixture
def elsewhere_service(other_org):
    return directory_service(organization=other_org, name="Elsewhere Pantry")


@pytest.mark.parametrize("kind", list(INVALID))
def test_each_kind_of_invalid_bundle_is_a_4xx_operation_outcome_and_changes_nothing(
    client, clinic, food_bank, other_org, service, elsewhere_service, token, kind
):
    change, status, text = INVALID[kind]
    bundle = valid_bundle(food_bank)
    change(bundle, clinic=clinic, other_org=other_org, elsewhere_service=elsewhere_service)
    before = snapshot()
    response = post(client, token, bundle)
    assert response.status_code == status, response.content
    body = OperationOutcome.model_validate(response.json())
    assert text in body.issue[0].details.text
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("not json", "application/fhir+json", 400),
        ("[1, 2]", "application/fhir+json", 400),
        ('{"resourceType": "Patient"}', "application/fhir+json", 400),
        ('{"resourceType": "Bundle"}', "application/fhir+json", 400),
        ('{"resourceType": "Bundle", "type": "transaction"}', "application/fhir+json", 422),
        ("[" * 100000 + "]" * 100000, "application/fhir+json", 400),
        (b"\xff\xfe\x00", "application/fhir+json", 400),
        ("<Bundle/>", "application/fhir+xml", 415),
        ("{}", "application/fhir+json", 400),
    ],
)
def test_bodies_that_are_not_a_bundle_are_4xx(client, token, body, content_type, status):
    before = snapshot()
    response = post(client, token, body, content_type=content_type)
    assert response.status_code == status, response.content
    OperationOutcome.model_validate(response.json())
    assert snapshot() == before


def test_without_a_token_nothing_is_created(client, food_bank, service):
    before = snapshot()
    assert post(client, None, valid_bundle(food_bank)).status_code == 401
    assert post(client, "hfx_wrong", valid_bundle(food_bank)).status_code == 401
    assert snapshot() == before


def test_a_revoked_client_cannot_send(client, food_bank, service, api_client):
    made, secret = api_client
    made.revoke()
    assert post(client, secret, valid_bundle(food_bank)).status_code == 401
    assert not Referral.objects.exists()


# --- fuzzing ---------------------------------------------------------------------------------

ODD_STRINGS = st.sampled_from(
    ["", " ", "\x00", "\ud800", "x" * 3000, "urn:uuid:7f9c2a5e-0000-4000-8000-000000000001",
     "2026-02-30", "9999-12-31T23:59:59Z", "0001-01-01", "requested", "Patient/1", "-1", "1e309",
     "food-insecurity", "<script>", "'; DROP TABLE referrals_referral; --"]
)  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | ODD_STRINGS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=12) | ODD_STRINGS, children, max_size=3)
    ),
    max_leaves=12,
)


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _mutate(draw, data):
    paths = [p for p in _paths(data) if p]
    path = draw(st.sampled_from(paths))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "delete", "odd", "wrap"]))
    if action == "delete":
        del parent[path[-1]]
    elif action == "odd":
        parent[path[-1]] = draw(ODD_STRINGS)
    elif action == "wrap":
        parent[path[-1]] = [parent[path[-1]]]
    else:
        parent[path[-1]] = draw(JSON)


FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@FUZZ
@given(data=st.data())
def test_fuzzed_bundles_never_5xx_and_invalid_ones_change_nothing(
    client, food_bank, service, token, data
):
    bundle = valid_bundle(food_bank)
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(data.draw, bundle)
    before = snapshot()
    response = post(client, token, bundle)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        OperationOutcome.model_validate(response.json())
        assert snapshot() == before


@FUZZ
@given(body=JSON)
def test_arbitrary_json_never_5xx_and_changes_nothing(client, token, body):
    before = snapshot()
    response = post(client, token, body)
    assert 400 <= response.status_code < 500, response.content
    assert snapshot() == before


def test_a_consent_on_file_that_has_ended_is_not_used(
    client, clinic, food_bank, service, referrer, token
):
    patient = PatientFactory(organization=clinic, mrn="MRN-2002", mrn_system=MRN_SYSTEM)
    consent_for(
        patient, food_bank, referrer, expires_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    bundle = valid_bundle(food_bank)
    _without("Consent")(bundle)
    response = post(client, token, bundle)
    assert response.status_code == 422
    assert not Referral.objects.exists()


def test_only_receiving_organizations_can_be_owners(client, clinic, food_bank, service, token):
    Organization.objects.filter(pk=food_bank.pk).update(kind=Organization.Kind.REFERS)
    response = post(client, token, valid_bundle(food_bank))
    assert response.status_code == 422

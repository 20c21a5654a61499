"""The FHIR API: an honest CapabilityStatement, bearer tokens, audit, OperationOutcome errors."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from accounts.models import AuditEvent
from interop.api import AUDIT_ACTION
from interop.models import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(clinic):
    _client, secret = ApiClient.issue(clinic, "Riverside EHR")
    return secret


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def outcome(response, status: int) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/fhir+json")
    body = OperationOutcome.model_validate(response.json())
    return body.issue[0].details.text


def test_metadata_is_an_r4_capability_statement_that_claims_what_is_routed(client):
    from interop.api_resources import SEARCH_PARAMETERS

    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate(response.json())
    assert statement.fhirVersion == "4.0.1"
    assert statement.format == ["json"]
    [rest] = statement.rest
    assert rest.mode == "server"
    served = {r.type: r for r in rest.resource}
    assert set(served) == {"Task", "ServiceRequest", "Procedure", "Consent", "Patient"}
    for resource_type, params in SEARCH_PARAMETERS.items():
        resource = served[resource_type]
        assert {i.code for i in resource.interaction} == {"read", "search-type"}
        assert {p.name for p in resource.searchParam} == params | {"_lastUpdated"}
    assert {i.code for i in served["Patient"].interaction} == {"read"}
    assert [i.code for i in rest.interaction] == ["transaction"]


def test_metadata_without_a_token_is_not_audited(client):
    client.get("/fhir/metadata")
    assert not AuditEvent.objects.exists()


def test_a_call_with_a_token_is_audited_and_marks_the_client_used(client, clinic, token):
    response = client.get("/fhir/metadata", **bearer(token))
    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert event.organization == clinic
    assert event.actor_organization == clinic
    assert event.action == AUDIT_ACTION
    assert event.detail == "GET /fhir/metadata → 200"
    assert ApiClient.objects.get().last_used is not None


def test_an_unknown_token_is_401_operation_outcome(client):
    response = client.get("/fhir/metadata", **bearer("hfx_not-a-real-token"))
    assert "unknown or revoked" in outcome(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_401(client, token):
    ApiClient.objects.get().revoke()
    assert "unknown or revoked" in outcome(client.get("/fhir/metadata", **bearer(token)), 401)


def test_only_a_hash_of_the_token_is_stored(clinic):
    import hashlib

    made, secret = ApiClient.issue(clinic, "Riverside EHR")
    stored = ApiClient.objects.filter(pk=made.pk).values().get()
    assert secret not in [str(v) for v in stored.values()]
    assert stored["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert ApiClient.authenticate(secret) == made


def test_what_is_not_supported_is_a_404_operation_outcome_not_a_page(client, token):
    for path in ("/fhir/Observation", "/fhir/Task/1/_history/2", "/fhir/Goal?status=active"):
        assert "not supported" in outcome(client.get(path, **bearer(token)), 404)
    assert AuditEvent.objects.filter(detail__startswith="GET /fhir/").count() == 3


def test_reading_and_searching_need_a_token(client):
    for path in ("/fhir/Task", "/fhir/Task/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12):
        assert "bearer token is required" in outcome(client.get(path), 401)
    response = client.post(
        "/fhir/",
        data='{"resourceType": "Bundle", "type": "transaction"}',
        content_type="application/fhir+json",
    )
    outcome(response, 401)


def test_wrong_method_and_wrong_format_are_4xx_operation_outcomes(client):
    assert "POST is not supported" in outcome(client.post("/fhir/metadata"), 405)
    assert "Only JSON" in outcome(client.get("/fhir/metadata?_format=xml"), 406)
    assert "Only JSON" in outcome(
        client.get("/fhir/metadata", HTTP_ACCEPT="application/fhir+xml"), 406
    )


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, "bearer hfx_\x00", "Token hfx_abc"],
)
def test_malformed_authorization_is_401_never_500(client, header):
    outcome(client.get("/fhir/metadata", HTTP_AUTHORIZATION=header), 401)

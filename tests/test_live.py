"""The live-update consumer: session auth on connect, per-organization isolation per event."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.models import Membership, Role
from handoff.asgi import application
from handoff.live import OrgFragment, UserFragment, org_group, user_group

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def communicator(user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        headers.append(
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}".encode())
        )
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


def fragment(org_id: int, html: str, roles: list[str] | None = None) -> OrgFragment:
    return {"type": "org.fragment", "organization_id": org_id, "roles": roles or [], "html": html}


@async_to_sync
async def connect_and_collect(comm: WebsocketCommunicator, sends: list[tuple[str, dict]]):
    connected, code = await comm.connect()
    received = []
    if connected:
        layer = get_channel_layer()
        for group, message in sends:
            await layer.group_send(group, message)
        # receive_from's timeout cancels the app, so ask "anything waiting?" first.
        while not await comm.receive_nothing(timeout=0.5):
            received.append(await comm.receive_from())
        await comm.disconnect()
    return connected, code, received


def test_no_session_is_refused():
    connected, code, _ = connect_and_collect(communicator(), [])
    assert not connected
    assert code == 4401


def test_a_member_receives_their_organizations_fragment(staff, food_bank):
    connected, _, received = connect_and_collect(
        communicator(staff),
        [(org_group(food_bank.pk), fragment(food_bank.pk, "<p id=x>hello</p>"))],
    )
    assert connected
    assert received == ["<p id=x>hello</p>"]


def test_another_organizations_event_never_arrives(staff, food_bank, other_org, stranger):
    # Even a message wrongly sent to our group is dropped: the check runs per event.
    sends = [
        (org_group(other_org.pk), fragment(other_org.pk, "theirs")),
        (org_group(food_bank.pk), fragment(other_org.pk, "misrouted")),
        (
            user_group(stranger.pk),
            UserFragment(type="user.fragment", user_id=stranger.pk, html="x"),
        ),
    ]
    connected, _, received = connect_and_collect(communicator(staff), sends)
    assert connected
    assert received == []


def test_role_limited_fragment_reaches_admins_only(staff, food_admin, food_bank):
    msg = fragment(food_bank.pk, "admins only", roles=[Role.ORG_ADMIN])
    _, _, to_staff = connect_and_collect(communicator(staff), [(org_group(food_bank.pk), msg)])
    _, _, to_admin = connect_and_collect(communicator(food_admin), [(org_group(food_bank.pk), msg)])
    assert to_staff == []
    assert to_admin == ["admins only"]


def test_a_removed_member_stops_receiving_at_once(staff, food_bank):
    comm = communicator(staff)

    @async_to_sync
    async def run():
        connected, _ = await comm.connect()
        assert connected
        from channels.db import database_sync_to_async

        await database_sync_to_async(Membership.objects.filter(user=staff).delete)()
        await get_channel_layer().group_send(
            org_group(food_bank.pk), fragment(food_bank.pk, "after removal")
        )
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    run()


def test_a_members_change_has_each_admins_page_fetch_the_table_through_its_own_view(
    food_admin, food_bank, staff
):
    """The pushed fragment holds no rows and no CSRF token: one rendering pushed to every admin
    carried none of theirs, so its forms were refused ("CSRF token missing")."""
    from accounts.members import publish_members_changed

    sends = []
    comm = communicator(food_admin)

    @async_to_sync
    async def run():
        connected, _ = await comm.connect()
        assert connected
        from channels.db import database_sync_to_async

        await database_sync_to_async(publish_members_changed)(food_bank)
        while not await comm.receive_nothing(timeout=0.5):
            sends.append(await comm.receive_from())
        await comm.disconnect()

    run()
    (pushed,) = sends
    assert pushed.startswith('<div id="members-signal" hidden hx-swap-oob="true"')
    assert 'hx-get="/organizations/members/?part=table" hx-trigger="load"' in pushed
    assert staff.email not in pushed and "csrfmiddlewaretoken" not in pushed

    client = Client()
    client.force_login(food_admin)
    table = client.get("/organizations/members/?part=table", HTTP_HX_REQUEST="true")
    html = table.content.decode()
    assert html.strip().startswith('<div id="member-table">')
    assert staff.email in html
    assert (
        html.count('name="csrfmiddlewaretoken"')
        == 2 * Membership.objects.filter(organization=food_bank).count()
    )
    assert "Add a member" not in html  # the table only

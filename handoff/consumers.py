"""The websocket consumer behind every live page (htmx ws extension on ``/ws/live/``)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.models import Membership
from handoff.live import OrgFragment, UserFragment, org_group, user_group


class LiveConsumer(AsyncWebsocketConsumer):
    """Joins the user's organization groups and forwards only what the user may see.

    The user is checked on connect and again on every event: a membership removed while a
    page is open stops the flow at once, without waiting for a reconnect.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.user_id = user.pk
        org_ids = await database_sync_to_async(Membership.objects.organization_ids_for)(user)
        self.joined = [org_group(org_id) for org_id in org_ids] + [user_group(user.pk)]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Pages only listen; anything sent up is ignored."""

    async def org_fragment(self, event: OrgFragment) -> None:
        allowed = await database_sync_to_async(Membership.objects.user_has_role)(
            self.user_id, event["organization_id"], event["roles"]
        )
        if allowed:
            await self.send(text_data=event["html"])

    async def user_fragment(self, event: UserFragment) -> None:
        if event["user_id"] == self.user_id:
            await self.send(text_data=event["html"])

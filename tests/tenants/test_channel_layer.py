"""The embedded default's channel layer: a group send reaches every channel of
the group once, and nothing else."""

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from tenants.channel_layer import GroupSendOnceChannelLayer


@pytest.mark.asyncio
@pytest.mark.usefixtures("committed")
async def test_a_group_send_reaches_each_member_once_and_no_one_else():
    assert isinstance(get_channel_layer(), GroupSendOnceChannelLayer)  # what the platform uses
    # A layer of this test's own: the shared one keeps the listener it started
    # in an earlier test's event loop.
    layer = GroupSendOnceChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
    first, second, outsider = [await layer.new_channel() for _ in range(3)]
    try:
        for channel in (first, second, first):  # added twice: still one message
            await layer.group_add("tenant.t_alpha.events", channel)
        await layer.group_add("tenant.t_beta.events", outsider)
        await layer.group_send("tenant.t_alpha.events", {"type": "tenant.event", "n": 1})
        await layer.group_send("tenant.nobody.events", {"type": "tenant.event", "n": 2})

        for channel in (first, second):
            received = await asyncio.wait_for(layer.receive(channel), timeout=10)
            assert received == {"type": "tenant.event", "n": 1}
        for channel in (first, second, outsider):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(layer.receive(channel), timeout=0.3)
    finally:
        await layer.group_discard("tenant.t_alpha.events", first)
        await layer.group_discard("tenant.t_alpha.events", second)
        await layer.group_discard("tenant.t_beta.events", outsider)


@pytest.mark.asyncio
async def test_a_malformed_group_name_is_refused_before_the_database():
    with pytest.raises(TypeError):
        await get_channel_layer().group_send("not a group!", {"type": "tenant.event"})

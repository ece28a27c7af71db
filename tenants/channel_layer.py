"""The embedded default's channel layer: channels-postgres, with a lean group send.

channels-postgres 1.1's ``group_send`` reads the group's channels twice (the
first time by the bare group name, which matches no stored key) and then
inserts one message per channel: three round trips, and three pool checkouts
behind one lock, for every live event, two of them where nobody listens. Each
processed file sends several events (queued, started, stored, the job's
progress), from the web process and the worker alike. Here a group send is
one ``INSERT … SELECT``: every channel of the group gets the message in one
statement, and the table's trigger notifies the listeners as before.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from channels_postgres.core import PostgresChannelLayer
from channels_postgres.db import GROUP_CHANNEL_TABLE, MESSAGE_TABLE, utc_now
from psycopg import sql

_GROUP_SEND = sql.SQL(
    "INSERT INTO {messages} (channel, message, expire) "
    "SELECT DISTINCT channel, %s, %s FROM {groups} WHERE group_key = %s"
).format(messages=sql.Identifier(MESSAGE_TABLE), groups=sql.Identifier(GROUP_CHANNEL_TABLE))


class GroupSendOnceChannelLayer(PostgresChannelLayer):
    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.require_valid_group_name(group)  # raises TypeError, as upstream's checks do
        expire = utc_now() + timedelta(seconds=self.expiry)
        pool = await self.django_db.get_db_pool(db_params=self.django_db.db_params)
        async with pool.connection() as conn, conn.cursor() as cursor:
            await cursor.execute(
                _GROUP_SEND, (self.serialize(message), expire, self._group_key(group))
            )

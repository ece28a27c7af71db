"""The web server: Daphne, with request bodies kept on disk and capped.

    python -m config.web_server -b 127.0.0.1 -p 8000

Daphne (through Twisted) receives a request's whole body into a temporary
file; Twisted then parses a form body in memory, and Daphne copies the body
into the application's queue as 8 KB messages at once, so a 200 MB upload
cost the web process gigabytes. Here Twisted parses nothing, the queue keeps
only the body's length and hands the bytes out from that file as the
application reads them, and a body larger than any route accepts is refused
with 413 as soon as its Content-Length (or, for a chunked body, its running
size) shows it, before it is read.

This process also takes its database connections from a bounded pool
(FACET_DB_POOL, config.settings.database).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from functools import partial

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("FACET_DB_POOL", "1")

from daphne import server as daphne_server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest

BODY_READ_BYTES = 1024 * 1024


def request_body_limit() -> int:
    """The largest body any route takes: the largest upload, plus form overhead."""
    from media_ingest.conf import largest_upload_bytes

    return largest_upload_bytes() + BODY_READ_BYTES


class BoundedWebRequest(WebRequest):
    _refused = False
    _received = 0

    def __init__(self, *args, **kwargs):
        # Twisted parses a multipart/form-data body into request.args itself, with
        # the e-mail parser, in memory (about 12x the body; Daphne never reads
        # args). Django parses the body, streaming, from the file instead.
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)

    def gotLength(self, length):
        super().gotLength(length)
        if length is not None and length > request_body_limit():
            self._refuse(length)

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if self._received > request_body_limit():  # a chunked body, counted as it comes
            self._refuse(self._received)
            return
        super().handleContentChunk(data)

    def _refuse(self, size: int) -> None:
        """Answer 413 and hang up without reading the body (Twisted has no request
        object to reply through yet: the status line is written directly)."""
        self._refused = True
        limit_mb = request_body_limit() // (1024 * 1024)
        body = json.dumps(
            {
                "code": "too-large",
                "detail": f"The request body ({size:,} bytes) is larger than the "
                f"{limit_mb} MB this server accepts.",
            }
        ).encode()
        head = (
            "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        transport = self.channel.transport
        transport.write(head + body)
        transport.loseConnection()


class BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedWebRequest
        return protocol


class DiskBodyQueue:
    """The application's receive queue, with the body left in Twisted's file.

    Daphne puts every body chunk at once; this keeps their count and serves
    ``http.request`` messages from the protocol's content file as they are
    received. Other messages (``http.disconnect``) pass through in order.
    """

    def __init__(self, protocol):
        self._protocol = protocol
        self._events: asyncio.Queue = asyncio.Queue()
        self._body_complete = asyncio.Event()
        self._length = 0
        self._offset = 0
        self._body_done = False

    def put_nowait(self, message: dict) -> None:
        if message["type"] == "http.request" and not self._body_complete.is_set():
            self._length += len(message.get("body", b""))
            if not message.get("more_body", False):
                self._body_complete.set()
            return
        self._events.put_nowait(message)

    async def get(self) -> dict:
        if not self._body_done:
            await self._body_complete.wait()
            content = getattr(self._protocol, "content", None)
            if content is None or content.closed:
                self._body_done = True
                return {"type": "http.disconnect"}
            content.seek(self._offset)
            chunk = content.read(min(BODY_READ_BYTES, self._length - self._offset))
            self._offset += len(chunk)
            self._body_done = self._offset >= self._length or not chunk
            return {"type": "http.request", "body": chunk, "more_body": not self._body_done}
        return await self._events.get()


class StreamingBodyServer(daphne_server.Server):
    def run(self):
        # Server.run builds its HTTP factory from this module-level name.
        daphne_server.HTTPFactory = BoundedHTTPFactory
        super().run()

    def create_application(self, protocol, scope):
        """Daphne's own, but with the body queue above for HTTP (WebSockets keep theirs)."""
        if scope.get("type") != "http":
            return super().create_application(protocol, scope)
        queue = DiskBodyQueue(protocol)
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(
            scope=scope, receive=queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        return queue


class WebServerCLI(CommandLineInterface):
    server_class = StreamingBodyServer


def clean_metrics_dir() -> None:
    """Samples of processes gone since the last start are dropped (settings name the directory)."""
    from django.conf import settings

    settings.PROMETHEUS_MULTIPROC_DIR  # noqa: B018 - loading settings sets the variable
    from tenants.metrics import clean_metrics_dir as clean

    clean()


if __name__ == "__main__":
    clean_metrics_dir()
    # Daphne's own options; the application is always Facet's.
    WebServerCLI().run([*sys.argv[1:], "config.asgi:application"])

"""The event stream a user's browser sees while a photo and a video are processed."""

from __future__ import annotations

import asyncio
import io

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from config.asgi import application
from media_ingest import services
from media_ingest.models import IngestJob, MediaFile, Source
from tests.conftest import ALPHA, run_queued_tasks

from .conftest import shared_file


@pytest.fixture
def alpha_socket_cookie(committed):
    client = ALPHA.client(ALPHA.owner)
    yield f"sessionid={client.cookies['sessionid'].value}"
    with schema_context(ALPHA.schema_name):
        for media in MediaFile.objects.all():
            services.media_delete(media=media)
        IngestJob.objects.all().delete()
        Session.objects.all().delete()


def _ingest_and_run(name: str, data: bytes) -> int:
    with schema_context(ALPHA.schema_name):
        job = services.job_create(source=Source.WEB)
        media_id = services.media_accept(
            stream=io.BytesIO(data), name=name, source=Source.WEB, job=job
        ).media.pk
    run_queued_tasks()
    return media_id


async def _events_until(socket, media_id: int, final: str) -> list[dict]:
    events = []
    while True:
        event = await socket.receive_json_from(timeout=60)
        if event.get("media_id") == media_id or event.get("kind") == "job.progress":
            events.append(event)
        if event.get("media_id") == media_id and event["status"] == final:
            return events


@pytest.mark.asyncio
async def test_photo_then_video_progress_sequences(alpha_socket_cookie, astronaut_jpeg):
    socket = WebsocketCommunicator(
        application,
        "/ws/events/",
        headers=[(b"host", ALPHA.host.encode()), (b"cookie", alpha_socket_cookie.encode())],
    )
    assert (await socket.connect())[0]
    try:
        photo = await sync_to_async(_ingest_and_run)("astronaut.jpg", astronaut_jpeg)
        photo_events = await _events_until(socket, photo, "done")
        kinds = [e["kind"] for e in photo_events if e.get("media_id") == photo]
        assert kinds == ["media.queued", "media.processing", "media.done"]
        assert photo_events[-1]["faces"] >= 1

        clip = shared_file("videos", "facerec_short_hamilton_clip.mp4").read_bytes()
        video = await sync_to_async(_ingest_and_run)("hamilton.mp4", clip)
        video_events = [e for e in await _events_until(socket, video, "done") if e.get("media_id")]
        assert video_events[0]["kind"] == "media.queued"
        frames = [e for e in video_events if e["status"] == "processing" and "frame" in e]
        assert len(frames) >= 2
        assert [e["frame"] for e in frames] == sorted(e["frame"] for e in frames)
        assert all(e["frames"] >= e["frame"] for e in frames)
        assert video_events[-1]["kind"] == "media.done"
        await asyncio.sleep(0.5)
        leftovers = []
        while not await socket.receive_nothing(timeout=0.5):
            leftovers.append(await socket.receive_json_from())
        # After the file: the job's counts, and its faces grouped for People to name.
        assert all(e.get("kind") in ("job.progress", "clusters.progress") for e in leftovers)
    finally:
        await socket.disconnect()

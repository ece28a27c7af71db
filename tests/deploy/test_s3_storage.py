"""FACET_STORAGE=s3 against a real S3-protocol server: moto's standalone server,
started on loopback for the test. Uploads, processing (photos and a video),
crops, thumbnails, tenant-checked reads with byte ranges, deletion and tenant
delete, each tenant under its own prefix of one bucket."""

from __future__ import annotations

import io

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context
from knox.models import AuthToken
from PIL import Image

from media_ingest import services as ingest
from media_ingest.models import Face, MediaFile
from tenants import services
from tenants.models import Tenant
from tests.deploy.conftest import BUCKET
from tests.media_ingest.conftest import video_path


def _keys(client, prefix: str) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def _astronaut() -> bytes:
    from skimage.data import astronaut

    out = io.BytesIO()
    Image.fromarray(astronaut()).save(out, format="JPEG", quality=90)
    return out.getvalue()


def _client(setup) -> Client:
    with schema_context(setup.schema_name):
        _, token = AuthToken.objects.create(setup.user(setup.owner))
    return Client(HTTP_HOST=setup.host, HTTP_AUTHORIZATION=f"Token {token}")


def _upload(client: Client, name: str, data: bytes):
    handle = io.BytesIO(data)
    handle.name = name
    return client.post("/api/v1/media/", {"file": handle})


def test_a_photo_lives_in_the_bucket_and_is_served_only_to_its_tenant(alpha, beta, s3, processing):
    data = _astronaut()
    api = _client(alpha)
    reply = processing(lambda: _upload(api, "astronaut.jpg", data))
    assert reply.status_code == 201, reply.content
    media_id = reply.json()["id"]
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get(pk=media_id)
        faces = list(Face.objects.filter(media=media))
    assert media.status == "done" and faces
    prefix = f"media/{alpha.schema_name}/"
    keys = _keys(s3, prefix)
    assert prefix + media.file.name in keys
    assert prefix + f"thumbs/{media_id}.jpg" in keys
    assert {prefix + face.crop.name for face in faces} <= keys
    # Nothing of it on the local disk.
    local = settings.MEDIA_ROOT + f"/{alpha.schema_name}/" + media.file.name
    assert not __import__("os").path.exists(local)

    # Crops through the API, the original through the tenant-checked media view.
    crop = api.get(f"/api/v1/faces/{faces[0].pk}/image")
    assert crop.status_code == 200
    assert crop.content[:3] == b"\xff\xd8\xff"
    portal = alpha.client(alpha.viewer)
    whole = portal.get(f"/media/{media.file.name}")
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == data
    part = portal.get(f"/media/{media.file.name}", HTTP_RANGE="bytes=10-99")
    assert part.status_code == 206 and part.content == data[10:100]
    assert part["Content-Range"] == f"bytes 10-99/{len(data)}"
    # Beta's members, on beta's host, resolve the same name under beta's prefix.
    assert beta.client(beta.owner).get(f"/media/{media.file.name}").status_code == 404
    assert portal.get("/media/../t_beta/" + media.file.name).status_code == 404

    # Deleting the file removes its original, thumbnail and crops from the bucket.
    with schema_context(alpha.schema_name):
        processing(lambda: ingest.media_delete(media=MediaFile.objects.get(pk=media_id)))
    left = _keys(s3, prefix)
    assert prefix + media.file.name not in left
    assert not any(key.startswith(prefix + f"faces/{media_id}/") for key in left)
    assert prefix + f"thumbs/{media_id}.jpg" not in left


def test_a_video_is_decoded_from_the_bucket(alpha, s3, processing):
    data = video_path("dlib_MOT20-05-raw_even_shorter.mp4").read_bytes()
    reply = processing(lambda: _upload(_client(alpha), "clip.mp4", data))
    assert reply.status_code == 201, reply.content
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get(pk=reply.json()["id"])
        assert media.kind == "video" and media.status == "done", media.error
        assert media.duration_s > 0
        faces = list(Face.objects.filter(media=media))
    prefix = f"media/{alpha.schema_name}/"
    assert {prefix + face.crop.name for face in faces if face.crop} <= _keys(s3, prefix)


def test_deleting_a_tenant_empties_its_prefix_only(alpha, s3, committed):
    created = services.tenant_create(
        slug="s3gone", domain="s3gone.localhost", owner_email="owner@s3gone.test"
    )
    tenant = created.tenant
    try:
        with schema_context(tenant.schema_name):
            job = ingest.job_create(source="api")
            ingest.media_accept(
                stream=io.BytesIO(_astronaut()), name="a.jpg", source="api", job=job
            )
        with schema_context(alpha.schema_name):
            from django.core.files.base import ContentFile
            from django.core.files.storage import default_storage

            kept = default_storage.save("probe/keep.txt", ContentFile(b"alpha's"))
        assert _keys(s3, f"media/{tenant.schema_name}/")
        services.tenant_delete(tenant=tenant)
        assert not _keys(s3, f"media/{tenant.schema_name}/")
        assert f"media/{alpha.schema_name}/{kept}" in _keys(s3, f"media/{alpha.schema_name}/")
    finally:
        if Tenant.objects.filter(slug="s3gone").exists():
            services.tenant_delete(tenant=Tenant.objects.get(slug="s3gone"))


def test_a_tenant_archive_carries_its_bucket_objects_and_restores_them(s3, committed, tmp_path):
    from django.core.management import call_command

    from tenants.tasks import run_tenant_task

    created = services.tenant_create(
        slug="s3drill", domain="s3drill.localhost", owner_email="owner@s3drill.test"
    )
    source = created.tenant.schema_name
    try:
        with schema_context(source):
            job = ingest.job_create(source="api")
            media = ingest.media_accept(
                stream=io.BytesIO(_astronaut()), name="a.jpg", source="api", job=job
            ).media
        run_tenant_task(source, "media_ingest.tasks.process_media", media.pk)
        archive = tmp_path / "s3drill.tar"
        call_command("tenant", "backup", "s3drill", "--output", str(archive))
        call_command(
            "tenant", "restore", str(archive), "--slug", "s3drill-copy",
            "--domain", "s3drill-copy.localhost",
        )  # fmt: skip
        copy = Tenant.objects.get(slug="s3drill-copy").schema_name

        def objects(schema):
            prefix = f"media/{schema}/"
            return {
                key[len(prefix) :]: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                for key in _keys(s3, prefix)
            }

        originals = objects(source)
        assert len(originals) >= 3  # the original, its thumbnail, a crop
        assert objects(copy) == originals
        with schema_context(source):
            faces = sorted(Face.objects.values_list("pk", "crop"))
        with schema_context(copy):
            assert sorted(Face.objects.values_list("pk", "crop")) == faces
    finally:
        for slug in ("s3drill-copy", "s3drill"):
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is not None:
                services.tenant_delete(tenant=tenant)

"""The restore drill: a tenant with photos, a video and people is backed up,
restored under another name, and the copy is the same tenant: row counts,
face ids and embeddings, media files, search results and indexes; the
original is untouched. Then the archives a restore must refuse."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from knox.models import AuthToken

from media_ingest import services as ingest
from media_ingest.models import Face, MediaFile, Source
from people import services as people
from people.models import Person
from tenants import backup, services
from tenants.models import Domain, Tenant
from tenants.tasks import run_tenant_task
from tests.conftest import run_queued_tasks
from tests.media_ingest.conftest import shared_file, video_path

PERSON = "Vladimir_Putin"
SOURCE, COPY = "drill", "drill-copy"
OWNER = ("owner@drill.test", "owner-drill-pass")


def _photo(name: str, number: int) -> bytes:
    return shared_file("identities", name, f"{name}_{number:04d}.jpg").read_bytes()


def _ingest(schema: str, name: str, data: bytes) -> int:
    with schema_context(schema):
        job = ingest.job_create(source=Source.API)
        media = ingest.media_accept(
            stream=io.BytesIO(data), name=name, source=Source.API, job=job
        ).media
    run_tenant_task(schema, "media_ingest.tasks.process_media", media.pk)
    return media.pk


def _drop(slug: str) -> None:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None:
        services.tenant_delete(tenant=tenant)


@pytest.fixture(scope="module")
def drill(django_db_setup, django_db_blocker):
    """Tenant `drill`: 3 photos of one person, a stranger, a video, a person enrolled."""
    from django_q.models import OrmQ

    with django_db_blocker.unblock():
        first_task = (OrmQ.objects.order_by("-id").values_list("id", flat=True).first()) or 0
        created = services.tenant_create(
            slug=SOURCE,
            domain=f"{SOURCE}.localhost",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            name="Drill Org",
        )
        schema = created.tenant.schema_name
        for n in (1, 2, 3):
            _ingest(schema, f"{PERSON}_{n}.jpg", _photo(PERSON, n))
        _ingest(schema, "stranger.jpg", _photo("Venus_Williams", 1))
        _ingest(schema, "clip.mp4", video_path("dlib_MOT20-05-raw_even_shorter.mp4").read_bytes())
        run_queued_tasks()  # what the workers would do next (gallery matching)
        with schema_context(schema):
            person = people.person_create(name="Vladimir", consent_basis="consent")
            face = Face.objects.filter(media__original_name__startswith=PERSON).first()
            people.enrol_from_catalogue(person=person, face=face)
        run_queued_tasks()
        connection.set_schema_to_public()
        try:
            yield created.tenant
        finally:
            connection.set_schema_to_public()
            _drop(COPY)
            _drop(SOURCE)
            OrmQ.objects.filter(id__gt=first_task).delete()


def _state(schema: str) -> dict:
    """What must be identical in a faithful copy."""
    with schema_context(schema):
        faces = list(
            Face.objects.order_by("pk").values_list("pk", "media_id", "ordinal", "embedding")
        )
        return {
            "faces": [
                (pk, media, ordinal, list(map(float, emb))) for pk, media, ordinal, emb in faces
            ],
            "media": sorted(MediaFile.objects.values_list("pk", "kind", "status", "original_name")),
            "people": sorted(Person.objects.values_list("pk", "name")),
            "files": _files(Path(settings.MEDIA_ROOT) / schema),
            "hnsw": _hnsw_indexes(schema),
        }


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _hnsw_indexes(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE '%%hnsw%%'",
            [schema],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _search(schema: str, host: str) -> list[dict]:
    with schema_context(schema):
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username=OWNER[0])
        _, token = AuthToken.objects.create(user)
    client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Token {token}")
    image = io.BytesIO(_photo(PERSON, 4))
    image.name = "query.jpg"
    reply = client.post("/api/v1/search/", {"image": image, "threshold": -1, "top_k": 50})
    assert reply.status_code == 200, reply.content
    return reply.json()["results"]


@pytest.fixture(scope="module")
def archive(drill, tmp_path_factory, django_db_blocker) -> Path:
    path = tmp_path_factory.mktemp("backup") / "drill.tar.gz"
    with django_db_blocker.unblock():
        call_command("tenant", "backup", SOURCE, "--output", str(path))
    return path


def test_the_archive_holds_dump_media_and_a_manifest(drill, archive, committed):
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert names[0] == "schema.dump" and names[-1] == "manifest.json"
    assert set(manifest["files"]) == set(names[:-1])
    assert manifest["tenant"]["schema_name"] == drill.schema_name
    assert manifest["row_counts"]["media_ingest_face"] > 0
    assert manifest["row_counts"]["media_ingest_mediafile"] == 5
    assert manifest["row_counts"]["people_person"] == 1
    (models,) = [r for r in manifest["public_references"] if "facemodel" in r["table"]]
    assert models["ids"]
    media = [n for n in names if n.startswith("media/")]
    assert len(media) == len(_files(Path(settings.MEDIA_ROOT) / drill.schema_name))
    assert manifest["migrations"]


def test_restore_drill_gives_an_identical_tenant_and_leaves_the_original(
    drill, archive, committed, capsys
):
    before = _state(drill.schema_name)
    original_results = _search(drill.schema_name, f"{SOURCE}.localhost")
    assert original_results

    call_command("tenant", "restore", str(archive), "--slug", COPY, "--domain", f"{COPY}.localhost")
    copy = Tenant.objects.get(slug=COPY)
    assert copy.schema_name == "t_drill_copy"
    assert Domain.objects.get(domain=f"{COPY}.localhost").tenant == copy
    assert copy.name == "Drill Org"

    restored = _state(copy.schema_name)
    assert restored["faces"] == before["faces"]  # ids, media, embeddings
    assert restored["media"] == before["media"]
    assert restored["people"] == before["people"]
    assert restored["files"] == before["files"]  # crops, thumbnails, originals
    assert restored["hnsw"] == before["hnsw"] and before["hnsw"]
    assert _search(copy.schema_name, f"{COPY}.localhost") == original_results

    # The original is untouched; the copy takes none of its credentials.
    assert _state(drill.schema_name) == before
    with schema_context(copy.schema_name):
        assert (
            not AuthToken.objects.exclude(digest__in=AuthToken.objects.none())
            .filter(created__lt=copy.created_at)
            .exists()
        )
    owner = Client(HTTP_HOST=f"{COPY}.localhost")
    assert owner.post(
        "/accounts/login/", {"username": OWNER[0], "password": OWNER[1]}
    ).status_code in {
        200,
        302,
    }


def _rewritten(archive: Path, tmp_path: Path, *, manifest=None, member=None) -> Path:
    """A copy of ``archive`` with its manifest changed, or one member's bytes."""
    out = tmp_path / "changed.tar"
    with tarfile.open(archive) as source, tarfile.open(out, "w") as sink:
        for info in source.getmembers():
            data = source.extractfile(info).read()
            if info.name == "manifest.json" and manifest:
                data = json.dumps(manifest(json.loads(data))).encode()
            if info.name == member:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            info.size = len(data)
            sink.addfile(info, io.BytesIO(data))
    return out


def _refused(path: Path, slug: str = "drill-refused") -> str:
    with pytest.raises(backup.BackupError) as refused:
        backup.tenant_restore(archive_path=path, slug=slug, domain=f"{slug}.localhost")
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not backup._schema_exists(Tenant.schema_name_for(slug))
    assert not (Path(settings.MEDIA_ROOT) / Tenant.schema_name_for(slug)).exists()
    return str(refused.value)


def test_restore_refuses_an_existing_tenant_or_host(drill, archive, committed):
    before = _state(drill.schema_name)
    with pytest.raises(backup.BackupError, match="exists"):
        backup.tenant_restore(archive_path=archive, slug=SOURCE, domain="elsewhere.localhost")
    assert _state(drill.schema_name) == before
    with pytest.raises(backup.BackupError, match="already belongs"):
        backup.tenant_restore(archive_path=archive, slug="drill-other", domain="alpha.localhost")


def test_restore_refuses_a_tampered_archive(drill, archive, committed, tmp_path):
    with tarfile.open(archive) as tar:
        media = next(n for n in tar.getnames() if n.startswith("media/"))
    message = _refused(_rewritten(archive, tmp_path, member=media))
    assert "sha256" in message and media in message
    assert "sha256 of schema.dump" in _refused(_rewritten(archive, tmp_path, member="schema.dump"))


def test_restore_refuses_an_archive_from_a_newer_schema(drill, archive, committed, tmp_path):
    def newer(manifest):
        manifest["migrations"].append(["media_ingest", "9999_from_the_future"])
        return manifest

    message = _refused(_rewritten(archive, tmp_path, manifest=newer))
    assert "newer schema version" in message and "media_ingest.9999_from_the_future" in message


def test_restore_refuses_what_is_not_an_archive(committed, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar file at all" * 100)
    assert "corrupt" in _refused(junk) or "Not a Facet" in _refused(junk)


def test_restore_refuses_face_models_this_platform_lacks(drill, archive, committed, tmp_path):
    def foreign(manifest):
        for reference in manifest["public_references"]:
            reference["ids"] = [987654]
        return manifest

    assert "models import" in _refused(_rewritten(archive, tmp_path, manifest=foreign))


def test_an_older_archive_is_migrated_and_a_new_owner_added(
    drill, archive, committed, tmp_path, capsys
):
    """An archive that lacks a migration this code has: restored, then migrated
    (here the dump has it already, so migrate has nothing to do but runs)."""

    def older(manifest):
        manifest["migrations"] = [m for m in manifest["migrations"] if m[0] != "people"][:-1] + [
            m for m in manifest["migrations"] if m[0] == "people"
        ][:-1]
        return manifest

    slug = "drill-older"
    try:
        call_command(
            "tenant", "restore", str(_rewritten(archive, tmp_path, manifest=older)),
            "--slug", slug, "--domain", f"{slug}.localhost", "--owner-email", "new@drill.test",
        )  # fmt: skip
        out = capsys.readouterr().out
        assert "migrated to this release" in out
        password = re.search(r"password: (\S+)", out).group(1)
        signed_in = Client(HTTP_HOST=f"{slug}.localhost").post(
            "/accounts/login/", {"username": "new@drill.test", "password": password}
        )
        assert signed_in.status_code == 302
    finally:
        connection.set_schema_to_public()
        _drop(slug)


def test_restore_refuses_an_archive_naming_a_schema_that_is_no_tenants(
    drill, archive, committed, tmp_path
):
    def public(manifest):
        manifest["tenant"]["schema_name"] = "public"
        return manifest

    assert "schema name" in _refused(_rewritten(archive, tmp_path, manifest=public))

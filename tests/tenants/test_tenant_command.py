from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from tenants.models import Domain, Tenant


def _run(*args) -> str:
    out = StringIO()
    call_command("tenant", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_prints_generated_password_that_signs_in_then_delete_drops_everything():
    output = _run(
        "create", "gamma", "--domain", "gamma.localhost", "--owner-email", "Boss@Gamma.test"
    )
    password = next(line.split()[1] for line in output.splitlines() if "password:" in line)
    tenant = Tenant.objects.get(slug="gamma")
    assert schema_exists(tenant.schema_name)

    response = Client(HTTP_HOST="gamma.localhost").post(
        "/accounts/login/", {"username": "Boss@Gamma.test", "password": password}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"

    media_dir = Path(settings.MEDIA_ROOT) / tenant.schema_name
    media_dir.mkdir(parents=True, exist_ok=True)
    (media_dir / "photo.jpg").write_bytes(b"x")

    with pytest.raises(CommandError, match="--yes"):
        _run("delete", "gamma")
    assert "Deleted gamma" in _run("delete", "gamma", "--yes")
    connection.set_schema_to_public()
    assert not schema_exists(tenant.schema_name)
    assert not Tenant.objects.filter(slug="gamma").exists()
    assert not Domain.objects.filter(domain="gamma.localhost").exists()
    assert not media_dir.exists()
    assert Client(HTTP_HOST="gamma.localhost").get("/").status_code == 404


@pytest.mark.django_db
def test_create_with_given_password_does_not_print_it():
    output = _run(
        "create",
        "delta",
        "--domain",
        "delta.localhost",
        "--owner-email",
        "o@delta.test",
        "--owner-password",
        "s3cret-delta",
    )
    assert "s3cret-delta" not in output
    _run("delete", "delta", "--yes")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["create", "alpha", "--domain", "new.localhost", "--owner-email", "a@b.test"],
            "already exists",
        ),
        (
            ["create", "fresh", "--domain", "alpha.localhost", "--owner-email", "a@b.test"],
            "already belongs",
        ),
        (
            ["create", "Bad_Slug", "--domain", "x.localhost", "--owner-email", "a@b.test"],
            "Lower-case",
        ),
        (["create", "fresh", "--domain", "x.localhost", "--owner-email", "not-an-email"], "e-mail"),
        (["suspend", "nobody"], "No tenant"),
    ],
)
def test_bad_requests_fail_with_a_reason(alpha, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_list_shows_hosts_and_state(alpha):
    _run("suspend", "beta")
    listing = _run("list")
    assert "alpha" in listing and "alpha.localhost" in listing
    beta_line = next(line for line in listing.splitlines() if line.startswith("beta"))
    assert "suspended" in beta_line
    assert "public" not in listing


def test_suspended_tenant_answers_403_on_every_route_until_resumed(alpha):
    client = alpha.client(alpha.owner)
    _run("suspend", "alpha")
    for path in ["/", "/members/", "/admin/", "/api/v1/me/", "/accounts/login/", "/api/docs/"]:
        assert client.get(path).status_code == 403, path
    _run("resume", "alpha")
    assert client.get("/").status_code == 200


def test_each_schema_resolves_the_vector_type_and_hnsw_indexes(alpha, beta):
    """pgvector lives once in public; a VectorField with an HNSW index migrates in any tenant."""
    for setup in (alpha, beta):
        with schema_context(setup.schema_name), connection.cursor() as cursor:
            cursor.execute("CREATE TABLE vector_probe (embedding vector(3))")
            cursor.execute("CREATE INDEX ON vector_probe USING hnsw (embedding vector_cosine_ops)")
            cursor.execute("INSERT INTO vector_probe VALUES ('[1,0,0]'), ('[0,1,0]')")
            cursor.execute("SELECT embedding <=> '[1,0,0]' FROM vector_probe ORDER BY 1 LIMIT 1")
            assert cursor.fetchone()[0] == pytest.approx(0.0)
            cursor.execute(
                "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
            )
            assert cursor.fetchone()[0] == "public"


def test_quota_sets_shows_and_resets_a_tenants_storage_limit(alpha):
    assert "alpha now has 500 MB of originals." in _run("quota", "alpha", "--mb", "500")
    assert "500 MB" in next(line for line in _run("list").splitlines() if line.startswith("alpha"))
    assert Tenant.objects.get(slug="alpha").storage_quota_bytes == 500 * 1024 * 1024
    assert "no storage limit" in _run("quota", "alpha", "--default")
    with pytest.raises(CommandError, match="positive"):
        _run("quota", "alpha", "--mb", "-3")

import pytest
from django.test import Client


@pytest.mark.parametrize(
    "host", ["10.0.0.7", "unknown.example.com", "localhost", "alpha.localhost"]
)
def test_liveness_answers_on_every_host_without_touching_the_database(host):
    # No django_db mark: pytest-django fails the test if the view touches the database.
    response = Client(HTTP_HOST=host).get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.django_db
def test_readiness_reports_workers_but_stays_ready_without_them():
    response = Client(HTTP_HOST="10.0.0.7").get("/health/ready")
    # No django-q2 cluster runs beside the unit tests (tests/tenants/test_tasks.py starts one):
    # the portal and API still serve, and the outage is reported.
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": True, "migrations": True},
        "workers_alive": False,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/api/v1/me/", "/admin/", "/accounts/login/"])
def test_unknown_host_gets_404_for_everything_but_health(path):
    assert Client(HTTP_HOST="stranger.localhost").get(path).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("host", "status"), [("10.0.0.7:8000", 200), ("localhost", 200), ("alpha.localhost", 404)]
)
def test_metrics_for_scrapers_and_the_public_host_but_never_on_tenant_hosts(host, status):
    response = Client(HTTP_HOST=host).get("/metrics")
    assert response.status_code == status
    if status == 200:
        # Every process's samples (multiprocess mode) and the scrape-time families.
        assert b"django_http_requests_before_middlewares_total" in response.content
        assert b"facet_queue_depth{" in response.content

"""deploy/compose.yaml, checked by Debian's docker-compose 1.29 (`config`
parses, validates against the compose schema and resolves the file without
a Docker engine) for every profile, then read for what each profile must hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DEPLOY = ROOT / "deploy"
DOCKER_COMPOSE = os.environ.get("DOCKER_COMPOSE", "/usr/bin/docker-compose")
PROFILES = ("", "production", "monitoring", "gpu")
BASIC = {"db", "redis", "init", "web", "worker"}
FACET_SERVICES = {"init", "web", "worker", "gpu-worker"}

pytestmark = pytest.mark.skipif(
    not Path(DOCKER_COMPOSE).exists() and not os.environ.get("CI"),
    reason="Debian's docker-compose is installed by `make deploy-tools` (make test)",
)


def example_env() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "compose.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def compose_config(*profiles: str, env: dict[str, str] | None = None) -> dict:
    argv = [DOCKER_COMPOSE, "--project-directory", str(DEPLOY), "-f", str(DEPLOY / "compose.yaml")]
    for profile in profiles:
        if profile:
            argv += ["--profile", profile]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FACET_", "DJANGO_"))}
    out = subprocess.run(
        [*argv, "config"],
        env={**clean, **(env if env is not None else example_env())},
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


@pytest.fixture(scope="module")
def configs() -> dict[str, dict]:
    return {profile: compose_config(profile) for profile in PROFILES}


def _active(config: dict, profile: str) -> set[str]:
    """Services compose starts with ``profile`` (1.29's `config` lists every service)."""
    return {
        name
        for name, service in config["services"].items()
        if not service.get("profiles") or profile in service["profiles"]
    }


def volumes(service: dict) -> dict[str, tuple[str | None, str]]:
    """target -> (source or None for an anonymous volume, mode), whichever syntax
    compose printed (1.29 prints the short one)."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mode = "ro" if volume.get("read_only") else "rw"
            found[volume["target"]] = (volume.get("source"), mode)
            continue
        parts = volume.split(":")
        if len(parts) == 1:
            found[parts[0]] = (None, "rw")
        else:
            found[parts[1]] = (parts[0], parts[2] if len(parts) > 2 else "rw")
    return found


def ports(service: dict) -> list[tuple[str, str]]:
    """(host address or "", container port) of each published port."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", ""), str(port["target"])))
        else:
            *host, _published, target = port.split("/")[0].split(":")
            found.append((host[0] if host else "", target))
    return found


def test_every_profile_validates(configs):
    for profile, config in configs.items():
        assert set(config["services"]) >= BASIC, profile


def test_profiles_hold_what_they_promise(configs):
    assert _active(configs[""], "") == BASIC
    assert _active(configs["production"], "production") == BASIC | {"nginx"}
    assert _active(configs["monitoring"], "monitoring") == BASIC | {
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert _active(configs["gpu"], "gpu") == BASIC | {"gpu-worker"}


def test_restart_policies_and_health_checks(configs):
    services = configs[""]["services"]
    for name, service in services.items():
        if name == "init":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for worker in ("worker", "gpu-worker"):
        assert services[worker]["healthcheck"]["test"][-1] == "queue_worker_alive"


def test_init_prepares_the_platform_before_web_and_workers(configs):
    services = configs[""]["services"]
    assert services["init"]["command"] == ["python", "manage.py", "platform_prepare"]
    assert services["init"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("web", "worker", "gpu-worker"):
        assert services[name]["depends_on"]["init"]["condition"] == (
            "service_completed_successfully"
        )


def test_facet_containers_are_locked_down_and_keep_their_own_scratch(configs):
    services = configs[""]["services"]
    for name in FACET_SERVICES:
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        mounted = volumes(service)
        # Shared var volume, per-container (anonymous) upload spool; in-flight notes on tmpfs.
        assert mounted["/var/lib/facet"][0] == "facet-var", name
        assert mounted["/tmp"][0] is None, name
        assert "/run/facet" in service["tmpfs"], name


def test_the_gpu_worker_reserves_an_nvidia_gpu_on_the_gpu_cluster(configs):
    gpu = configs["gpu"]["services"]["gpu-worker"]
    assert gpu["build"]["dockerfile"] == "deploy/Dockerfile.gpu"
    assert gpu["environment"]["Q_CLUSTER_NAME"] == "gpu"
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert device["count"] == 1


def test_nginx_serves_tls_from_mounted_certificates(configs):
    nginx = configs["production"]["services"]["nginx"]
    mounted = volumes(nginx)
    assert mounted["/etc/nginx/certs"] == (str(DEPLOY / "certs"), "ro")
    assert mounted["/etc/nginx/templates/default.conf.template"] == (
        str(DEPLOY / "nginx" / "facet.conf.template"),
        "ro",
    )
    assert {target for _, target in ports(nginx)} == {"80", "443"}
    # The example production values: one trusted proxy, HTTPS enforced.
    env = configs["production"]["services"]["web"]["environment"]
    assert env["FACET_TRUSTED_PROXIES"] == "1"
    assert env["DJANGO_SECURE_SSL_REDIRECT"] == "true"


def test_monitoring_mounts_the_observability_files(configs):
    services = configs["monitoring"]["services"]

    def mounts(name):
        return {target: Path(source) for target, (source, _) in volumes(services[name]).items()}

    assert mounts("prometheus")["/etc/prometheus/prometheus.yml"] == (
        DEPLOY / "prometheus" / "prometheus.yml"
    )
    assert mounts("prometheus")["/etc/prometheus/rules"] == DEPLOY / "prometheus" / "rules"
    assert mounts("alertmanager")["/etc/alertmanager/alertmanager.yml"] == (
        DEPLOY / "prometheus" / "alertmanager.yml"
    )
    assert mounts("grafana")["/etc/facet/grafana"] == DEPLOY / "grafana"
    # The dashboard provider reads a path inside that mount, which holds the dashboards.
    import yaml

    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/facet.yml").read_text())
    path = Path(provider["providers"][0]["options"]["path"])
    local = DEPLOY / "grafana" / path.relative_to("/etc/facet/grafana")
    assert list(local.glob("*.json")), f"no dashboards where Grafana looks ({path})"


def test_the_basic_profile_needs_only_its_secrets():
    config = compose_config(
        "", env={"DJANGO_SECRET_KEY": "k", "POSTGRES_PASSWORD": "p", "GRAFANA_ADMIN_PASSWORD": "g"}
    )
    web = config["services"]["web"]["environment"]
    # Reached directly over HTTP on localhost: no redirect to an HTTPS nobody serves.
    assert web["DJANGO_SECURE_SSL_REDIRECT"] == "false"
    assert web["FACET_TRUSTED_PROXIES"] == "0"
    assert ports(config["services"]["web"]) == [("127.0.0.1", "8000")]


def test_check_deploy_is_clean_with_the_production_profiles_settings(configs):
    env = dict(configs["production"]["services"]["web"]["environment"])
    env["DJANGO_SECRET_KEY"] = "a-production-key-" + "x" * 50  # the example's is a placeholder
    env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"  # check --deploy needs none
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FACET_")}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues (0 silenced)" in out.stdout

"""The shipped Prometheus config and rules are valid, and every alert's unit tests pass
(promtool from Debian's prometheus package: `make test` installs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool missing: install Debian's prometheus package (make prometheus)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def test_rules_are_valid():
    assert RULES
    result = promtool("check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_rule_has_a_passing_unit_test():
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    import yaml

    alerts = {
        rule["alert"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        # A test that only says "not firing" proves nothing on its own.
        if case.get("exp_alerts")
    }
    assert alerts <= tested, f"alerts without a firing test: {sorted(alerts - tested)}"


def test_prometheus_config_is_valid():
    result = promtool("check", "config", "--syntax-only", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboards_are_provisioned_json_on_facet_series(tmp_path):
    dashboards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    names = {path.stem for path in dashboards}
    assert {"ingest", "queue", "engines", "search", "api", "slo"} <= names
    for path in dashboards:
        board = json.loads(path.read_text())
        exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
        assert exprs, path.name
        assert all("facet" in expr or expr.startswith("up") for expr in exprs), path.name
    # promtool parses every panel's query (as recording rules).
    import yaml

    queries = [
        {"record": f"dashboard:query_{n}", "expr": t["expr"]}
        for n, t in enumerate(
            t
            for path in dashboards
            for p in json.loads(path.read_text())["panels"]
            for t in p.get("targets", [])
        )
    ]
    check = tmp_path / "dashboards.rules.yml"
    check.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": queries}]}))
    result = promtool("check", "rules", str(check))
    assert result.returncode == 0, result.stdout + result.stderr
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert (provisioning / "dashboards" / "facet.yml").exists()
    assert (provisioning / "datasources" / "prometheus.yml").exists()

"""deploy/k8s/: every manifest validated by kubernetes-validate (strict, against
the Kubernetes API schemas it ships), each overlay rendered and validated, and
what kubernetes-validate cannot see checked here: references between objects,
probes and resources on every container, and KEDA's ScaledObjects, whose
fields are checked against the subset of KEDA's CRD this project uses and
whose queue query runs against django-q2's real table.

kustomize itself is not on these machines: `render` applies the few kustomize
features the overlays use (images, JSON 6902 patches, `$patch: delete`, the
common labels) and nothing else, and refuses any other."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = ("production", "cpu-only")
KUBERNETES_VERSION = "1.37.0"
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _pointer(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in path.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        parts.append(int(part) if part.isdigit() else part)
    return parts


def _json6902(doc: dict, ops: list[dict]) -> None:
    for op in ops:
        *parents, last = _pointer(op["path"])
        target = doc
        for part in parents:
            target = target[part]
        if op["op"] in {"replace", "add"}:
            if op["op"] == "replace":
                assert last in target or isinstance(target, list), f"no {op['path']} to replace"
            if isinstance(target, list) and op["op"] == "add":
                target.insert(len(target) if last == "-" else last, op["value"])
            else:
                target[last] = op["value"]
        elif op["op"] == "remove":
            assert last in target, f"no {op['path']} to remove"
            del target[last]
        else:
            raise AssertionError(f"render() does not know JSON patch op {op['op']!r}")


def render(directory: Path) -> list[dict]:
    """The objects `kustomize build directory` would print (the features used here only)."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}
    assert set(spec) <= known, f"render() does not know {set(spec) - known}"
    objects: list[dict] = []
    for resource in spec.get("resources", []):
        path = directory / resource
        objects += render(path) if path.is_dir() else documents(path)
    for label in spec.get("labels", []):
        assert label.get("includeSelectors") is False
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(label["pairs"])
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                name = container["image"].rsplit(":", 1)[0]
                if name == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    for patch in spec.get("patches", []):
        target = patch["target"]
        matches = [
            obj
            for obj in objects
            if obj["kind"] == target["kind"] and obj["metadata"]["name"] == target["name"]
        ]
        assert len(matches) == 1, f"patch target {target} matches {len(matches)} objects"
        body = yaml.safe_load(patch["patch"])
        if isinstance(body, list):
            _json6902(matches[0], body)
        else:
            assert body.get("$patch") == "delete", "only delete strategic merge patches"
            objects.remove(matches[0])
    return objects


def _containers(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])] if pod else []


def validate(objects: list[dict]) -> list[dict]:
    """kubernetes-validate every object; return the KEDA ones it has no schema for."""
    skipped = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            assert obj["kind"] in KEDA_KINDS, f"no schema for {obj['kind']}"
            skipped.append(obj)
        except kubernetes_validate.ValidationError as exc:
            name = f"{obj['kind']}/{obj['metadata']['name']}"
            raise AssertionError(f"{name}: {exc.message} at {list(exc.path)}") from None
    if skipped:
        warnings.warn(
            f"kubernetes-validate has no schema for {sorted({o['kind'] for o in skipped})} "
            "(KEDA CRDs): checked by test_keda_* instead",
            stacklevel=2,
        )
    return skipped


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return render(BASE)


def test_every_manifest_file_validates():
    files = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")
    assert files
    for path in files:
        validate(documents(path))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_and_validate(overlay):
    objects = render(K8S / "overlays" / overlay)
    skipped = validate(objects)
    assert {o["kind"] for o in skipped} <= KEDA_KINDS
    for deployment in by_kind(objects, "Deployment").values():
        for container in _containers(deployment):
            assert container["image"].startswith("ghcr.io/"), "images: replaced by the overlay"
    config = by_kind(objects, "ConfigMap")["facet"]["data"]
    assert config["FACET_PUBLIC_HOST"] == "facet.example.org"
    hosts = [rule["host"] for rule in by_kind(objects, "Ingress")["facet"]["spec"]["rules"]]
    assert hosts == ["facet.example.org", "*.facet.example.org"]


def test_the_cpu_only_overlay_has_no_gpu_anything():
    objects = render(K8S / "overlays" / "cpu-only")
    assert "facet-gpu-worker" not in by_kind(objects, "Deployment")
    assert "facet-gpu-worker" not in by_kind(objects, "ScaledObject")
    assert "FACET_GPU_CLUSTER" not in by_kind(objects, "ConfigMap")["facet"]["data"]


def test_the_base_holds_every_piece(base):
    kinds = {o["kind"] for o in base}
    for kind in (
        "Namespace", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "Ingress",
        "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
        "ScaledObject", "TriggerAuthentication",
    ):  # fmt: skip
        assert kind in kinds, kind
    assert set(by_kind(base, "Deployment")) == {"facet-web", "facet-worker", "facet-gpu-worker"}
    # Secrets are the operator's: an example is shipped, never applied.
    assert "Secret" not in kinds
    example = by_kind(documents(BASE / "secret.example.yaml"), "Secret")
    assert set(example) == {"facet", "facet-keda"}


def test_every_long_running_container_has_probes_resources_and_a_locked_root(base):
    for name, deployment in by_kind(base, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert "replicas" not in deployment["spec"], f"{name}: the autoscaler owns replicas"
        for container in pod["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in container, f"{name}: no {probe}"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
    for job in by_kind(base, "Job").values():
        for container in _containers(job):
            assert container["resources"]["limits"], "the migrate Job is bounded too"


def test_the_var_volume_is_a_defined_claim_and_hides_no_static_files(base):
    claims = by_kind(base, "PersistentVolumeClaim")
    assert claims["facet-var"]["spec"]["accessModes"] == ["ReadWriteMany"]
    image_static_root = "/app/staticfiles"  # FACET_STATIC_ROOT in deploy/Dockerfile
    assert f"FACET_STATIC_ROOT={image_static_root}" in (ROOT / "deploy" / "Dockerfile").read_text()
    for obj in [*by_kind(base, "Deployment").values(), *by_kind(base, "Job").values()]:
        pod = obj["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        for container in pod["containers"]:
            for mount in container.get("volumeMounts", []):
                path = mount["mountPath"].rstrip("/")
                # The old manifests mounted media over STATIC_ROOT: WhiteNoise served nothing.
                assert not (image_static_root + "/").startswith(path + "/"), mount


def test_references_between_objects_resolve(base):
    deployments = by_kind(base, "Deployment")
    services = by_kind(base, "Service")
    pod_labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}

    def selects(selector: dict) -> list[str]:
        return [n for n, labels in pod_labels.items() if selector.items() <= labels.items()]

    for name, deployment in deployments.items():
        assert selects(deployment["spec"]["selector"]["matchLabels"]) == [name]
    for service in services.values():
        assert selects(service["spec"]["selector"]) == ["facet-web"]
    for pdb in by_kind(base, "PodDisruptionBudget").values():
        assert len(selects(pdb["spec"]["selector"]["matchLabels"])) == 1
    for hpa in by_kind(base, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    ingress = by_kind(base, "Ingress")["facet"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    assert ingress["spec"]["tls"][0]["secretName"]
    assert (
        float(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"])
        >= 3600
    )  # WebSockets
    port_names = {p["name"] for s in services.values() for p in s["spec"]["ports"]}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] in services and backend["port"]["name"] in port_names
    config = by_kind(base, "ConfigMap")["facet"]
    for obj in [*deployments.values(), *by_kind(base, "Job").values()]:
        for container in obj["spec"]["template"]["spec"]["containers"]:
            refs = {next(iter(e.values()))["name"] for e in container["envFrom"]}
            assert refs == {config["metadata"]["name"], "facet"}  # + the operator's Secret


def test_the_gpu_worker_gets_a_gpu_node_and_its_cluster(base):
    gpu = by_kind(base, "Deployment")["facet-gpu-worker"]
    pod = gpu["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"].startswith("facet-gpu")
    assert {"name": "Q_CLUSTER_NAME", "value": "gpu"} in container["env"]
    assert pod["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert by_kind(base, "ConfigMap")["facet"]["data"]["FACET_GPU_CLUSTER"] == "gpu"


def test_the_migrate_job_prepares_the_platform_before_the_release(base):
    job = by_kind(base, "Job")["facet-migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", "platform_prepare"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_web_alone_accepts_connections(base):
    policies = by_kind(base, "NetworkPolicy")
    deny = policies["facet-default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = policies["facet-web-ingress"]["spec"]
    assert allow["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "facet-web"}
    assert allow["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]


# --- KEDA: kubernetes-validate has no schema for its CRDs ---------------------

# The ScaledObject / TriggerAuthentication fields (keda.sh/v1alpha1, KEDA 2.x)
# this project may use, with their types; anything else is refused.
SCALED_OBJECT_SPEC = {
    "scaleTargetRef": dict, "pollingInterval": int, "cooldownPeriod": int,
    "initialCooldownPeriod": int, "idleReplicaCount": int, "minReplicaCount": int,
    "maxReplicaCount": int, "fallback": dict, "advanced": dict, "triggers": list,
}  # fmt: skip
TRIGGER = {
    "type": str, "name": str, "metadata": dict, "authenticationRef": dict,
    "metricType": str, "useCachedMetrics": bool,
}  # fmt: skip
# The postgresql scaler's metadata parameters, and what its TriggerAuthentication may set.
POSTGRESQL_METADATA = {
    "query", "targetQueryValue", "activationTargetQueryValue", "connectionFromEnv",
    "host", "port", "userName", "dbName", "sslmode", "passwordFromEnv",
}  # fmt: skip
POSTGRESQL_AUTH_PARAMETERS = {
    "connection",
    "host",
    "port",
    "userName",
    "dbName",
    "sslmode",
    "password",
}
HPA_BEHAVIOR_KEYS = {"scaleUp", "scaleDown"}


def _check_types(obj: dict, fields: dict, where: str) -> None:
    assert set(obj) <= set(fields), f"{where}: unknown fields {set(obj) - set(fields)}"
    for key, value in obj.items():
        assert isinstance(value, fields[key]) and not (
            fields[key] is int and isinstance(value, bool)
        ), f"{where}.{key}: {type(value).__name__}, not {fields[key].__name__}"


def test_keda_objects_have_only_known_fields_of_the_right_types(base):
    auths = by_kind(base, "TriggerAuthentication")
    scaled = by_kind(base, "ScaledObject")
    assert scaled and auths
    for obj in [*auths.values(), *scaled.values()]:
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
        assert obj["metadata"]["namespace"] == "facet"
    for name, auth in auths.items():
        assert set(auth["spec"]) == {"secretTargetRef"}, name
        for ref in auth["spec"]["secretTargetRef"]:
            assert set(ref) == {"parameter", "name", "key"}, name
            assert ref["parameter"] in POSTGRESQL_AUTH_PARAMETERS
    for name, obj in scaled.items():
        spec = obj["spec"]
        _check_types(spec, SCALED_OBJECT_SPEC, name)
        assert set(spec["scaleTargetRef"]) <= {
            "name",
            "kind",
            "apiVersion",
            "envSourceContainerName",
        }
        behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
        assert set(behavior.get("behavior", {})) <= HPA_BEHAVIOR_KEYS
        for trigger in spec["triggers"]:
            _check_types(trigger, TRIGGER, f"{name}.triggers")
            assert trigger["type"] == "postgresql"
            metadata = trigger["metadata"]
            assert set(metadata) <= POSTGRESQL_METADATA, set(metadata) - POSTGRESQL_METADATA
            # KEDA's metadata is map[string]string: a YAML number there is refused.
            assert all(isinstance(v, str) for v in metadata.values()), metadata
            assert {"query", "targetQueryValue"} <= set(metadata)
            assert float(metadata["targetQueryValue"]) > 0
            assert trigger["authenticationRef"]["name"] in auths


def test_keda_scales_the_right_deployments_and_the_gpu_one_from_zero(base):
    deployments = by_kind(base, "Deployment")
    scaled = by_kind(base, "ScaledObject")
    targets = {obj["spec"]["scaleTargetRef"]["name"]: obj["spec"] for obj in scaled.values()}
    assert set(targets) == {"facet-worker", "facet-gpu-worker"}
    for target, spec in targets.items():
        assert target in deployments
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        if "idleReplicaCount" in spec:  # KEDA: idle must be below min
            assert spec["idleReplicaCount"] < spec["minReplicaCount"]
    assert targets["facet-worker"]["minReplicaCount"] >= 1
    gpu = targets["facet-gpu-worker"]
    assert gpu["minReplicaCount"] == 0
    assert gpu["triggers"][0]["metadata"]["activationTargetQueryValue"] == "0"
    # Web is the HPA's, not KEDA's: one autoscaler per Deployment.
    hpa_targets = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(base, "HorizontalPodAutoscaler").values()
    }
    assert hpa_targets == {"facet-web"} and not hpa_targets & set(targets)


def _cluster_of(deployment: dict) -> str:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    # Unset: the default cluster's name (config/settings/queue.py, Q_CLUSTER_NAME).
    return env.get("Q_CLUSTER_NAME", "facet")


def test_keda_queries_count_each_clusters_queue_in_django_q2s_table(base, db):
    """Run each ScaledObject's query against the real ORM broker table."""
    from django_q.tasks import async_task

    assert settings.Q_CLUSTER["name"] == "facet"  # what the CPU worker query names
    deployments = by_kind(base, "Deployment")
    queries = {}
    for obj in by_kind(base, "ScaledObject").values():
        deployment = deployments[obj["spec"]["scaleTargetRef"]["name"]]
        query = obj["spec"]["triggers"][0]["metadata"]["query"]
        assert re.search(rf"key = '{_cluster_of(deployment)}'", query), query
        queries[_cluster_of(deployment)] = query

    def depth(cluster: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(queries[cluster])
            return cursor.fetchone()[0]

    before = {cluster: depth(cluster) for cluster in queries}
    for _ in range(3):
        async_task("math.floor", 1.5)
    for _ in range(2):
        async_task("math.floor", 2.5, cluster="gpu")
    assert depth("facet") == before["facet"] + 3
    assert depth("gpu") == before["gpu"] + 2
    # A leased (in-flight) task still counts: its worker must not be scaled away.
    from django_q.brokers import get_broker

    leased = get_broker("gpu").dequeue()
    assert leased
    assert depth("gpu") == before["gpu"] + 2


def test_keda_reads_the_one_table_with_its_own_credentials(base):
    example = by_kind(documents(BASE / "secret.example.yaml"), "Secret")["facet-keda"]
    assert set(example["stringData"]) == {"connection"}
    (auth,) = by_kind(base, "TriggerAuthentication").values()
    (ref,) = auth["spec"]["secretTargetRef"]
    assert (ref["name"], ref["key"]) == ("facet-keda", "connection")

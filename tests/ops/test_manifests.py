"""Offline checks of the deployment manifests, the image recipe and the dashboard.

kubernetes-validate checks each object against the API schemas (strict: unknown
fields fail); the tests below add what schemas cannot see: references between
objects, the settings every role needs, and the limits of ``podman kube play``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "ops" / "k8s"
OVERLAYS = ("k3s", "podman")
K8S_VERSIONS = ("1.30", "1.33")
PODMAN_RENDER = ROOT / "ops" / "podman" / "proveo-local.yaml"
PODMAN_SECRETS_EXAMPLE = ROOT / "ops" / "podman" / "local-secrets.example.yaml"

# Custom resources whose schemas kubernetes-validate does not ship.
CRD_ALLOW_LIST = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("traefik.io/v1alpha1", "Middleware"),
    ("traefik.io/v1alpha1", "IngressRoute"),
}
PODMAN_KINDS = {"Pod", "Deployment", "ConfigMap", "PersistentVolumeClaim"}
APP_ROLES = ("web", "worker", "scheduler", "migrate")
LONG_RUNNING_ROLES = ("web", "worker", "scheduler")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"}
KEY_REFS = (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef"))

REQUIRED_SETTINGS = (
    "PROVEO_DATABASE_URL",
    "PROVEO_REDIS_URL",
    "PROVEO_SECRET_KEY",
    "PROVEO_PUBLIC_URL",
    "PROVEO_STORAGE",
    "PROVEO_S3_ENDPOINT",
    "PROVEO_S3_ACCESS_KEY",
    "PROVEO_S3_SECRET_KEY",
    "PROVEO_S3_BUCKET",
    "PROVEO_S3_SECURE",
    "PROVEO_MAIL",
    "PROVEO_SMTP_HOST",
)
SECRET_SETTINGS = {
    "PROVEO_SECRET_KEY",
    "PROVEO_DATABASE_URL",
    "PROVEO_DATABASE_REPLICA_URL",
    "PROVEO_S3_ACCESS_KEY",
    "PROVEO_S3_SECRET_KEY",
    "PROVEO_SMTP_PASSWORD",
}
KNOWN_SETTINGS = SECRET_SETTINGS | {
    "PROVEO_ROLE",
    "PROVEO_REDIS_URL",
    "PROVEO_PUBLIC_URL",
    "PROVEO_ALLOWED_ORIGINS",
    "PROVEO_TRUSTED_PROXIES",
    "PROVEO_COOKIE_SECURE",
    "PROVEO_STORAGE",
    "PROVEO_STORAGE_DIR",
    "PROVEO_S3_ENDPOINT",
    "PROVEO_S3_BUCKET",
    "PROVEO_S3_SECURE",
    "PROVEO_MAIL",
    "PROVEO_SMTP_HOST",
    "PROVEO_SMTP_PORT",
    "PROVEO_SMTP_USER",
    "PROVEO_SMTP_STARTTLS",
    "PROVEO_MAIL_FROM",
    "PROVEO_TRANSLATOR",
    "PROVEO_NSFW_THRESHOLD",
    "PROVEO_WEB_WORKERS",
    "PROVEO_WEB_THREADS",
    "PROVEO_WORKER_PROCESSES",
    "PROVEO_WORKER_THREADS",
    "PROVEO_ONNX_THREADS",
    "PROVEO_LOG_LEVEL",
    "PROVEO_DEBUG",
    "PROMETHEUS_MULTIPROC_DIR",
}

Doc = dict[str, Any]


def _load_renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "proveo_ops_render", ROOT / "ops" / "render.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _load_renderer()


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    return {name: render.render(K8S / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="module")
def podman_secrets() -> Doc:
    return yaml.safe_load(PODMAN_SECRETS_EXAMPLE.read_text(encoding="utf-8"))


# --- helpers -------------------------------------------------------------------------


def _pod_templates(docs: list[Doc]) -> Iterator[tuple[Doc, dict[str, str], Doc]]:
    """(owner, pod labels, pod spec) for every workload in ``docs``."""
    for doc in docs:
        if doc["kind"] == "Pod":
            yield doc, doc["metadata"].get("labels", {}), doc["spec"]
        elif doc["kind"] in WORKLOAD_KINDS:
            template = doc["spec"]["template"]
            yield doc, template["metadata"].get("labels", {}), template["spec"]


def _containers(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for owner, _, spec in _pod_templates(docs):
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield owner, container


def _role(container: Doc) -> str | None:
    for env in container.get("env", []):
        if env["name"] == "PROVEO_ROLE":
            return str(env["value"])
    return None


def _app_containers(docs: list[Doc]) -> dict[str, list[tuple[Doc, Doc]]]:
    found: dict[str, list[tuple[Doc, Doc]]] = {role: [] for role in APP_ROLES}
    for owner, container in _containers(docs):
        role = _role(container)
        if role is not None:
            found[role].append((owner, container))
    return found


def _find(docs: list[Doc], kind: str, name: str) -> Doc | None:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    return None


def _data(doc: Doc) -> dict[str, str]:
    return {**doc.get("data", {}), **doc.get("stringData", {})}


def _config_sources(overlay: str, docs: list[Doc], podman_secrets: Doc) -> list[Doc]:
    """ConfigMaps and Secrets a container of ``overlay`` can refer to."""
    sources = [d for d in docs if d["kind"] in {"ConfigMap", "Secret"}]
    if overlay == "podman":
        sources.append(podman_secrets)
    return sources


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Evaluate a Kubernetes label selector (matchLabels + matchExpressions)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and present and value in expr["values"]:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _label(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


# --- schema validation -----------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_passes_strict_schema_validation(
    rendered: dict[str, list[Doc]], overlay: str, version: str
) -> None:
    problems = []
    for doc in rendered[overlay]:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if (doc["apiVersion"], doc["kind"]) not in CRD_ALLOW_LIST:
                problems.append(f"{_label(doc)}: no schema for {doc['apiVersion']}")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            problems.append(f"{_label(doc)}: {path}: {exc.message}")
    assert problems == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_are_allow_listed_and_named(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    for doc in rendered[overlay]:
        group = doc["apiVersion"].rpartition("/")[0]
        if "." in group and not group.endswith(".k8s.io"):
            assert (doc["apiVersion"], doc["kind"]) in CRD_ALLOW_LIST, _label(doc)
            assert doc["metadata"]["name"] and doc["spec"], _label(doc)


# --- references between objects --------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workload_selectors_match_their_pod_template(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    for owner, labels, _ in _pod_templates(rendered[overlay]):
        selector = owner["spec"].get("selector")
        if owner["kind"] == "Pod" or (owner["kind"] == "Job" and selector is None):
            continue
        assert selector["matchLabels"], _label(owner)
        assert _selects(selector, labels), _label(owner)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_and_budget_selectors_match_a_pod_template(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    templates = list(_pod_templates(docs))
    for doc in docs:
        if doc["kind"] == "Service":
            selector = {"matchLabels": doc["spec"]["selector"]}
        elif doc["kind"] == "PodDisruptionBudget":
            selector = doc["spec"]["selector"]
        else:
            continue
        chosen = [spec for _, labels, spec in templates if _selects(selector, labels)]
        assert chosen, f"{_label(doc)} selects no pod"
        if doc["kind"] == "Service":
            port_names = {
                p.get("name")
                for spec in chosen
                for c in spec["containers"]
                for p in c.get("ports", [])
            }
            for port in doc["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                if isinstance(target, str):
                    assert target in port_names, f"{_label(doc)}: no port {target}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers_target_existing_workloads(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    for hpa in (d for d in docs if d["kind"] == "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        target = _find(docs, ref["kind"], ref["name"])
        assert target is not None, f"{_label(hpa)} targets a missing {ref}"
        assert target["apiVersion"] == ref["apiVersion"], _label(hpa)
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_volume_and_claim_references_resolve(
    rendered: dict[str, list[Doc]], overlay: str, podman_secrets: Doc
) -> None:
    docs = rendered[overlay]
    sources = {
        (d["kind"], d["metadata"]["name"]): _data(d)
        for d in _config_sources(overlay, docs, podman_secrets)
    }
    claims = {
        d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"
    }
    for owner, _, spec in _pod_templates(docs):
        where = _label(owner)
        volumes = spec.get("volumes", [])
        for volume in volumes:
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, where
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in sources, where
            if "secret" in volume:
                assert ("Secret", volume["secret"]["secretName"]) in sources, where
        mountable = {v["name"] for v in volumes} | {
            t["metadata"]["name"] for t in owner["spec"].get("volumeClaimTemplates", [])
        }
        for container in spec["containers"]:
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in mountable, f"{where}: {mount['name']}"
            for ref in container.get("envFrom", []):
                if "configMapRef" in ref:
                    assert ("ConfigMap", ref["configMapRef"]["name"]) in sources, where
                if "secretRef" in ref:
                    assert ("Secret", ref["secretRef"]["name"]) in sources, where
            for env in container.get("env", []):
                source = env.get("valueFrom", {})
                for kind, field in KEY_REFS:
                    if field in source:
                        ref = source[field]
                        data = sources.get((kind, ref["name"]), {})
                        assert ref["key"] in data, f"{where}: {ref}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_http_probes_use_declared_ports(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    for owner, container in _containers(rendered[overlay]):
        names = {p.get("name") for p in container.get("ports", [])}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            port = container.get(probe, {}).get("httpGet", {}).get("port")
            if isinstance(port, str):
                assert port in names, f"{_label(owner)}/{container['name']} {probe}"


# --- resources, probes, shutdown -----------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    for owner, container in _containers(rendered[overlay]):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), (
                f"{_label(owner)}/{container['name']} lacks {bound}"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_long_running_containers_have_liveness_and_readiness(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    for owner, container in _containers(docs):
        long_running = owner["kind"] in {"Deployment", "StatefulSet"} or (
            _role(container) in LONG_RUNNING_ROLES
        )
        if long_running:
            name = f"{_label(owner)}/{container['name']}"
            assert "livenessProbe" in container, name
            assert "readinessProbe" in container, name
    roles = _app_containers(docs)
    assert all(roles[role] for role in LONG_RUNNING_ROLES)


def test_shutdown_grace_periods_cover_the_application(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["k3s"]
    web = _find(docs, "Deployment", "proveo-web")
    worker = _find(docs, "Deployment", "proveo-worker")
    assert web is not None and worker is not None
    web_spec = web["spec"]["template"]["spec"]
    # preStop 5 s + gunicorn's 25 s graceful timeout must fit.
    assert web_spec["terminationGracePeriodSeconds"] >= 5 + 25 + 5
    pre_stop = web_spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop == ["python", "-c", "import time; time.sleep(5)"]
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60


def test_app_pods_run_as_non_root_on_a_read_only_root(
    rendered: dict[str, list[Doc]],
) -> None:
    for overlay in OVERLAYS:
        for role, found in _app_containers(rendered[overlay]).items():
            for owner, container in found:
                _, _, spec = next(t for t in _pod_templates([owner]))
                merged = {
                    **spec.get("securityContext", {}),
                    **container["securityContext"],
                }
                assert merged["runAsNonRoot"] is True, (overlay, role)
                assert merged["readOnlyRootFilesystem"] is True, (overlay, role)
                assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


# --- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", APP_ROLES)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_role_gets_every_required_setting(
    rendered: dict[str, list[Doc]], podman_secrets: Doc, overlay: str, role: str
) -> None:
    docs = rendered[overlay]
    sources = {
        (d["kind"], d["metadata"]["name"]): _data(d)
        for d in _config_sources(overlay, docs, podman_secrets)
    }
    found = _app_containers(docs)[role]
    assert found, f"no {role} container in {overlay}"
    for owner, container in found:
        names = {env["name"] for env in container.get("env", [])}
        for ref in container.get("envFrom", []):
            if "configMapRef" in ref:
                names |= set(sources[("ConfigMap", ref["configMapRef"]["name"])])
            if "secretRef" in ref:
                names |= set(sources[("Secret", ref["secretRef"]["name"])])
        missing = [s for s in REQUIRED_SETTINGS if s not in names]
        assert missing == [], f"{overlay} {_label(owner)} misses {missing}"


def test_secrets_live_only_in_the_secret_template(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["k3s"]
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            leaked = SECRET_SETTINGS & set(_data(doc))
            assert leaked == set(), f"{_label(doc)} holds secrets {leaked}"
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert {d["metadata"]["name"] for d in secrets} == {
        "proveo-secrets",
        "proveo-db-app",
    }
    for secret in secrets:
        # A template: placeholders only, never a real value.
        assert "data" not in secret, _label(secret)
        for key, value in secret["stringData"].items():
            if key != "username":
                assert "change-me" in value, f"{_label(secret)}: {key}"
    assert set(_data(_find(docs, "Secret", "proveo-secrets") or {})) >= SECRET_SETTINGS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_setting_names_are_known(
    rendered: dict[str, list[Doc]], podman_secrets: Doc, overlay: str
) -> None:
    names: set[str] = set()
    for doc in _config_sources(overlay, rendered[overlay], podman_secrets):
        if doc["metadata"]["name"] in {"proveo-config", "proveo-secrets"}:
            names |= set(_data(doc))
    names.discard("POSTGRES_PASSWORD")  # podman only: initialises the local database
    assert names - KNOWN_SETTINGS == set()


def test_podman_secrets_example_is_a_configmap_with_every_secret(
    podman_secrets: Doc,
) -> None:
    assert podman_secrets["kind"] == "ConfigMap"
    assert podman_secrets["metadata"]["name"] == "proveo-secrets"
    data = podman_secrets["data"]
    assert set(data) >= SECRET_SETTINGS
    assert len(data["PROVEO_SECRET_KEY"]) >= 32
    password = data["POSTGRES_PASSWORD"]
    assert f":{password}@" in data["PROVEO_DATABASE_URL"]
    assert data["PROVEO_DATABASE_REPLICA_URL"] == data["PROVEO_DATABASE_URL"]
    ignore = (
        (ROOT / "ops" / "podman" / ".gitignore").read_text(encoding="utf-8").split()
    )
    assert "local-secrets.yaml" in ignore


# --- roles and image ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overlay", "image", "policy"),
    [
        ("k3s", "registry.example/proveo:0.1.0", "IfNotPresent"),
        ("podman", "localhost/proveo:dev", "Never"),
    ],
)
def test_one_image_for_every_role(
    rendered: dict[str, list[Doc]], overlay: str, image: str, policy: str
) -> None:
    found = _app_containers(rendered[overlay])
    containers = [c for role in APP_ROLES for _, c in found[role]]
    assert {c["image"] for c in containers} == {image}
    assert {c["imagePullPolicy"] for c in containers} == {policy}


def test_scheduler_runs_exactly_once(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["k3s"]
    scheduler = _find(docs, "Deployment", "proveo-scheduler")
    assert scheduler is not None
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
    hpa_targets = {
        d["spec"]["scaleTargetRef"]["name"]
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert "proveo-scheduler" not in hpa_targets
    for overlay in OVERLAYS:
        found = _app_containers(rendered[overlay])["scheduler"]
        assert len(found) == 1
        owner = found[0][0]
        assert owner["kind"] == "Pod" or owner["spec"]["replicas"] == 1


def test_migrate_job_retries_and_cleans_up(rendered: dict[str, list[Doc]]) -> None:
    job = _find(rendered["k3s"], "Job", "proveo-migrate")
    assert job is not None
    assert job["spec"]["backoffLimit"] == 3
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_database_urls_point_at_the_cluster_services(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["k3s"]
    clusters = [d for d in docs if d["kind"] == "Cluster"]
    assert len(clusters) == 1
    cluster = clusters[0]
    name = cluster["metadata"]["name"]
    assert cluster["spec"]["instances"] == 2
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    sql = " ".join(initdb["postInitApplicationSQL"])
    assert "unaccent" in sql and "pg_trgm" in sql
    owner_secret = _find(docs, "Secret", initdb["secret"]["name"])
    assert owner_secret is not None
    assert _data(owner_secret)["username"] == initdb["owner"]
    secrets = _data(_find(docs, "Secret", "proveo-secrets") or {})
    assert f"@{name}-rw:5432/{initdb['database']}" in secrets["PROVEO_DATABASE_URL"]
    assert (
        f"@{name}-ro:5432/{initdb['database']}"
        in secrets["PROVEO_DATABASE_REPLICA_URL"]
    )


# --- network policies ----------------------------------------------------------------------


def test_network_policies_guard_the_data_services(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["k3s"]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert any(
        p["spec"]["podSelector"] == {}
        and p["spec"]["policyTypes"] == ["Ingress"]
        and not p["spec"].get("ingress")
        for p in policies
    ), "no default deny"
    templates = {
        (labels.get("app.kubernetes.io/component")): labels
        for _, labels, _ in _pod_templates(docs)
    }
    data_pods = {
        "database": {"cnpg.io/cluster": "proveo-db"},
        "redis": templates["redis"],
        "minio": templates["minio"],
    }
    for service, labels in data_pods.items():
        guarding = [
            p
            for p in policies
            if p["spec"]["podSelector"] and _selects(p["spec"]["podSelector"], labels)
        ]
        assert guarding, f"no NetworkPolicy for {service}"
        peers = [
            peer
            for p in guarding
            for rule in p["spec"]["ingress"]
            for peer in rule["from"]
        ]
        assert all(peer and "ipBlock" not in peer for peer in peers), service
        same_namespace = [
            p["podSelector"] for p in peers if "namespaceSelector" not in p
        ]
        for role in APP_ROLES:
            assert any(_selects(s, templates[role]) for s in same_namespace), (
                service,
                role,
            )
        assert not any(
            _selects(s, {"app.kubernetes.io/component": "web"}) for s in same_namespace
        )


def test_metrics_ports_are_open_only_to_monitoring(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["k3s"]
    policy = _find(docs, "NetworkPolicy", "proveo-worker-metrics")
    assert policy is not None
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9191}]
    assert rule["from"] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
            }
        }
    ]


def test_public_routes_guard_images_and_metrics(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["k3s"]
    ingress = _find(docs, "Ingress", "proveo-web")
    assert (
        ingress is not None and ingress["spec"]["rules"][0]["host"] == "proveo.example"
    )
    route = _find(docs, "IngressRoute", "proveo-guards")
    assert route is not None
    matches = {r["match"]: r for r in route["spec"]["routes"]}
    images = next(m for m in matches if "/images/" in m)
    assert "!Method(`GET`)" in images and "!Method(`HEAD`)" in images
    assert any("/metrics" in m for m in matches)
    for r in route["spec"]["routes"]:
        assert r["middlewares"] == [{"name": "proveo-deny"}]
        assert r["priority"] > 100
    assert _find(docs, "Middleware", "proveo-deny") is not None


# --- podman ------------------------------------------------------------------------------


def test_podman_render_uses_only_kinds_kube_play_supports(
    rendered: dict[str, list[Doc]],
) -> None:
    kinds = {d["kind"] for d in rendered["podman"]}
    assert kinds <= PODMAN_KINDS, kinds - PODMAN_KINDS
    for doc in rendered["podman"]:
        if doc["kind"] == "Deployment":
            assert doc["spec"]["replicas"] == 1
        for volume in next((t[2] for t in _pod_templates([doc])), {}).get(
            "volumes", []
        ):
            assert set(volume) - {"name"} <= {
                "emptyDir",
                "persistentVolumeClaim",
                "configMap",
                "hostPath",
            }
        for _, container in _containers([doc]):
            for env in container.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {})
            assert all("secretRef" not in ref for ref in container.get("envFrom", []))


def test_podman_probes_survive_being_joined_into_one_shell_line(
    rendered: dict[str, list[Doc]],
) -> None:
    # podman 4.3 runs an exec probe as `/bin/sh -c "<args joined by spaces>"` and an
    # httpGet probe with curl, which the image lacks.
    for _, container in _containers(rendered["podman"]):
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            spec = container.get(probe)
            if spec is None:
                continue
            assert "httpGet" not in spec, container["name"]
            command = spec["exec"]["command"]
            assert len(command) == 1 or not any(" " in arg for arg in command), (
                container["name"],
                probe,
            )


def test_podman_publishes_only_web_on_loopback(rendered: dict[str, list[Doc]]) -> None:
    published = [
        (container["name"], port)
        for _, container in _containers(rendered["podman"])
        for port in container.get("ports", [])
        if "hostPort" in port
    ]
    assert published == [
        (
            "web",
            {
                "name": "http",
                "containerPort": 8000,
                "hostPort": 8000,
                "hostIP": "127.0.0.1",
            },
        )
    ]
    config = _find(rendered["podman"], "ConfigMap", "proveo-config")
    assert config is not None
    local = re.compile(r"(127\.0\.0\.1|localhost)")
    for key in ("PROVEO_REDIS_URL", "PROVEO_S3_ENDPOINT", "PROVEO_PUBLIC_URL"):
        assert local.search(config["data"][key]), key


def test_committed_podman_render_is_current(rendered: dict[str, list[Doc]]) -> None:
    expected = render.dump(rendered["podman"], source="ops/k8s/overlays/podman")
    assert PODMAN_RENDER.read_text(encoding="utf-8") == expected, (
        "regenerate: python ops/render.py ops/k8s/overlays/podman > ops/podman/proveo-local.yaml"
    )


# --- renderer -------------------------------------------------------------------------------


def test_renderer_applies_json6902_merge_patches_images_and_namespace(
    tmp_path: Path,
) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text(
        "resources: [app.yaml]\nnamespace: demo\n", encoding="utf-8"
    )
    (tmp_path / "base" / "app.yaml").write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "a", "labels": {"x": "1"}},
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "c",
                                        "image": "app",
                                        "env": [{"name": "A", "value": "1"}],
                                    }
                                ]
                            }
                        }
                    },
                },
            ]
        ),
        encoding="utf-8",
    )
    (tmp_path / "over").mkdir()
    (tmp_path / "over" / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["../base"],
                "images": [
                    {"name": "app", "newName": "reg.example/app", "newTag": "2"}
                ],
                "patches": [
                    {
                        "patch": yaml.safe_dump(
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "metadata": {
                                    "name": "a",
                                    "labels": {"x": None, "y": "2"},
                                },
                                "spec": {
                                    "template": {
                                        "spec": {
                                            "containers": [
                                                {
                                                    "name": "c",
                                                    "env": [
                                                        {"name": "B", "value": "2"}
                                                    ],
                                                }
                                            ]
                                        }
                                    }
                                },
                            }
                        )
                    },
                    {
                        "target": {"kind": "Deployment", "name": "a"},
                        "patch": "- {op: add, path: /spec/replicas, value: 3}\n"
                        "- {op: replace, path: /spec/template/spec/containers/0/env/0/value, value: z}\n",
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    namespace, deployment = render.render(tmp_path / "over")
    assert namespace == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "demo"},
    }
    assert deployment["metadata"] == {
        "name": "a",
        "labels": {"y": "2"},
        "namespace": "demo",
    }
    assert deployment["spec"]["replicas"] == 3
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "reg.example/app:2"
    assert container["env"] == [
        {"name": "A", "value": "z"},
        {"name": "B", "value": "2"},
    ]


def test_renderer_rejects_what_it_does_not_support(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\ncommonLabels: {a: b}\n", encoding="utf-8"
    )
    with pytest.raises(render.RenderError, match="commonLabels"):
        render.render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\npatches:\n- target: {kind: Deployment, name: nope}\n  patch: '[]'\n",
        encoding="utf-8",
    )
    with pytest.raises(render.RenderError, match="matches nothing"):
        render.render(tmp_path)


# --- image recipe and dashboard --------------------------------------------------------------


def test_containerfile_follows_the_image_contract() -> None:
    text = (ROOT / "Containerfile").read_text(encoding="utf-8")
    assert re.search(
        r"^ARG BASE=docker\.io/library/python:3\.11-slim-bookworm$", text, re.M
    )
    assert "pip wheel" in text and "--wheel-dir /wheels" in text
    assert "--no-index" in text
    assert re.search(r'^ENTRYPOINT \["proveo"\]$', text, re.M)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^EXPOSE 8000 9191$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*urllib.*?/api/v1/health", text, re.M | re.S)
    for label in ("title", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{label}=" in text
    for env in (
        "PROVEO_ROLE=web",
        "PYTHONUNBUFFERED=1",
        "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus",
    ):
        assert env in text
    runtime = text.split("AS runtime", 1)[1]
    assert not re.search(r"\b(gcc|build-essential|curl|wget)\b", runtime)


def test_grafana_dashboard_is_importable() -> None:
    dashboard = json.loads(
        (ROOT / "ops" / "grafana" / "proveo-dashboard.json").read_text("utf-8")
    )
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert dashboard["uid"] and dashboard["title"] and panels
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        exprs = [t["expr"] for t in panel["targets"]]
        assert exprs and all(exprs), panel["title"]

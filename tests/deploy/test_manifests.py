"""deploy/ checked offline: YAML syntax, the dashboard's shape, Kubernetes schemas
(kubernetes-validate), the compose spec (check-jsonschema's vendored schema), hadolint, and
that the pieces agree with each other and with the worker (ports, paths, metrics, config)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from listener.settings import load_settings
from tests.deploy.dashboard import (
    DASHBOARD,
    DEPLOY,
    PROMETHEUS_CONFIG,
    PROMETHEUS_METRICS,
    RULES,
    TEMPLATE_VARIABLES,
    defined_metrics,
    load_dashboard,
    metrics_in,
    panel_queries,
    panels,
    variables,
)

K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
ROOT = DEPLOY.parent
CONTAINER_CONFIG = DEPLOY / "config" / "listener.toml"
PORT = 9464
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())
"""The oldest Kubernetes the manifests promise to fit, and the newest schema the tool ships."""

DASHBOARD_METRICS = frozenset(
    {
        "listener_media_ingested_total",
        "listener_sentiment_total",
        "listener_contest_entries_total",
        "listener_comments_ingested_total",
        "listener_comment_sentiment_total",
        "listener_comment_contest_entries",
        "listener_graph_requests_total",
        "listener_graph_request_duration_seconds",
        "listener_rate_limit_usage_ratio",
        "listener_throttled",
        "listener_hashtag_quota_remaining",
        "listener_token_expiry_timestamp_seconds",
        "listener_webhook_events_total",
        "listener_inbox_depth",
        "listener_inbox_oldest_pending_age_seconds",
        "listener_last_poll_success_timestamp_seconds",
        "listener_feed_possibly_missed_total",
        "listener_hashtag_media_author_known_ratio",
        "listener_store_up",
    }
)
"""The contract's metrics and the operational ones an operator must see on the dashboard."""

YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
K8S_MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def tool(name: str) -> str:
    """A command-line tool installed by the dev extra (in the virtual environment's bin)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is missing: install the dev extra (make install)"
    return found


def load_yaml(path: Path) -> Any:
    """The single YAML document of ``path``."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def k8s(kind: str) -> dict[str, Any]:
    """The one manifest of ``kind`` in deploy/k8s."""
    (manifest,) = (m for m in map(load_yaml, K8S_MANIFESTS) if m["kind"] == kind)
    return dict(manifest)


def listener_container() -> dict[str, Any]:
    """The worker's container in the Deployment."""
    (container,) = k8s("Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def secret_files(config_text: str) -> list[str]:
    """The ``*_file`` paths a listener TOML config reads."""
    return re.findall(r'^\s*\w+_file\s*=\s*"([^"]+)"', config_text, flags=re.MULTILINE)


def compose() -> dict[str, Any]:
    """deploy/compose.yaml."""
    return dict(load_yaml(COMPOSE))


# --- YAML and JSON syntax -------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_file_parses(path: Path) -> None:
    """Every YAML file under deploy/ is well-formed and not empty."""
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert documents
    assert all(isinstance(d, dict) for d in documents)


# --- Grafana ----------------------------------------------------------------------------------


def test_dashboard_has_its_template_variables() -> None:
    """The dashboard picks a Prometheus data source and filters by account and hashtag."""
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] == "listener"
    template = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert set(template) == {"datasource", "account", "hashtag"}
    assert template["datasource"]["type"] == "datasource"
    assert template["datasource"]["query"] == "prometheus"
    for name in ("account", "hashtag"):
        variable = template[name]
        assert variable["type"] == "query"
        assert variable["definition"].startswith("label_values(")
        assert variable["definition"].endswith(f", {name})")
        assert variable["query"]["query"] == variable["definition"]
        assert variable["includeAll"]
        assert variable["multi"]
        assert variable["allValue"] == ".*"
        assert variable["datasource"]["uid"] == "${datasource}"


def test_dashboard_panels_are_laid_out_and_use_the_datasource_variable() -> None:
    """Panel ids are unique, every panel has a place, and every query uses ${datasource}."""
    every = list(panels(load_dashboard()))
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids))
    for panel in every:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel.get("description"), f"{panel['title']} says what it shows"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("query", panel_queries(), ids=lambda q: q.name)
def test_panel_query_names_defined_metrics_and_variables(query: Any) -> None:
    """A panel query selects only metrics the worker defines and only known variables."""
    assert metrics_in(query.expr), "selects no metric"
    assert metrics_in(query.expr) <= defined_metrics() | PROMETHEUS_METRICS
    assert variables(query.expr) <= TEMPLATE_VARIABLES


def test_dashboard_shows_every_operational_metric() -> None:
    """Every contract metric and every operational one has a panel."""
    shown = set().union(*(metrics_in(q.expr) for q in panel_queries()))
    assert DASHBOARD_METRICS - shown == set()


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    """The dashboard provider reads where compose mounts the JSON; the data source is Prometheus."""
    provisioning = DEPLOY / "grafana" / "provisioning"
    (provider,) = load_yaml(provisioning / "dashboards" / "listener.yaml")["providers"]
    (source,) = load_yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert (DEPLOY / "grafana" / "dashboards" / DASHBOARD.name).exists()


# --- Prometheus rules (promtool runs in test_prometheus.py) -----------------------------------


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of deploy/prometheus/rules/listener.rules.yml."""
    groups = load_yaml(RULES)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_is_documented_and_names_defined_metrics(rule: dict[str, Any]) -> None:
    """An alert has a severity, a summary, a description and a runbook hint, on real metrics."""
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert {"summary", "description", "runbook"} <= set(rule["annotations"])
    assert metrics_in(rule["expr"])
    assert metrics_in(rule["expr"]) <= defined_metrics() | PROMETHEUS_METRICS


def test_prometheus_scrapes_the_listener_service_with_the_rules() -> None:
    """The `listener` job scrapes the compose service on the worker's port and loads the rules."""
    config = load_yaml(PROMETHEUS_CONFIG)
    (job,) = (j for j in config["scrape_configs"] if j["job_name"] == "listener")
    assert job["static_configs"] == [{"targets": [f"listener:{PORT}"]}]
    assert [PROMETHEUS_CONFIG.parent / f for f in config["rule_files"]] == [RULES]
    assert "listener" in compose()["services"]


# --- Kubernetes -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", K8S_MANIFESTS, ids=lambda p: p.name)
def test_kubernetes_manifest_matches_the_api_schema(path: Path, version: str) -> None:
    """A manifest validates strictly (no unknown fields) against Kubernetes' OpenAPI schema."""
    for manifest in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        kubernetes_validate.validate(manifest, version, strict=True)


def test_kustomization_applies_the_manifests_but_not_the_secret_example() -> None:
    """`kubectl apply -k` gets every manifest except the examples (Secret, NetworkPolicy)."""
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S_MANIFESTS if not p.name.endswith(".example.yaml")}
    (image,) = kustomization["images"]
    assert listener_container()["image"].split(":")[0] == image["name"]


def test_deployment_probes_resources_and_shutdown() -> None:
    """Liveness asks /healthz, readiness /readyz; resources are bounded; shutdown has time."""
    deployment = k8s("Deployment")
    pod = deployment["spec"]["template"]
    container = listener_container()
    assert deployment["spec"]["replicas"] >= 2  # leases share the feeds; webhooks stay up
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["metadata"]["labels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 15
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["ports"] == [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(PORT)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_deployment_runs_as_the_images_non_root_user() -> None:
    """The pod runs as uid 10001 (the image's USER), without privileges, read-only root."""
    pod = k8s("Deployment")["spec"]["template"]["spec"]
    container = listener_container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert "USER 10001:10001" in DOCKERFILE.read_text(encoding="utf-8").splitlines()


def test_deployment_mounts_the_config_and_secret_files_the_config_reads(tmp_path: Path) -> None:
    """The ConfigMap's TOML is a valid config, at the --config path, reading the Secret's files."""
    container = listener_container()
    volumes = {v["name"]: v for v in k8s("Deployment")["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    config_path = container["args"][container["args"].index("--config") + 1]
    assert mounts["config"]["mountPath"] == config_path
    assert volumes["config"]["configMap"]["name"] == k8s("ConfigMap")["metadata"]["name"]
    text = k8s("ConfigMap")["data"][mounts["config"]["subPath"]]

    secret_dir = mounts["secrets"]["mountPath"]
    items = {i["path"] for i in volumes["secrets"]["secret"]["items"]}
    files = secret_files(text)
    assert {f"{secret_dir}/{item}" for item in items} == set(files)
    example = k8s("Secret")
    assert volumes["secrets"]["secret"]["secretName"] == example["metadata"]["name"]
    env_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert items | env_keys == set(example["stringData"])

    assert_valid_config(text, secret_dir, tmp_path)


def test_network_policy_admits_only_the_ingress_and_prometheus_to_the_port() -> None:
    """The example NetworkPolicy selects the pods and opens only the http port, to named peers."""
    policy = k8s("NetworkPolicy")
    pod = k8s("Deployment")["spec"]["template"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    peers = rule["from"]
    assert len(peers) == 2
    assert all(set(p) == {"namespaceSelector"} and p["namespaceSelector"] for p in peers)


def test_service_selects_the_pods_on_the_named_port() -> None:
    """The Service's selector matches the pod labels and targets the http port."""
    service = k8s("Service")
    pod = k8s("Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == PORT
    assert port["targetPort"] == "http"


def assert_valid_config(text: str, secret_dir: str, tmp_path: Path) -> None:
    """``text`` loads as a listener config once its secret files exist."""
    fake_secrets = tmp_path / "secrets"
    fake_secrets.mkdir(exist_ok=True)
    for path in secret_files(text):
        (fake_secrets / Path(path).name).write_text("secret\n", encoding="utf-8")
    config = tmp_path / "listener.toml"
    config.write_text(text.replace(f"{secret_dir}/", f"{fake_secrets}/"), encoding="utf-8")
    settings = load_settings(config)
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == PORT
    assert not settings.store.embedded
    assert not settings.simulator.enabled


# --- the image and compose --------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing to fix in deploy/Dockerfile."""
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def dockerfile_lines() -> list[str]:
    """deploy/Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_installs_the_lock_without_extras() -> None:
    """The build stage installs uv by hash and syncs uv.lock without extras; the slim non-root
    runtime copies only that environment."""
    lines = dockerfile_lines()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2
    assert all(re.match(r"FROM python:3\.11\.\d+-slim-\w+ AS \w+$", s) for s in stages)
    assert len({s.split()[1] for s in stages}) == 1, "both stages on one base image"
    (bootstrap,) = (line for line in lines if "pip install" in line)
    assert "--require-hashes" in bootstrap
    assert "-r requirements/uv.txt" in bootstrap
    (sync,) = (line for line in lines if line.startswith("RUN uv sync"))
    assert "--locked" in sync
    assert "--no-editable" in sync
    assert "--extra" not in sync
    assert "--all-extras" not in sync, "no extras (embedded, dev) in the image"
    runtime = lines[lines.index(stages[1]) :]
    assert not any("pip install" in line or "uv " in line for line in runtime)
    assert "COPY --from=build /opt/listener /opt/listener" in runtime
    assert "EXPOSE 9464" in lines
    (healthcheck,) = (line for line in lines if line.startswith("HEALTHCHECK"))
    assert "urllib.request" in healthcheck
    assert "/healthz" in healthcheck
    assert 'ENTRYPOINT ["listener"]' in lines
    assert 'CMD ["run", "--config", "/etc/listener/listener.toml"]' in lines
    user = next(line for line in reversed(lines) if line.startswith("USER "))
    assert user.split()[1].split(":")[0] not in {"0", "root"}


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    """Every file the Dockerfile copies from the context passes its .dockerignore."""
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = [
        source
        for line in dockerfile_lines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert any(source == a or source.startswith(f"{a}/") for a in allowed), source


def test_base_images_are_pinned_to_exact_versions() -> None:
    """Every image deploy/ pulls names an exact version (x.y.z) or a digest, never a moving tag."""
    pulled = [line.split()[1] for line in dockerfile_lines() if line.startswith("FROM ")]
    pulled += [s["image"] for s in compose()["services"].values() if "build" not in s]
    assert len(pulled) == 5
    for image in pulled:
        assert re.search(r"@sha256:[0-9a-f]{64}$|:v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?$", image), image


def test_compose_file_matches_the_compose_spec() -> None:
    """deploy/compose.yaml validates against the Compose Specification's JSON schema."""
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_mounts_exist_and_secrets_feed_the_config(tmp_path: Path) -> None:
    """Bind mounts and the build exist; the config reads exactly the secrets compose provides."""
    spec = compose()
    services = spec["services"]
    assert set(services) == {"mongo", "listener", "prometheus", "grafana"}
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
    listener = services["listener"]
    build = DEPLOY / listener["build"]["context"]
    assert (build / listener["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert f"./config/{CONTAINER_CONFIG.name}:/etc/listener/listener.toml:ro" in listener["volumes"]
    text = CONTAINER_CONFIG.read_text(encoding="utf-8")
    read = {f"/run/secrets/{name}" for name in listener["secrets"] if name != "mongodb_uri"}
    assert read == set(secret_files(text))
    assert all((DEPLOY / s["file"]).parent.is_dir() for s in spec["secrets"].values())
    assert tomllib.loads(text)["store"]["mongodb_uri"] == "mongodb://mongo:27017"
    assert "LISTENER_STORE__MONGODB_URI" not in listener["environment"], "a secret, not plain"
    assert f"127.0.0.1:{PORT}:{PORT}" in listener["ports"]
    assert "/readyz" in " ".join(listener["healthcheck"]["test"])
    assert_valid_config(text, "/run/secrets", tmp_path)


# --- compose: what runs with which rights ---------------------------------------------------

SERVICE_GROUPS = {"listener": 10001, "mongo": 999, "grafana": 0}
"""The group each compose service's process runs as: the listener image's (USER 10001:10001),
the mongo image's ``mongodb`` (999), Grafana's (472:0)."""

OPERATIONS = ROOT / "docs" / "operations.md"
MONGO_INIT = DEPLOY / "mongo" / "initdb" / "listener-user.js"


def mounted_secret(service: dict[str, Any], path: str) -> str:
    """The name of the compose secret mounted at ``path`` in ``service``."""
    name = path.removeprefix("/run/secrets/")
    assert path.startswith("/run/secrets/"), path
    assert name in service["secrets"], path
    return name


def test_compose_listener_runs_read_only_without_privileges() -> None:
    """The listener's root file system is read-only, every capability dropped, no new privileges."""
    listener = compose()["services"]["listener"]
    assert listener["read_only"] is True
    assert listener["cap_drop"] == ["ALL"]
    assert listener["security_opt"] == ["no-new-privileges:true"]
    assert [t.split(":")[0] for t in listener["tmpfs"]] == ["/tmp"]


def test_compose_listener_takes_the_mongodb_uri_from_its_secret(tmp_path: Path) -> None:
    """The entrypoint puts the mongodb_uri secret in LISTENER_STORE__MONGODB_URI and runs
    `listener` with the command's arguments."""
    listener = compose()["services"]["listener"]
    shell, flag, script, name = listener["entrypoint"]
    assert (shell, flag, name) == ("/bin/sh", "-c", "listener")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / mounted_secret(listener, "/run/secrets/mongodb_uri")).write_text(
        "mongodb://listener:pw@mongo:27017/listener", encoding="utf-8"
    )
    fake = tmp_path / "bin" / "listener"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$LISTENER_STORE__MONGODB_URI $*"\n', encoding="utf-8")
    fake.chmod(0o755)
    # Compose turns $$ into $ before the container sees the script.
    script = script.replace("$$", "$").replace("/run/secrets/", f"{secrets}/")
    result = subprocess.run(
        ["/bin/sh", "-c", script, name, *listener["command"]],
        env={"PATH": f"{fake.parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    expected = "mongodb://listener:pw@mongo:27017/listener run --config /etc/listener/listener.toml"
    assert result.stdout.strip() == expected


def test_compose_mongodb_authenticates_users_made_from_secret_files() -> None:
    """MongoDB's root user comes from *_FILE secrets; the init script makes the worker's user,
    read-write on the worker's database only, with the password of a secret mongo mounts."""
    spec = compose()
    mongo = spec["services"]["mongo"]
    environment = mongo["environment"]
    assert not {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"} & set(environment)
    for variable in ("MONGO_INITDB_ROOT_USERNAME_FILE", "MONGO_INITDB_ROOT_PASSWORD_FILE"):
        mounted_secret(mongo, environment[variable])
    assert "./mongo/initdb:/docker-entrypoint-initdb.d:ro" in mongo["volumes"]
    assert MONGO_INIT.parent == DEPLOY / "mongo" / "initdb"
    script = MONGO_INIT.read_text(encoding="utf-8")
    (password_file,) = re.findall(r'"(/run/secrets/[\w.]+)"', script)
    mounted_secret(mongo, password_file)
    database = tomllib.loads(CONTAINER_CONFIG.read_text(encoding="utf-8"))["store"]["database"]
    assert f'getSiblingDB("{database}")' in script
    assert 'user: "listener"' in script
    assert f'roles: [{{ role: "readWrite", db: "{database}" }}]' in script
    assert "mongodb://listener:PASSWORD@mongo:27017/listener" in script


def test_compose_grafana_has_no_default_admin_password() -> None:
    """Grafana's admin password comes from a secret file; there is no default to fall back to."""
    grafana = compose()["services"]["grafana"]
    environment = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    mounted_secret(grafana, environment["GF_SECURITY_ADMIN_PASSWORD__FILE"])
    assert not any(":-" in str(value) for value in environment.values()), "no defaults"


def compose_setup_block() -> list[str]:
    """The shell lines of the operations page's "Docker Compose" set-up block."""
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text[text.index("### Docker Compose") : text.index("### Kubernetes")]
    return [line.strip() for line in section.splitlines() if line.startswith("    ")]


def test_operations_page_makes_each_secret_readable_by_its_containers_group_only() -> None:
    """The operations page writes every compose secret, gives it to the group of the one service
    that mounts it, and makes it 0440: readable by that group, never world-readable."""
    spec = compose()
    block = compose_setup_block()
    groups: dict[str, int] = {}
    for line in block:
        if match := re.match(r"sudo chown root:(\d+) ([\w ]+?)\s*(#|$)", line):
            groups.update(dict.fromkeys(match.group(2).split(), int(match.group(1))))
    assert set(groups) == set(spec["secrets"])
    for name, service in spec["services"].items():
        for secret in service.get("secrets", []):
            assert groups[secret] == SERVICE_GROUPS[name], f"{secret} in {name}"
    assert "sudo chmod 0440 *" in block
    assert "0444" not in OPERATIONS.read_text(encoding="utf-8")
    written = {m for line in block for m in re.findall(r"> (\w+)$", line)}
    assert written == set(spec["secrets"])

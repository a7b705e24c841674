# SPDX-License-Identifier: Apache-2.0
"""The OCI release path, end to end on loopback: `helm package`, a local htpasswd-protected
registry (Debian's docker-registry), `helm registry login`, `helm push`, then `helm pull`,
`helm show chart`, `helm template` and `helm install --dry-run=client` from the oci:// reference,
with helm 4 and helm 3. Everything (registry storage, helm's registry config and caches) lives
in tmp_path; no cluster is contacted (KUBECONFIG points at a file that does not exist)."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
import yaml

from tests.helm import CHART

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())
# helm 4 needs --plain-http even for localhost; helm 3 uses it for the same registry.
HELMS = ("helm", "helm3")


@dataclass(frozen=True)
class Registry:
    host: str
    user: str
    password: str
    log: Path

    def manifest(self, repository: str, tag: str) -> dict:
        """The OCI manifest of repository:tag, read straight from the registry API."""
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{tag}",
            headers={
                "Accept": "application/vnd.oci.image.manifest.v1+json",
                "Authorization": "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode(),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_registry(host: str, proc: subprocess.Popen, log: Path, timeout: float = 20.0) -> None:
    """Waits until /v2/ answers 401: listening, and refusing anonymous access."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {proc.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
        except urllib.error.HTTPError as e:
            if e.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not answer on {host} within {timeout}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if not REGISTRY_BINARY.exists():
        pytest.fail(f"{REGISTRY_BINARY} is missing; ci/bootstrap.sh installs Debian's docker-registry")
    root = tmp_path_factory.mktemp("registry")
    user, password = "ci", secrets.token_urlsafe(16)
    (root / "htpasswd").write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=6)).decode()}\n")
    host = f"127.0.0.1:{free_port()}"
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": host, "secret": secrets.token_hex(16)},
        "auth": {"htpasswd": {"realm": "redis-ha-test", "path": str(root / "htpasswd")}},
    }
    (root / "config.yml").write_text(yaml.safe_dump(config))
    log = root / "registry.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(REGISTRY_BINARY), "serve", str(root / "config.yml")], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_registry(host, proc, log)
        yield Registry(host, user, password, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Helm:
    """One helm binary with its own registry config, caches and an unreachable kubeconfig."""

    def __init__(self, binary: str, home: Path):
        self.binary = binary
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "HELM_REGISTRY_CONFIG": str(home / "registry.json"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "KUBECONFIG": str(home / "no-cluster.kubeconfig"),
        }

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True, env=self.env, check=False, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.binary} {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def login(self, registry: Registry) -> None:
        self("registry", "login", registry.host, "--username", registry.user, "--password-stdin", "--plain-http", stdin=registry.password)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_should_package_the_chart_without_ci_or_unittest_files(chart_package):
    """.helmignore: the release artifact holds templates and files/, never ci/ or tests/."""
    with tarfile.open(chart_package) as tar:
        names = tar.getnames()
    assert "redis-ha/Chart.yaml" in names
    assert "redis-ha/values.schema.json" in names
    assert any(n.startswith("redis-ha/files/scripts/") for n in names)
    assert not [n for n in names if n.startswith(("redis-ha/ci/", "redis-ha/tests/"))]


@pytest.mark.parametrize("helm_binary", HELMS)
def test_should_round_trip_the_chart_through_an_oci_registry(helm_binary, registry, chart_package, tmp_path):
    """helm push then pull/show/template/install from oci:// returns the very bytes pushed."""
    helm = Helm(helm_binary, tmp_path / "helm")
    version = CHART_YAML["version"]
    repository = f"{helm_binary}/charts"
    ref = f"oci://{registry.host}/{repository}/redis-ha"
    helm.login(registry)

    pushed = helm("push", str(chart_package), f"oci://{registry.host}/{repository}", "--plain-http")
    assert f"{registry.host}/{repository}/redis-ha:{version}" in pushed.stdout + pushed.stderr

    manifest = registry.manifest(f"{repository}/redis-ha", version)
    (layer,) = [layer for layer in manifest["layers"] if layer["mediaType"] == CHART_MEDIA_TYPE]
    assert layer["digest"] == sha256(chart_package)

    pulled_dir = tmp_path / "pulled"
    pulled_dir.mkdir()
    helm("pull", ref, "--version", version, "--destination", str(pulled_dir), "--plain-http")
    pulled = pulled_dir / chart_package.name
    assert pulled.read_bytes() == chart_package.read_bytes()

    shown = yaml.safe_load(helm("show", "chart", ref, "--version", version, "--plain-http").stdout)
    assert shown == CHART_YAML

    rendered = helm("template", "redis-ha", ref, "--version", version, "--namespace", "redis", "--plain-http").stdout
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered) if doc}
    assert {"StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} <= kinds

    if helm_binary == "helm3":
        # helm 3's `install --dry-run=client` still contacts the cluster (helm/helm#13144), so
        # helm 3 stops at `template` above; helm 4 does a real client-side install below.
        return
    installed = helm("install", "redis-ha", ref, "--version", version, "--namespace", "redis", "--plain-http", "--dry-run=client")
    assert "STATUS: pending-install" in installed.stdout
    assert "3 Redis pods and 3 Sentinel pods" in installed.stdout


def test_should_pull_with_helm3_what_helm4_pushed(registry, chart_package, tmp_path):
    """A release pushed by helm 4 is the same artifact for helm 3 users."""
    helm4, helm3 = Helm("helm", tmp_path / "helm4"), Helm("helm3", tmp_path / "helm3")
    version = CHART_YAML["version"]
    helm4.login(registry)
    helm4("push", str(chart_package), f"oci://{registry.host}/cross/charts", "--plain-http")
    helm3.login(registry)
    helm3("pull", f"oci://{registry.host}/cross/charts/redis-ha", "--version", version, "--destination", str(tmp_path), "--plain-http")
    assert (tmp_path / chart_package.name).read_bytes() == chart_package.read_bytes()


@pytest.mark.parametrize("helm_binary", HELMS)
def test_should_refuse_pulls_without_login(helm_binary, registry, chart_package, tmp_path):
    """The registry enforces htpasswd auth: a pull without credentials fails."""
    owner = Helm("helm", tmp_path / "owner")
    owner.login(registry)
    owner("push", str(chart_package), f"oci://{registry.host}/private/charts", "--plain-http")
    stranger = Helm(helm_binary, tmp_path / "stranger")
    proc = stranger("pull", f"oci://{registry.host}/private/charts/redis-ha", "--version", CHART_YAML["version"], "--destination", str(tmp_path), "--plain-http", check=False)
    assert proc.returncode != 0
    # Both helm versions' words for the registry's 401 challenge.
    assert "basic credential not found" in proc.stderr
    assert not (tmp_path / chart_package.name).exists()

# SPDX-License-Identifier: Apache-2.0
"""templates/prometheusrule.yaml, servicemonitor.yaml, podmonitor.yaml, configmap-dashboard.yaml
and the exporter containers. promtool and real-data checks of the same objects are in tests/metrics."""
from __future__ import annotations

import json
import re

import jsonschema
import pytest

from tests import kube_schema
from tests.helm import CHART, ROOT, by_kind_name, container, env_of, load_values_file, of_kind, render_chart, statefulset_of

SELECTOR = 'namespace="default",job="redis-ha-headless"'
ALERT_VALUES = load_values_file(CHART / "values.yaml")["metrics"]["prometheusRule"]["alerts"]
THRESHOLD_ALERTS = sorted(n for n, v in ALERT_VALUES.items() if "threshold" in v and v["threshold"] != "")
DASHBOARD_FILE = CHART / "files" / "dashboards" / "redis-ha.json"
DASHBOARD_SCHEMA = json.loads((ROOT / "tests" / "metrics" / "grafana-dashboard.schema.json").read_text())
SENTINEL_ALERTS = {"RedisSentinelsDisagree", "RedisSentinelQuorumAtRisk", "RedisReplicasMissing", "RedisMasterFlapping"}
BACKUP_ALERTS = {"RedisBackupFailed", "RedisBackupMissing"}
BACKUP = {"backup": {"enabled": True}}


def rules(values=None, **kw) -> dict[str, dict]:
    (rule,) = of_kind(render_chart(values, **kw), "PrometheusRule")
    groups = rule["spec"]["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


def selectors(expr: str) -> list[str]:
    return re.findall(r"\{([^{}]*)\}", expr)


def bare_metrics(expr: str) -> list[str]:
    """Metric names used without a label selector (they would match every release)."""
    outside = re.sub(r"\{[^{}]*\}", "{}", expr)
    return [m for m in re.findall(r"\b(redis_\w+|up)\b(?!\{)", outside)]


COLOCATED = {"sentinel": {"colocated": True}}
LAYOUTS = [pytest.param({}, id="sentinel-pods"), pytest.param(COLOCATED, id="colocated")]


def holder(values, name):
    """The StatefulSet whose pods run container `name`."""
    return statefulset_of(render_chart(values), name)


def containers_by_set(values):
    return {d["metadata"]["name"]: [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] for d in of_kind(render_chart(values), "StatefulSet")}


class TestPrometheusRule:
    def test_on_by_default_where_the_operator_api_exists(self, default_docs):
        """metrics.prometheusRule.enabled defaults to true: rendered when the API is served."""
        assert by_kind_name(default_docs, "PrometheusRule", "redis-ha")["spec"]["groups"]

    @pytest.mark.parametrize(
        ("values", "api_versions", "rendered"),
        [
            pytest.param({}, (), False, id="no-api-skipped"),
            pytest.param({"metrics": {"prometheusRule": {"force": True}}}, (), True, id="no-api-forced"),
            pytest.param({"metrics": {"prometheusRule": {"enabled": False}}}, None, False, id="disabled"),
            pytest.param({"metrics": {"enabled": False}}, None, False, id="no-exporter"),
            pytest.param({"metrics": {"prometheusRule": {"alerts": {n: {"enabled": False} for n in ALERT_VALUES}}}}, None, False, id="every-alert-disabled"),
        ],
    )
    def test_rendered_only_with_api_or_force(self, values, api_versions, rendered):
        """metrics.prometheusRule.force renders it where helm cannot see the API; off, without exporters or without alerts, none."""
        kw = {} if api_versions is None else {"api_versions": api_versions}
        assert bool(of_kind(render_chart(values, **kw), "PrometheusRule")) is rendered

    def test_the_reference_deployment_alerts_and_the_sentinel_alerts(self):
        """The AIKernel reference deployment's nine alerts plus the Sentinel ones, with its thresholds as
        defaults; the backup alerts only with backups."""
        r = rules()
        assert set(r) == set(ALERT_VALUES) - BACKUP_ALERTS
        assert set(rules(BACKUP)) == set(ALERT_VALUES)
        assert r["RedisDown"]["for"] == "5m" and r["RedisMasterLinkDown"]["for"] == "2m"
        assert r["RedisMemoryHigh"]["expr"].endswith("* 100 > 90")
        assert r["RedisLatencyHigh"]["expr"].endswith("* 1000 > 100")
        assert r["RedisTooManyConnections"]["expr"].endswith("> 5000")
        assert r["RedisEvictionsHigh"]["expr"].endswith("> 100")
        assert "* 100 < 70" in r["RedisCacheHitRateLow"]["expr"]

    def test_every_series_is_scoped_to_the_release(self):
        """Every series selector carries namespace and job of this release; no metric is used bare."""
        for name, rule in rules().items():
            assert selectors(rule["expr"]), name
            assert all(s.startswith(SELECTOR) for s in selectors(rule["expr"])), (name, rule["expr"])
            assert not bare_metrics(rule["expr"]), (name, bare_metrics(rule["expr"]))

    def test_backup_alerts_read_the_release_cronjob_and_its_jobs(self):
        """The backup alerts select kube-state-metrics series of the release's namespace, owned by or
        named after its backup CronJob; metrics.prometheusRule.backupSelector replaces the namespace."""
        for values, prefix in ((BACKUP, 'namespace="default"'), ({**BACKUP, "metrics": {"prometheusRule": {"backupSelector": 'namespace="x",cluster="eu"'}}}, 'namespace="x",cluster="eu"')):
            r = rules(values)
            for name in BACKUP_ALERTS:
                assert all(s.startswith(prefix) for s in selectors(r[name]["expr"])), (name, r[name]["expr"])
                assert 'cronjob="redis-ha-backup"' in r[name]["expr"] or 'owner_name="redis-ha-backup"' in r[name]["expr"], name
            assert not any(s.startswith(SELECTOR) for n in BACKUP_ALERTS for s in selectors(r[n]["expr"]))

    def test_selector_is_a_value(self):
        """metrics.prometheusRule.selector replaces the derived namespace/job matchers everywhere."""
        custom = 'namespace="cache",service="redis-metrics"'
        for name, rule in rules({"metrics": {"prometheusRule": {"selector": custom}}}).items():  # backup alerts off
            assert all(s.startswith(custom) for s in selectors(rule["expr"])), name

    def test_selector_follows_release_namespace_and_fullname(self):
        """The derived selector names the release's namespace and headless Service."""
        r = rules({"fullnameOverride": "redis"}, namespace="aikernel")
        assert selectors(r["RedisDown"]["expr"]) == ['namespace="aikernel",job="redis-headless"']

    def test_every_alert_documents_itself(self):
        """summary, description and runbook on every alert; severity and `for` from values."""
        for name, rule in rules(BACKUP).items():
            assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
            assert all(len(rule["annotations"][k]) > 20 for k in ("summary", "description", "runbook")), name
            assert rule["labels"] == {"severity": ALERT_VALUES[name]["severity"]}, name
            assert rule["for"] == ALERT_VALUES[name]["for"], name
            assert "${" not in json.dumps(rule), name

    @pytest.mark.parametrize("name", THRESHOLD_ALERTS)
    def test_threshold_and_for_are_values(self, name):
        """metrics.prometheusRule.alerts.<name>.threshold and .for reach the rule."""
        rule = rules({**BACKUP, "metrics": {"prometheusRule": {"alerts": {name: {"threshold": 4242, "for": "7m"}}}}})[name]
        assert re.search(r"[<>] 4242\b", rule["expr"]), rule["expr"]
        assert rule["for"] == "7m"

    def test_large_thresholds_print_as_integers(self):
        """10485760 stays 10485760 in expression and summary (not float64's 1.048576e+07)."""
        rule = rules()["RedisReplicationLag"]
        assert rule["expr"].endswith("> 10485760") and "10485760 bytes" in rule["annotations"]["summary"]

    def test_rate_interval_and_flapping_window_are_values(self):
        """rateInterval feeds every range selector; RedisMasterFlapping.window its subquery."""
        r = rules({"metrics": {"prometheusRule": {"rateInterval": "2m", "alerts": {"RedisMasterFlapping": {"window": "3h"}}}}})
        assert "[2m]" in r["RedisLatencyHigh"]["expr"] and "[5m]" not in json.dumps(r)
        assert "[3h:]" in r["RedisMasterFlapping"]["expr"]

    @pytest.mark.parametrize(
        ("values", "quorum", "replicas"),
        [
            pytest.param({}, 2, 2, id="three-pods"),
            pytest.param({"replicas": 5}, 2, 4, id="five-pods-three-sentinels"),
            pytest.param({"replicas": 5, "sentinel": {"replicas": 5}}, 3, 4, id="five-pods-five-sentinels"),
            pytest.param({"replicas": 5, "sentinel": {"replicas": 5, "quorum": 4}}, 4, 4, id="five-sentinels-quorum-4"),
            pytest.param({"replicas": 5, "sentinel": {"colocated": True}}, 3, 4, id="five-colocated"),
            pytest.param({"replicas": 5, "sentinel": {"colocated": True, "quorum": 4}}, 4, 4, id="five-colocated-quorum-4"),
            pytest.param({"metrics": {"prometheusRule": {"alerts": {"RedisSentinelQuorumAtRisk": {"threshold": 3}, "RedisReplicasMissing": {"threshold": 1}}}}}, 3, 1, id="explicit"),
        ],
    )
    def test_sentinel_thresholds_derive_from_topology(self, values, quorum, replicas):
        """Empty thresholds: ok Sentinels below the quorum (of the Sentinels, not the Redis pods), connected replicas below replicas - 1."""
        r = rules(values)
        assert f"< {quorum} or on" in r["RedisSentinelQuorumAtRisk"]["expr"]
        assert f"< {replicas} and" in r["RedisReplicasMissing"]["expr"]

    def test_single_mode_has_no_sentinel_alerts(self):
        """replicas: 1 runs no Sentinel: only the Redis group, still checking for exactly one master."""
        r = rules({"replicas": 1})
        assert not SENTINEL_ALERTS & set(r) and "RedisNotExactlyOneMaster" in r

    def test_alert_can_be_disabled(self):
        """metrics.prometheusRule.alerts.<name>.enabled=false drops just that alert."""
        assert set(rules()) - set(rules({"metrics": {"prometheusRule": {"alerts": {"RedisEvictionsHigh": {"enabled": False}}}}})) == {"RedisEvictionsHigh"}

    def test_labels_and_runbook_url(self):
        """labels select the PrometheusRule; alertLabels route alerts; runbookUrl links each alert."""
        values = {"metrics": {"prometheusRule": {"labels": {"release": "prom"}, "alertLabels": {"team": "cache"}, "runbookUrl": "https://runbooks.example/redis"}}}
        docs = render_chart(values)
        assert by_kind_name(docs, "PrometheusRule", "redis-ha")["metadata"]["labels"]["release"] == "prom"
        rule = rules(values)["RedisDown"]
        assert rule["labels"] == {"severity": "critical", "team": "cache"}
        assert rule["annotations"]["runbook_url"] == "https://runbooks.example/redis#redisdown"


class TestExporters:
    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_sentinel_exporter_sidecar(self, layout):
        """sentinel-metrics: redis_exporter on 9355 pointed at the Sentinel of its pod, password from the exporter-auth file."""
        c = container(holder(layout, "sentinel-metrics"), "sentinel-metrics")
        env = env_of(c)
        assert env["REDIS_ADDR"] == "redis://127.0.0.1:26379"
        assert env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] == ":9355"
        assert env["REDIS_PASSWORD_FILE"] == "/exporter-auth/passwords.json"
        assert c["ports"] == [{"name": "sentinel-metric", "containerPort": 9355}]
        assert c["livenessProbe"]["tcpSocket"] == {"port": "sentinel-metric"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": "sentinel-metric"}
        assert c["command"] == ["redis_exporter"]

    @pytest.mark.parametrize("tls", [pytest.param({}, id="plain"), pytest.param({"tls": {"enabled": True, "existingSecret": "redis-tls"}}, id="tls")])
    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_exporter_auth_init_writes_every_address_its_pod_scrapes(self, layout, tls):
        """exporter-auth runs before the exporters of each pod and writes the password of exactly the
        addresses they scrape (REDIS_ADDR is the file's key), to the memory-backed volume they mount read-only."""
        for sts in (d for d in render_chart({**layout, **tls}) if d["kind"] == "StatefulSet"):
            pod = sts["spec"]["template"]["spec"]
            exporters = [c for c in pod["containers"] if c["name"] in ("metrics", "sentinel-metrics")]
            init = next(c for c in pod["initContainers"] if c["name"] == "exporter-auth")
            assert env_of(init)["EXPORTER_ADDRS"].split() == [env_of(c)["REDIS_ADDR"] for c in exporters]
            assert init["command"] == ["sh", "/scripts/exporter-auth.sh"]
            assert {"name": "exporter-auth", "mountPath": "/exporter-auth"} in init["volumeMounts"]
            for c in exporters:
                assert env_of(c)["REDIS_PASSWORD_FILE"] == env_of(init)["EXPORTER_AUTH_FILE"]
                assert {"name": "exporter-auth", "mountPath": "/exporter-auth", "readOnly": True} in c["volumeMounts"]
            assert {"name": "exporter-auth", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}} in pod["volumes"]

    @pytest.mark.parametrize("values", [pytest.param({"auth": {"enabled": False}}, id="auth-off"), pytest.param({"metrics": {"enabled": False}}, id="metrics-off")])
    def test_no_exporter_auth_without_a_password_or_exporters(self, values):
        """With nothing to log in with, or nobody to log in, there is no init container and no volume."""
        for sts in (d for d in render_chart(values) if d["kind"] == "StatefulSet"):
            pod = sts["spec"]["template"]["spec"]
            assert "exporter-auth" not in [c["name"] for c in pod.get("initContainers", [])]
            assert "exporter-auth" not in [v["name"] for v in pod["volumes"]]

    def test_user_init_containers_run_after_exporter_auth(self):
        """initContainers from values keep their place after the chart's own."""
        pod = statefulset_of(render_chart({"initContainers": [{"name": "mine", "image": "busybox"}]}), "redis")["spec"]["template"]["spec"]
        assert [c["name"] for c in pod["initContainers"]] == ["exporter-auth", "mine"]

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_exporters_follow_values(self, layout):
        """metrics.command, metrics.sentinelPort and auth reach both exporters (Debian's binary path here)."""
        docs = render_chart({**layout, "metrics": {"command": ["/usr/bin/prometheus-redis-exporter"], "sentinelPort": 9400}, "auth": {"enabled": False}})
        for name, port in (("metrics", 9121), ("sentinel-metrics", 9400)):
            c = container(statefulset_of(docs, name), name)
            assert c["command"] == ["/usr/bin/prometheus-redis-exporter"]
            assert env_of(c)["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] == f":{port}"
            assert "REDIS_PASSWORD" not in env_of(c) and "REDIS_PASSWORD_FILE" not in env_of(c)

    @pytest.mark.parametrize(
        ("values", "expected"),
        [
            pytest.param({}, {"redis-ha": ["redis", "role-label", "metrics"], "redis-ha-sentinel": ["sentinel", "sentinel-metrics"]}, id="ha"),
            pytest.param(COLOCATED, {"redis-ha": ["redis", "role-label", "sentinel", "metrics", "sentinel-metrics"]}, id="ha-colocated"),
            pytest.param({"replicas": 1}, {"redis-ha": ["redis", "role-label", "metrics"]}, id="single"),
            pytest.param({"replicas": 1, **COLOCATED}, {"redis-ha": ["redis", "role-label", "metrics"]}, id="single-colocated"),
            pytest.param({"metrics": {"enabled": False}}, {"redis-ha": ["redis", "role-label"], "redis-ha-sentinel": ["sentinel"]}, id="no-metrics"),
            pytest.param({"metrics": {"enabled": False}, **COLOCATED}, {"redis-ha": ["redis", "role-label", "sentinel"]}, id="no-metrics-colocated"),
        ],
    )
    def test_sentinel_exporter_only_with_sentinel(self, values, expected):
        """sentinel-metrics runs only where Sentinel runs and metrics are on: in the Sentinel pods, or beside Redis when co-located."""
        assert containers_by_set(values) == expected

    def test_headless_service_and_network_policy_expose_the_sentinel_exporter(self):
        """Service port sentinel-metrics targets the container port; the NetworkPolicy admits it."""
        docs = render_chart()
        ports = {p["name"]: p for p in by_kind_name(docs, "Service", "redis-ha-headless")["spec"]["ports"]}
        assert ports["sentinel-metrics"] == {"name": "sentinel-metrics", "port": 9355, "targetPort": "sentinel-metric"}
        ingress = by_kind_name(docs, "NetworkPolicy", "redis-ha")["spec"]["ingress"]
        assert {"port": 9355, "protocol": "TCP"} in ingress[2]["ports"]
        single = render_chart({"replicas": 1})
        assert "sentinel-metrics" not in {p["name"] for p in by_kind_name(single, "Service", "redis-ha-headless")["spec"]["ports"]}
        assert [p["port"] for p in by_kind_name(single, "NetworkPolicy", "redis-ha")["spec"]["ingress"][2]["ports"]] == [9121]


MONITOR_VALUES = {"interval": "15s", "scrapeTimeout": "5s", "labels": {"release": "prom"},
                  "relabelings": [{"action": "labeldrop", "regex": "endpoint"}], "metricRelabelings": [{"action": "drop", "regex": "go_.*", "sourceLabels": ["__name__"]}]}


class TestMonitors:
    def test_service_monitor_scrapes_both_exporters(self):
        """metrics.serviceMonitor: one endpoint per exporter port of the headless Service, all settings applied."""
        docs = render_chart({"metrics": {"serviceMonitor": {"enabled": True, **MONITOR_VALUES}}})
        sm = by_kind_name(docs, "ServiceMonitor", "redis-ha")
        assert sm["metadata"]["labels"]["release"] == "prom"
        service_ports = {p["name"] for p in by_kind_name(docs, "Service", "redis-ha-headless")["spec"]["ports"]}
        assert [e["port"] for e in sm["spec"]["endpoints"]] == ["metrics", "sentinel-metrics"]
        for e in sm["spec"]["endpoints"]:
            assert e["port"] in service_ports
            assert (e["interval"], e["scrapeTimeout"], e["relabelings"], e["metricRelabelings"]) == ("15s", "5s", MONITOR_VALUES["relabelings"], MONITOR_VALUES["metricRelabelings"])

    def test_pod_monitor_scrapes_both_exporters_as_the_headless_job(self):
        """metrics.podMonitor: container ports of both exporters; job relabelled to the headless Service name first."""
        docs = render_chart({"metrics": {"podMonitor": {"enabled": True, **MONITOR_VALUES}}})
        pm = by_kind_name(docs, "PodMonitor", "redis-ha")
        assert pm["metadata"]["labels"]["release"] == "prom"
        assert pm["spec"]["namespaceSelector"] == {"matchNames": ["default"]}
        assert pm["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": "redis-ha"}}
        ports_by_set = {s["metadata"]["name"]: {p["name"] for c in s["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])} for s in of_kind(docs, "StatefulSet")}
        assert [e["port"] for e in pm["spec"]["podMetricsEndpoints"]] == ["metrics", "sentinel-metric"]
        assert "metrics" in ports_by_set["redis-ha"] and "sentinel-metric" in ports_by_set["redis-ha-sentinel"]
        for e in pm["spec"]["podMetricsEndpoints"]:
            assert any(e["port"] in ports for ports in ports_by_set.values())
            assert pm["spec"]["selector"]["matchLabels"].items() <= next(
                s["spec"]["template"]["metadata"]["labels"] for s in of_kind(docs, "StatefulSet") if e["port"] in ports_by_set[s["metadata"]["name"]]).items()
            assert e["relabelings"] == [{"action": "replace", "replacement": "redis-ha-headless", "targetLabel": "job"}] + MONITOR_VALUES["relabelings"]
            assert (e["interval"], e["scrapeTimeout"], e["metricRelabelings"]) == ("15s", "5s", MONITOR_VALUES["metricRelabelings"])

    @pytest.mark.parametrize("monitor", ["serviceMonitor", "podMonitor"])
    def test_single_mode_scrapes_redis_only(self, monitor):
        """replicas: 1 has no Sentinel exporter to scrape."""
        docs = render_chart({"replicas": 1, "metrics": {monitor: {"enabled": True}}})
        doc = of_kind(docs, "ServiceMonitor" if monitor == "serviceMonitor" else "PodMonitor")[0]
        endpoints = doc["spec"].get("endpoints") or doc["spec"]["podMetricsEndpoints"]
        assert [e["port"] for e in endpoints] == ["metrics"]


def dashboard_configmap(values=None, **kw):
    docs = render_chart({"metrics": {"grafanaDashboard": {"enabled": True, **(values or {})}}}, **kw)
    (cm,) = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    return cm


class TestDashboard:
    def test_off_by_default(self, default_docs):
        """metrics.grafanaDashboard.enabled defaults to false."""
        assert not [d for d in of_kind(default_docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]

    def test_configmap_for_the_grafana_sidecar(self):
        """Sidecar label grafana_dashboard=1, release namespace, uid redis-ha by default."""
        cm = dashboard_configmap()
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["namespace"] == "default"
        dashboard = json.loads(cm["data"]["redis-ha.json"])
        assert (dashboard["uid"], dashboard["title"]) == ("redis-ha", "Redis HA")

    def test_label_namespace_uid_and_title_are_values(self):
        """sidecarLabel/sidecarLabelValue, namespace, annotations, uid and title."""
        cm = dashboard_configmap({"sidecarLabel": "dashboards", "sidecarLabelValue": "redis", "namespace": "monitoring",
                                  "annotations": {"grafana_folder": "Redis"}, "uid": "my-redis", "title": "My Redis"})
        assert cm["metadata"]["labels"]["dashboards"] == "redis" and "grafana_dashboard" not in cm["metadata"]["labels"]
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "Redis"}
        dashboard = json.loads(cm["data"]["redis-ha.json"])
        assert (dashboard["uid"], dashboard["title"]) == ("my-redis", "My Redis")
        assert dashboard["panels"] == json.loads(DASHBOARD_FILE.read_text())["panels"]

    @pytest.mark.parametrize("source", ["file", "rendered"])
    def test_validates_against_grafana_schema(self, source):
        """The JSON in files/ and in the ConfigMap match @grafana/schema's Dashboard type (vendored JSON schema)."""
        dashboard = json.loads(DASHBOARD_FILE.read_text()) if source == "file" else json.loads(dashboard_configmap()["data"]["redis-ha.json"])
        errors = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft7Validator(DASHBOARD_SCHEMA).iter_errors(dashboard)]
        assert not errors

    def test_schema_is_strict_enough_to_catch_mistakes(self):
        """The vendored schema rejects a misspelt panel key and a wrong gridPos type."""
        dashboard = json.loads(DASHBOARD_FILE.read_text())
        dashboard["panels"][1]["gridpos"] = dashboard["panels"][1].pop("gridPos")
        dashboard["panels"][2]["gridPos"]["w"] = "wide"
        messages = " ".join(e.message for e in jsonschema.Draft7Validator(DASHBOARD_SCHEMA).iter_errors(dashboard))
        assert "gridpos" in messages and "wide" in messages

    def test_release_and_namespace_are_variables(self):
        """Every panel query selects namespace="$namespace" and the release's job on every series."""
        dashboard = json.loads(DASHBOARD_FILE.read_text())
        assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource", "namespace", "release"]
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                assert selectors(target["expr"]), panel["title"]
                assert all(s.startswith('namespace="$namespace",job="$release-headless"') for s in selectors(target["expr"])), (panel["title"], target["expr"])
                assert not bare_metrics(target["expr"]), (panel["title"], target["expr"])

    @pytest.mark.parametrize(
        "topic",
        ["up", "Masters", "maxmemory", "clients", "Hit rate", "Hits and misses", "Evicted", "Replication lag", "Master link", "Commands/s", "latency", "Master per Sentinel", "OK Sentinels", "Quorum"],
    )
    def test_panels_cover_the_issue_list(self, topic):
        """Health, memory, clients, hit rate, evictions, replication, throughput, latency, Sentinel state."""
        titles = [p["title"] for p in json.loads(DASHBOARD_FILE.read_text())["panels"]]
        assert any(topic.lower() in t.lower() for t in titles), titles


    def test_configmap_is_a_valid_kubernetes_object(self):
        """The ConfigMap passes strict schema validation for every supported Kubernetes version."""
        cm = dashboard_configmap()
        assert not [e for v in kube_schema.KUBE_VERSIONS for e in kube_schema.errors(cm, v)]


class TestAIKernelReferenceObservability:
    def test_reference_dashboard_uid_alerts_and_scraping(self):
        """examples/aikernel-values.yaml: dashboard uid aikernel-redis-cache in monitoring, alerts on release redis."""
        values = load_values_file(ROOT / "examples" / "aikernel-values.yaml")
        docs = render_chart(values, release="redis", namespace="aikernel")
        cm = by_kind_name(docs, "ConfigMap", "redis-dashboard")
        assert cm["metadata"]["namespace"] == "monitoring"
        assert json.loads(cm["data"]["redis-ha.json"])["uid"] == "aikernel-redis-cache"
        groups = by_kind_name(docs, "PrometheusRule", "redis")["spec"]["groups"]
        exprs = [r["expr"] for g in groups for r in g["rules"]]
        assert len(exprs) == len(set(ALERT_VALUES) - BACKUP_ALERTS)
        assert all('namespace="aikernel",job="redis-headless"' in e for e in exprs)
        assert [e["port"] for e in by_kind_name(docs, "ServiceMonitor", "redis")["spec"]["endpoints"]] == ["metrics", "sentinel-metrics"]


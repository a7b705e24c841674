# SPDX-License-Identifier: Apache-2.0
"""Role Services across templates: the Services' selectors against the pods, the token mounted only in the role-label
container, the Certificate's names, the switch. Each template's own fields are its helm-unittest suite's
(service-master_test, role_test)."""
import pytest

from tests.helm import HelmTemplateError, by_kind_name, container, of_kind, render_chart

SERVER_PODS = {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": "redis-ha", "app.kubernetes.io/component": "server"}
ROLE_LABEL = "redis-ha.io/role"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
LAYOUTS = [pytest.param({}, id="sentinel-pods"), pytest.param({"sentinel": {"colocated": True}}, id="colocated"), pytest.param({"replicas": 1}, id="single")]


def pod_spec(docs, name="redis-ha"):
    return by_kind_name(docs, "StatefulSet", name)["spec"]["template"]["spec"]


class TestRoleServices:
    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize(("service", "role"), [("redis-ha-master", "master"), ("redis-ha-replicas", "replica")])
    def test_select_the_redis_pods_by_role(self, service, role, layout):
        """roleServices.enabled (default), every layout: each Service selects the StatefulSet's Redis pods by their labels plus the role label, which no new pod carries."""
        docs = render_chart(layout)
        svc = by_kind_name(docs, "Service", service)["spec"]
        assert svc["selector"] == {**SERVER_PODS, ROLE_LABEL: role}
        template_labels = by_kind_name(docs, "StatefulSet", "redis-ha")["spec"]["template"]["metadata"]["labels"]
        assert SERVER_PODS.items() <= template_labels.items()
        assert ROLE_LABEL not in template_labels, "a new pod must carry no role until its Redis has one"


    def test_tls_certificate_names_the_role_services(self):
        """tls.certManager: clients of -master and -replicas verify the certificate against those names."""
        docs = render_chart({"tls": {"enabled": True, "certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}})
        names = by_kind_name(docs, "Certificate", "redis-ha")["spec"]["dnsNames"]
        for svc in ("redis-ha-master", "redis-ha-replicas"):
            assert {svc, f"{svc}.default", f"{svc}.default.svc", f"{svc}.default.svc.cluster.local"} <= set(names)

    def test_disabled_renders_no_services_rbac_or_container(self):
        """roleServices.enabled=false: no Services, Role, RoleBinding, role-label container, token or API egress."""
        docs = render_chart({"roleServices": {"enabled": False}})
        names = {(d["kind"], d["metadata"]["name"]) for d in docs}
        assert not names & {("Service", "redis-ha-master"), ("Service", "redis-ha-replicas"), ("Role", "redis-ha-role-label"), ("RoleBinding", "redis-ha-role-label")}
        spec = pod_spec(docs)
        assert [c["name"] for c in spec["containers"]] == ["redis", "metrics"]
        assert not {"kube-api", "role"} & {v["name"] for v in spec["volumes"]}
        assert "ROLE_FILE" not in {e["name"] for e in container(by_kind_name(docs, "StatefulSet", "redis-ha"), "redis")["env"]}


class TestRoleBasedAccess:

    def test_binding_grants_it_to_the_pods_service_account(self):
        """The RoleBinding's subject is the ServiceAccount the Redis pods run as; no ClusterRole anywhere."""
        docs = render_chart()
        binding = by_kind_name(docs, "RoleBinding", "redis-ha-role-label")
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "redis-ha-role-label"}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod_spec(docs)["serviceAccountName"], "namespace": "default"}]
        assert not of_kind(docs, "ClusterRole") and not of_kind(docs, "ClusterRoleBinding")


    def test_should_fail_when_only_the_default_service_account_is_left(self):
        """serviceAccount.create=false without a name would bind the namespace's default account: refused, naming the value."""
        with pytest.raises(HelmTemplateError, match=r"roleServices.enabled: needs a ServiceAccount of the release .* set serviceAccount.create=true or serviceAccount.name"):
            render_chart({"serviceAccount": {"create": False}})
        assert render_chart({"serviceAccount": {"create": False}, "roleServices": {"enabled": False}})


class TestToken:
    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_token_only_in_the_role_label_container(self, layout):
        """No pod mounts a token automatically; the projected token volume is mounted by role-label alone, read-only."""
        docs = render_chart(layout)
        for sts in of_kind(docs, "StatefulSet"):
            spec = sts["spec"]["template"]["spec"]
            assert spec["automountServiceAccountToken"] is False
            for c in spec["containers"] + spec.get("initContainers", []):
                mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
                if c["name"] == "role-label":
                    assert mounts["kube-api"] == {"name": "kube-api", "mountPath": TOKEN_DIR, "readOnly": True}
                    assert mounts["role"]["readOnly"] is True
                    assert not {"secret", "run", "data", "config", "tls"} & set(mounts), "role-label needs no password, data or certificate"
                else:
                    assert "kube-api" not in mounts, c["name"]
                    assert TOKEN_DIR not in {m["mountPath"] for m in mounts.values()}, c["name"]
        sentinel = [s for s in of_kind(docs, "StatefulSet") if s["metadata"]["name"] == "redis-ha-sentinel"]
        for sts in sentinel:
            assert "kube-api" not in {v["name"] for v in sts["spec"]["template"]["spec"]["volumes"]}

    def test_token_is_short_lived_with_the_cluster_ca(self):
        """The projection: an expiring service account token and the kube-root-ca.crt CA, owner-read-only."""
        volume = next(v for v in pod_spec(render_chart())["volumes"] if v["name"] == "kube-api")
        assert volume["projected"] == {
            "defaultMode": 0o400,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            ],
        }

    def test_role_label_container_follows_values(self):
        """roleServices.image and .resources; the redis container and role-label share the role file."""
        docs = render_chart({"roleServices": {"image": {"registry": "", "repository": "my/curl", "tag": "1"}, "resources": {"requests": {"cpu": "1m"}}}})
        sts = by_kind_name(docs, "StatefulSet", "redis-ha")
        c = container(sts, "role-label")
        assert c["image"] == "my/curl:1"
        assert c["resources"] == {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}
        assert c["command"] == ["sh", "/scripts/role-label.sh"]
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}
        assert env["ROLE_FILE"] == "/run/role/role" and env["ROLE_LABEL"] == ROLE_LABEL
        assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        redis_env = {e["name"]: e.get("value") for e in container(sts, "redis")["env"]}
        assert redis_env["ROLE_FILE"] == "/run/role/role"
        assert {"name": "role", "mountPath": "/run/role"} in container(sts, "redis")["volumeMounts"]


class TestOrderedRollout:
    """rollout.ordered (docs/design.md, "Failovers per rollout"): OnDelete, the pods and a hook Job replace the pods in role order."""

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_role_label_container_knows_its_revision_and_statefulset(self, layout):
        """Every layout: the role-label container gets the pod's revision from its label and the StatefulSet's name; the preStop skips the steering."""
        docs = render_chart(layout)
        sts = by_kind_name(docs, "StatefulSet", "redis-ha")
        assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container(sts, "role-label")["env"]}
        assert env["ROLLOUT_ORDERED"] == "true" and env["STATEFULSET"] == "redis-ha"
        assert env["POD_REVISION"] == {"fieldRef": {"fieldPath": "metadata.labels['controller-revision-hash']"}}
        assert {"name": "ROLLOUT_ORDERED", "value": "true"} in container(sts, "redis")["env"]

    @pytest.mark.parametrize("values", [{"rollout": {"ordered": False}}, {"roleServices": {"enabled": False}}], ids=["off", "no-role-services"])
    def test_off_leaves_the_rollout_to_the_statefulset_controller(self, values):
        docs = render_chart(values)
        sts = by_kind_name(docs, "StatefulSet", "redis-ha")
        assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
        assert not [d for d in of_kind(docs, "Job") if d["metadata"]["name"] == "redis-ha-rollout"]
        for c in sts["spec"]["template"]["spec"]["containers"]:
            assert not {"ROLLOUT_ORDERED", "POD_REVISION"} & {e["name"] for e in c.get("env", [])}, c["name"]

    def test_hook_job_runs_as_the_release_with_only_the_token(self):
        """The Job uses the pods' ServiceAccount (the same Role) and mounts the scripts and the projected token, nothing else."""
        docs = render_chart()
        job = by_kind_name(docs, "Job", "redis-ha-rollout")
        spec = job["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == pod_spec(docs)["serviceAccountName"]
        assert spec["automountServiceAccountToken"] is False
        assert {v["name"] for v in spec["volumes"]} == {"scripts", "kube-api"}
        kube_api = next(v for v in spec["volumes"] if v["name"] == "kube-api")
        assert kube_api == next(v for v in pod_spec(docs)["volumes"] if v["name"] == "kube-api")
        c = spec["containers"][0]
        assert c["command"] == ["sh", "/scripts/rollout.sh"]
        assert c["securityContext"] == container(by_kind_name(docs, "StatefulSet", "redis-ha"), "role-label")["securityContext"]

    def test_role_allows_reading_the_statefulset_and_deleting_only_its_pods(self):
        rules = by_kind_name(render_chart({"replicas": 5}), "Role", "redis-ha-role-label")["rules"]
        assert rules == [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch", "delete"], "resourceNames": [f"redis-ha-{i}" for i in range(5)]},
            {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get"], "resourceNames": ["redis-ha"]},
        ]

    def test_a_migration_has_no_master_to_keep_for_last(self):
        """migration.enabled: the Job goes through the pods as replicas (none is master here); the pod template does not
        carry that, as the cutover must change no pod template."""
        docs = render_chart({"migration": {"enabled": True, "source": {"host": "old.example", "existingSecret": "old"}}})
        job_env = {e["name"]: e.get("value") for e in by_kind_name(docs, "Job", "redis-ha-rollout")["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert job_env["ROLLOUT_NO_MASTER"] == "true"
        assert "ROLLOUT_NO_MASTER" not in {e["name"] for e in container(by_kind_name(docs, "StatefulSet", "redis-ha"), "role-label")["env"]}

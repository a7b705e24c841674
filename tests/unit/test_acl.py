# SPDX-License-Identifier: Apache-2.0
"""ACL users and password rotation as rendered: where each password comes from, and bad values."""
import base64

import pytest

from tests.helm import HelmTemplateError, by_kind_name, container, env_of, render_chart, statefulset_of

ACL = {"acl": {"enabled": True, "existingSecret": "cache-acl"}}
ROLES = {"app": "app-password", "replication": "replication-password", "sentinel": "sentinel-password",
         "sentinelPeer": "sentinel-peer-password", "exporter": "exporter-password", "probe": "probe-password"}


def sts(docs):
    return by_kind_name(docs, "StatefulSet", "redis-ha")


def pod_spec(docs):
    return sts(docs)["spec"]["template"]["spec"]


def secret_volume(docs, name="redis-ha"):
    return next(v for v in by_kind_name(docs, "StatefulSet", name)["spec"]["template"]["spec"]["volumes"] if v["name"] == "secret")


class TestAclUsers:
    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_each_role_password_is_a_file_from_the_acl_secret(self, name):
        sources = secret_volume(render_chart(ACL), name)["projected"]["sources"]
        acl = next(s["secret"] for s in sources if s["secret"]["name"] == "cache-acl")
        assert {i["path"]: i["key"] for i in acl["items"]} == {f"acl/{role}": key for role, key in ROLES.items()}
        assert "optional" not in acl

    def test_user_names_and_keys_follow_values(self):
        docs = render_chart({"acl": {"enabled": True, "existingSecret": "s", "users": {"probe": {"name": "kube-probe", "passwordKey": "kp"}}}})
        users = by_kind_name(docs, "ConfigMap", "redis-ha-config")["data"]
        assert "probe kube-probe -@all +auth +hello +ping +info +role\n" in users["redis-users.acl"]
        assert "probe kube-probe -@all" in users["sentinel-users.acl"]
        acl = next(s["secret"] for s in secret_volume(docs)["projected"]["sources"] if s["secret"]["name"] == "s")
        assert {"key": "kp", "path": "acl/probe"} in acl["items"]

    def test_app_rules_come_from_values(self):
        docs = render_chart({**ACL, "acl": {**ACL["acl"], "users": {"app": {"rules": "~app:* +@read +@write"}}}})
        assert "app app ~app:* +@read +@write\n" in by_kind_name(docs, "ConfigMap", "redis-ha-config")["data"]["redis-users.acl"]

    def test_scripts_find_the_acl_directory_only_with_acl(self):
        assert env_of(container(sts(render_chart(ACL)), "redis"))["ACL_DIR"] == "/secrets/acl"
        assert env_of(container(by_kind_name(render_chart(ACL), "StatefulSet", "redis-ha-sentinel"), "sentinel"))["ACL_DIR"] == "/secrets/acl"
        assert env_of(container(sts(render_chart({})), "redis"))["ACL_DIR"] == ""
        assert "redis-users.acl" not in by_kind_name(render_chart({}), "ConfigMap", "redis-ha-config")["data"]

    @pytest.mark.parametrize("layout", [{}, {"sentinel": {"colocated": True}}], ids=["sentinel-pods", "colocated"])
    @pytest.mark.parametrize("name", ["metrics", "sentinel-metrics"])
    def test_exporters_log_in_as_the_exporter_user(self, name, layout):
        env = {e["name"]: e for e in container(statefulset_of(render_chart({**ACL, **layout}), name), name)["env"]}
        assert env["REDIS_USER"]["value"] == "exporter"
        assert env["REDIS_PASSWORD_FILE"]["value"] == "/exporter-auth/passwords.json"
        assert "REDIS_PASSWORD" not in env

    def test_without_acl_exporters_log_in_as_the_default_user(self):
        env = {e["name"]: e for e in container(sts(render_chart({"auth": {"existingSecret": "pw"}})), "metrics")["env"]}
        assert "REDIS_USER" not in env
        assert env["REDIS_PASSWORD_FILE"]["value"] == "/exporter-auth/passwords.json"


class TestRotation:
    def test_accepted_passwords_are_stored_in_the_chart_secret(self):
        docs = render_chart({"auth": {"password": "new", "acceptedPasswords": ["old", "o t\"h\\er"]}})
        data = by_kind_name(docs, "Secret", "redis-ha")["data"]
        assert base64.b64decode(data["accepted-passwords"]).decode() == "old\no t\"h\\er"
        assert "accepted-passwords" not in by_kind_name(render_chart({"auth": {"password": "new"}}), "Secret", "redis-ha")["data"]

    def test_changing_accepted_passwords_rolls_the_pods(self):
        def checksum(values):
            return sts(render_chart(values))["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
        assert checksum({"auth": {"password": "a"}}) != checksum({"auth": {"password": "a", "acceptedPasswords": ["b"]}})

    @pytest.mark.parametrize(("values", "key"), [({}, "accepted-passwords"),
                                                ({"auth": {"existingSecret": "mine", "existingSecretAcceptedPasswordsKey": "next"}}, "next")])
    def test_accepted_passwords_file_is_optional(self, values, key):
        sources = secret_volume(render_chart(values))["projected"]["sources"]
        accepted = next(s["secret"] for s in sources if s["secret"]["items"][0]["path"] == "accepted-passwords")
        assert accepted["optional"] is True and accepted["items"][0]["key"] == key


BAD = [
    pytest.param({"acl": {"enabled": True}}, r"acl.existingSecret: acl.enabled needs the name of a Secret holding the ACL users' passwords under the keys app-password, exporter-password, probe-password, replication-password, sentinel-password, sentinel-peer-password", id="acl-without-secret"),
    pytest.param({"auth": {"enabled": False}, "acl": {"enabled": True, "existingSecret": "s"}}, r"acl.enabled: needs auth.enabled=true", id="acl-without-auth"),
    pytest.param({"acl": {"enabled": True, "existingSecret": "s", "users": {"probe": {"name": "app"}}}}, r'acl.users.probe.name: "app" is already the name of another ACL user', id="acl-duplicate-name"),
    pytest.param({"auth": {"existingSecret": "s", "acceptedPasswords": ["x"]}}, r"auth.acceptedPasswords: with auth.existingSecret the chart writes no Secret; put the accepted passwords in s under the key accepted-passwords", id="accepted-with-existing-secret"),
    pytest.param({"auth": {"enabled": False, "acceptedPasswords": ["x"]}}, r"auth.acceptedPasswords: needs auth.enabled=true", id="accepted-without-auth"),
]
SCHEMA_BAD = [
    pytest.param({"acl": {"users": {"app": {"name": "default"}}}}, r"/acl/users/app/name", id="acl-user-named-default"),
    pytest.param({"acl": {"users": {"app": {"name": "two words"}}}}, r"/acl/users/app/name", id="acl-user-name-with-space"),
    pytest.param({"acl": {"users": {"app": {"rules": "+@all\nuser evil on nopass"}}}}, r"/acl/users/app/rules", id="acl-rules-newline"),
    pytest.param({"auth": {"acceptedPasswords": ["a\nb"]}}, r"/auth/acceptedPasswords/0", id="accepted-password-newline"),
]


@pytest.mark.parametrize(("values", "message"), BAD)
def test_bad_values_fail_naming_the_value(values, message):
    with pytest.raises(HelmTemplateError, match=message):
        render_chart(values)


@pytest.mark.parametrize(("values", "where"), SCHEMA_BAD)
def test_schema_rejects(values, where):
    with pytest.raises(HelmTemplateError, match=where):
        render_chart(values)


def test_passing_twins_render():
    for values in (ACL, {"auth": {"password": "a", "acceptedPasswords": ["b"]}}, {"auth": {"existingSecret": "s"}}):
        assert pod_spec(render_chart(values))["containers"]

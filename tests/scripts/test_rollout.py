# SPDX-License-Identifier: Apache-2.0
"""The ordered rollout's decisions (kube.sh rollout_next; docs/design.md, "Failovers per rollout"):
which Redis pod goes next, given each pod's state, revision and role label, and the reading of the
API's JSON. The deletions themselves need the API server: tests/e2e (TestDisruption)."""
import subprocess

import pytest

from tests.scripts.harness import SCRIPTS

NEW, OLD = "redis-ha-new", "redis-ha-old"


def next_step(*pods: str, **env: str) -> str:
    """rollout_next NEW on pod_states lines "ORDINAL STATE REVISION ROLE"."""
    done = subprocess.run(["sh", "-c", f'. {SCRIPTS}/kube.sh; rollout_next "$1"', "sh", NEW], input="".join(p + "\n" for p in pods),
                          env={"PATH": "/usr/bin:/bin", "ROLE_LABEL": "redis-ha.io/role", **env}, capture_output=True, text=True, timeout=10, check=True)
    assert done.stderr == ""
    return done.stdout.strip()


class TestRolloutOrder:
    def test_replicas_go_from_the_highest_ordinal_and_the_master_last(self):
        """Master on the highest ordinal: the replicas go first, highest first, then the master."""
        steps = []
        pods = {0: [OLD, "replica"], 1: [OLD, "replica"], 2: [OLD, "master"]}
        while True:
            step = next_step(*(f"{o} ready {rev} {role}" for o, (rev, role) in pods.items()))
            steps.append(step)
            if step == "done":
                break
            verb, ordinal = step.split()[:2]
            assert verb == "delete", step
            pods[int(ordinal)][0] = NEW
            if pods[int(ordinal)][1] == "master":  # the preStop hands over to a replaced replica
                pods[int(ordinal)][1], pods[1][1] = "replica", "master"
        assert [s.split()[1] for s in steps[:-1]] == ["1", "0", "2"], steps
        assert steps[2] == "delete 2 the master, last: every replica runs the new revision"

    def test_master_on_ordinal_0_goes_last(self):
        assert next_step(f"0 ready {OLD} master", f"1 ready {NEW} replica", f"2 ready {OLD} replica") == "delete 2 replica 2, the highest outdated one"
        assert next_step(f"0 ready {OLD} master", f"1 ready {NEW} replica", f"2 ready {NEW} replica").startswith("delete 0 the master")

    def test_replicas_of_a_replaced_master_still_go(self):
        """The master already runs the new revision (a failover put it on a replaced pod)."""
        assert next_step(f"0 ready {OLD} replica", f"1 ready {NEW} master", f"2 ready {OLD} replica").startswith("delete 2 ")

    def test_done_when_every_pod_is_replaced_and_ready(self):
        assert next_step(f"0 ready {NEW} master", f"1 ready {NEW} replica", f"2 ready {NEW} replica") == "done"

    def test_single_pod_is_replaced(self):
        assert next_step(f"0 ready {OLD} master").startswith("delete 0 the master")


class TestRolloutWaits:
    @pytest.mark.parametrize("state", ["missing", "terminating"])
    def test_nothing_goes_while_a_pod_is_being_replaced(self, state):
        assert next_step(f"0 ready {OLD} master", f"1 {state} - -", f"2 ready {OLD} replica") == f"wait pod 1 is {state}"

    def test_a_replaced_pod_that_is_not_ready_stops_the_rollout(self):
        """A new revision that does not come up (or a replica still in its first sync) holds the rest back."""
        assert next_step(f"0 ready {OLD} master", f"1 ready {OLD} replica", f"2 unready {NEW} replica") == \
            "wait pod 2 runs the new revision and its Redis is not Ready yet"

    def test_the_master_must_be_labelled_exactly_once(self):
        assert next_step(f"0 ready {OLD} replica", f"1 ready {OLD} replica", f"2 ready {OLD} replica") == \
            "wait 0 pods are labelled redis-ha.io/role=master; waiting for exactly one"
        assert next_step(f"0 ready {OLD} master", f"1 ready {OLD} master", f"2 ready {OLD} replica").startswith("wait 2 pods are labelled")

    def test_an_outdated_master_that_is_not_ready_is_left_to_sentinel(self):
        assert next_step(f"0 unready {OLD} master", f"1 ready {NEW} replica", f"2 ready {NEW} replica") == "wait pod 0 is the master and its Redis is not Ready"


class TestRolloutMigration:
    def test_followers_of_an_external_master_go_as_replicas(self):
        """migration.enabled: every pod replicates the source, none is labelled master, and that is expected."""
        pods = (f"0 ready {OLD} replica", f"1 ready {OLD} replica", f"2 ready {OLD} replica")
        assert next_step(*pods, ROLLOUT_NO_MASTER="true") == "delete 2 replica 2, the highest outdated one"
        assert next_step(*pods).startswith("wait 0 pods are labelled")


class TestRolloutLegacy:
    def test_pods_without_a_role_label_container_go_highest_first(self):
        """An upgrade from a chart version without the role-label container: nobody can say which pod is
        the master, so the unlabelled pods go from the highest ordinal, one at a time."""
        assert next_step(f"0 ready {OLD} ?", f"1 ready {OLD} ?", f"2 ready {OLD} ?") == "delete 2 replica 2, the highest outdated one"
        assert next_step(f"0 ready {OLD} ?", f"1 ready {OLD} ?", f"2 ready {NEW} replica") == "delete 1 replica 1, the highest outdated one"
        assert next_step(f"0 ready {OLD} ?", f"1 ready {NEW} master", f"2 ready {NEW} replica") == "delete 0 replica 0, the highest outdated one"


class TestRolloutUnready:
    def test_an_outdated_replica_that_is_not_ready_goes_first(self):
        """It serves nothing: replacing it first costs nothing, and may be what it needs."""
        assert next_step(f"0 ready {OLD} master", f"1 unready {OLD} replica", f"2 ready {OLD} replica") == \
            "delete 1 pod 1 is outdated and its Redis not Ready: it goes first"

    def test_a_broken_release_is_replaced_one_pod_at_a_time(self):
        """Every pod of the last revision fails (no master, no label): each goes in turn, highest first,
        without waiting for the replaced ones, which may need the others replaced to come up."""
        pods = {0: OLD, 1: OLD, 2: OLD}
        order = []
        for _ in range(3):
            step = next_step(*(f"{o} unready {rev} -" for o, rev in pods.items()))
            assert step.startswith("delete "), step
            order.append(int(step.split()[1]))
            pods[order[-1]] = NEW
        assert order == [2, 1, 0]
        assert next_step(*(f"{o} unready {rev} -" for o, rev in pods.items())) == "wait pod 0 runs the new revision and its Redis is not Ready yet"


class TestApiJson:
    BODY = ('{"kind":"Pod","metadata":{"name":"redis-ha-1","generation":1,"labels":{"apps.kubernetes.io/pod-index":"1",'
            '"controller-revision-hash":"redis-ha-7888fb7447","redis-ha.io/role":"replica"}},"spec":{"containers":[]},'
            '"status":{"observedGeneration":1,"conditions":[{"type":"Ready","observedGeneration":1,"status":"True","lastProbeTime":null}]}}')

    def run(self, script: str, body: str) -> str:
        done = subprocess.run(["sh", "-c", f'. {SCRIPTS}/kube.sh; KUBE_BODY=$1; {script}', "sh", body], env={"PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=10, check=True)
        return done.stdout.strip()

    # The shape of a pod's containerStatuses as Kubernetes 1.34 returns them (abridged).
    STATUSES = ('"containerStatuses":[{{"name":"metrics","state":{{"running":{{"startedAt":"2026-12-03T21:49:56Z"}}}},"lastState":{{}},'
                '"ready":true,"restartCount":0,"started":true}},{{"name":"redis","state":{{"{state}":{{"startedAt":"2026-12-03T21:49:55Z"}}}},'
                '"lastState":{{"terminated":{{"exitCode":137,"reason":"Error"}}}},"ready":{ready},"restartCount":1,"started":true,'
                '"volumeMounts":[{{"name":"data","mountPath":"/data"}}]}},{{"name":"role-label","state":{{"running":{{}}}},"lastState":{{}},"ready":true,"restartCount":0}}]')

    @pytest.mark.parametrize(("state", "ready", "expected"), [("running", "true", "yes"), ("running", "false", "no"), ("waiting", "false", "no")])
    def test_readiness_is_the_redis_containers_own(self, state, ready, expected):
        """The exporter and role-label being ready says nothing; the redis container's ready field decides."""
        body = '{"status":{' + self.STATUSES.format(state=state, ready=ready) + '}}'
        assert self.run("if redis_ready; then echo yes; else echo no; fi", body) == expected

    def test_fields_are_read_from_compact_json(self):
        assert self.run("json_string controller-revision-hash", self.BODY) == "redis-ha-7888fb7447"
        assert self.run("json_string redis-ha.io/role", self.BODY) == "replica"
        assert self.run("json_number observedGeneration", self.BODY) == "1"
        assert self.run("json_string nothing-here", self.BODY) == ""

    @pytest.mark.parametrize(("step", "reason"), [("delete 1 0 no pod is Ready: every outdated pod goes", "no pod is Ready: every outdated pod goes"),
                                                  ("delete 2 replica 2, the highest outdated one", "replica 2, the highest outdated one"),
                                                  ("wait pod 1 is missing", "pod 1 is missing")])
    def test_the_logged_reason_drops_verb_and_ordinals(self, step, reason):
        assert self.run('step_reason "$KUBE_BODY"', step) == reason

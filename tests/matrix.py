# SPDX-License-Identifier: Apache-2.0
"""One values matrix, two uses: charts/redis-ha/ci/*-values.yaml (also run by ct on kind) plus
generated combinations of the settings most likely to interact."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from tests.helm import CHART, load_values_file


@dataclass(frozen=True)
class Case:
    id: str
    values: dict


def ci_cases() -> list[Case]:
    return [Case("ci-" + p.name.removesuffix("-values.yaml"), load_values_file(p)) for p in sorted((CHART / "ci").glob("*-values.yaml"))]


def generated_cases() -> list[Case]:
    cases = []
    for auth, persistence, replicas, netpol, metrics, affinity in itertools.product(
        (True, False), (True, False), (1, 3, 5), (True, False), (True, False), ("soft", "hard", "none")
    ):
        values = {
            "auth": {"enabled": auth},
            "persistence": {"enabled": persistence},
            "replicas": replicas,
            "networkPolicy": {"enabled": netpol, "allowExternal": not netpol or replicas != 3},
            "metrics": {"enabled": metrics},
            "podAntiAffinity": affinity,
        }
        ident = f"auth{int(auth)}-pv{int(persistence)}-r{replicas}-np{int(netpol)}-m{int(metrics)}-{affinity}"
        cases.append(Case(ident, values))
    return cases


def tls_cases() -> list[Case]:
    """TLS combinations; not in charts/redis-ha/ci/ because `ct install` there would need the
    certificate Secret (or cert-manager) to exist before the chart."""
    secret = {"enabled": True, "existingSecret": "redis-tls"}
    return [
        Case("tls-secret", {"tls": secret}),
        Case("tls-cert-manager-auth-clients", {"tls": {"enabled": True, "authClients": True, "certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}}),
        Case("tls-plain-ports-restricted-np", {"tls": {**secret, "plainPorts": {"enabled": True}}, "networkPolicy": {"allowExternal": False}}),
        Case("tls-single-noauth", {"replicas": 1, "auth": {"enabled": False}, "tls": {**secret, "plainPorts": {"enabled": True}}}),
    ]


def layout_cases() -> list[Case]:
    """Sentinel layouts: the generated cases use Sentinel pods of their own (the default); these add
    the co-located layout (sentinel.colocated, the AIKernel deployment's) and other Sentinel counts."""
    colocated = {"colocated": True}
    return [
        Case("colocated", {"sentinel": colocated}),
        Case("colocated-r5-hard", {"replicas": 5, "sentinel": colocated, "podAntiAffinity": "hard"}),
        Case("colocated-single", {"replicas": 1, "sentinel": colocated}),
        Case("colocated-noauth-pv0-m0", {"sentinel": colocated, "auth": {"enabled": False}, "persistence": {"enabled": False}, "metrics": {"enabled": False}}),
        Case("colocated-tls-plain-ports", {"sentinel": colocated, "tls": {"enabled": True, "existingSecret": "redis-tls", "plainPorts": {"enabled": True}}}),
        Case("sentinels5-r3", {"sentinel": {"replicas": 5}}),
        Case("sentinels7-r5-quorum5-spread", {"replicas": 5, "sentinel": {"replicas": 7, "quorum": 5},
                                              "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}]}),
    ]


def engine_cases() -> list[Case]:
    """Valkey (engine: valkey) beside the Redis default, across the settings whose rendering
    touches the server: single mode, no auth, TLS, ACL users, the co-located layout; and backups
    (the backup and restore Jobs run the engine's image)."""
    valkey = {"engine": "valkey"}
    return [
        Case("valkey-single", {**valkey, "replicas": 1}),
        Case("valkey-r5-noauth-pv0", {**valkey, "replicas": 5, "auth": {"enabled": False}, "persistence": {"enabled": False}}),
        Case("valkey-tls-plain-ports", {**valkey, "tls": {"enabled": True, "existingSecret": "redis-tls", "plainPorts": {"enabled": True}}}),
        Case("valkey-acl", {**valkey, "acl": {"enabled": True, "existingSecret": "redis-acl"}}),
        Case("valkey-colocated-restricted-np", {**valkey, "sentinel": {"colocated": True}, "networkPolicy": {"allowExternal": False}}),
        Case("valkey-backup-acl-tls-upload", {**valkey, "backup": {"enabled": True, "keep": 3, "upload": {"name": "upload", "image": "example/uploader:1", "command": ["sh", "-c", "upload \"$(cat \"$BACKUP_LATEST\")\""]}},
                                               "acl": {"enabled": True, "existingSecret": "redis-acl"}, "tls": {"enabled": True, "existingSecret": "redis-tls"}}),
        Case("backup-restore-existing-claim", {"backup": {"enabled": True, "persistence": {"existingClaim": "old-backups"}, "restore": {"file": "latest"}}}),
        Case("backup-single-noauth", {"replicas": 1, "auth": {"enabled": False}, "backup": {"enabled": True, "timeZone": "Europe/Berlin"}}),
        Case("valkey-image-pinned", {**valkey, "image": {"registry": "mirror.local", "repository": "valkey/valkey", "digest": "sha256:" + "b" * 64}}),
    ]


def migration_cases() -> list[Case]:
    """Following an external master (migration.enabled) and the cutover configuration (a source set,
    migration.enabled off: the pre-upgrade hook Job), with TLS to the source and the layouts."""
    source = {"host": "redis-master.old.svc.cluster.local", "existingSecret": "old-redis"}
    tls = {"enabled": True, "existingSecret": "redis-tls"}
    return [
        Case("migration-following", {"migration": {"enabled": True, "source": source}}),
        Case("migration-following-colocated-restricted-np", {"migration": {"enabled": True, "source": source}, "sentinel": {"colocated": True}, "networkPolicy": {"allowExternal": False}}),
        Case("migration-cutover", {"migration": {"source": source}}),
        Case("migration-cutover-tls-source-ca-user", {"migration": {"source": {**source, "username": "replicator", "tls": {"enabled": True, "existingSecret": "old-ca"}}}, "tls": tls}),
        Case("migration-single", {"replicas": 1, "migration": {"enabled": True, "source": source}}),
    ]


MATRIX = ci_cases() + generated_cases() + tls_cases() + layout_cases() + engine_cases() + migration_cases()

# SPDX-License-Identifier: Apache-2.0
"""Strict Kubernetes schema validation (kubernetes-validate's vendored schemas, offline).

kubernetes_validate.validate() re-reads its 2 MB definitions file on every call; this keeps one
compiled validator per (Kubernetes version, kind), which makes validating hundreds of renders
over seven versions take seconds instead of minutes.
"""
from __future__ import annotations

import functools
import re

import jsonschema
from kubernetes_validate import utils
from referencing import Registry, Resource

# Kinds from CRDs have no upstream schema; they are checked by the chart's own tests.
CRD_GROUPS = ("monitoring.coreos.com/", "cert-manager.io/")
KUBE_VERSIONS = ("1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0")


@functools.lru_cache(maxsize=None)
def _validator(version: str, kind: str, api_version: str) -> jsonschema.Validator:
    schema_version = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    schema_dir = f"v{schema_version}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
    definitions = _definitions(schema_dir, version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=None)
def _definitions(schema_dir: str, version: str) -> dict:
    return utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)


def is_crd(doc: dict) -> bool:
    return doc["apiVersion"].startswith(CRD_GROUPS)


def errors(doc: dict, version: str) -> list[str]:
    """Strict schema errors of one manifest for one Kubernetes version (empty when valid)."""
    validator = _validator(version, doc["kind"], doc["apiVersion"])
    return [f"{doc['kind']}/{doc['metadata']['name']} on {version}: {e.json_path}: {e.message}" for e in validator.iter_errors(doc)]

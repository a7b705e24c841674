# SPDX-License-Identifier: Apache-2.0
"""Test certificates made with the openssl CLI: a CA and one certificate whose SANs are DNS names
only, usable as server and as client certificate - what the chart asks of tls.existingSecret and
what its cert-manager Certificate requests."""
from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

# ECDSA P-256: quick to generate, accepted by Redis, redis-py and Go's crypto/tls.
_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {proc.stderr}")


def make_certificates(out: Path, dns_names: list[str], days: int = 2) -> dict[str, Path]:
    """Writes ca.crt, tls.crt and tls.key (mode 0400) into `out`; returns them by name."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "ext.cnf").write_text(
        "subjectAltName=" + ",".join(f"DNS:{n}" for n in dns_names) + "\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "basicConstraints=critical,CA:FALSE\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    # Python 3.13+ verifies with VERIFY_X509_STRICT: the CA needs its key usage, the leaf an AKI.
    _openssl("req", "-x509", *_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", str(days), "-subj", "/CN=redis-ha test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=out)
    _openssl("req", *_KEY, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=redis-ha", cwd=out)
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", f"0x{secrets.token_hex(8)}",
             "-days", str(days), "-extfile", "ext.cnf", "-out", "tls.crt", cwd=out)
    for name in ("ca.key", "tls.csr", "ext.cnf"):
        (out / name).unlink()
    files = {name: out / name for name in ("ca.crt", "tls.crt", "tls.key")}
    for path in files.values():
        path.chmod(0o400)
    return files

"""A throw-away certificate authority and server certificate for TLS tests, made by openssl."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Python's default context checks X.509 strictly: a CA with keyCertSign, a leaf with key ids.
_LEAF_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
"""
_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


@dataclass(frozen=True)
class Certs:
    ca_file: Path  # the CA certificate (PEM), what a client is given to trust
    cert_file: Path  # the server certificate for 127.0.0.1, ::1 and localhost, signed by the CA
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certs(folder: Path) -> Certs:
    """A CA and a server certificate valid for two days, written into ``folder``."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    (folder / "leaf.cnf").write_text(_LEAF_EXTENSIONS)
    openssl("req", "-x509", *_EC_KEY, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=edgeperf test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    openssl(
        "req", *_EC_KEY, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days",
            "2", "-set_serial", "2", "-extfile", "leaf.cnf", "-out", "server.pem")  # fmt: skip
    return Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key")

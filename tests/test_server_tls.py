"""TLS and mutual TLS on the real service, with a throwaway CA made here (``cryptography``).

TLS: a client that trusts the CA is served, a plaintext client and a client that trusts another
CA are not. Mutual TLS (``require_client_cert``): a client without a certificate, or with one
signed by another CA, is refused at the handshake; one signed by the configured CA is served.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from acd.client import ServiceError, TlsOptions, connect
from acd.v1 import supervision_pb2, supervision_pb2_grpc
from server_helpers import TEST_CONFIG, ServerThread, make_config, md

T = 5.0


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, PEM."""

    cert: bytes
    key: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Authority:
    """A self-signed CA that issues server and client certificates (valid for one day)."""

    def __init__(self, name: str) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name(name)
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            self._builder(self._name, self._key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.pem = self._cert.public_bytes(serialization.Encoding.PEM)

    def _builder(
        self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime.datetime
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def issue(self, common_name: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            self._builder(_name(common_name), key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            names: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


@dataclass(frozen=True)
class Pki:
    ca: Authority
    server: Issued
    client: Issued
    rogue_ca: Authority  # trusted by nobody here
    rogue_client: Issued


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca, rogue = Authority("acd test CA"), Authority("another CA")
    return Pki(
        ca=ca,
        server=ca.issue("acd server", server=True),
        client=ca.issue("pbx-adapter-1", server=False),
        rogue_ca=rogue,
        rogue_client=rogue.issue("pbx-adapter-1", server=False),
    )


def _tls_server(tmp_path: Path, pki: Pki, *, mutual: bool) -> ServerThread:
    files = {
        "server.crt": pki.server.cert,
        "server.key": pki.server.key,
        "clients-ca.crt": pki.ca.pem,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    tls = (
        "\n[server.tls]\n"
        f'cert_file = "{(tmp_path / "server.crt").as_posix()}"\n'
        f'key_file = "{(tmp_path / "server.key").as_posix()}"\n'
    )
    if mutual:
        tls += (
            f'client_ca_file = "{(tmp_path / "clients-ca.crt").as_posix()}"\n'
            "require_client_cert = true\n"
        )
    config = make_config(TEST_CONFIG + tls)
    assert config.server.tls is not None and config.server.tls.require_client_cert is mutual
    return ServerThread(config, tmp_path / "data").start()


def _tls_channel(address: str, roots: bytes, client: Issued | None = None) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=roots,
        private_key=client.key if client else None,
        certificate_chain=client.cert if client else None,
    )
    return grpc.secure_channel(address, credentials)


def _served(channel: grpc.Channel) -> grpc.StatusCode | None:
    """None when both a health check and an authenticated RPC succeed, else the failure."""
    with channel:
        try:
            health = health_pb2_grpc.HealthStub(channel)
            status = health.Check(health_pb2.HealthCheckRequest(), timeout=T).status
            assert status == health_pb2.HealthCheckResponse.SERVING
            supervision = supervision_pb2_grpc.SupervisionServiceStub(channel)
            agents = supervision.ListAgents(
                supervision_pb2.ListAgentsRequest(), metadata=md("t-supervisor"), timeout=T
            )
            assert [a.agent_id for a in agents.agents] == ["anna", "ben"]
        except grpc.RpcError as e:
            code: grpc.StatusCode = e.code()
            return code
    return None


def test_tls_serves_tls_clients_only(tmp_path: Path, pki: Pki) -> None:
    server = _tls_server(tmp_path, pki, mutual=False)
    try:
        assert _served(_tls_channel(server.address, pki.ca.pem)) is None
        # A client certificate is neither required nor refused.
        assert _served(_tls_channel(server.address, pki.ca.pem, pki.client)) is None
        assert _served(grpc.insecure_channel(server.address)) == grpc.StatusCode.UNAVAILABLE
        # The server's certificate does not check out against a CA the client does not trust.
        untrusted = _tls_channel(server.address, pki.rogue_ca.pem)
        assert _served(untrusted) == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


def test_mutual_tls_needs_a_client_certificate_from_the_ca(tmp_path: Path, pki: Pki) -> None:
    server = _tls_server(tmp_path, pki, mutual=True)
    try:
        assert _served(_tls_channel(server.address, pki.ca.pem, pki.client)) is None
        no_cert = _tls_channel(server.address, pki.ca.pem)
        assert _served(no_cert) == grpc.StatusCode.UNAVAILABLE
        wrong_ca = _tls_channel(server.address, pki.ca.pem, pki.rogue_client)
        assert _served(wrong_ca) == grpc.StatusCode.UNAVAILABLE
        assert _served(grpc.insecure_channel(server.address)) == grpc.StatusCode.UNAVAILABLE
        # The same through acd.client's TlsOptions.
        with_cert = TlsOptions(pki.ca.pem, pki.client.cert, pki.client.key)
        assert asyncio.run(_client_agents(server.address, with_cert)) == ["anna", "ben"]
        with pytest.raises(ServiceError) as refused:
            asyncio.run(_client_agents(server.address, TlsOptions(pki.ca.pem)))
        assert refused.value.code is grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


async def _client_agents(address: str, tls: TlsOptions) -> list[str]:
    async with connect(address, "t-supervisor", tls=tls, timeout_s=T) as client:
        return [a.agent_id for a in await client.list_agents()]

"""vh-server as users run it: loopback by default, SIGTERM, bearer token, TLS, health and reflection."""

from __future__ import annotations

import datetime
import ipaddress
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.server.conftest import clip, start_subprocess_server
from vh.client.remote import AuthenticationError, Client, RetryPolicy, ServerUnavailable
from vh.server.serve import ServerOptions, build_parser, create_server


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, from the kernel's tables (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                raw = bytes.fromhex(addr)
                # /proc stores each 32-bit word in host (little-endian) order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                ip = ipaddress.ip_address(raw)
                found.add(str(getattr(ip, "ipv4_mapped", None) or ip))  # gRPC may listen on ::ffff:127.0.0.1
    return found


def test_sigterm_during_load_ends_streams_cleanly_and_exits_0(tmp_path):
    assert build_parser().parse_args([]).host == "127.0.0.1"
    proc, port = start_subprocess_server(["--device", "cpu", "--model", "cut", "--grace", "1"])
    try:
        assert _listening_addresses(port) == {"127.0.0.1"}  # loopback only by default

        frames, mattes = clip(2, 48, 64, channels=3, dtype=np.float32)
        gate = threading.Event()

        n = 100_000  # more than any server gets through before the signal: the load is still going then

        def endless():  # a long shot: frames keep coming until the server goes away
            for _ in range(n):
                yield frames[0]
                if gate.is_set():
                    time.sleep(0.05)

        def job():
            with Client(f"127.0.0.1:{port}", retry=RetryPolicy(attempts=1)) as c:
                try:
                    return sum(
                        1 for _ in c.harmonize(endless(), (mattes[0] for _ in range(n)), colorspace="ACEScg")
                    ), None
                except Exception as exc:  # noqa: BLE001 - what each client saw is the result
                    return None, exc

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(job) for _ in range(4)]
            time.sleep(3.0)
            gate.set()
            proc.send_signal(signal.SIGTERM)
            results = [f.result(timeout=60) for f in futures]
        assert proc.wait(timeout=30) == 0
        for _done, exc in results:
            assert exc is None or isinstance(exc, ServerUnavailable), repr(exc)
        assert any(exc is not None for _, exc in results)  # the load really was interrupted
        messages = [str(exc) for _, exc in results if exc is not None]
        assert any("shutting down" in m for m in messages), messages
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_bearer_token(tmp_path):
    running = create_server("127.0.0.1:0", ServerOptions(models=["cut"], token="s3cret-token"))
    try:
        frames, mattes = clip(1, 32, 32, channels=3, dtype=np.float32)
        with Client(f"127.0.0.1:{running.port}") as anonymous:
            with pytest.raises(AuthenticationError, match="token"):
                anonymous.info()
            with pytest.raises(AuthenticationError):
                list(anonymous.harmonize(frames, mattes, colorspace="ACEScg"))
        with Client(f"127.0.0.1:{running.port}", token="wrong") as wrong, pytest.raises(AuthenticationError):
            wrong.info()
        with Client(f"127.0.0.1:{running.port}", token="s3cret-token") as good:
            assert good.info().default_model == "cut"
            assert len(list(good.harmonize(frames, mattes, colorspace="ACEScg"))) == 1
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:  # health stays open for probes
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        running.stop(grace=0.5)


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vh-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    return tmp_path / "cert.pem", tmp_path / "key.pem", cert_pem


def test_tls_with_a_generated_certificate(tmp_path):
    cert, key, cert_pem = _self_signed(tmp_path)
    running = create_server(
        "127.0.0.1:0", ServerOptions(models=["cut"], tls_cert=str(cert), tls_key=str(key))
    )
    try:
        frames, mattes = clip(1, 32, 32, channels=3, dtype=np.float32)
        with Client(f"localhost:{running.port}", root_certificates=cert_pem) as secure:
            assert secure.info().api_version == "v1"
            assert len(list(secure.harmonize(frames, mattes, colorspace="ACEScg"))) == 1
        with (
            Client(f"127.0.0.1:{running.port}", retry=RetryPolicy(attempts=1)) as plaintext,
            pytest.raises(ServerUnavailable),
        ):
            plaintext.info(timeout=5)
    finally:
        running.stop(grace=0.5)


def test_reflection_lists_the_service(server):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"vh.server.v1.Harmonizer", "grpc.health.v1.Health"} <= services


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "mps"], "unsupported device 'mps'; use 'cpu' or 'cuda:N'"),
        (["--device", "cpu:x"], "unknown device 'cpu:x'; use 'cpu' or 'cuda:N'"),
        (["--gpu", "99"], "device 'cuda:99' "),
    ],
)
def test_an_unusable_device_fails_the_launch_in_one_line(capsys, argv, message):
    from vh.server.serve import main

    assert main([*argv, "--model", "cut", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"vh-server: error: {message}") and "\n" not in err


def test_launch_errors_are_one_line(tmp_path, capsys):
    from vh.server.serve import main

    assert main(["--device", "cpu", "--model", "no-such-model", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vh-server: error: unknown model 'no-such-model'") and "\n" not in err
    assert (
        main(["--device", "cpu", "--model", "vhmae_base", "--port", "0"]) == 2
    )  # learned, and no weights ship
    err = capsys.readouterr().err.strip()
    assert err.startswith("vh-server: error: model 'vhmae_base' needs learned weights") and "\n" not in err
    assert (
        main(["--device", "cpu", "--model", "cut", "--tls-cert", str(tmp_path / "x.pem"), "--port", "0"]) == 2
    )
    assert "TLS needs both" in capsys.readouterr().err

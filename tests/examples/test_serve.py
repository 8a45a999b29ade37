"""``python -m examples.<app>`` / ``python path/to/examples/<app>``: serves on the port it is
given, from any working directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_books(process: subprocess.Popen[str], port: int) -> httpx.Response:
    """GET /books once the server answers (it first creates its tables)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, stderr = process.communicate()
            pytest.fail(f"the example exited with {process.returncode}:\n{stderr}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/books", timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("the example did not answer within 60 s")


@pytest.mark.parametrize("example", ["fastapi_app", "starlette_app"])
@pytest.mark.parametrize("port_from", ["--port", "$PORT"])
def test_serves_on_the_given_port_from_any_directory(
    example: str, port_from: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PORT"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shop.db'}"
    command = [sys.executable, str(ROOT / "examples" / example)]
    if port_from == "--port":
        command += ["--port", str(port)]
    else:
        env["PORT"] = str(port)
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        response = wait_for_books(process, port)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert response.status_code == 200
    assert response.json() == []
    assert (tmp_path / "shop.db").exists()  # the tables were created where DATABASE_URL says


def test_a_bad_port_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fastapi_app")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "invalid int value: 'eighty'" in done.stderr
    assert "Traceback" not in done.stderr

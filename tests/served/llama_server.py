"""llama.cpp's OpenAI-compatible server (llama-cpp-python) on loopback, started and stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """One server process; `stop()` kills it by PID (the tests also kill it mid-shard on purpose)."""

    def __init__(self, gguf: Path, log: Path, *, alias: str = "tiny-llama", api_key: str | None = None, port=None):
        self.gguf, self.log, self.alias, self.api_key = gguf, log, alias, api_key
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120, extra_args: tuple[str, ...] = ()) -> LlamaServer:
        args = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--model_alias", self.alias]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--n_threads", "1"]
        args += ["--verbose", "false", *(extra_args or ("--logits_all", "true"))]
        if self.api_key:
            args += ["--api_key", self.api_key]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama server exited ({self.process.returncode}): {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/v1/models", headers=headers, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama server did not answer in {timeout_s}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

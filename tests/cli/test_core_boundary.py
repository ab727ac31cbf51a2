"""The core is a library with no UI, and `chat --version` imports nothing heavy.

Both checks run in fresh interpreters, so modules other tests imported do not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support import PROJECT

ROOT = PROJECT
UI_MODULES = ("textual", "rich", "chatbot.ui")
HEAVY_MODULES = ("openai", "tiktoken", "textual", "rich", "httpx")


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120, stdin=subprocess.DEVNULL)


def loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


CORE_DRIVER = """
import importlib, json, pkgutil, sys
import chatbot.core
names = sorted(m.name for m in pkgutil.walk_packages(chatbot.core.__path__, "chatbot.core."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


def test_core_imports_no_ui() -> None:
    done = run_python("-c", CORE_DRIVER)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    imported, modules = result["imported"], result["modules"]
    # the discovery found the core's modules (so the check below is not vacuous)
    for expected in ("settings", "tokens", "budget", "pricing", "client", "session", "terminal", "errors"):
        assert f"chatbot.core.{expected}" in imported
    assert all(name in modules for name in imported)
    offenders = [name for name in UI_MODULES if loaded(modules, name)]
    assert offenders == [], f"importing chatbot.core pulled in {offenders}"


def test_the_boundary_check_can_fail() -> None:
    """Importing the UI does load textual: the module check above would notice a core that did."""
    done = run_python("-c", "import sys, json, textual; print(json.dumps(sorted(sys.modules)))")
    assert done.returncode == 0, done.stderr
    assert loaded(json.loads(done.stdout), "textual")


VERSION_DRIVER = """
import json, sys
import chatbot.cli
try:
    code = chatbot.cli.main(["--version"])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_version_imports_nothing_heavy() -> None:
    done = run_python("-c", VERSION_DRIVER)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["code"] in (0, None)
    assert any(line.startswith("chat ") for line in lines[:-1])  # argparse printed the version
    modules = result["modules"]
    assert "chatbot.cli" in modules
    offenders = [name for name in HEAVY_MODULES if loaded(modules, name)]
    assert offenders == [], f"chat --version imported {offenders}"


def _importtime_modules(stderr: str) -> list[str]:
    """Module names from `-X importtime` output ("import time: self | cumulative | name")."""
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.append(name)
    return names


def test_python_m_chatbot_version_imports_nothing_heavy() -> None:
    from chatbot import __version__

    done = run_python("-X", "importtime", "-m", "chatbot", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"chat {__version__}"
    modules = _importtime_modules(done.stderr)
    assert "chatbot.cli" in modules  # the import log was parsed
    offenders = [name for name in HEAVY_MODULES if loaded(modules, name)]
    assert offenders == [], f"python -m chatbot --version imported {offenders}"

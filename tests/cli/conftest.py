"""Session fixtures for the real-CLI tests: the Claude Code CLI, headless, through modelmux.

One session installs (once, into a cache outside the repo) the pinned npm package
``@anthropic-ai/claude-code``, then starts four simulated providers (`modelmux sim`), one per
wire format, and one gateway (`modelmux serve`) with a route per format:

* ``cc-openai``    -> an ``openai`` provider   (Chat Completions; ``max_output_tokens`` set,
                      so Claude Code's 32000/128000 ``max_tokens`` is clamped)
* ``cc-anthropic`` -> an ``anthropic`` provider (Messages passthrough)
* ``cc-gemini``    -> a ``gemini`` provider     (generateContent)
* ``cc-bedrock``   -> a ``bedrock`` provider    (Converse, SigV4 verified by the simulator)

Every simulated model is scripted to call the ``Bash`` tool with ``echo <marker>`` on a user
turn, and to answer "The tool returned: <result>" on the tool-result turn.

Environment:
  MODELMUX_BIN          the modelmux binary (else $CARGO_TARGET_DIR/debug/modelmux, target/...)
  MODELMUX_CLI_CACHE    where npm installs the CLI (default: <target dir>/cli-cache)
  MODELMUX_CLI_TIMEOUT  seconds one `claude -p` run may take (default 120)
  CI=true or MODELMUX_CLI_REQUIRED=1
                        the CLI must be installable: failing to install it fails the tests
                        instead of skipping them

The process helpers (`find_binary`, `Proc`, `start`) are copied from tests/sdk/conftest.py so
that the two suites stay independent.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

CLI_PACKAGE = "@anthropic-ai/claude-code"
CLI_VERSION = "2.1.328"
NPM_TIMEOUT = 600.0

MASTER_KEY = "mm-cli-test-master-key"
SIM_KEY = "sim-cli-key"
AWS_KEY_ID = "AKIDMODELMUXCLITEST"
AWS_SECRET = "modelmux-cli-test-secret"

# The model each simulator serves, as the gateway's target names it.
MODELS = {
    "openai": "gpt-sim-mini",
    "anthropic": "claude-sim-sonnet",
    "gemini": "gemini-sim-flash",
    "bedrock": "anthropic.claude-sim-v1:0",
}
KINDS = list(MODELS)
OPENAI_MAX_OUTPUT = 16384


def required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("MODELMUX_CLI_REQUIRED") == "1"


def cannot_run(reason: str):
    """Skip (loudly, with the reason) or, when the CLI is required, fail."""
    if required():
        pytest.fail(f"Claude Code CLI tests cannot run (required here): {reason}", pytrace=False)
    pytest.skip(f"Claude Code CLI tests SKIPPED: {reason}")


def target_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO_ROOT / "target"
    return base if base.is_absolute() else REPO_ROOT / base


def find_binary() -> Path:
    """MODELMUX_BIN, else $CARGO_TARGET_DIR/debug/modelmux, else target/debug/modelmux."""
    candidates: list[tuple[str, Path]] = []
    if os.environ.get("MODELMUX_BIN"):
        candidates.append(("MODELMUX_BIN", Path(os.environ["MODELMUX_BIN"])))
    else:
        target = os.environ.get("CARGO_TARGET_DIR")
        if target:
            base = Path(target)
            if not base.is_absolute():
                base = REPO_ROOT / base
            candidates.append(("$CARGO_TARGET_DIR/debug/modelmux", base / "debug" / "modelmux"))
        candidates.append(("target/debug/modelmux", REPO_ROOT / "target" / "debug" / "modelmux"))
    for _, path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    tried = ", ".join(f"{what} = {path}" for what, path in candidates)
    pytest.fail(
        f"modelmux binary not found (tried {tried}). Build it with `cargo build -p modelmux` "
        "or set MODELMUX_BIN to its path.",
        pytrace=False,
    )


@dataclass
class Proc:
    """A started modelmux process, its address and where its stderr goes."""

    name: str
    popen: subprocess.Popen
    stderr_path: Path
    url: str = ""
    stdout_lines: list[str] = field(default_factory=list)

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    def stderr_text(self, limit: int = 8000) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError as e:
            return f"<cannot read {self.stderr_path}: {e}>"
        return text[-limit:]

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_TIMEOUT)


def start(binary: Path, name: str, args: list[str], pattern: str, workdir: Path) -> Proc:
    """Start `modelmux ARGS`, wait for the stdout line matching `pattern`, return its URL."""
    stderr_path = workdir / f"{name}.stderr.log"
    stderr_file = open(stderr_path, "wb")  # noqa: SIM115 - closed when the process ends
    popen = subprocess.Popen(
        [str(binary), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        cwd=workdir,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info"), "NO_COLOR": "1"},
    )
    stderr_file.close()
    proc = Proc(name=name, popen=popen, stderr_path=stderr_path)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        # Keep draining stdout for the whole life of the process so it never blocks.
        assert popen.stdout is not None
        for raw in popen.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            proc.stdout_lines.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()
    regex = re.compile(pattern)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    why = f"printed no address within {STARTUP_TIMEOUT:.0f}s"
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            popen.wait(timeout=STOP_TIMEOUT)
            why = f"exited with code {popen.returncode} before printing its address"
            break
        if m := regex.search(line):
            proc.url = m.group(1)
            return proc
    proc.stop()
    raise RuntimeError(
        f"`{name}` ({binary} {' '.join(args)}) {why}.\n"
        f"stdout:\n{chr(10).join(proc.stdout_lines) or '<empty>'}\n"
        f"stderr:\n{proc.stderr_text() or '<empty>'}"
    )


# --- the Claude Code CLI -------------------------------------------------------------------


def cli_cache() -> Path:
    cache = os.environ.get("MODELMUX_CLI_CACHE")
    return Path(cache) if cache else target_dir() / "cli-cache"


def installed_version(prefix: Path) -> str | None:
    manifest = prefix / "node_modules" / CLI_PACKAGE / "package.json"
    try:
        return json.loads(manifest.read_text()).get("version")
    except (OSError, ValueError):
        return None


def cli_candidates(prefix: Path) -> list[Path]:
    """The npm bin shim first, then the platform package's native binary itself (used when
    npm skipped the postinstall that puts the native binary in place of the shim)."""
    modules = prefix / "node_modules" / "@anthropic-ai"
    natives = sorted(modules.glob("claude-code-*/claude")) if modules.is_dir() else []
    return [prefix / "node_modules" / ".bin" / "claude", *natives]


def cli_version(binary: Path) -> tuple[str | None, str]:
    """`claude --version`'s version, or None and why not."""
    try:
        out = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1"},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{binary} --version: {e}"
    m = re.search(r"(\d+\.\d+\.\d+)", out.stdout)
    if out.returncode != 0 or not m:
        return None, (
            f"{binary} --version exited {out.returncode}: "
            f"{(out.stdout + out.stderr).strip()[-500:] or '<no output>'}"
        )
    return m.group(1), ""


def working_cli(prefix: Path) -> tuple[Path | None, str]:
    why = "not installed"
    for candidate in cli_candidates(prefix):
        if not candidate.exists():
            continue
        version, why = cli_version(candidate)
        if version == CLI_VERSION:
            return candidate, ""
        if version:
            why = f"{candidate} reports version {version}, not {CLI_VERSION}"
    return None, why


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    """The pinned Claude Code CLI, installed with npm into the cache when not already there."""
    prefix = cli_cache()
    if installed_version(prefix) == CLI_VERSION:
        binary, why = working_cli(prefix)
        if binary:
            return binary
    npm = shutil.which("npm")
    if not npm:
        cannot_run(f"npm not found on PATH, so {CLI_PACKAGE}@{CLI_VERSION} cannot be installed")
    prefix.mkdir(parents=True, exist_ok=True)
    log = prefix / "npm-install.log"
    cmd = [
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--no-save",
        f"{CLI_PACKAGE}@{CLI_VERSION}",
    ]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        cannot_run(
            f"`{' '.join(cmd)}` did not finish within {NPM_TIMEOUT:.0f}s "
            "(is the npm registry reachable?)"
        )
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        errors = [ln for ln in (done.stderr + done.stdout).splitlines() if "error" in ln.lower()]
        gist = " | ".join(ln.strip() for ln in errors[:4]) or "<no error lines>"
        cannot_run(
            f"`{' '.join(cmd)}` exited {done.returncode} (is the npm registry reachable?): "
            f"{gist[:600]} (full log: {log})"
        )
    binary, why = working_cli(prefix)
    if not binary:
        cannot_run(
            f"{CLI_PACKAGE}@{CLI_VERSION} installed into {prefix} but does not run here: {why} "
            "(its native binary comes from the optional dependency "
            f"{CLI_PACKAGE}-<platform>; log {log})"
        )
    return binary


# --- simulators and gateway ----------------------------------------------------------------


def sim_toml(kind: str, marker: str) -> str:
    if kind == "bedrock":
        auth = f'aws_access_key_id = "{AWS_KEY_ID}"\naws_secret_access_key = "{AWS_SECRET}"\n'
    else:
        auth = f'api_key = "{SIM_KEY}"\n'
    return f"""{auth}
[models."{MODELS[kind]}"]
output_tokens = 8

[models."{MODELS[kind]}".tool_call]
name = "Bash"
arguments = {{ command = "echo {marker}", description = "print a marker" }}
"""


def provider_block(kind: str, sim: Proc) -> str:
    root = sim.root
    model = MODELS[kind]
    if kind == "openai":
        body = f'kind = "openai"\nbase_url = "{root}/v1"\napi_key = "{SIM_KEY}"\n'
    elif kind == "anthropic":
        body = f'kind = "anthropic"\nbase_url = "{root}/v1"\napi_key = "{SIM_KEY}"\n'
    elif kind == "gemini":
        body = f'kind = "gemini"\nbase_url = "{root}/v1beta"\napi_key = "{SIM_KEY}"\n'
    else:
        body = (
            f'kind = "bedrock"\nbase_url = "{root}"\nregion = "us-east-1"\n'
            f'access_key_id = "{AWS_KEY_ID}"\nsecret_access_key = "{AWS_SECRET}"\n'
        )
    block = f"[providers.sim-{kind}]\n{body}"
    if kind == "openai":
        block += (
            f'\n[providers.sim-{kind}.models."{model}"]\n'
            f"max_output_tokens = {OPENAI_MAX_OUTPUT}\n"
        )
    return block


def gateway_toml(sims: dict[str, Proc]) -> str:
    parts = [f'[server]\nmaster_keys = ["{MASTER_KEY}"]\n', "[router]\nnum_retries = 0\n"]
    parts += [provider_block(kind, sims[kind]) for kind in KINDS]
    parts += [
        f'[[routes]]\nname = "cc-{kind}"\ntargets = ["sim-{kind}/{MODELS[kind]}"]\n'
        for kind in KINDS
    ]
    return "\n".join(parts)


@dataclass
class Stack:
    sims: dict[str, Proc]
    gateway: Proc
    workdir: Path
    marker: str
    master_key: str = MASTER_KEY

    def sim_stats(self, kind: str) -> dict:
        import urllib.request

        with urllib.request.urlopen(self.sims[kind].root + "/_sim/stats", timeout=10) as r:
            return json.load(r)

    def sim_requests(self, kind: str) -> int:
        models = self.sim_stats(kind).get("models", {})
        return int(models.get(MODELS[kind], {}).get("requests", 0))


@pytest.fixture(scope="session")
def modelmux_bin() -> Path:
    return find_binary()


@pytest.fixture(scope="session")
def stack(modelmux_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("modelmux-cli")
    marker = f"modelmux-tool-{secrets.token_hex(6)}"
    procs: list[Proc] = []
    try:
        sim_re = r"modelmux-sim listening on (http://127\.0\.0\.1:\d+/v1)\s*$"
        sims: dict[str, Proc] = {}
        for kind in KINDS:
            cfg = workdir / f"sim-{kind}.toml"
            cfg.write_text(sim_toml(kind, marker))
            sims[kind] = start(
                modelmux_bin,
                f"sim-{kind}",
                ["sim", "--config", str(cfg), "--listen", "127.0.0.1:0"],
                sim_re,
                workdir,
            )
            procs.append(sims[kind])
        gw_cfg = workdir / "gateway.toml"
        gw_cfg.write_text(gateway_toml(sims))
        gateway = start(
            modelmux_bin,
            "gateway",
            ["serve", "--config", str(gw_cfg), "--listen", "127.0.0.1:0"],
            r"modelmux listening on (http://127\.0\.0\.1:\d+)\s*$",
            workdir,
        )
        procs.append(gateway)
        yield Stack(sims=sims, gateway=gateway, workdir=workdir, marker=marker)
    finally:
        # Gateway first, so it does not see its providers vanish under in-flight requests.
        for p in reversed(procs):
            p.stop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing test, attach the gateway's log tail and the CLI's output to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and (rep.failed or hasattr(rep, "wasxfail")):
        stack = item.funcargs.get("stack")
        if isinstance(stack, Stack):
            rep.sections.append(("gateway stderr (tail)", stack.gateway.stderr_text(6000)))
        run = getattr(item, "cli_run", None)
        if run is not None:
            rep.sections.append(("claude stdout (tail)", run.stdout[-6000:]))
            rep.sections.append(("claude stderr (tail)", run.stderr[-4000:]))

"""Session fixtures for the SDK conformance tests.

One test session starts simulated providers (`modelmux sim`) and one gateway
(`modelmux serve`) in front of them, all on port 0, and stops them at the end.

OpenAI-format simulators:

* ``healthy`` answers every model normally and requires its own API key, so the
  gateway's provider credentials are exercised too. ``chat-model`` answers text,
  ``tools-model`` calls one tool, ``parallel-model`` calls up to two tools at once.
* ``flaky`` answers every request for ``down`` with a 503.

One simulator per other wire format, each with the same models (`MODELS_TOML`) and its own
credentials: ``anthropic`` (Messages, ``x-api-key``), ``gemini`` (generateContent,
``x-goog-api-key``), ``vertex`` (Vertex AI paths, OAuth bearer token) and ``bedrock``
(Converse/ConverseStream, every SigV4 signature recomputed and verified).

The gateway has master keys on, and these routes:

* ``chat``           -> healthy/chat-model
* ``tools``          -> healthy/tools-model
* ``parallel-tools`` -> healthy/parallel-model
* ``fallback``       -> flaky/down, then healthy/chat-model (1 retry per target)
* ``down``           -> flaky/down only (1 retry)
* ``on-<format>``, ``on-<format>-tools``, ``-parallel``, ``-thinking``, ``-cut`` for each
  format in ``FORMATS`` -> ``<provider>/chat-model``, ``/tools-model``, ... of that
  format's simulator (``on-openai`` is the ``healthy`` one); no retries.

The tests talk to the gateway only through the official SDKs (``openai``, ``anthropic``);
they read the simulators' ``/_sim/stats`` to count what reached a provider. The ``openai``
package is optional here, so the legacy ``anthropic`` venv (without it) can run
``test_anthropic_sdk.py`` alone.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

try:  # Absent in the legacy anthropic venv, which runs test_anthropic_sdk.py only.
    import openai
except ImportError:  # pragma: no cover - depends on the venv
    openai = None

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

MASTER_KEY = "mm-sdk-test-master-key"
HEALTHY_SIM_KEY = "sim-healthy-key"

# Retries on the failing routes: each request makes num_retries + 1 attempts per target.
FAILING_ROUTE_RETRIES = 1

# The models every healthy simulator knows, whatever its format. ``thinking-model`` starts
# each answer with a signed reasoning block; ``cut-model`` drops the connection after three
# content chunks (a stream that breaks after the gateway has committed to it).
MODELS_TOML = """
[default]
output_tokens = 12

[models.chat-model]
output_tokens = 12

[models.tools-model]
parallel_tool_calls = false

[models.parallel-model]
parallel_tool_calls = true

[models.thinking-model]
thinking = true

[models.cut-model]
output_tokens = 12
fault_rate = 1.0
random_fault = "cut:3"
"""

HEALTHY_SIM_TOML = f"""
api_key = "{HEALTHY_SIM_KEY}"
{MODELS_TOML}"""

FLAKY_SIM_TOML = """
[models.down]
fault_rate = 1.0
random_fault = "503"
"""

ANTHROPIC_SIM_KEY = "sim-anthropic-key"
GEMINI_SIM_KEY = "sim-gemini-key"
VERTEX_SIM_TOKEN = "sim-vertex-access-token"
AWS_ACCESS_KEY_ID = "AKIDMODELMUXSDKTEST"
AWS_SECRET_ACCESS_KEY = "modelmux-sdk-test-secret"

ANTHROPIC_SIM_TOML = f"""
api_key = "{ANTHROPIC_SIM_KEY}"
{MODELS_TOML}"""

GEMINI_SIM_TOML = f"""
api_key = "{GEMINI_SIM_KEY}"
{MODELS_TOML}"""

# Vertex paths need `Authorization: Bearer <token>`: one from /token or equal to api_key.
VERTEX_SIM_TOML = f"""
api_key = "{VERTEX_SIM_TOKEN}"
vertex_auth = true
{MODELS_TOML}"""

BEDROCK_SIM_TOML = f"""
aws_access_key_id = "{AWS_ACCESS_KEY_ID}"
aws_secret_access_key = "{AWS_SECRET_ACCESS_KEY}"
{MODELS_TOML}"""

# Simulator name -> its config. `healthy` is the OpenAI-format one.
SIM_TOMLS = {
    "healthy": HEALTHY_SIM_TOML,
    "flaky": FLAKY_SIM_TOML,
    "anthropic": ANTHROPIC_SIM_TOML,
    "gemini": GEMINI_SIM_TOML,
    "vertex": VERTEX_SIM_TOML,
    "bedrock": BEDROCK_SIM_TOML,
}

# Wire format -> the gateway provider id whose simulator speaks it.
FORMATS = {
    "openai": "healthy",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "vertex": "vertex",
    "bedrock": "bedrock",
}


ROUTE_MODELS = {
    "chat": "chat-model",
    "tools": "tools-model",
    "parallel": "parallel-model",
    "thinking": "thinking-model",
    "cut": "cut-model",
}


def format_routes(fmt: str) -> dict[str, str]:
    """The routes over one format's simulator, by what they lead to (`ROUTE_MODELS`):
    ``on-<fmt>``, ``on-<fmt>-tools``, ``-parallel``, ``-thinking``, ``-cut``."""
    return {what: f"on-{fmt}" if what == "chat" else f"on-{fmt}-{what}" for what in ROUTE_MODELS}


def _root(sim_url: str) -> str:
    return sim_url.removesuffix("/v1")


def gateway_toml(sims: dict[str, str]) -> str:
    """The gateway config over the simulators, given each one's `/v1` URL by name."""
    root = {name: _root(url) for name, url in sims.items()}
    text = f"""
[server]
master_keys = ["{MASTER_KEY}"]

# The suite checks retries and fallback against a target that always fails; the passive
# circuit breaker would (rightly) stop trying that target after a few calls, which would
# make those tests depend on the order they run in. A window too short to ever reach
# min_calls keeps every circuit closed.
[health]
window = 20
min_calls = 1000

[providers.healthy]
kind = "openai"
base_url = "{sims["healthy"]}"
api_key = "{HEALTHY_SIM_KEY}"

[providers.flaky]
kind = "openai"
base_url = "{sims["flaky"]}"
api_key = "sim-flaky-key"

[providers.anthropic]
kind = "anthropic"
base_url = "{root["anthropic"]}/v1"
api_key = "{ANTHROPIC_SIM_KEY}"

[providers.gemini]
kind = "gemini"
base_url = "{root["gemini"]}/v1beta"
api_key = "{GEMINI_SIM_KEY}"

[providers.vertex]
kind = "vertex"
base_url = "{root["vertex"]}/v1"
project = "modelmux-sdk"
location = "us-central1"
access_token = "{VERTEX_SIM_TOKEN}"

[providers.bedrock]
kind = "bedrock"
base_url = "{root["bedrock"]}"
region = "us-east-1"
access_key_id = "{AWS_ACCESS_KEY_ID}"
secret_access_key = "{AWS_SECRET_ACCESS_KEY}"

[[routes]]
name = "chat"
targets = ["healthy/chat-model"]

[[routes]]
name = "tools"
targets = ["healthy/tools-model"]

[[routes]]
name = "parallel-tools"
targets = ["healthy/parallel-model"]

[[routes]]
name = "fallback"
targets = ["flaky/down", "healthy/chat-model"]
num_retries = {FAILING_ROUTE_RETRIES}
retry_backoff = "10ms"
retry_backoff_max = "20ms"

[[routes]]
name = "down"
targets = ["flaky/down"]
num_retries = {FAILING_ROUTE_RETRIES}
retry_backoff = "10ms"
retry_backoff_max = "20ms"
"""
    for fmt, provider in FORMATS.items():
        for what, route in format_routes(fmt).items():
            # No retries: a failure here is the gateway's or the simulator's, never luck.
            text += f"""
[[routes]]
name = "{route}"
targets = ["{provider}/{ROUTE_MODELS[what]}"]
num_retries = 0
"""
    return text


ROUTES = ["chat", "tools", "parallel-tools", "fallback", "down"] + [
    route for fmt in FORMATS for route in format_routes(fmt).values()
]


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


@dataclass
class Stack:
    sims: dict[str, Proc]
    gateway: Proc
    workdir: Path

    @property
    def healthy(self) -> Proc:
        return self.sims["healthy"]

    @property
    def flaky(self) -> Proc:
        return self.sims["flaky"]

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (`.../v1`)."""
        return self.gateway.url + "/v1"

    @property
    def root_url(self) -> str:
        """The gateway's root, the Anthropic SDK's base URL (it appends `/v1/messages`)."""
        return self.gateway.url


@pytest.fixture(scope="session")
def modelmux_bin() -> Path:
    return find_binary()


@pytest.fixture(scope="session")
def stack(modelmux_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("modelmux-sdk")
    procs: list[Proc] = []
    try:
        sim_re = r"modelmux-sim listening on (http://127\.0\.0\.1:\d+/v1)\s*$"
        sims: dict[str, Proc] = {}
        for name, toml in SIM_TOMLS.items():
            cfg = workdir / f"sim-{name}.toml"
            cfg.write_text(toml)
            sims[name] = start(
                modelmux_bin,
                f"sim-{name}",
                ["sim", "--config", str(cfg), "--listen", "127.0.0.1:0"],
                sim_re,
                workdir,
            )
            procs.append(sims[name])
        gw_cfg = workdir / "gateway.toml"
        gw_cfg.write_text(gateway_toml({name: p.url for name, p in sims.items()}))
        gateway = start(
            modelmux_bin,
            "gateway",
            ["serve", "--config", str(gw_cfg), "--listen", "127.0.0.1:0"],
            r"modelmux listening on (http://127\.0\.0\.1:\d+)\s*$",
            workdir,
        )
        procs.append(gateway)
        yield Stack(sims=sims, gateway=gateway, workdir=workdir)
    finally:
        # Gateway first, so it does not see its providers vanish under in-flight requests.
        for p in reversed(procs):
            p.stop()


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    return stack.gateway.url


@pytest.fixture
def client(stack: Stack):
    """An `openai.OpenAI` client on the gateway, with the master key and no SDK retries."""
    if openai is None:
        pytest.skip("the openai package is not installed in this venv")
    c = openai.OpenAI(base_url=stack.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30.0)
    yield c
    c.close()


@pytest.fixture
def sim_requests(stack: Stack):
    """`sim_requests("flaky", "down")`: model requests that simulator got for that model
    (any simulator of `SIM_TOMLS`, by name)."""

    def get(sim: str, model: str) -> int:
        stats_url = _root(stack.sims[sim].url) + "/_sim/stats"
        with urllib.request.urlopen(stats_url, timeout=10) as r:
            stats = json.load(r)
        return int(stats.get("models", {}).get(model, {}).get("requests", 0))

    return get


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing test, attach the tail of the gateway's log to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        stack = item.funcargs.get("stack")
        if isinstance(stack, Stack):
            rep.sections.append(("gateway stderr (tail)", stack.gateway.stderr_text(4000)))

"""The real Codex CLI (npm @openai/codex, pinned), headless, through modelmux.

Codex 0.169 speaks only the OpenAI Responses API (`wire_api = "chat"` is no longer accepted):
one streamed `POST /v1/responses` per turn, `store: false`, every turn replaying the whole
conversation, with function tools (`exec_command`, ...), a `namespace` tool and the built-in
`web_search` (see shared/research/real-clients.md). `codex exec` runs against a model provider
in `$CODEX_HOME/config.toml` whose `base_url` is the gateway; each route sends the request to a
simulated provider of another wire format:

* ``cx-responses`` -> an ``openai`` provider with ``responses_api = true`` (Responses passthrough)
* ``cx-openai``    -> an ``openai`` provider without it (translated to Chat Completions)
* ``cx-anthropic`` -> an ``anthropic`` provider (Messages)
* ``cx-gemini``    -> a ``gemini`` provider (generateContent)
* ``cx-bedrock``   -> a ``bedrock`` provider (Converse, SigV4 verified by the simulator)

Every simulated model is scripted to call ``exec_command`` with
``echo <marker>-$((6*7)) > codex-ran.txt; cat codex-ran.txt`` on the user turn, and to answer
"The tool returned: <result>" on the tool-result turn. The expected output ``<marker>-42``
appears nowhere in the call's arguments: it reaches the final answer only through the command
really running (in the test's work dir, which then holds codex-ran.txt) and its output going
back through the gateway to the provider and the answer coming back to Codex.

Self-contained on purpose: the process helpers (`find_binary`, `Proc`, `start`) are copied from
tests/sdk/conftest.py, and the fixtures here have their own names, so this file shares nothing
with the Claude Code tests beside it but the cache directory (Codex gets its own npm prefix in
it, so that neither install prunes the other's packages).

Environment:
  MODELMUX_BIN          the modelmux binary (else $CARGO_TARGET_DIR/debug/modelmux, target/...)
  MODELMUX_CLI_CACHE    npm cache root (default: <target dir>/cli-cache); Codex goes in codex/
  MODELMUX_CLI_TIMEOUT  seconds one `codex exec` run may take (default 120)
  MODELMUX_CLI_REQUIRED=1
                        the CLI must be installable: failing to install it fails the tests
                        instead of skipping them (npm unreachable is a skip otherwise, in CI too)
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
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

CODEX_PACKAGE = "@openai/codex"
CODEX_VERSION = "0.169.0"
NPM_TIMEOUT = 600.0
CLI_TIMEOUT = float(os.environ.get("MODELMUX_CLI_TIMEOUT", "120"))

MASTER_KEY = "mm-codex-test-master-key"
SIM_KEY = "sim-codex-key"
AWS_KEY_ID = "AKIDMODELMUXCODEXTEST"
AWS_SECRET = "modelmux-codex-test-secret"

# Target -> (provider kind, the model its simulator serves).
TARGETS = {
    "responses": ("openai", "gpt-sim-codex-responses"),
    "openai": ("openai", "gpt-sim-codex-chat"),
    "anthropic": ("anthropic", "claude-sim-codex"),
    "gemini": ("gemini", "gemini-sim-codex"),
    "bedrock": ("bedrock", "anthropic.claude-sim-codex-v1:0"),
}

# Codex's shell tool in 0.169 (observed: a function tool `exec_command` with a `cmd` string).
SHELL_TOOL = "exec_command"
RESULT_FILE = "codex-ran.txt"
PROMPT = "Run the shell command that prints the marker, then tell me what it printed."

# Environment variables of the caller that must not reach the CLI: real credentials and
# settings that would send it elsewhere or change what it sends.
SCRUBBED_PREFIXES = ("OPENAI_", "CODEX_", "ANTHROPIC_", "AWS_", "GOOGLE_", "GEMINI_", "AZURE_")


# --- process helpers (copied from tests/sdk/conftest.py) -----------------------------------


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
        if os.environ.get("CARGO_TARGET_DIR"):
            candidates.append(
                ("$CARGO_TARGET_DIR/debug/modelmux", target_dir() / "debug" / "modelmux")
            )
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


# --- the Codex CLI -------------------------------------------------------------------------


def required() -> bool:
    return os.environ.get("MODELMUX_CLI_REQUIRED") == "1"


def cannot_run(reason: str):
    """Skip (loudly, with the reason) or, when the CLI is required, fail."""
    if required():
        pytest.fail(f"Codex CLI tests cannot run (required here): {reason}", pytrace=False)
    pytest.skip(f"Codex CLI tests SKIPPED: {reason}")


def codex_prefix() -> Path:
    cache = os.environ.get("MODELMUX_CLI_CACHE")
    return (Path(cache) if cache else target_dir() / "cli-cache") / "codex"


def installed_version(prefix: Path) -> str | None:
    manifest = prefix / "node_modules" / CODEX_PACKAGE / "package.json"
    try:
        return json.loads(manifest.read_text()).get("version")
    except (OSError, ValueError):
        return None


def codex_candidates(prefix: Path) -> list[Path]:
    """The npm bin shim (a node script that execs the native binary of the platform package)
    first, then that native binary itself."""
    natives = sorted((prefix / "node_modules" / "@openai").glob("codex-*/vendor/*/bin/codex"))
    return [prefix / "node_modules" / ".bin" / "codex", *natives]


def codex_version(binary: Path, home: Path) -> tuple[str | None, str]:
    """`codex --version`'s version, or None and why not."""
    home.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={**scrubbed_env(), "CODEX_HOME": str(home), "HOME": str(home)},
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


def working_codex(prefix: Path) -> tuple[Path | None, str]:
    why = "not installed"
    for candidate in codex_candidates(prefix):
        if not candidate.exists():
            continue
        version, why = codex_version(candidate, prefix / "version-check-home")
        if version == CODEX_VERSION:
            return candidate, ""
        if version:
            why = f"{candidate} reports version {version}, not {CODEX_VERSION}"
    return None, why


def scrubbed_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}


@pytest.fixture(scope="session")
def codex_cli() -> Path:
    """The pinned Codex CLI, installed with npm into its cache prefix when not already there."""
    prefix = codex_prefix()
    if installed_version(prefix) == CODEX_VERSION:
        binary, _ = working_codex(prefix)
        if binary:
            return binary
    npm = shutil.which("npm")
    if not npm:
        cannot_run(f"npm not found on PATH, so {CODEX_PACKAGE}@{CODEX_VERSION} cannot be installed")
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
        f"{CODEX_PACKAGE}@{CODEX_VERSION}",
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
        errors = [ln for ln in (done.stderr + done.stdout).splitlines() if "err" in ln.lower()]
        gist = " | ".join(ln.strip() for ln in errors[:4]) or "<no error lines>"
        cannot_run(
            f"`{' '.join(cmd)}` exited {done.returncode} (is the npm registry reachable?): "
            f"{gist[:600]} (full log: {log})"
        )
    binary, why = working_codex(prefix)
    if not binary:
        cannot_run(
            f"{CODEX_PACKAGE}@{CODEX_VERSION} installed into {prefix} but does not run here: "
            f"{why} (its native binary comes from the optional dependency "
            f"{CODEX_PACKAGE}-<platform>; log {log})"
        )
    return binary


# --- simulators and gateway ----------------------------------------------------------------


def shell_command(marker: str) -> str:
    return f"echo {marker}-$((6*7)) > {RESULT_FILE}; cat {RESULT_FILE}"


def sim_toml(target: str, marker: str) -> str:
    kind, model = TARGETS[target]
    if kind == "bedrock":
        auth = f'aws_access_key_id = "{AWS_KEY_ID}"\naws_secret_access_key = "{AWS_SECRET}"\n'
    else:
        auth = f'api_key = "{SIM_KEY}"\n'
    return f"""{auth}
[models."{model}"]
output_tokens = 8

[models."{model}".tool_call]
name = "{SHELL_TOOL}"
arguments = {{ cmd = {json.dumps(shell_command(marker))} }}
"""


def provider_block(target: str, sim: Proc) -> str:
    kind, _ = TARGETS[target]
    root = sim.root
    if kind == "openai":
        body = f'kind = "openai"\nbase_url = "{root}/v1"\napi_key = "{SIM_KEY}"\n'
        if target == "responses":
            body += "responses_api = true\n"
    elif kind == "anthropic":
        body = f'kind = "anthropic"\nbase_url = "{root}/v1"\napi_key = "{SIM_KEY}"\n'
    elif kind == "gemini":
        body = f'kind = "gemini"\nbase_url = "{root}/v1beta"\napi_key = "{SIM_KEY}"\n'
    else:
        body = (
            f'kind = "bedrock"\nbase_url = "{root}"\nregion = "us-east-1"\n'
            f'access_key_id = "{AWS_KEY_ID}"\nsecret_access_key = "{AWS_SECRET}"\n'
        )
    return f"[providers.sim-{target}]\n{body}"


def gateway_toml(sims: dict[str, Proc]) -> str:
    parts = [f'[server]\nmaster_keys = ["{MASTER_KEY}"]\n', "[router]\nnum_retries = 0\n"]
    parts += [provider_block(t, sims[t]) for t in TARGETS]
    parts += [
        f'[[routes]]\nname = "cx-{t}"\ntargets = ["sim-{t}/{TARGETS[t][1]}"]\n' for t in TARGETS
    ]
    return "\n".join(parts)


@dataclass
class CodexStack:
    sims: dict[str, Proc]
    gateway: Proc
    workdir: Path
    marker: str

    @property
    def expected_output(self) -> str:
        return f"{self.marker}-42"

    def sim_requests(self, target: str) -> int:
        with urllib.request.urlopen(self.sims[target].root + "/_sim/stats", timeout=10) as r:
            models = json.load(r).get("models", {})
        return int(models.get(TARGETS[target][1], {}).get("requests", 0))


@pytest.fixture(scope="module")
def codex_stack(tmp_path_factory: pytest.TempPathFactory):
    binary = find_binary()
    workdir = tmp_path_factory.mktemp("modelmux-codex")
    marker = f"mm-codex-{secrets.token_hex(6)}"
    procs: list[Proc] = []
    try:
        sim_re = r"modelmux-sim listening on (http://127\.0\.0\.1:\d+/v1)\s*$"
        sims: dict[str, Proc] = {}
        for target in TARGETS:
            cfg = workdir / f"sim-{target}.toml"
            cfg.write_text(sim_toml(target, marker))
            sims[target] = start(
                binary,
                f"sim-{target}",
                ["sim", "--config", str(cfg), "--listen", "127.0.0.1:0"],
                sim_re,
                workdir,
            )
            procs.append(sims[target])
        gw_cfg = workdir / "gateway.toml"
        gw_cfg.write_text(gateway_toml(sims))
        gateway = start(
            binary,
            "gateway",
            ["serve", "--config", str(gw_cfg), "--listen", "127.0.0.1:0"],
            r"modelmux listening on (http://127\.0\.0\.1:\d+)\s*$",
            workdir,
        )
        procs.append(gateway)
        yield CodexStack(sims=sims, gateway=gateway, workdir=workdir, marker=marker)
    finally:
        # Gateway first, so it does not see its providers vanish under in-flight requests.
        for p in reversed(procs):
            p.stop()


# --- running `codex exec` ------------------------------------------------------------------


def codex_config(stack: CodexStack, route: str) -> str:
    """$CODEX_HOME/config.toml: the gateway as a Responses model provider, the route as the
    model, no approvals and no sandbox (the test's tmp dir is the only thing it touches), no
    retries (a failure is the gateway's, never hidden behind a retry), no update check."""
    return f"""model = "{route}"
model_provider = "modelmux"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.modelmux]
name = "modelmux"
base_url = "{stack.gateway.url}/v1"
wire_api = "responses"
env_key = "MODELMUX_KEY"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 60000
"""


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict]
    last_message: str
    work: Path

    def items(self, ty: str) -> list[dict]:
        return [
            e["item"]
            for e in self.events
            if e.get("type") == "item.completed" and e.get("item", {}).get("type") == ty
        ]


def run_codex(
    codex: Path,
    stack: CodexStack,
    route: str,
    tmp_path: Path,
    *,
    resume: bool = False,
    prompt: str = PROMPT,
) -> CodexRun:
    """`codex exec PROMPT` in tmp_path/work (a fresh, ephemeral session), or with `resume`
    `codex exec resume --last PROMPT`: the next turn of the session the previous (non-
    ephemeral) run there recorded, which replays that whole conversation to the model."""
    home = tmp_path / "home"
    codex_home = tmp_path / "codex-home"
    work = tmp_path / "work"
    for d in (home, codex_home, work):
        d.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(stack, route))
    last = tmp_path / ("last-message-resumed.txt" if resume else "last-message.txt")
    env = scrubbed_env()
    env.update(
        {
            "HOME": str(home),
            "CODEX_HOME": str(codex_home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "MODELMUX_KEY": MASTER_KEY,
            "NO_COLOR": "1",
        }
    )
    flags = [
        "--strict-config",  # a config key 0.169 does not know is an error, not ignored
        "--skip-git-repo-check",
        "--json",
        "--output-last-message",
        str(last),
    ]
    if resume:
        cmd = [str(codex), "exec", "resume", "--last", *flags, prompt]
    else:
        cmd = [str(codex), "exec", *flags, "--color", "never", prompt]
    try:
        done = subprocess.run(
            cmd,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        pytest.fail(
            f"`{' '.join(cmd[1:4])} ...` on route {route} did not finish within "
            f"{CLI_TIMEOUT:.0f}s.\n"
            f"stdout:\n{(out or '')[-3000:]}\nstderr:\n{(err or '')[-3000:]}\n"
            f"gateway log:\n{stack.gateway.stderr_text(4000)}",
            pytrace=False,
        )
    events = []
    for line in done.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
    try:
        last_message = last.read_text()
    except OSError:
        last_message = ""
    return CodexRun(done.returncode, done.stdout, done.stderr, events, last_message, work)


def access_lines(stack: CodexStack, route: str) -> list[str]:
    return [
        line
        for line in stack.gateway.stderr_text(400_000).splitlines()
        if "modelmux::access" in line and f'route="{route}"' in line
    ]


def input_tokens(access_line: str) -> int:
    m = re.search(r"\binput_tokens=(\d+)", access_line)
    return int(m.group(1)) if m else 0


def check_tool_turn(run: CodexRun, stack: CodexStack, route: str) -> str:
    """The assertions on one `codex exec` turn that ran the scripted command; returns the
    failure context for further assertions."""
    expected = stack.expected_output
    context = (
        f"route {route}: codex exited {run.returncode}\n"
        f"stdout (JSONL events):\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-2500:]}\n"
        f"gateway access lines:\n" + "\n".join(access_lines(stack, route)[-10:]) + "\n"
        f"gateway log tail:\n{stack.gateway.stderr_text(2500)}"
    )
    assert run.returncode == 0, context
    assert any(e.get("type") == "turn.completed" for e in run.events), context
    assert not [e for e in run.events if e.get("type") in ("turn.failed", "error")], context

    # The model's call reached Codex as an `exec_command` call and Codex ran it, here.
    commands = run.items("command_execution")
    assert commands, f"codex ran no command\n{context}"
    ran = [c for c in commands if stack.marker in c.get("command", "")]
    assert ran, f"codex ran commands, but not the scripted one\n{context}"
    assert ran[0].get("exit_code") == 0, context
    assert expected in ran[0].get("aggregated_output", ""), context
    result_file = run.work / RESULT_FILE
    assert result_file.is_file(), f"{result_file} was not written: the tool did not run\n{context}"
    assert result_file.read_text().strip() == expected, context

    # The command's output went back to the provider, whose answer quotes it: the final answer.
    answers = run.items("agent_message")
    assert answers, f"no final answer\n{context}"
    final = answers[-1].get("text", "")
    assert expected in final, context
    assert "The tool returned:" in final, context
    assert expected in run.last_message, context
    return context


def check_gateway_answered(stack: CodexStack, route: str, context: str, at_least: int) -> None:
    """The gateway answered every request on the route with a 200: no error the CLI retried
    past or swallowed."""
    lines = access_lines(stack, route)
    assert len(lines) >= at_least, context
    failed = [line for line in lines if "status=200" not in line]
    assert not failed, "gateway answered with an error:\n" + "\n".join(failed) + "\n" + context


@pytest.mark.parametrize("target", list(TARGETS))
def test_codex_exec_command_round_trip(target, codex_cli: Path, codex_stack: CodexStack, tmp_path):
    stack = codex_stack
    route = f"cx-{target}"
    before = stack.sim_requests(target)
    run = run_codex(codex_cli, stack, route, tmp_path)
    context = check_tool_turn(run, stack, route)
    # At least the tool-call turn and the tool-result turn reached this target's provider.
    got = stack.sim_requests(target) - before
    assert got >= 2, f"{target} simulator saw {got} requests, expected >= 2\n{context}"
    check_gateway_answered(stack, route, context, 2)


@pytest.mark.parametrize("target", list(TARGETS))
def test_codex_resumed_session_replays_the_tool_turn(
    target, codex_cli: Path, codex_stack: CodexStack, tmp_path
):
    """A second turn (`codex exec resume --last`) replays the first turn's whole conversation,
    its `function_call` and `function_call_output` items and the answer included (store:
    false, no previous_response_id): the gateway translates that history to the target; the
    model calls the tool again and the loop completes again."""
    stack = codex_stack
    route = f"cx-{target}"
    before = stack.sim_requests(target)
    first = run_codex(codex_cli, stack, route, tmp_path)
    check_tool_turn(first, stack, route)
    first_lines = len(access_lines(stack, route))
    (first.work / RESULT_FILE).unlink()
    second = run_codex(
        codex_cli, stack, route, tmp_path, resume=True, prompt="Run it once more, please."
    )
    context = check_tool_turn(second, stack, route)
    got = stack.sim_requests(target) - before
    assert got >= 4, f"{target} simulator saw {got} requests, expected >= 4\n{context}"
    check_gateway_answered(stack, route, context, 4)
    # The resumed turn's first request carried the whole first turn: the provider counted
    # more input tokens for it than for the first turn's last request.
    tokens = [input_tokens(line) for line in access_lines(stack, route)]
    assert tokens[first_lines] > tokens[first_lines - 1] > 0, (
        f"input tokens per request on {route}: {tokens} (the resumed turn starts at index "
        f"{first_lines})\n{context}"
    )

"""The real Claude Code CLI (npm @anthropic-ai/claude-code, pinned), headless, through modelmux.

`claude -p` talks Anthropic Messages to the gateway (ANTHROPIC_BASE_URL, the master key as
ANTHROPIC_API_KEY); each route sends it to a simulated provider of another wire format. The
simulated model calls the Bash tool with `echo <marker>`; Claude Code runs the command and
sends its output back as a tool_result; the model answers "The tool returned: <marker>". So a
marker in the CLI's final result proves the whole loop: the tool call translated to Claude
Code, the command really run, its output translated back to the provider, and the answer
translated to Claude Code again.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

# One route per provider wire format, as tests/cli/conftest.py configures them.
KINDS = ["openai", "anthropic", "gemini", "bedrock"]

CLI_TIMEOUT = float(os.environ.get("MODELMUX_CLI_TIMEOUT", "120"))
PROMPT = "Run the shell command that prints the marker, then tell me what it printed."

# Environment variables of the caller that must not reach the CLI: real credentials and
# settings that would send it elsewhere or change what it sends.
SCRUBBED_PREFIXES = ("ANTHROPIC_", "CLAUDE", "AWS_", "GOOGLE_", "OPENAI_", "GEMINI_", "VERTEX")


def cli_env(stack, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "ANTHROPIC_BASE_URL": stack.gateway.url,  # no /v1: Claude Code adds it
            "ANTHROPIC_API_KEY": stack.master_key,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "NO_COLOR": "1",
        }
    )
    return env


def run_claude(claude: Path, route: str, stack, tmp_path: Path):
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    cmd = [
        str(claude),
        "-p",
        PROMPT,
        "--model",
        route,
        "--output-format",
        "json",
        # Headless: allow the one tool the model calls, without a prompt.
        "--allowedTools",
        "Bash",
        "--no-session-persistence",
    ]
    try:
        return subprocess.run(
            cmd,
            cwd=work,
            env=cli_env(stack, home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        pytest.fail(
            f"`claude -p --model {route}` did not finish within {CLI_TIMEOUT:.0f}s.\n"
            f"stdout:\n{(out or '')[-3000:]}\nstderr:\n{(err or '')[-3000:]}\n"
            f"gateway log:\n{stack.gateway.stderr_text(4000)}",
            pytrace=False,
        )


def access_lines(stack, route: str) -> list[str]:
    return [
        line
        for line in stack.gateway.stderr_text(200_000).splitlines()
        if "modelmux::access" in line and f'route="{route}"' in line
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_claude_code_tool_round_trip(kind, claude_cli: Path, stack, tmp_path, request):
    route = f"cc-{kind}"
    before = stack.sim_requests(kind)
    run = run_claude(claude_cli, route, stack, tmp_path)
    request.node.cli_run = run  # the report hook attaches its output on failure
    context = (
        f"route {route}: claude exited {run.returncode}\n"
        f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-2000:]}\n"
        f"gateway access lines:\n" + "\n".join(access_lines(stack, route)[-10:])
    )
    assert run.returncode == 0, context
    try:
        result = json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"claude printed no JSON result\n{context}", pytrace=False)
    assert result.get("type") == "result", context
    assert result.get("is_error") is False, context
    text = result.get("result") or ""
    # The marker only reaches the final answer through the tool's real output: the model
    # was scripted to run `echo <marker>`, and it echoes the tool result it got back.
    assert stack.marker in text, context
    assert "The tool returned:" in text, context
    # At least the tool-call turn and the tool-result turn reached this format's provider.
    got = stack.sim_requests(kind) - before
    assert got >= 2, f"{kind} simulator saw {got} chat requests, expected >= 2\n{context}"
    # And the gateway answered every request of the run: no error the CLI retried past.
    lines = access_lines(stack, route)
    assert lines, context
    failed = [line for line in lines if "status=200" not in line]
    assert not failed, "gateway answered with an error:\n" + "\n".join(failed) + "\n" + context

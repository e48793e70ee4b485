"""What the Responses-API tests share: a gateway with a Responses-passthrough provider over
the session's simulators, its routes, and a client on it.

The session gateway (conftest.py) has no provider with ``responses_api = true``; rather than
change it, each module that needs one starts this gateway (module scope): every route of the
session gateway plus the provider ``healthy-responses`` (``kind = "openai"``,
``responses_api = true``, on the ``healthy`` simulator) and its routes ``on-responses`` ->
chat-model, ``on-responses-tools`` -> tools-model, ``-parallel`` -> parallel-model and
``-thinking`` -> thinking-model.
"""

from __future__ import annotations

import pytest
from conftest import HEALTHY_SIM_KEY, MASTER_KEY, format_routes, gateway_toml, start

# Target -> the simulator (a name of conftest.SIM_TOMLS) that serves it.
TARGET_SIMS = {
    "responses": "healthy",
    "openai": "healthy",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "vertex": "vertex",
    "bedrock": "bedrock",
}
TARGETS = list(TARGET_SIMS)

RESPONSES_PROVIDER = "healthy-responses"


def route(target: str, what: str = "chat") -> str:
    if target == "responses":
        return "on-responses" if what == "chat" else f"on-responses-{what}"
    return format_routes(target)[what]


def responses_gateway_toml(sims: dict[str, str]) -> str:
    """The session gateway's config plus the Responses-passthrough provider and its routes."""
    return (
        gateway_toml(sims)
        + f"""
[providers.{RESPONSES_PROVIDER}]
kind = "openai"
base_url = "{sims["healthy"]}"
api_key = "{HEALTHY_SIM_KEY}"
responses_api = true

[[routes]]
name = "on-responses"
targets = ["{RESPONSES_PROVIDER}/chat-model"]
num_retries = 0

[[routes]]
name = "on-responses-tools"
targets = ["{RESPONSES_PROVIDER}/tools-model"]
num_retries = 0

[[routes]]
name = "on-responses-parallel"
targets = ["{RESPONSES_PROVIDER}/parallel-model"]
num_retries = 0

[[routes]]
name = "on-responses-thinking"
targets = ["{RESPONSES_PROVIDER}/thinking-model"]
num_retries = 0
"""
    )


@pytest.fixture(scope="module")
def rgw(stack, modelmux_bin, request):
    """A gateway with the Responses-passthrough routes, over the session's simulators (one per
    test module, its config and log named after the module)."""
    name = "gateway-" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    cfg = stack.workdir / f"{name}.toml"
    cfg.write_text(responses_gateway_toml({n: p.url for n, p in stack.sims.items()}))
    proc = start(
        modelmux_bin,
        name,
        ["serve", "--config", str(cfg), "--listen", "127.0.0.1:0"],
        r"modelmux listening on (http://127\.0\.0\.1:\d+)\s*$",
        stack.workdir,
    )
    yield proc
    proc.stop()


@pytest.fixture
def rclient(rgw):
    """An `openai.OpenAI` client on that gateway: master key, no SDK retries."""
    import openai

    c = openai.OpenAI(base_url=rgw.url + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=30.0)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def gateway_log_on_failure(request):
    """Print the Responses gateway's log lines written during a test that uses it (pytest shows
    them only when the test fails)."""
    if "rgw" not in request.fixturenames:
        yield
        return
    gw = request.getfixturevalue("rgw")
    mark = len(gw.stderr_text(100_000_000))
    yield
    print(f"--- {gw.name} log during the test ---\n{gw.stderr_text(100_000_000)[mark:][-6000:]}")

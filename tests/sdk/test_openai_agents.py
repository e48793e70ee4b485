"""The OpenAI Agents SDK (`openai-agents`, pinned in requirements.txt) through the gateway's
Responses API: an Agent with one `@function_tool`, run with `Runner.run_sync` on an
`OpenAIResponsesModel` over an `AsyncOpenAI(base_url=<gateway>/v1)`, tracing disabled (it
would otherwise upload traces to OpenAI). The simulated `tools-model` calls the tool; the
Runner runs it and sends its output back as a `function_call_output`; the model answers
"The tool returned: <output>". The tool records each call, so the test sees that it ran, with
which arguments, and that its output made the round trip to the final answer.

Two ways the Runner carries the conversation: replaying every item each turn (its default)
and `auto_previous_response_id=True`, where the second turn sends only the tool output and
`previous_response_id` (the gateway must have stored the first response). And once through
`set_default_openai_client`, the global set-up the Agents SDK documents.

The gateway is responses_support.py's (a Responses-passthrough provider plus every route of
the session gateway over the session's simulators).
"""

from __future__ import annotations

import os

import pytest
from conftest import MASTER_KEY
from responses_support import TARGET_SIMS, TARGETS, gateway_log_on_failure, rgw, route

# Fixtures, imported to be registered in this module.
__all__ = ["gateway_log_on_failure", "rgw"]

try:
    import agents
    import openai
except ImportError as e:  # pragma: no cover - depends on the venv
    if os.environ.get("CI") == "true":
        raise  # CI installs tests/sdk/requirements.txt: a missing package is an error there
    pytest.skip(
        f"openai-agents is not installed in this venv ({e}); scripts/test.sh installs it "
        "from tests/sdk/requirements.txt",
        allow_module_level=True,
    )

agents.set_tracing_disabled(True)

TOOL_OUTPUT = "18 degrees and sunny"


def make_agent(model) -> tuple[agents.Agent, list[dict]]:
    calls: list[dict] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city.

        Args:
            city: The city's name.
        """
        calls.append({"city": city})
        return f"{TOOL_OUTPUT} in {city}"

    agent = agents.Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        model=model,
        tools=[get_weather],
    )
    return agent, calls


def async_client(rgw) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=rgw.url + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=30.0
    )


def check_run(result, calls: list[dict]) -> None:
    assert len(calls) == 1, f"the tool ran {len(calls)} times: {calls}"
    city = calls[0]["city"]
    assert isinstance(city, str) and city, calls
    final = result.final_output
    assert isinstance(final, str), final
    # The tool's output (with the city the model chose) reached the model and came back.
    assert final == f"The tool returned: {TOOL_OUTPUT} in {city}", final
    kinds = [item.type for item in result.new_items]
    assert kinds == ["tool_call_item", "tool_call_output_item", "message_output_item"], kinds
    assert len(result.raw_responses) == 2, result.raw_responses
    for response in result.raw_responses:
        assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0, response.usage


@pytest.mark.parametrize("chaining", ["replay", "previous_response_id"])
@pytest.mark.parametrize("target", TARGETS)
def test_agent_calls_its_function_tool(rgw, sim_requests, target, chaining):
    before = sim_requests(TARGET_SIMS[target], "tools-model")
    client = async_client(rgw)
    agent, calls = make_agent(
        agents.OpenAIResponsesModel(model=route(target, "tools"), openai_client=client)
    )
    result = agents.Runner.run_sync(
        agent,
        "What is the weather in Paris?",
        max_turns=4,
        auto_previous_response_id=(chaining == "previous_response_id"),
    )
    check_run(result, calls)
    assert sim_requests(TARGET_SIMS[target], "tools-model") - before == 2
    if chaining == "previous_response_id":
        first, second = result.raw_responses
        assert first.response_id and second.response_id and first.response_id != second.response_id


def test_default_openai_client_and_streamed_run(rgw):
    """`set_default_openai_client` + `Runner.run_streamed`: the Agent names only the route."""
    agents.set_default_openai_client(async_client(rgw), use_for_tracing=False)
    agents.set_default_openai_api("responses")
    agent, calls = make_agent(route("anthropic", "tools"))

    async def run():
        streamed = agents.Runner.run_streamed(agent, "What is the weather in Paris?", max_turns=4)
        kinds = [event.type async for event in streamed.stream_events()]
        return streamed, kinds

    import asyncio

    streamed, kinds = asyncio.run(run())
    assert "raw_response_event" in kinds, kinds
    check_run(streamed, calls)

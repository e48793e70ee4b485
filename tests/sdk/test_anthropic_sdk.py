"""The gateway as the official Anthropic Python SDK sees it, on `POST /v1/messages` and
`POST /v1/messages/count_tokens`: text answers with usage, `max_tokens` truncation, tool use
(plain, parallel, streamed) with the `tool_result` follow-up, the stream helper
(`client.messages.stream`), token counting, and errors as the SDK's typed exceptions.

Every request goes through `anthropic.Anthropic(base_url=<gateway>, api_key=<master key>,
max_retries=0)`, so what a test sees is what the gateway answered. Each behaviour is checked
on routes over every provider format (`FORMATS` in conftest): an Anthropic-format provider
gets the body passed through; the others go through the gateway's translation.

This file runs twice in scripts/test.sh: under the current major of the SDK (which sends
`Authorization: Bearer <key>`) and, in a venv of its own, under the last 0.x release (which
sends `x-api-key`). The gateway has master keys on, so every passing test under either SDK
shows the gateway accepted that SDK's auth header; `test_the_sdk_auth_header_form` pins
which form each SDK version sent.
"""

from __future__ import annotations

import json

import anthropic
import pytest
from conftest import FAILING_ROUTE_RETRIES, FORMATS, MASTER_KEY, format_routes

SDK_MAJOR = int(anthropic.__version__.split(".")[0])

HELLO = [{"role": "user", "content": "Say hello to the conformance tests."}]
SYSTEM = "Be brief."
MAX_TOKENS = 256

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}

TIME_TOOL = {
    "name": "get_time",
    "description": "Current local time in a timezone.",
    "input_schema": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    },
}

WEATHER_QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
BOTH_QUESTION = [{"role": "user", "content": "Weather and time in Paris?"}]
TOOL_RESULT = "18 degrees and sunny"
TIME_RESULT = "14:05"

FORMAT_IDS = list(FORMATS)


@pytest.fixture
def aclient(stack):
    c = anthropic.Anthropic(
        base_url=stack.root_url, api_key=MASTER_KEY, max_retries=0, timeout=30.0
    )
    yield c
    c.close()


def route(fmt: str, what: str = "chat") -> str:
    return format_routes(fmt)[what]


def target(fmt: str, model: str) -> str:
    return f"{FORMATS[fmt]}/{model}"


def modelmux_headers(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-modelmux-")}


def assert_usage(usage) -> None:
    assert usage is not None, "answer carries no usage"
    assert usage.input_tokens > 0, usage
    assert usage.output_tokens > 0, usage


def text_of(message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


def tool_uses(message) -> list:
    return [b for b in message.content if b.type == "tool_use"]


def assert_message(message) -> None:
    assert isinstance(message, anthropic.types.Message), type(message)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id
    assert message.model


def assistant_turn(message) -> dict:
    """The assistant's answer as the next request's history, as plain dicts."""
    return {
        "role": "assistant",
        "content": [b.model_dump(exclude_none=True) for b in message.content],
    }


# ---------------------------------------------------------------------------- auth form


def test_the_sdk_auth_header_form(aclient):
    """2.x sends `Authorization: Bearer`, 0.x `x-api-key`; the gateway takes either."""
    raw = aclient.messages.with_raw_response.create(
        model=route("openai"), max_tokens=MAX_TOKENS, messages=HELLO
    )
    assert raw.status_code == 200
    sent = {k.lower(): v for k, v in raw.http_request.headers.items()}
    if SDK_MAJOR >= 1:
        assert sent.get("authorization") == f"Bearer {MASTER_KEY}", sent.keys()
        assert "x-api-key" not in sent, sent.keys()
    else:
        assert sent.get("x-api-key") == MASTER_KEY, sent.keys()
        assert "authorization" not in sent, sent.keys()
    assert raw.parse().content


# ---------------------------------------------------------------------------- plain


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_text_answer_with_usage(aclient, fmt):
    raw = aclient.messages.with_raw_response.create(
        model=route(fmt), max_tokens=MAX_TOKENS, system=SYSTEM, messages=HELLO
    )
    assert raw.status_code == 200
    message = raw.parse()
    assert_message(message)
    assert [b.type for b in message.content] == ["text"], message.content
    assert text_of(message).strip()
    assert message.stop_reason == "end_turn", message
    assert_usage(message.usage)
    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-route") == route(fmt), h
    assert h.get("x-modelmux-target") == target(fmt, "chat-model"), h
    assert h.get("x-modelmux-request-id"), h


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_max_tokens_truncates_with_stop_reason_max_tokens(aclient, fmt):
    message = aclient.messages.create(model=route(fmt), max_tokens=3, messages=HELLO)
    assert message.stop_reason == "max_tokens", message
    assert message.usage.output_tokens == 3, message.usage
    assert text_of(message).strip()


# ---------------------------------------------------------------------------- tools


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_tool_use_round_trip(aclient, fmt):
    first = aclient.messages.create(
        model=route(fmt, "tools"),
        max_tokens=MAX_TOKENS,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
    )
    assert_message(first)
    assert first.stop_reason == "tool_use", first
    uses = tool_uses(first)
    assert len(uses) == 1, first.content
    use = uses[0]
    assert use.id
    assert use.name == "get_weather"
    assert isinstance(use.input, dict), use.input
    assert isinstance(use.input.get("city"), str) and use.input["city"], use.input
    assert_usage(first.usage)

    follow_up = [
        *WEATHER_QUESTION,
        assistant_turn(first),
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": TOOL_RESULT}],
        },
    ]
    final = aclient.messages.create(
        model=route(fmt, "tools"), max_tokens=MAX_TOKENS, messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert final.stop_reason == "end_turn", final
    assert tool_uses(final) == [], final.content
    assert text_of(final) == f"The tool returned: {TOOL_RESULT}", final.content
    assert_usage(final.usage)


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_tool_result_with_block_content_and_sdk_objects_in_history(aclient, fmt):
    """The assistant turn sent back as the SDK's own content blocks, the result as blocks."""
    first = aclient.messages.create(
        model=route(fmt, "tools"),
        max_tokens=MAX_TOKENS,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
    )
    (use,) = tool_uses(first)
    follow_up = [
        *WEATHER_QUESTION,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": [{"type": "text", "text": TOOL_RESULT}],
                }
            ],
        },
    ]
    final = aclient.messages.create(
        model=route(fmt, "tools"), max_tokens=MAX_TOKENS, messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert final.stop_reason == "end_turn", final
    assert text_of(final) == f"The tool returned: {TOOL_RESULT}", final.content


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_parallel_tool_use_and_grouped_results(aclient, fmt):
    first = aclient.messages.create(
        model=route(fmt, "parallel"),
        max_tokens=MAX_TOKENS,
        messages=BOTH_QUESTION,
        tools=[WEATHER_TOOL, TIME_TOOL],
    )
    assert first.stop_reason == "tool_use", first
    uses = tool_uses(first)
    assert [u.name for u in uses] == ["get_weather", "get_time"], first.content
    assert len({u.id for u in uses}) == 2, uses
    assert uses[0].input.get("city"), uses[0]
    assert uses[1].input.get("timezone"), uses[1]

    follow_up = [
        *BOTH_QUESTION,
        assistant_turn(first),
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": uses[0].id, "content": TOOL_RESULT},
                {"type": "tool_result", "tool_use_id": uses[1].id, "content": TIME_RESULT},
            ],
        },
    ]
    final = aclient.messages.create(
        model=route(fmt, "parallel"),
        max_tokens=MAX_TOKENS,
        messages=follow_up,
        tools=[WEATHER_TOOL, TIME_TOOL],
    )
    assert final.stop_reason == "end_turn", final
    assert text_of(final) == f"The tool returned: {TOOL_RESULT} {TIME_RESULT}", final.content


# Gemini, Vertex and Bedrock have no request field for it: the gateway drops the setting
# (documented in modelmux-wire's gemini/bedrock request translation) and the provider may
# still call two tools. Kept as strict xfails so a change of that behaviour is noticed.
NO_PARALLEL_KNOB = pytest.mark.xfail(
    strict=True,
    reason="documented: Gemini/Vertex/Bedrock have no parallel-tool-calls field; dropped",
)
PARALLEL_KNOB_FORMATS = [
    f if f in ("openai", "anthropic") else pytest.param(f, marks=NO_PARALLEL_KNOB)
    for f in FORMAT_IDS
]


@pytest.mark.parametrize("fmt", PARALLEL_KNOB_FORMATS)
def test_disable_parallel_tool_use_is_honoured(aclient, fmt):
    message = aclient.messages.create(
        model=route(fmt, "parallel"),
        max_tokens=MAX_TOKENS,
        messages=BOTH_QUESTION,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [u.name for u in tool_uses(message)] == ["get_weather"], message.content


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_tool_choice_by_name(aclient, fmt):
    message = aclient.messages.create(
        model=route(fmt, "parallel"),
        max_tokens=MAX_TOKENS,
        messages=BOTH_QUESTION,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "tool", "name": "get_time"},
    )
    assert [u.name for u in tool_uses(message)] == ["get_time"], message.content
    assert message.stop_reason == "tool_use", message


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_tool_choice_none_answers_text(aclient, fmt):
    message = aclient.messages.create(
        model=route(fmt, "tools"),
        max_tokens=MAX_TOKENS,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "none"},
    )
    assert tool_uses(message) == [], message.content
    assert text_of(message).strip(), message.content
    assert message.stop_reason == "end_turn", message


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_tool_choice_any_calls_a_tool(aclient, fmt):
    message = aclient.messages.create(
        model=route(fmt, "tools"),
        max_tokens=MAX_TOKENS,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "any"},
    )
    assert [u.name for u in tool_uses(message)] == ["get_weather"], message.content
    assert message.stop_reason == "tool_use", message


# A 1x1 PNG.
PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_system_blocks_and_an_image(aclient, fmt):
    """`system` as text blocks with `cache_control`, a user turn with a base64 image."""
    message = aclient.messages.create(
        model=route(fmt),
        max_tokens=MAX_TOKENS,
        system=[
            {"type": "text", "text": "Be brief."},
            {"type": "text", "text": "Answer in English.", "cache_control": {"type": "ephemeral"}},
        ],
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL_PNG},
                    },
                    {"type": "text", "text": "What is in this picture?"},
                ],
            }
        ],
    )
    assert text_of(message).strip(), message.content
    assert message.stop_reason == "end_turn", message
    assert_usage(message.usage)


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_a_multi_turn_conversation(aclient, fmt):
    """Alternating turns with an assistant answer in the middle, stop sequences and
    metadata set (anthropic 2.x has no sampling parameters any more)."""
    message = aclient.messages.create(
        model=route(fmt),
        max_tokens=MAX_TOKENS,
        stop_sequences=["NEVER-SEEN"],
        metadata={"user_id": "sdk-tests"},
        messages=[
            {"role": "user", "content": "Hi."},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "ECHO: same words back"},
        ],
    )
    assert text_of(message) == "same words back", message.content


# ---------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_stream_text_matches_the_final_message(aclient, fmt):
    with aclient.messages.stream(
        model=route(fmt), max_tokens=MAX_TOKENS, system=SYSTEM, messages=HELLO
    ) as stream:
        h = modelmux_headers(stream.response.headers)
        assert stream.response.headers.get("content-type", "").startswith("text/event-stream")
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert h.get("x-modelmux-route") == route(fmt), h
    assert h.get("x-modelmux-target") == target(fmt, "chat-model"), h
    assert streamed.strip(), "the streamed text is empty"
    assert_message(final)
    assert [b.type for b in final.content] == ["text"], final.content
    assert text_of(final) == streamed
    assert final.stop_reason == "end_turn", final
    assert_usage(final.usage)

    # The same request without streaming is priced the same on the way in.
    plain = aclient.messages.create(
        model=route(fmt), max_tokens=MAX_TOKENS, system=SYSTEM, messages=HELLO
    )
    assert final.usage.input_tokens == plain.usage.input_tokens, (final.usage, plain.usage)


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_stream_events_are_well_formed(aclient, fmt):
    """Raw events (`stream=True`): message_start first, message_stop last, each block
    started, delta'd and stopped in order, one message_delta with the stop reason."""
    events = list(
        aclient.messages.create(
            model=route(fmt, "parallel"),
            max_tokens=MAX_TOKENS,
            messages=BOTH_QUESTION,
            tools=[WEATHER_TOOL, TIME_TOOL],
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start", kinds
    assert kinds[-1] == "message_stop", kinds
    assert kinds.count("message_start") == 1 and kinds.count("message_stop") == 1, kinds
    assert kinds.count("message_delta") == 1, kinds
    open_block = None
    started: list[int] = []
    for e in events:
        if e.type == "content_block_start":
            assert open_block is None, f"block {e.index} starts inside block {open_block}"
            open_block = e.index
            started.append(e.index)
        elif e.type == "content_block_delta":
            assert e.index == open_block, f"delta for block {e.index}, open is {open_block}"
        elif e.type == "content_block_stop":
            assert e.index == open_block, f"stop for block {e.index}, open is {open_block}"
            open_block = None
        elif e.type == "message_delta":
            assert open_block is None, "message_delta inside a block"
            assert e.delta.stop_reason == "tool_use", e
            assert e.usage.output_tokens > 0, e
    assert started == list(range(len(started))) and len(started) == 2, started


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_streamed_tool_use_round_trip(aclient, fmt):
    with aclient.messages.stream(
        model=route(fmt, "tools"),
        max_tokens=MAX_TOKENS,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use", final
    uses = tool_uses(final)
    assert len(uses) == 1, final.content
    use = uses[0]
    assert use.name == "get_weather"
    assert isinstance(use.input, dict), use.input
    assert isinstance(use.input.get("city"), str) and use.input["city"], use.input
    assert_usage(final.usage)
    # The input arrived as input_json deltas (not all at once in content_block_start).
    partial = "".join(e.partial_json for e in events if e.type == "input_json")
    assert partial, [e.type for e in events]
    assert json.loads(partial) == use.input, partial

    follow_up = [
        *WEATHER_QUESTION,
        assistant_turn(final),
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": TOOL_RESULT}],
        },
    ]
    with aclient.messages.stream(
        model=route(fmt, "tools"), max_tokens=MAX_TOKENS, messages=follow_up, tools=[WEATHER_TOOL]
    ) as stream:
        streamed = "".join(stream.text_stream)
        answer = stream.get_final_message()
    assert streamed == f"The tool returned: {TOOL_RESULT}", streamed
    assert text_of(answer) == streamed
    assert answer.stop_reason == "end_turn", answer
    assert_usage(answer.usage)


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_streamed_parallel_tool_use(aclient, fmt):
    with aclient.messages.stream(
        model=route(fmt, "parallel"),
        max_tokens=MAX_TOKENS,
        messages=BOTH_QUESTION,
        tools=[WEATHER_TOOL, TIME_TOOL],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use", final
    uses = tool_uses(final)
    assert [u.name for u in uses] == ["get_weather", "get_time"], final.content
    assert len({u.id for u in uses}) == 2, uses
    assert uses[0].input.get("city"), uses[0]
    assert uses[1].input.get("timezone"), uses[1]


# ---------------------------------------------------------------------------- thinking

# Formats whose reasoning block itself carries a signature (Anthropic `thinking`, Bedrock
# `reasoningContent`); OpenAI-format `reasoning_content` has none, and Gemini puts its
# `thoughtSignature` on the part after the thought.
SIGNED_THINKING = ("anthropic", "bedrock")


def assert_thinking_then(message, fmt: str, after: list[str]) -> None:
    types = [b.type for b in message.content]
    assert types == ["thinking", *after], message.content
    thinking = message.content[0]
    assert thinking.thinking.strip(), thinking
    if fmt in SIGNED_THINKING:
        assert thinking.signature.startswith("sig_"), thinking


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_thinking_comes_first(aclient, fmt, stream):
    kwargs = {"model": route(fmt, "thinking"), "max_tokens": MAX_TOKENS, "messages": HELLO}
    if stream:
        with aclient.messages.stream(**kwargs) as s:
            events = list(s)
            message = s.get_final_message()
        thinking_deltas = [e for e in events if e.type == "thinking"]
        assert thinking_deltas, [e.type for e in events]
        assert "".join(e.thinking for e in thinking_deltas) == message.content[0].thinking
        if fmt in SIGNED_THINKING:
            assert [e.type for e in events].count("signature") == 1, [e.type for e in events]
    else:
        message = aclient.messages.create(**kwargs)
    assert_thinking_then(message, fmt, ["text"])
    assert text_of(message).strip()
    assert message.stop_reason == "end_turn", message
    assert_usage(message.usage)


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_thinking_tool_use_round_trip(aclient, fmt):
    """Thinking, then a tool call; the whole assistant turn (thinking block and its
    signature included) goes back with the tool result."""
    first = aclient.messages.create(
        model=route(fmt, "thinking"),
        max_tokens=MAX_TOKENS,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
    )
    assert first.stop_reason == "tool_use", first
    assert_thinking_then(first, fmt, ["tool_use"])
    (use,) = tool_uses(first)
    assert use.input.get("city"), use
    final = aclient.messages.create(
        model=route(fmt, "thinking"),
        max_tokens=MAX_TOKENS,
        messages=[
            *WEATHER_QUESTION,
            assistant_turn(first),
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": TOOL_RESULT}],
            },
        ],
        tools=[WEATHER_TOOL],
    )
    assert final.stop_reason == "end_turn", final
    assert text_of(final) == f"The tool returned: {TOOL_RESULT}", final.content


# ---------------------------------------------------------------------------- broken streams


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_a_stream_broken_after_commit_ends_in_an_error(aclient, fmt):
    """The provider drops the connection after three chunks, once the gateway has sent the
    first bytes: the client must get an `error` event (the SDK raises), never a stream that
    looks complete."""
    received = []
    with pytest.raises(anthropic.APIError) as info:
        with aclient.messages.stream(model=route(fmt, "cut"), max_tokens=MAX_TOKENS, messages=HELLO) as s:
            for event in s:
                received.append(event)
            s.get_final_message()
    types = [e.type for e in received]
    assert "message_start" in types, types
    assert "message_stop" not in types, types
    assert not any(e.type == "message_delta" for e in received), types
    assert "".join(e.text for e in received if e.type == "text").strip(), "no text before the cut"
    body = getattr(info.value, "body", None)
    assert isinstance(body, dict) and body.get("type") == "error", body


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_a_broken_answer_is_an_error_status(aclient, fmt):
    with pytest.raises(anthropic.APIStatusError) as info:
        aclient.messages.create(model=route(fmt, "cut"), max_tokens=MAX_TOKENS, messages=HELLO)
    assert info.value.status_code >= 500, info.value
    assert_anthropic_error_body(info.value.body, info.value.body["error"]["type"])


# ---------------------------------------------------------------------------- count_tokens


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_count_tokens(aclient, fmt):
    small = aclient.messages.count_tokens(model=route(fmt), messages=HELLO)
    assert small.input_tokens > 0, small
    bigger = aclient.messages.count_tokens(
        model=route(fmt, "tools"), system=SYSTEM, messages=HELLO, tools=[WEATHER_TOOL]
    )
    assert bigger.input_tokens > small.input_tokens, (small, bigger)


def test_count_tokens_for_an_unknown_model_is_not_found(aclient):
    with pytest.raises(anthropic.NotFoundError) as info:
        aclient.messages.count_tokens(model="no-such-model", messages=HELLO)
    assert info.value.status_code == 404


# ---------------------------------------------------------------------------- errors


def assert_anthropic_error_body(body, kind: str) -> dict:
    assert isinstance(body, dict), body
    assert body.get("type") == "error", body
    error = body.get("error")
    assert isinstance(error, dict), body
    assert error.get("type") == kind, body
    assert error.get("message"), body
    return error


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_unknown_model_is_not_found(aclient, stream):
    with pytest.raises(anthropic.NotFoundError) as info:
        aclient.messages.create(
            model="no-such-model", max_tokens=MAX_TOKENS, messages=HELLO, stream=stream
        )
    err = info.value
    assert err.status_code == 404
    error = assert_anthropic_error_body(err.body, "not_found_error")
    assert "no-such-model" in error["message"], error
    assert err.response.headers.get("x-modelmux-request-id")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_all_targets_down_is_the_gateway_status(aclient, sim_requests, stream):
    before = sim_requests("flaky", "down")
    with pytest.raises(anthropic.APIStatusError) as info:
        aclient.messages.create(model="down", max_tokens=MAX_TOKENS, messages=HELLO, stream=stream)
    err = info.value
    # Every attempt got a 503 (overloaded): the gateway answers 503.
    assert isinstance(err, anthropic.InternalServerError), type(err)
    assert err.status_code == 503
    error = assert_anthropic_error_body(err.body, "overloaded_error")
    attempts = FAILING_ROUTE_RETRIES + 1
    assert f"All {attempts} attempts failed" in error["message"], error
    assert error["message"].count("flaky/down") == attempts, error
    assert sim_requests("flaky", "down") - before == attempts
    h = modelmux_headers(err.response.headers)
    assert h.get("x-modelmux-route") == "down", h
    assert h.get("x-modelmux-attempts") == str(attempts), h


def test_fallback_is_invisible_to_the_client(aclient, sim_requests):
    before = sim_requests("flaky", "down")
    with aclient.messages.stream(model="fallback", max_tokens=MAX_TOKENS, messages=HELLO) as s:
        h = modelmux_headers(s.response.headers)
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    assert h.get("x-modelmux-target") == "healthy/chat-model", h
    assert int(h.get("x-modelmux-attempts", "0")) == FAILING_ROUTE_RETRIES + 2, h
    assert streamed.strip() and text_of(final) == streamed
    assert final.stop_reason == "end_turn"
    assert sim_requests("flaky", "down") - before == FAILING_ROUTE_RETRIES + 1


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
def test_empty_messages_is_bad_request(aclient, fmt):
    with pytest.raises(anthropic.BadRequestError) as info:
        aclient.messages.create(model=route(fmt), max_tokens=MAX_TOKENS, messages=[])
    err = info.value
    assert err.status_code == 400
    error = assert_anthropic_error_body(err.body, "invalid_request_error")
    assert "messages" in error["message"], error


@pytest.mark.parametrize("call", ["create", "count_tokens"])
def test_wrong_api_key_is_unauthorized(stack, call):
    bad = anthropic.Anthropic(
        base_url=stack.root_url, api_key="not-" + MASTER_KEY, max_retries=0, timeout=30.0
    )
    try:
        with pytest.raises(anthropic.AuthenticationError) as info:
            if call == "create":
                bad.messages.create(model=route("openai"), max_tokens=MAX_TOKENS, messages=HELLO)
            else:
                bad.messages.count_tokens(model=route("openai"), messages=HELLO)
        assert info.value.status_code == 401
        assert_anthropic_error_body(info.value.body, "authentication_error")
    finally:
        bad.close()

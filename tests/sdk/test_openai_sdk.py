"""The gateway as the official OpenAI Python SDK sees it: chat, streaming (with and
without usage), tool calls plain and streamed, parallel tool calls, fallbacks the client
does not notice, errors as the SDK's typed exceptions, and the model list; then the same
chat, stream and tool-call behaviours on routes over Anthropic-, Gemini-, Vertex- and
Bedrock-format providers, where every request and answer goes through translation.

Every request goes through `openai.OpenAI(base_url=<gateway>/v1, max_retries=0)`; the
SDK's own retries are off so that what a test sees is what the gateway answered.
"""

from __future__ import annotations

import json

import openai
import pytest
from conftest import FAILING_ROUTE_RETRIES, FORMATS, MASTER_KEY, ROUTES, format_routes

HELLO = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello to the conformance tests."},
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current local time in a timezone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}

WEATHER_QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOL_RESULT = "18 degrees and sunny"

# Attempts a request on the `fallback` route makes: every try on flaky/down, then one success.
FLAKY_ATTEMPTS = FAILING_ROUTE_RETRIES + 1


def modelmux_headers(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-modelmux-")}


def assert_usage(usage) -> None:
    assert usage is not None, "answer carries no usage"
    assert usage.prompt_tokens > 0, usage
    assert usage.completion_tokens > 0, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, usage


def collect_stream(stream) -> dict:
    """Read a whole SDK stream, checking each chunk's shape; return what it carried."""
    chunks = list(stream)
    assert chunks, "the stream carried no chunk"
    text: list[str] = []
    finishes: list[str] = []
    usage_chunks = []
    calls: dict[int, dict] = {}
    for i, chunk in enumerate(chunks):
        assert chunk.object == "chat.completion.chunk", chunk
        assert chunk.id, chunk
        if chunk.usage is not None:
            usage_chunks.append((i, chunk))
        for choice in chunk.choices:
            assert choice.index == 0, chunk
            delta = choice.delta
            if delta.content:
                text.append(delta.content)
            for tc in delta.tool_calls or []:
                if tc.index not in calls:
                    assert tc.id, f"first delta of tool call {tc.index} has no id: {chunk}"
                    assert tc.function is not None and tc.function.name, (
                        f"first delta of tool call {tc.index} has no function name: {chunk}"
                    )
                    calls[tc.index] = {
                        "id": tc.id,
                        "name": tc.function.name,
                        "type": tc.type,
                        "arguments": tc.function.arguments or "",
                        "deltas": 1,
                    }
                else:
                    call = calls[tc.index]
                    assert tc.id in (None, ""), f"tool call {tc.index} repeats its id: {chunk}"
                    assert tc.function is None or tc.function.name in (None, ""), (
                        f"tool call {tc.index} repeats its name: {chunk}"
                    )
                    if tc.function is not None and tc.function.arguments:
                        call["arguments"] += tc.function.arguments
                    call["deltas"] += 1
            if choice.finish_reason is not None:
                finishes.append(choice.finish_reason)
    return {
        "chunks": chunks,
        "text": "".join(text),
        "finishes": finishes,
        "usage_chunks": usage_chunks,
        "calls": calls,
    }


# ---------------------------------------------------------------------------- plain chat


def test_plain_chat_answers_with_content_and_consistent_usage(client):
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=HELLO)
    assert raw.status_code == 200
    completion = raw.parse()
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.object == "chat.completion"
    assert completion.id
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls in (None, [])
    assert_usage(completion.usage)

    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-route") == "chat", h
    assert h.get("x-modelmux-target") == "healthy/chat-model", h
    assert h.get("x-modelmux-attempts") == "1", h
    assert h.get("x-modelmux-request-id"), h


def test_each_request_gets_its_own_request_id(client):
    ids = {
        client.chat.completions.with_raw_response.create(model="chat", messages=HELLO).headers[
            "x-modelmux-request-id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3, ids


def test_max_completion_tokens_truncates_with_finish_reason_length(client):
    completion = client.chat.completions.create(
        model="chat", messages=HELLO, max_completion_tokens=3
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3, completion.usage
    assert completion.choices[0].message.content.strip()


def test_a_target_can_be_addressed_directly(client):
    raw = client.chat.completions.with_raw_response.create(
        model="healthy/chat-model", messages=HELLO
    )
    completion = raw.parse()
    assert completion.choices[0].message.content.strip()
    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-route") == "healthy/chat-model", h
    assert h.get("x-modelmux-target") == "healthy/chat-model", h


# ---------------------------------------------------------------------------- streaming


def test_stream_with_include_usage_ends_with_one_usage_chunk(client):
    raw = client.chat.completions.with_raw_response.create(
        model="chat",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-route") == "chat", h
    assert h.get("x-modelmux-target") == "healthy/chat-model", h
    assert raw.headers.get("content-type", "").startswith("text/event-stream")
    got = collect_stream(raw.parse())

    assert got["text"].strip(), "the streamed text is empty"
    assert got["finishes"] == ["stop"], got["finishes"]
    usage_chunks = got["usage_chunks"]
    assert len(usage_chunks) == 1, f"expected exactly one usage chunk, got {usage_chunks}"
    idx, usage_chunk = usage_chunks[0]
    assert idx == len(got["chunks"]) - 1, "the usage chunk is not the last one"
    assert usage_chunk.choices == [], usage_chunk
    assert_usage(usage_chunk.usage)
    empty_choices = [c for c in got["chunks"] if not c.choices]
    assert empty_choices == [usage_chunk], "only the usage chunk may have empty choices"

    # The same request without streaming is priced the same on the way in.
    plain = client.chat.completions.create(model="chat", messages=HELLO)
    assert usage_chunk.usage.prompt_tokens == plain.usage.prompt_tokens


def test_stream_without_include_usage_carries_no_usage(client):
    stream = client.chat.completions.create(model="chat", messages=HELLO, stream=True)
    got = collect_stream(stream)
    assert got["text"].strip()
    assert got["finishes"] == ["stop"], got["finishes"]
    assert got["usage_chunks"] == [], "a chunk carries usage the client did not ask for"
    assert all(c.choices for c in got["chunks"]), "a chunk without choices in a stream without usage"


def test_stream_is_well_formed_sse_ending_in_done(client):
    """Below the SDK's parser: every event is `data: <json>` and the last is `[DONE]`."""
    with client.chat.completions.with_streaming_response.create(
        model="chat",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        assert response.status_code == 200
        data = [line[len("data:") :].strip() for line in response.iter_lines() if line.startswith("data:")]
    assert data, "no data lines"
    assert data[-1] == "[DONE]", data[-3:]
    assert data.count("[DONE]") == 1, data
    for d in data[:-1]:
        chunk = json.loads(d)
        assert chunk.get("object") == "chat.completion.chunk", chunk
        assert "error" not in chunk, chunk


# ---------------------------------------------------------------------------- tool calls


@pytest.mark.parametrize("assistant_turn", ["dict", "sdk_message"])
def test_tool_call_round_trip(client, assistant_turn):
    first = client.chat.completions.create(
        model="tools", messages=WEATHER_QUESTION, tools=[WEATHER_TOOL]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1, choice.message
    call = calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args, dict), args
    assert isinstance(args.get("city"), str) and args["city"], args
    assert_usage(first.usage)

    if assistant_turn == "dict":
        assistant = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        }
    else:
        # What many applications do: send the SDK's own message object back as is.
        assistant = choice.message
    follow_up = [
        *WEATHER_QUESTION,
        assistant,
        {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
    ]
    final = client.chat.completions.create(model="tools", messages=follow_up, tools=[WEATHER_TOOL])
    fc = final.choices[0]
    assert fc.finish_reason == "stop", fc
    assert fc.message.tool_calls in (None, []), fc.message
    assert fc.message.content == f"The tool returned: {TOOL_RESULT}", fc.message.content
    assert_usage(final.usage)


def test_streamed_tool_call_assembles_by_index(client):
    stream = client.chat.completions.create(
        model="tools", messages=WEATHER_QUESTION, tools=[WEATHER_TOOL], stream=True
    )
    got = collect_stream(stream)
    assert got["finishes"] == ["tool_calls"], got["finishes"]
    assert got["text"] == "", got["text"]
    calls = got["calls"]
    assert sorted(calls) == [0], calls
    call = calls[0]
    assert call["name"] == "get_weather"
    assert call["type"] == "function"
    assert call["deltas"] >= 2, "arguments were expected in more than one delta"
    args = json.loads(call["arguments"])
    assert isinstance(args.get("city"), str) and args["city"], args

    # Streamed follow-up with the tool's result.
    follow_up = [
        *WEATHER_QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": TOOL_RESULT},
    ]
    final = collect_stream(
        client.chat.completions.create(
            model="tools", messages=follow_up, tools=[WEATHER_TOOL], stream=True
        )
    )
    assert final["finishes"] == ["stop"], final["finishes"]
    assert final["text"] == f"The tool returned: {TOOL_RESULT}", final["text"]
    assert final["calls"] == {}


def test_parallel_tool_calls_plain(client):
    completion = client.chat.completions.create(
        model="parallel-tools",
        messages=[{"role": "user", "content": "Weather and time in Paris?"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"], calls
    assert len({c.id for c in calls}) == 2, calls
    assert json.loads(calls[0].function.arguments).get("city")
    assert json.loads(calls[1].function.arguments).get("timezone")


def test_parallel_tool_calls_streamed(client):
    got = collect_stream(
        client.chat.completions.create(
            model="parallel-tools",
            messages=[{"role": "user", "content": "Weather and time in Paris?"}],
            tools=[WEATHER_TOOL, TIME_TOOL],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert got["finishes"] == ["tool_calls"], got["finishes"]
    calls = got["calls"]
    assert sorted(calls) == [0, 1], calls
    assert calls[0]["id"] != calls[1]["id"], calls
    assert (calls[0]["name"], calls[1]["name"]) == ("get_weather", "get_time"), calls
    assert json.loads(calls[0]["arguments"]).get("city"), calls[0]
    assert json.loads(calls[1]["arguments"]).get("timezone"), calls[1]
    assert len(got["usage_chunks"]) == 1
    assert_usage(got["usage_chunks"][0][1].usage)


def test_parallel_tool_calls_false_is_honoured(client):
    completion = client.chat.completions.create(
        model="parallel-tools",
        messages=[{"role": "user", "content": "Weather and time in Paris?"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        parallel_tool_calls=False,
    )
    calls = completion.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"], calls


# ---------------------------------------------------------------------------- fallback


def test_fallback_is_invisible_to_the_client(client, sim_requests):
    before_down = sim_requests("flaky", "down")
    before_ok = sim_requests("healthy", "chat-model")
    raw = client.chat.completions.with_raw_response.create(model="fallback", messages=HELLO)
    completion = raw.parse()
    assert completion.choices[0].message.content.strip()
    assert completion.choices[0].finish_reason == "stop"
    assert_usage(completion.usage)
    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-route") == "fallback", h
    assert h.get("x-modelmux-target") == "healthy/chat-model", h
    assert int(h.get("x-modelmux-attempts", "0")) == FLAKY_ATTEMPTS + 1, h
    assert sim_requests("flaky", "down") - before_down == FLAKY_ATTEMPTS
    assert sim_requests("healthy", "chat-model") - before_ok == 1


def test_fallback_is_invisible_to_a_streaming_client(client, sim_requests):
    before_down = sim_requests("flaky", "down")
    raw = client.chat.completions.with_raw_response.create(
        model="fallback",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-target") == "healthy/chat-model", h
    assert int(h.get("x-modelmux-attempts", "0")) == FLAKY_ATTEMPTS + 1, h
    got = collect_stream(raw.parse())
    assert got["text"].strip()
    assert got["finishes"] == ["stop"]
    assert len(got["usage_chunks"]) == 1
    assert_usage(got["usage_chunks"][0][1].usage)
    assert sim_requests("flaky", "down") - before_down == FLAKY_ATTEMPTS


# ---------------------------------------------------------------------------- errors


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    err = info.value
    assert err.status_code == 404
    assert isinstance(err.body, dict), err.body
    assert err.body.get("code") == "model_not_found", err.body
    assert err.body.get("param") == "model", err.body
    assert "no-such-model" in err.body.get("message", ""), err.body
    assert "chat" in err.body.get("message", ""), "the message should list the routes"
    assert err.response.headers.get("x-modelmux-request-id")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_all_targets_overloaded_is_503_listing_the_attempts(client, sim_requests, stream):
    before = sim_requests("flaky", "down")
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="down", messages=HELLO, stream=stream)
    err = info.value
    # Every attempt failed with 503 (overloaded): the gateway answers 503 (all_failed_status).
    assert isinstance(err, openai.InternalServerError), type(err)
    assert err.status_code == 503
    body = err.body
    assert isinstance(body, dict), body
    assert body.get("code") == "upstream_unavailable", body
    message = body.get("message", "")
    attempts = FAILING_ROUTE_RETRIES + 1
    assert f"All {attempts} attempts failed" in message, message
    assert message.count("flaky/down") == attempts, message
    assert "503" in message, message
    assert sim_requests("flaky", "down") - before == attempts
    h = modelmux_headers(err.response.headers)
    assert h.get("x-modelmux-route") == "down", h
    assert h.get("x-modelmux-attempts") == str(attempts), h


def test_empty_messages_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat", messages=[])
    err = info.value
    assert err.status_code == 400
    assert isinstance(err.body, dict), err.body
    assert err.body.get("type") == "invalid_request_error", err.body
    assert "messages" in err.body.get("message", ""), err.body


def test_wrong_api_key_is_unauthorized(stack):
    bad = openai.OpenAI(base_url=stack.base_url, api_key="not-" + MASTER_KEY, max_retries=0)
    try:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model="chat", messages=HELLO)
        assert info.value.status_code == 401
        assert info.value.body.get("code") == "invalid_api_key", info.value.body
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    finally:
        bad.close()


# ---------------------------------------------------------------------------- models


def test_models_list_shows_the_routes(client):
    page = client.models.list()
    models = list(page)
    ids = [m.id for m in models]
    assert set(ROUTES) <= set(ids), ids
    for m in models:
        assert m.object == "model", m


# ---------------------------------------------------------------------------- other formats
#
# The routes `on-<format>[-tools|-parallel]` (conftest) lead to a simulator speaking that
# provider's own wire format; the client still speaks Chat Completions.

OTHER_FORMATS = [f for f in FORMATS if f != "openai"]


def fmt_route(fmt: str, what: str = "chat") -> str:
    return format_routes(fmt)[what]


def fmt_target(fmt: str, model: str) -> str:
    return f"{FORMATS[fmt]}/{model}"


def tool_turns(calls: list[dict], results: list[str]) -> list[dict]:
    """The assistant's tool calls and one `tool` message per result, as the next history."""
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls
            ],
        },
        *(
            {"role": "tool", "tool_call_id": c["id"], "content": r}
            for c, r in zip(calls, results, strict=True)
        ),
    ]


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_chat_over_other_formats(client, fmt):
    raw = client.chat.completions.with_raw_response.create(model=fmt_route(fmt), messages=HELLO)
    assert raw.status_code == 200
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert choice.finish_reason == "stop", choice
    assert choice.message.tool_calls in (None, [])
    assert_usage(completion.usage)
    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-route") == fmt_route(fmt), h
    assert h.get("x-modelmux-target") == fmt_target(fmt, "chat-model"), h
    assert h.get("x-modelmux-attempts") == "1", h


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_max_completion_tokens_over_other_formats(client, fmt):
    completion = client.chat.completions.create(
        model=fmt_route(fmt), messages=HELLO, max_completion_tokens=3
    )
    assert completion.choices[0].finish_reason == "length", completion
    assert completion.usage.completion_tokens == 3, completion.usage
    assert completion.choices[0].message.content.strip()


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_stream_with_include_usage_over_other_formats(client, fmt):
    raw = client.chat.completions.with_raw_response.create(
        model=fmt_route(fmt),
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    h = modelmux_headers(raw.headers)
    assert h.get("x-modelmux-target") == fmt_target(fmt, "chat-model"), h
    assert raw.headers.get("content-type", "").startswith("text/event-stream")
    got = collect_stream(raw.parse())
    assert got["text"].strip(), "the streamed text is empty"
    assert got["finishes"] == ["stop"], got["finishes"]
    usage_chunks = got["usage_chunks"]
    assert len(usage_chunks) == 1, f"expected exactly one usage chunk, got {usage_chunks}"
    idx, usage_chunk = usage_chunks[0]
    assert idx == len(got["chunks"]) - 1, "the usage chunk is not the last one"
    assert usage_chunk.choices == [], usage_chunk
    assert_usage(usage_chunk.usage)
    assert [c for c in got["chunks"] if not c.choices] == [usage_chunk]
    assert len({c.id for c in got["chunks"]}) == 1, "chunks of one stream carry different ids"

    plain = client.chat.completions.create(model=fmt_route(fmt), messages=HELLO)
    assert usage_chunk.usage.prompt_tokens == plain.usage.prompt_tokens


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_stream_without_include_usage_over_other_formats(client, fmt):
    got = collect_stream(
        client.chat.completions.create(model=fmt_route(fmt), messages=HELLO, stream=True)
    )
    assert got["text"].strip()
    assert got["finishes"] == ["stop"], got["finishes"]
    assert got["usage_chunks"] == [], "a chunk carries usage the client did not ask for"


@pytest.mark.parametrize("assistant_turn", ["dict", "sdk_message"])
@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_tool_call_round_trip_over_other_formats(client, fmt, assistant_turn):
    route = fmt_route(fmt, "tools")
    first = client.chat.completions.create(
        model=route, messages=WEATHER_QUESTION, tools=[WEATHER_TOOL]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1, choice.message
    call = calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args.get("city"), str) and args["city"], args
    assert_usage(first.usage)

    if assistant_turn == "dict":
        history = tool_turns(
            [{"id": call.id, "name": call.function.name, "arguments": call.function.arguments}],
            [TOOL_RESULT],
        )
    else:
        history = [choice.message, {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT}]
    final = client.chat.completions.create(
        model=route, messages=[*WEATHER_QUESTION, *history], tools=[WEATHER_TOOL]
    )
    fc = final.choices[0]
    assert fc.finish_reason == "stop", fc
    assert fc.message.tool_calls in (None, []), fc.message
    assert fc.message.content == f"The tool returned: {TOOL_RESULT}", fc.message.content
    assert_usage(final.usage)


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_streamed_tool_call_over_other_formats(client, fmt):
    route = fmt_route(fmt, "tools")
    got = collect_stream(
        client.chat.completions.create(
            model=route,
            messages=WEATHER_QUESTION,
            tools=[WEATHER_TOOL],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert got["finishes"] == ["tool_calls"], got["finishes"]
    assert got["text"] == "", got["text"]
    assert sorted(got["calls"]) == [0], got["calls"]
    call = got["calls"][0]
    assert call["name"] == "get_weather"
    assert call["type"] == "function"
    args = json.loads(call["arguments"])
    assert isinstance(args.get("city"), str) and args["city"], args
    assert len(got["usage_chunks"]) == 1, got["usage_chunks"]
    assert_usage(got["usage_chunks"][0][1].usage)

    final = collect_stream(
        client.chat.completions.create(
            model=route,
            messages=[*WEATHER_QUESTION, *tool_turns([call], [TOOL_RESULT])],
            tools=[WEATHER_TOOL],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert final["finishes"] == ["stop"], final["finishes"]
    assert final["text"] == f"The tool returned: {TOOL_RESULT}", final["text"]
    assert final["calls"] == {}
    assert len(final["usage_chunks"]) == 1, final["usage_chunks"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_parallel_tool_calls_and_results_over_other_formats(client, fmt, stream):
    """Two calls in one answer, indices 0 and 1 when streamed; the two `tool` messages
    that answer them become one turn of results upstream."""
    route = fmt_route(fmt, "parallel")
    question = [{"role": "user", "content": "Weather and time in Paris?"}]
    first = client.chat.completions.create(
        model=route, messages=question, tools=[WEATHER_TOOL, TIME_TOOL], stream=stream
    )
    if stream:
        got = collect_stream(first)
        assert got["finishes"] == ["tool_calls"], got["finishes"]
        assert sorted(got["calls"]) == [0, 1], got["calls"]
        calls = [got["calls"][0], got["calls"][1]]
    else:
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in choice.message.tool_calls or []
        ]
    assert [c["name"] for c in calls] == ["get_weather", "get_time"], calls
    assert len({c["id"] for c in calls}) == 2, calls
    assert json.loads(calls[0]["arguments"]).get("city"), calls[0]
    assert json.loads(calls[1]["arguments"]).get("timezone"), calls[1]

    final = client.chat.completions.create(
        model=route,
        messages=[*question, *tool_turns(calls, [TOOL_RESULT, "14:05"])],
        tools=[WEATHER_TOOL, TIME_TOOL],
    )
    fc = final.choices[0]
    assert fc.finish_reason == "stop", fc
    assert fc.message.content == f"The tool returned: {TOOL_RESULT} 14:05", fc.message.content


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_stream_broken_after_commit_raises_over_every_format(client, fmt):
    """The provider drops the connection after three chunks, after the gateway committed:
    the SDK must raise (an `error` object, no `[DONE]`), never see a finished stream."""
    text: list[str] = []
    finishes: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(
            model=fmt_route(fmt, "cut"), messages=HELLO, stream=True
        ):
            for choice in chunk.choices:
                text.append(choice.delta.content or "")
                if choice.finish_reason is not None:
                    finishes.append(choice.finish_reason)
    assert not isinstance(info.value, openai.APIStatusError), "committed: no status to give"
    assert "".join(text).strip(), "no text before the cut"
    assert finishes == [], f"a broken stream announced a finish: {finishes}"


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_tool_choice_over_other_formats(client, fmt):
    question = [{"role": "user", "content": "Weather and time in Paris?"}]
    tools = [WEATHER_TOOL, TIME_TOOL]
    named = client.chat.completions.create(
        model=fmt_route(fmt, "parallel"),
        messages=question,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [c.function.name for c in named.choices[0].message.tool_calls or []] == ["get_time"]
    required = client.chat.completions.create(
        model=fmt_route(fmt, "tools"), messages=question, tools=tools, tool_choice="required"
    )
    assert required.choices[0].finish_reason == "tool_calls", required
    assert required.choices[0].message.tool_calls, required
    none = client.chat.completions.create(
        model=fmt_route(fmt, "tools"), messages=question, tools=tools, tool_choice="none"
    )
    assert none.choices[0].finish_reason == "stop", none
    assert none.choices[0].message.tool_calls in (None, []), none
    assert none.choices[0].message.content.strip()


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_system_and_developer_turns_and_history_over_other_formats(client, fmt):
    completion = client.chat.completions.create(
        model=fmt_route(fmt),
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": "Hi."},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": [{"type": "text", "text": "ECHO: same words back"}]},
        ],
        temperature=0.2,
        top_p=0.9,
        stop=["NEVER-SEEN"],
    )
    assert completion.choices[0].message.content == "same words back", completion

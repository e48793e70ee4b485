//! Every provider kind behind every client format, over real loopback HTTP to the simulator
//! (which validates each format the way the vendor does: Anthropic's tool_result placement
//! and non-empty text, Gemini's schema keywords and call/response counts, Bedrock's role
//! alternation and SigV4 signatures, Vertex's OAuth token): JSON, streams, tool loops,
//! mid-stream errors and fallback across formats.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};

const KINDS: [&str; 5] = ["openai", "anthropic", "gemini", "vertex", "bedrock"];

async fn kind_sim(kind: &str) -> SimHandle {
    let mut config = SimConfig {
        api_key: Some("k-sim".into()),
        ..SimConfig::default()
    };
    if kind == "vertex" {
        config.api_key = None;
        config.vertex_auth = true;
    }
    if kind == "bedrock" {
        config.api_key = None;
        config.aws_access_key_id = Some("AKIDMODELMUXTEST".into());
        config.aws_secret_access_key = Some("modelmux-test-secret".into());
    }
    config.models.insert(
        "m".into(),
        Behaviour {
            output_tokens: 6,
            ..Behaviour::default()
        },
    );
    config.models.insert(
        "tools-m".into(),
        Behaviour {
            parallel_tool_calls: true,
            ..Behaviour::default()
        },
    );
    modelmux_sim::bind(config).await.unwrap()
}

fn provider_block(kind: &str, sim: &SimHandle) -> String {
    let root = sim.root_url();
    match kind {
        "openai" => format!(
            "[providers.p]\nkind = \"openai\"\nbase_url = \"{root}/v1\"\napi_key = \"k-sim\"\n"
        ),
        "anthropic" => format!(
            "[providers.p]\nkind = \"anthropic\"\nbase_url = \"{root}/v1\"\napi_key = \"k-sim\"\n"
        ),
        "gemini" => format!(
            "[providers.p]\nkind = \"gemini\"\nbase_url = \"{root}/v1beta\"\napi_key = \"k-sim\"\n"
        ),
        "vertex" => format!(
            "[providers.p]\nkind = \"vertex\"\nbase_url = \"{root}/v1\"\nproject = \"proj\"\nlocation = \"us-central1\"\ncredentials_file = \"{}\"\ntoken_url = \"{root}/token\"\n",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/vertex-test-sa.json"
            )
        ),
        "bedrock" => format!(
            "[providers.p]\nkind = \"bedrock\"\nbase_url = \"{root}\"\nregion = \"us-east-1\"\naccess_key_id = \"AKIDMODELMUXTEST\"\nsecret_access_key = \"modelmux-test-secret\"\n"
        ),
        _ => unreachable!(),
    }
}

async fn gateway_for(kind: &str) -> (modelmux_core::RunningGateway, SimHandle) {
    let s = kind_sim(kind).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"p/m\"]\nnum_retries = 0\n[[routes]]\nname = \"tools\"\ntargets = [\"p/tools-m\"]\nnum_retries = 0\n",
        provider_block(kind, &s)
    ))
    .await;
    (gw, s)
}

fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
          "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}, "days": {"type": "integer", "exclusiveMinimum": 0, "default": 1}},
            "required": ["city"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "get_time", "description": "Local time",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    ])
}

async fn messages(gw: &modelmux_core::RunningGateway, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages?beta=true", gw.url()))
        .header("content-type", "application/json")
        .header("x-api-key", "client-key")
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Anthropic SSE events as (event name, data JSON).
fn anthropic_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (
                name,
                serde_json::from_str(&data).unwrap_or_else(|_| panic!("bad data in {e:?}")),
            )
        })
        .collect()
}

/// Checks an Anthropic stream is well formed: message_start first, message_stop last,
/// blocks started, delta'd and stopped in order without overlap.
fn assert_valid_anthropic_stream(events: &[(String, Value)]) {
    assert_eq!(
        events.first().map(|e| e.0.as_str()),
        Some("message_start"),
        "{events:#?}"
    );
    assert_eq!(
        events.last().map(|e| e.0.as_str()),
        Some("message_stop"),
        "{events:#?}"
    );
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "overlapping blocks: {events:#?}");
                assert_eq!(data["index"], next);
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => assert_eq!(Some(data["index"].as_u64().unwrap()), open),
            "content_block_stop" => {
                assert_eq!(Some(data["index"].as_u64().unwrap()), open);
                open = None;
            }
            _ => {}
        }
    }
    assert!(open.is_none());
}

#[tokio::test]
async fn openai_clients_get_answers_from_every_kind() {
    for kind in KINDS {
        let (gw, s) = gateway_for(kind).await;
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(resp.status(), 200, "{kind}: {}", resp.text().await.unwrap());
        let v = json_of(resp).await;
        assert_eq!(v["object"], "chat.completion", "{kind}: {v}");
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind}: {v}"));
        assert_eq!(text.split_whitespace().count(), 6, "{kind}: {v}");
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{kind}");
        assert!(
            v["usage"]["prompt_tokens"].as_u64().unwrap() > 0,
            "{kind}: {v}"
        );
        assert_eq!(v["usage"]["completion_tokens"], 6, "{kind}: {v}");
        assert_eq!(s.requests("m"), 1, "{kind}");
        if kind == "vertex" {
            assert_eq!(s.token_requests(), 1);
            let path = s.last_request("m").unwrap().path_and_query;
            assert_eq!(
                path,
                "/v1/projects/proj/locations/us-central1/publishers/google/models/m:generateContent"
            );
        }
    }
}

#[tokio::test]
async fn openai_tool_loops_work_on_every_kind() {
    for kind in KINDS {
        let (gw, _s) = gateway_for(kind).await;
        let first = json!({"model": "tools", "tools": weather_tools(),
            "messages": [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather and time in Paris?"}]});
        let v = json_of(post(&gw, &first).await).await;
        assert_eq!(
            v["choices"][0]["finish_reason"], "tool_calls",
            "{kind}: {v}"
        );
        let calls = v["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap_or_else(|| panic!("{kind}: {v}"))
            .clone();
        assert_eq!(calls.len(), 2, "{kind}: parallel calls: {v}");
        let mut messages = first["messages"].as_array().unwrap().clone();
        messages.push(v["choices"][0]["message"].clone());
        for (i, c) in calls.iter().enumerate() {
            let args: Value =
                serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
            assert!(args["city"].is_string(), "{kind}: {args}");
            messages.push(
                json!({"role": "tool", "tool_call_id": c["id"], "content": format!("result {i}")}),
            );
        }
        let second = json!({"model": "tools", "tools": weather_tools(), "messages": messages});
        let resp = post(&gw, &second).await;
        assert_eq!(resp.status(), 200, "{kind}: {}", resp.text().await.unwrap());
        let v = json_of(resp).await;
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            text.contains("result 0") && text.contains("result 1"),
            "{kind}: {v}"
        );
    }
}

#[tokio::test]
async fn openai_streams_from_every_kind() {
    for kind in KINDS {
        let (gw, _s) = gateway_for(kind).await;
        let resp = post(&gw, &chat_stream("r", true)).await;
        assert_eq!(resp.status(), 200, "{kind}");
        let events = data_events(&body_text(resp).await);
        assert_eq!(events.last().unwrap(), "[DONE]", "{kind}: {events:?}");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text.split_whitespace().count(), 6, "{kind}: {text:?}");
        let usage: Vec<&Value> = chunks.iter().filter(|c| c["usage"].is_object()).collect();
        assert_eq!(usage.len(), 1, "{kind}: exactly one usage chunk");
        assert_eq!(usage[0]["choices"], json!([]), "{kind}");
        assert_eq!(
            usage[0]["usage"]["completion_tokens"], 6,
            "{kind}: {}",
            usage[0]
        );
        assert_eq!(
            chunks
                .iter()
                .filter(|c| c["choices"][0]["finish_reason"].is_string())
                .count(),
            1,
            "{kind}"
        );

        // A streamed tool call: id and name once, arguments that parse.
        let body = json!({"model": "tools", "stream": true, "tools": weather_tools(), "messages": [{"role": "user", "content": "Paris?"}]});
        let events = data_events(&body_text(post(&gw, &body).await).await);
        let chunks: Vec<Value> = events
            .iter()
            .filter(|e| *e != "[DONE]")
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let mut args = ["".to_owned(), "".to_owned()];
        let mut ids = 0;
        for c in &chunks {
            for tc in c["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let i = tc["index"].as_u64().unwrap() as usize;
                if tc.get("id").is_some_and(|v| v.is_string()) {
                    ids += 1;
                    assert!(tc["function"]["name"].is_string());
                }
                args[i].push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
            }
        }
        assert_eq!(ids, 2, "{kind}: {chunks:#?}");
        for a in &args {
            let v: Value = serde_json::from_str(a).unwrap_or_else(|_| panic!("{kind}: args {a:?}"));
            assert!(v["city"].is_string());
        }
        assert!(
            chunks
                .iter()
                .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn anthropic_clients_get_answers_from_every_kind() {
    for kind in KINDS {
        let (gw, _s) = gateway_for(kind).await;
        let body = json!({"model": "r", "max_tokens": 100, "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "Hi"}]});
        let resp = messages(&gw, &body).await;
        assert_eq!(resp.status(), 200, "{kind}: {}", resp.text().await.unwrap());
        let v = json_of(resp).await;
        assert_eq!(v["type"], "message", "{kind}: {v}");
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["stop_reason"], "end_turn", "{kind}: {v}");
        assert_eq!(v["content"][0]["type"], "text");
        assert_eq!(
            v["content"][0]["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .count(),
            6,
            "{kind}: {v}"
        );
        assert_eq!(v["usage"]["output_tokens"], 6, "{kind}: {v}");

        // Streaming with a tool loop: tool_use with input_json_delta, stop_reason tool_use.
        let tools = json!([{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
        let body = json!({"model": "tools", "max_tokens": 200, "stream": true, "tools": tools, "messages": [{"role": "user", "content": "Paris?"}]});
        let resp = messages(&gw, &body).await;
        assert_eq!(resp.status(), 200, "{kind}");
        let events = anthropic_events(&body_text(resp).await);
        assert_valid_anthropic_stream(&events);
        let tool_starts: Vec<&Value> = events
            .iter()
            .filter(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
            .map(|e| &e.1)
            .collect();
        assert!(!tool_starts.is_empty(), "{kind}: {events:#?}");
        let id = tool_starts[0]["content_block"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let name = tool_starts[0]["content_block"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let index = tool_starts[0]["index"].clone();
        let input: String = events
            .iter()
            .filter(|(n, d)| {
                n == "content_block_delta"
                    && d["index"] == index
                    && d["delta"]["type"] == "input_json_delta"
            })
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_owned())
            .collect();
        let input: Value =
            serde_json::from_str(&input).unwrap_or_else(|_| panic!("{kind}: {input:?}"));
        assert!(input["city"].is_string());
        let delta = events.iter().find(|(n, _)| n == "message_delta").unwrap();
        assert_eq!(delta.1["delta"]["stop_reason"], "tool_use", "{kind}");

        // The tool result goes back; the final answer arrives.
        let follow = json!({"model": "tools", "max_tokens": 200, "tools": tools, "messages": [
            {"role": "user", "content": "Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": name, "input": input}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "18 degrees"}]}
        ]});
        let resp = messages(&gw, &follow).await;
        assert_eq!(resp.status(), 200, "{kind}: {}", resp.text().await.unwrap());
        let v = json_of(resp).await;
        assert!(
            v["content"][0]["text"]
                .as_str()
                .unwrap_or("")
                .contains("18 degrees"),
            "{kind}: {v}"
        );
    }
}

#[tokio::test]
async fn mid_stream_errors_become_error_events_in_the_clients_format() {
    for kind in KINDS {
        let (gw, s) = gateway_for(kind).await;
        s.set_behaviour("m", faulty(&["error_event:2"]));
        let text = body_text(post(&gw, &chat_stream("r", false)).await).await;
        let events = data_events(&text);
        assert!(!events.iter().any(|e| e == "[DONE]"), "{kind}: {events:?}");
        let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert!(last["error"]["message"].is_string(), "{kind}: {last}");

        s.set_behaviour("m", faulty(&["error_event:2"]));
        let body = json!({"model": "r", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "Hi"}]});
        let events = anthropic_events(&body_text(messages(&gw, &body).await).await);
        assert_eq!(events.last().unwrap().0, "error", "{kind}: {events:#?}");
        assert!(!events.iter().any(|(n, _)| n == "message_stop"), "{kind}");
    }
}

#[tokio::test]
async fn errors_before_content_fall_back_across_formats() {
    let bad = kind_sim("anthropic").await;
    bad.set_behaviour("m", faulty(&["529", "error_event:0"]));
    let good = kind_sim("bedrock").await;
    let gw = gateway(&format!(
        "{}\n{}\n[[routes]]\nname = \"r\"\ntargets = [\"p/m\", \"b/m\"]\nnum_retries = 0\n",
        provider_block("anthropic", &bad),
        provider_block("bedrock", &good).replace("[providers.p]", "[providers.b]")
    ))
    .await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    assert_eq!(resp.status(), 200);
    let resp = post(&gw, &chat_stream("r", false)).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    assert_eq!(
        data_events(&body_text(resp).await).last().unwrap(),
        "[DONE]"
    );
}

#[tokio::test]
async fn anthropic_errors_use_the_anthropic_shape() {
    let (gw, _s) = gateway_for("openai").await;
    for (body, status, kind) in [
        (
            json!({"model": "r", "messages": [{"role": "user", "content": "x"}]}),
            400,
            "invalid_request_error",
        ),
        (
            json!({"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
            404,
            "not_found_error",
        ),
    ] {
        let resp = messages(&gw, &body).await;
        assert_eq!(resp.status(), status);
        let v = json_of(resp).await;
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
    }
    let resp = client()
        .post(format!("{}/v1/messages/count_tokens", gw.url()))
        .header("x-api-key", "k")
        .body(json!({"model": "r", "messages": [{"role": "user", "content": "Hello there, how are you today?"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v = json_of(resp).await;
    assert!(v["input_tokens"].as_u64().unwrap() > 0, "{v}");
}

#[tokio::test]
async fn count_tokens_is_exact_where_the_provider_counts() {
    for (kind, how) in [
        ("anthropic", "exact"),
        ("openai", "estimate"),
        ("gemini", "estimate"),
        ("bedrock", "estimate"),
    ] {
        let (gw, s) = gateway_for(kind).await;
        let resp = client()
            .post(format!("{}/v1/messages/count_tokens", gw.url()))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .body(json!({"model": "r", "messages": [{"role": "user", "content": "Hello there, how are you today?"}]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{kind}");
        assert_eq!(header(&resp, "x-modelmux-count"), how, "{kind}");
        let v = json_of(resp).await;
        assert!(v["input_tokens"].as_u64().unwrap() > 0, "{kind}: {v}");
        // The exact count came from the provider, not from a Messages call.
        assert_eq!(s.requests("m"), 0, "{kind}");
    }
}

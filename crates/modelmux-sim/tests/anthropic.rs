//! The Anthropic Messages format over loopback HTTP: JSON shape, the strict stream event order
//! (with thinking), tool use then tool result, status faults and the mid-stream error event,
//! auth and version headers, count_tokens, and the validation errors gateways trip on.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};

fn msgs(sim: &SimHandle, body: &Value) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}/v1/messages?beta=true", sim.root_url()))
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body.to_string())
}

fn req(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 100, "stream": stream, "system": "You are terse.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}]})
}

fn weather() -> Value {
    json!({"name": "get_weather", "description": "Weather", "input_schema": {"type": "object",
        "properties": {"city": {"type": "string"}}, "required": ["city"]}})
}

/// `(event name, data)` of each SSE event.
fn sse(text: &str) -> Vec<(String, Value)> {
    events(text)
        .iter()
        .map(|e| {
            let (ev, data) = e.split_once('\n').unwrap();
            let data = data.strip_prefix("data: ").unwrap();
            (
                ev.strip_prefix("event: ").unwrap().to_owned(),
                serde_json::from_str(data).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn json_answer_has_message_shape() {
    let sim = sim(SimConfig::default()).await;
    let resp = msgs(&sim, &req("claude-x", false)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let v = json_of(resp).await;
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        (v["type"].as_str(), v["role"].as_str(), v["model"].as_str()),
        (Some("message"), Some("assistant"), Some("claude-x"))
    );
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["stop_sequence"].is_null());
    // "You are terse." + "Say hi" = 20 chars → 5, + 3 per message.
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 11, "output_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
    assert_eq!(sim.requests("claude-x"), 1);
    assert!(
        sim.last_request("claude-x")
            .unwrap()
            .path_and_query
            .ends_with("?beta=true")
    );

    let mut b = req("claude-x", false);
    b["max_tokens"] = json!(2);
    let v = json_of(msgs(&sim, &b).send().await.unwrap()).await;
    assert_eq!(
        (v["stop_reason"].as_str(), v["content"][0]["text"].as_str()),
        (Some("max_tokens"), Some("lorem ipsum"))
    );

    let count = client()
        .post(format!("{}/v1/messages/count_tokens", sim.root_url()))
        .header("anthropic-version", "2023-06-01")
        .body(json!({"model": "claude-x", "system": "You are terse.", "messages": [{"role": "user", "content": "Say hi"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(count).await, json!({"input_tokens": 11}));
    assert_eq!(
        sim.requests("claude-x"),
        2,
        "count_tokens is not a model request"
    );
}

#[tokio::test]
async fn stream_follows_the_event_order_with_thinking() {
    let sim = sim(SimConfig {
        default: Behaviour {
            thinking: true,
            output_tokens: 3,
            ..Behaviour::default()
        },
        ..SimConfig::default()
    })
    .await;
    let resp = msgs(&sim, &req("c", true)).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let ev = sse(&resp.text().await.unwrap());
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    let thinking_deltas = ev
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "thinking_delta")
        .count();
    let mut expected = vec!["message_start", "ping", "content_block_start"];
    expected.extend(std::iter::repeat_n(
        "content_block_delta",
        thinking_deltas + 1,
    ));
    expected.extend([
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]);
    assert_eq!(names, expected);
    assert!(ev.iter().all(|(n, d)| d["type"] == n.as_str()));
    assert_eq!(ev[0].1["message"]["content"], json!([]));
    assert_eq!(ev[0].1["message"]["usage"]["input_tokens"], 11);
    assert_eq!(
        ev[2].1["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    let sig = &ev[3 + thinking_deltas].1["delta"];
    assert_eq!(sig["type"], "signature_delta");
    assert!(sig["signature"].as_str().unwrap().starts_with("sig_"));
    let text_start = &ev[5 + thinking_deltas].1;
    assert_eq!(
        (text_start["index"].as_u64(), &text_start["content_block"]),
        (Some(1), &json!({"type": "text", "text": ""}))
    );
    let text: String = ev
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "text_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "lorem ipsum dolor");
    let delta = &ev[ev.len() - 2].1;
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(delta["usage"]["output_tokens"], 3 + thinking_deltas);
}

#[tokio::test]
async fn tool_use_then_tool_result_round_trip() {
    let sim = sim(SimConfig::default()).await;
    let mut b = req("c", false);
    b["tools"] = json!([weather()]);
    let v = json_of(msgs(&sim, &b).send().await.unwrap()).await;
    assert_eq!(v["stop_reason"], "tool_use");
    let call = &v["content"][0];
    assert_eq!(
        (call["type"].as_str(), call["name"].as_str()),
        (Some("tool_use"), Some("get_weather"))
    );
    assert_eq!(call["input"], json!({"city": "Paris"}));
    let id = call["id"].as_str().unwrap();
    assert!(id.starts_with("toolu_"));

    b["stream"] = json!(true);
    let ev = sse(&msgs(&sim, &b).send().await.unwrap().text().await.unwrap());
    let start = ev.iter().find(|(n, _)| n == "content_block_start").unwrap();
    assert_eq!(start.1["content_block"]["input"], json!({}));
    let frags: Vec<&str> = ev
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert!((2..=3).contains(&frags.len()));
    assert_eq!(
        serde_json::from_str::<Value>(&frags.concat()).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], "tool_use");

    b["stream"] = json!(false);
    b["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": [{"type": "text", "text": "18C and sunny"}]}]}
    ]);
    let v = json_of(msgs(&sim, &b).send().await.unwrap()).await;
    assert_eq!(v["content"][0]["text"], "The tool returned: 18C and sunny");
    assert_eq!(v["stop_reason"], "end_turn");
}

#[tokio::test]
async fn status_faults_and_mid_stream_error_event() {
    let sim = sim(SimConfig::default()).await;
    let cases = [
        ("429:retry-after=2", 429, "rate_limit_error"),
        ("500", 500, "api_error"),
        ("503", 503, "overloaded_error"),
        ("529", 529, "overloaded_error"),
        ("401", 401, "authentication_error"),
    ];
    for (f, status, ty) in cases {
        let resp = msgs(&sim, &req("c", false))
            .header("x-sim-fault", f)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{f}");
        if status == 429 {
            assert_eq!(resp.headers()["retry-after"], "2");
        }
        let v = json_of(resp).await;
        assert_eq!(
            (v["type"].as_str(), v["error"]["type"].as_str()),
            (Some("error"), Some(ty)),
            "{f}"
        );
        if status == 529 {
            assert_eq!(v["error"]["message"], "Overloaded");
        }
    }
    let v = json_of(
        msgs(&sim, &req("c", false))
            .header("x-sim-fault", "context_length")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("prompt is too long: "),
        "{v}"
    );

    let text = msgs(&sim, &req("c", true))
        .header("x-sim-fault", "error_event:2")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ev = sse(&text);
    let (last, rest) = ev.split_last().unwrap();
    assert_eq!(
        last,
        &(
            "error".to_owned(),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        )
    );
    assert_eq!(
        rest.iter()
            .filter(|(_, d)| d["delta"]["type"] == "text_delta")
            .count(),
        2
    );
    assert!(!text.contains("message_stop") && !text.contains("message_delta"));

    let text = msgs(&sim, &req("c", true))
        .header("x-sim-fault", "keepalive:2")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names: Vec<String> = sse(&text).into_iter().map(|(n, _)| n).take(5).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "ping",
            "ping",
            "content_block_start"
        ]
    );
}

#[tokio::test]
async fn key_and_version_are_required() {
    let sim = sim(SimConfig {
        api_key: Some("sk-ant".into()),
        ..SimConfig::default()
    })
    .await;
    let resp = msgs(&sim, &req("c", false)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(json_of(resp).await["error"]["type"], "authentication_error");
    assert_eq!(
        msgs(&sim, &req("c", false))
            .header("x-api-key", "sk-ant")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        msgs(&sim, &req("c", false))
            .bearer_auth("sk-ant")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = client()
        .post(format!("{}/v1/messages", sim.root_url()))
        .header("x-api-key", "sk-ant")
        .body(req("c", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        json_of(resp).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("anthropic-version")
    );
}

#[tokio::test]
async fn validation_errors() {
    let sim = sim(SimConfig::default()).await;
    let bad = |messages: Value| {
        let mut b = req("c", false);
        b["messages"] = messages;
        b
    };
    let tool_use = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]});
    let cases = [
        (
            bad(json!([{"role": "user", "content": [{"type": "text", "text": ""}]}])),
            "text content blocks must be non-empty",
        ),
        (
            bad(
                json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "r"}]}]),
            ),
            "unexpected `tool_use_id`",
        ),
        (
            bad(json!([{"role": "user", "content": "hi"}, tool_use,
            {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]}])),
            "must come before",
        ),
        (bad(json!([{"role": "tool", "content": "hi"}])), "role"),
        (
            {
                let mut b = req("c", false);
                b["tool_choice"] = json!({"type": "sometimes"});
                b
            },
            "tool_choice",
        ),
        (
            {
                let mut b = req("c", false);
                b.as_object_mut().unwrap().remove("max_tokens");
                b
            },
            "max_tokens: Field required",
        ),
    ];
    for (body, needle) in cases {
        let resp = msgs(&sim, &body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{needle}");
        let v = json_of(resp).await;
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{needle}: {v}"
        );
    }
    assert_eq!(
        sim.requests("c"),
        6,
        "rejected requests still count for their model"
    );
    // A system message inside `messages` (Claude Code) is accepted.
    let ok =
        bad(json!([{"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}]));
    assert_eq!(msgs(&sim, &ok).send().await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn latency_ttft_and_pace_apply_on_a_paused_clock() {
    let sim = sim(SimConfig {
        default: Behaviour {
            latency_ms: 100,
            ttft_ms: 400,
            tokens_per_second: 20.0,
            output_tokens: 4,
            ..Behaviour::default()
        },
        ..SimConfig::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let text = msgs(&sim, &req("c", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(700)
            && elapsed < std::time::Duration::from_millis(800),
        "{elapsed:?}"
    );
    assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}

//! Helpers shared by the integration tests: a plain-HTTP reqwest client, chat request bodies
//! and an SSE splitter.
#![allow(dead_code, reason = "each test crate uses a different subset")]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is the test failing"
)]

use modelmux_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub async fn sim(config: SimConfig) -> SimHandle {
    modelmux_sim::bind(config).await.unwrap()
}

pub fn body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hi"}
    ]})
}

pub fn post(sim: &SimHandle, body: &Value) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}/chat/completions", sim.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
}

pub async fn json_of(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

/// SSE events of a body, each without its trailing blank line (`data: ...` or `: comment`).
pub fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The JSON chunks of a stream (every `data:` event except `[DONE]`).
pub fn chunks(text: &str) -> Vec<Value> {
    events(text)
        .iter()
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// The concatenated `delta.content` of the chunks, and how many chunks carried content.
pub fn content(chunks: &[Value]) -> (String, usize) {
    let parts: Vec<&str> = chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .filter(|s| !s.is_empty())
        .collect();
    (parts.concat(), parts.len())
}

pub fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

pub fn time_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}})
}

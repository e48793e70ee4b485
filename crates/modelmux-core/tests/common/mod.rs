//! Shared helpers for the gateway's integration tests: simulated providers on port 0, a
//! gateway built from TOML over them, a plain HTTP client, and SSE helpers.
#![allow(dead_code, reason = "each test file uses a different subset")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

use std::collections::BTreeMap;

use modelmux_core::config::ConfigSource;
use modelmux_core::{Config, RunningGateway};
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};

/// A plain reqwest client for driving the gateway (the tests' own client, not the gateway's).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A simulator serving `models` with the given behaviours.
pub async fn sim(models: &[(&str, Behaviour)]) -> SimHandle {
    let models: BTreeMap<String, Behaviour> = models
        .iter()
        .map(|(m, b)| ((*m).to_owned(), b.clone()))
        .collect();
    modelmux_sim::bind(SimConfig {
        models,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A config from TOML; records go to an in-memory store unless the TOML says otherwise.
pub fn config(toml: &str) -> Config {
    let toml = if toml.contains("[store]") {
        toml.to_owned()
    } else {
        format!("{toml}\n[store]\nkind = \"memory\"\n")
    };
    let toml = toml.as_str();
    Config::from_toml(toml, ConfigSource::Inline, &|_| None)
        .unwrap_or_else(|e| panic!("config: {e}\n{toml}"))
}

pub async fn gateway(toml: &str) -> RunningGateway {
    modelmux_core::spawn(config(toml)).await.unwrap()
}

/// `[providers.<id>]` blocks for each (id, sim).
pub fn providers(sims: &[(&str, &SimHandle)]) -> String {
    sims.iter()
        .map(|(id, s)| {
            format!(
                "[providers.{id}]\nkind = \"openai\"\nbase_url = \"{}\"\n",
                s.base_url()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hi"}]})
}

pub fn chat_stream(model: &str, include_usage: bool) -> Value {
    let mut b = chat(model);
    b["stream"] = json!(true);
    if include_usage {
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

pub async fn post(gw: &RunningGateway, body: &Value) -> reqwest::Response {
    post_raw(gw, body.to_string()).await
}

pub async fn post_raw(gw: &RunningGateway, body: String) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", gw.url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

pub async fn json_of(resp: reqwest::Response) -> Value {
    let bytes = resp.bytes().await.unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
}

/// The `data:` payloads of an SSE body, in order (including `[DONE]`).
pub fn data_events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {e:?}"))
                .to_owned()
        })
        .collect()
}

/// Asserts the OpenAI error shape and returns the error object.
pub fn error_object(v: &Value) -> &serde_json::Map<String, Value> {
    let e = v["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {v}"));
    for key in ["message", "type", "param", "code"] {
        assert!(e.contains_key(key), "error lacks {key}: {v}");
    }
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    e
}

/// A behaviour that plays `faults` (fault strings such as "503" or "cut:2") in order.
pub fn faulty(faults: &[&str]) -> Behaviour {
    Behaviour {
        faults: faults.iter().map(|f| f.parse().unwrap()).collect(),
        ..Behaviour::default()
    }
}

pub async fn body_text(resp: reqwest::Response) -> String {
    String::from_utf8(resp.bytes().await.unwrap().to_vec()).unwrap()
}

/// Polls `cond` every few milliseconds until it holds and returns how long that took; panics
/// saying `what` did not happen once `limit` of real time has passed. For waits on things
/// that happen on their own time (a background task, a peer, Redis): never a fixed sleep
/// that hopes. On a paused clock the pause between polls is virtual time, which lets the
/// runtime run; the limit is still real time.
pub async fn eventually<F, Fut>(
    limit: std::time::Duration,
    what: &str,
    mut cond: F,
) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        if cond().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

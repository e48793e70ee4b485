//! Streams through the gateway: relayed chunk by chunk with the usage chunk intact, usage
//! stripped when the client did not ask for it, keep-alive comments dropped, the
//! time-to-first-token timeout, and the commit point: a stream that fails before its first
//! content falls back, one that fails after it ends in an error event and never in `[DONE]`.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use modelmux_sim::Behaviour;
use serde_json::Value;
use tokio::time::Instant;

async fn route_over(
    primary: Behaviour,
    extra: &str,
) -> (
    modelmux_core::RunningGateway,
    modelmux_sim::SimHandle,
    modelmux_sim::SimHandle,
) {
    let a = sim(&[("m", primary)]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\", \"b/m\"]\nnum_retries = 0\n{extra}\n",
        providers(&[("a", &a), ("b", &b)])
    ))
    .await;
    (gw, a, b)
}

#[tokio::test(start_paused = true)]
async fn every_chunk_and_the_usage_chunk_arrive_intact() {
    let s = sim(&[(
        "m",
        Behaviour {
            output_tokens: 9,
            ..Behaviour::default()
        },
    )])
    .await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;

    let resp = post(&gw, &chat_stream("r", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
    let events = data_events(&body_text(resp).await);

    // The same request straight to the simulator, for comparison.
    let mut direct_body = chat_stream("m", true);
    direct_body["model"] = "m".into();
    let direct = client()
        .post(format!("{}/chat/completions", s.base_url()))
        .header("content-type", "application/json")
        .body(direct_body.to_string())
        .send()
        .await
        .unwrap();
    let direct_events = data_events(&body_text(direct).await);

    assert_eq!(events.len(), direct_events.len(), "{events:#?}");
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    // role chunk + 9 words + finish + usage
    assert_eq!(chunks.len(), 12);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text.split_whitespace().count(), 9, "{text}");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], serde_json::json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 9);
    assert_eq!(chunks.iter().filter(|c| c["usage"].is_object()).count(), 1);
    assert_eq!(chunks[10]["choices"][0]["finish_reason"], "stop");
    // One id across the stream.
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-") && chunks.iter().all(|c| c["id"] == id));
}

#[tokio::test(start_paused = true)]
async fn usage_is_requested_upstream_but_only_relayed_when_asked() {
    let s = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let resp = post(&gw, &chat_stream("r", false)).await;
    let events = data_events(&body_text(resp).await);
    assert_eq!(events.last().unwrap(), "[DONE]");
    for e in &events[..events.len() - 1] {
        let v: Value = serde_json::from_str(e).unwrap();
        assert!(
            v.get("usage").is_none_or(Value::is_null),
            "usage leaked: {e}"
        );
        assert_ne!(v["choices"], serde_json::json!([]));
    }
    let sent: Value = serde_json::from_slice(&s.last_request("m").unwrap().body).unwrap();
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "the gateway prices streams from usage"
    );
}

#[tokio::test(start_paused = true)]
async fn chunks_are_forwarded_as_they_arrive() {
    // 4 tokens/s: a buffered relay would deliver nothing until the end.
    let s = sim(&[(
        "m",
        Behaviour {
            output_tokens: 8,
            tokens_per_second: 4.0,
            ..Behaviour::default()
        },
    )])
    .await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat_stream("r", false)).await;
    let mut body = resp.bytes_stream();
    let mut first_content_at = None;
    let mut all = String::new();
    while let Some(chunk) = body.next().await {
        all.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        if first_content_at.is_none()
            && all.contains("\"content\":\"")
            && all.matches("data: ").count() >= 2
        {
            first_content_at = Some(t0.elapsed());
        }
    }
    let total = t0.elapsed();
    let first = first_content_at.unwrap();
    assert!(total >= Duration::from_secs(2), "{total:?}");
    assert!(
        first <= Duration::from_millis(600),
        "first content after {first:?} of {total:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn keepalive_comments_are_dropped() {
    let s = sim(&[("m", faulty(&["keepalive:3"]))]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let text = body_text(post(&gw, &chat_stream("r", false)).await).await;
    assert!(!text.contains("OPENROUTER"), "{text}");
    // Every event is a data event; the stream completes.
    assert_eq!(data_events(&text).last().unwrap(), "[DONE]");
}

#[tokio::test(start_paused = true)]
async fn ttft_timeout_falls_back() {
    let slow = Behaviour {
        ttft_ms: 10_000,
        ..Behaviour::default()
    };
    let (gw, a, b) = route_over(slow, "ttft_timeout = \"1s\"").await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat_stream("r", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!(
        data_events(&body_text(resp).await).last().unwrap(),
        "[DONE]"
    );
    assert_eq!((a.requests("m"), b.requests("m")), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn failures_before_the_first_content_fall_back() {
    for fault in ["cut:0", "malformed:0", "error_event:0", "503", "reset"] {
        let (gw, a, b) = route_over(faulty(&[fault]), "").await;
        let resp = post(&gw, &chat_stream("r", true)).await;
        assert_eq!(resp.status(), 200, "{fault}");
        assert_eq!(header(&resp, "x-modelmux-target"), "b/m", "{fault}");
        let events = data_events(&body_text(resp).await);
        assert_eq!(events.last().unwrap(), "[DONE]", "{fault}");
        assert!(
            !events.iter().any(|e| e.contains("\"error\"")),
            "{fault}: {events:?}"
        );
        assert_eq!((a.requests("m"), b.requests("m")), (1, 1), "{fault}");
    }
}

#[tokio::test(start_paused = true)]
async fn failures_after_commit_end_in_an_error_event_never_done() {
    for (fault, expect) in [
        ("cut:3", "stream_interrupted"),
        ("malformed:3", "stream_interrupted"),
        ("error_event:3", "simulated"),
    ] {
        let (gw, _a, b) = route_over(faulty(&[fault]), "").await;
        let resp = post(&gw, &chat_stream("r", true)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
        let events = data_events(&body_text(resp).await);
        assert!(
            !events.iter().any(|e| e == "[DONE]"),
            "{fault}: a cut stream must not look complete: {events:?}"
        );
        let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert_eq!(last["error"]["code"], expect, "{fault}: {last}");
        // The three content chunks before the break reached the client.
        let content = events
            .iter()
            .filter(|e| e.contains("\"content\":\"") && !e.contains("\"content\":\"\""))
            .count();
        assert_eq!(content, 3, "{fault}: {events:?}");
        // No silent switch to the other target after commit.
        assert_eq!(b.requests("m"), 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_stalled_stream_after_commit_times_out_with_an_error_event() {
    // 0.01 tokens/s: after the first word, the next one takes 100 s.
    let stall = Behaviour {
        tokens_per_second: 0.01,
        output_tokens: 3,
        ..Behaviour::default()
    };
    let (gw, _a, _b) = route_over(
        stall,
        "stream_idle_timeout = \"5s\"\nttft_timeout = \"200s\"",
    )
    .await;
    let resp = post(&gw, &chat_stream("r", false)).await;
    let events = data_events(&body_text(resp).await);
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{events:?}");
}

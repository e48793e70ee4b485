//! Each fault's observable effect over loopback HTTP, the order of a fault script, and timing
//! (latency, time to first token, token pace) measured on a paused tokio clock.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use modelmux_sim::{Behaviour, Fault, SimConfig, SimHandle};
use serde_json::{Value, json};
use tokio::time::Instant;

fn fault(s: &str) -> Fault {
    s.parse().unwrap()
}

async fn with_fault(f: &str, stream: bool) -> (SimHandle, reqwest::Result<reqwest::Response>) {
    let sim = sim(SimConfig::default()).await;
    sim.push_faults("m", [fault(f)]);
    let resp = post(&sim, &body("m", stream))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    (sim, resp)
}

/// Read a body to its end or its first error: (text received, whether it errored).
async fn drain(resp: reqwest::Response) -> (String, bool) {
    let mut stream = resp.bytes_stream();
    let mut text = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => text.extend_from_slice(&b),
            Err(_) => return (String::from_utf8(text).unwrap(), true),
        }
    }
    (String::from_utf8(text).unwrap(), false)
}

#[tokio::test]
async fn status_faults_answer_openai_errors_with_retry_headers() {
    let cases = [
        (
            "429:retry-after=2",
            429,
            "rate_limit_exceeded",
            Some(("retry-after", "2")),
        ),
        (
            "429:retry-after=1.5",
            429,
            "rate_limit_exceeded",
            Some(("retry-after", "1.5")),
        ),
        (
            "503:retry-after-ms=300",
            503,
            "service_unavailable",
            Some(("retry-after-ms", "300")),
        ),
        ("529", 529, "overloaded", None),
        ("500", 500, "server_error", None),
        ("408", 408, "timeout", None),
        ("401", 401, "invalid_api_key", None),
    ];
    for (f, status, code, header) in cases {
        for stream in [false, true] {
            let (_sim, resp) = with_fault(f, stream).await;
            let resp = resp.unwrap();
            assert_eq!(resp.status(), status, "{f}");
            match header {
                Some((name, value)) => assert_eq!(resp.headers()[name], value, "{f}"),
                None => assert!(!resp.headers().contains_key("retry-after"), "{f}"),
            }
            let v = json_of(resp).await;
            assert_eq!(v["error"]["code"], code, "{f}");
            assert!(v["error"].get("param").is_some() && v["error"]["message"].is_string());
        }
    }
    let (_sim, resp) = with_fault("503", false).await;
    assert_eq!(
        json_of(resp.unwrap()).await["error"]["message"],
        "The server is overloaded or not ready yet."
    );
}

#[tokio::test]
async fn reset_is_a_connection_error() {
    let (sim, resp) = with_fault("reset", false).await;
    let err = resp.unwrap_err();
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    assert_eq!(sim.requests("m"), 1);
}

#[tokio::test(start_paused = true)]
async fn hang_times_the_client_out_on_a_paused_clock() {
    let started = Instant::now();
    let (_sim, resp) = with_fault("hang", true).await;
    assert!(resp.unwrap_err().is_timeout());
    assert!(started.elapsed() >= Duration::from_secs(30));
}

#[tokio::test]
async fn cut_aborts_the_stream_after_n_content_chunks() {
    let (_sim, resp) = with_fault("cut:2", true).await;
    let resp = resp.unwrap();
    assert_eq!(resp.status(), 200);
    let (text, errored) = drain(resp).await;
    assert!(errored, "the body must end in an error: {text}");
    let c = chunks(&text);
    assert_eq!(content(&c), ("lorem ipsum".to_owned(), 2));
    assert!(
        !text.contains("[DONE]") && c.iter().all(|c| c["choices"][0]["finish_reason"].is_null())
    );

    let (_sim, resp) = with_fault("cut:1", false).await;
    let (text, errored) = drain(resp.unwrap()).await;
    assert!(
        errored && serde_json::from_str::<Value>(&text).is_err() && !text.is_empty(),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_and_error_event_end_without_done() {
    let (_sim, resp) = with_fault("malformed:1", true).await;
    let (text, errored) = drain(resp.unwrap()).await;
    assert!(!errored);
    assert_eq!(events(&text).last().unwrap(), "data: {not json");
    assert!(!text.contains("[DONE]"));
    assert_eq!(text.matches("\"content\":\"lorem\"").count(), 1);
    assert!(!text.contains("ipsum"));

    let (_sim, resp) = with_fault("error_event:3", true).await;
    let text = resp.unwrap().text().await.unwrap();
    let c = chunks(&text);
    assert_eq!(content(&c).1, 3);
    assert_eq!(
        c.last().unwrap(),
        &json!({"error": {"message": "simulated upstream error", "type": "server_error", "param": null, "code": "simulated"}})
    );
    assert!(!text.contains("[DONE]") && !text.contains("finish_reason\":\"stop"));
}

#[tokio::test]
async fn keepalive_comments_come_before_the_first_chunk() {
    let (_sim, resp) = with_fault("keepalive:2", true).await;
    let text = resp.unwrap().text().await.unwrap();
    assert!(
        text.starts_with(": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {"),
        "{text}"
    );
    assert_eq!(text.matches("OPENROUTER").count(), 2);
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(content(&chunks(&text)).1, 12);
}

#[tokio::test]
async fn context_length_fault_and_window() {
    let (_sim, resp) = with_fault("context_length", false).await;
    let resp = resp.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        json_of(resp).await["error"]["code"],
        "context_length_exceeded"
    );

    let small = Behaviour {
        context_window: Some(30),
        ..Behaviour::default()
    };
    let sim = sim(SimConfig {
        default: small,
        ..SimConfig::default()
    })
    .await;
    let mut b = body("m", false);
    assert_eq!(post(&sim, &b).send().await.unwrap().status(), 200); // 11 prompt tokens
    b["max_tokens"] = json!(20);
    let resp = post(&sim, &b).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let v = json_of(resp).await;
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["type"].as_str()),
        (
            Some("context_length_exceeded"),
            Some("invalid_request_error")
        )
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum context length is 30 tokens")
    );
}

#[tokio::test]
async fn script_is_consumed_in_order_then_normal() {
    let scripted = Behaviour {
        faults: vec![fault("500")],
        ..Behaviour::default()
    };
    let sim = sim(SimConfig {
        models: [("m".to_owned(), scripted)].into(),
        ..SimConfig::default()
    })
    .await;
    sim.push_faults("m", [fault("429"), fault("503")]);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            post(&sim, &body("m", false))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [500, 429, 503, 200, 200]);
    assert_eq!(sim.requests("m"), 5);

    // A header fault overrides without consuming the script.
    sim.push_faults("m", [fault("408")]);
    let resp = post(&sim, &body("m", false))
        .header("x-sim-fault", "529")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 529);
    assert_eq!(
        post(&sim, &body("m", false)).send().await.unwrap().status(),
        408
    );

    let random = Behaviour {
        fault_rate: 1.0,
        random_fault: Some(fault("429")),
        ..Behaviour::default()
    };
    sim.set_behaviour("r", random);
    assert_eq!(
        post(&sim, &body("r", false)).send().await.unwrap().status(),
        429
    );
}

#[tokio::test(start_paused = true)]
async fn latency_is_measured_on_a_paused_clock() {
    let slow = Behaviour {
        latency_ms: 250,
        tokens_per_second: 10.0,
        output_tokens: 5,
        ..Behaviour::default()
    };
    let sim = sim(SimConfig {
        default: slow,
        ..SimConfig::default()
    })
    .await;
    let started = Instant::now();
    let v = json_of(post(&sim, &body("m", false)).send().await.unwrap()).await;
    let elapsed = started.elapsed();
    assert_eq!(v["usage"]["completion_tokens"], 5);
    assert!(
        elapsed >= Duration::from_millis(750) && elapsed < Duration::from_millis(850),
        "{elapsed:?}"
    );

    let started = Instant::now();
    let resp = post(&sim, &body("m", false))
        .header("x-sim-fault", "503")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "latency applies before a status fault"
    );
}

#[tokio::test(start_paused = true)]
async fn ttft_and_token_pace_on_a_paused_clock() {
    let b = Behaviour {
        latency_ms: 100,
        ttft_ms: 400,
        tokens_per_second: 20.0,
        output_tokens: 4,
        ..Behaviour::default()
    };
    let sim = sim(SimConfig {
        default: b,
        ..SimConfig::default()
    })
    .await;
    let started = Instant::now();
    let resp = post(&sim, &body("m", true)).send().await.unwrap();
    let headers_at = started.elapsed();
    let mut stream = resp.bytes_stream();
    let mut first_at = None;
    let mut text = Vec::new();
    while let Some(b) = stream.next().await {
        first_at.get_or_insert(started.elapsed());
        text.extend_from_slice(&b.unwrap());
    }
    let done_at = started.elapsed();
    let first_at = first_at.unwrap();
    assert!(
        headers_at >= Duration::from_millis(100) && headers_at < Duration::from_millis(150),
        "{headers_at:?}"
    );
    assert!(
        first_at >= Duration::from_millis(500) && first_at < Duration::from_millis(550),
        "{first_at:?}"
    );
    assert!(
        done_at >= Duration::from_millis(700) && done_at < Duration::from_millis(800),
        "{done_at:?}"
    );
    assert_eq!(content(&chunks(std::str::from_utf8(&text).unwrap())).1, 4);
}

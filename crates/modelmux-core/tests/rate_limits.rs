//! Rate limits are cooldowns, not circuit failures, over real loopback HTTP on a paused clock:
//! after a 429 with Retry-After the route's primary serves again as soon as that time has
//! passed; many 429s in a row never open its circuit; a 429 that names no time backs off
//! (1s, 2s, 4s, …) and a success ends it; a 429 while `x-ratelimit-remaining-requests` is at
//! zero holds until `x-ratelimit-reset-requests` (a stub provider plays that: the simulator
//! does not send a limit at zero); `GET /v1/health/targets` shows the cooldown and its cause
//! apart from the circuit; and 5xx answers still open the circuit.

#![allow(
    clippy::disallowed_methods,
    reason = "the stub provider is a server of the test's own, spawned and left to the runtime"
)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap is the test failing"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use modelmux_core::RunningGateway;
use modelmux_sim::{Behaviour, SimHandle};
use serde_json::Value;

/// Route `r` over a/m (the primary, playing `primary`) then a/ok, no retries; the breaker
/// opens at half of at least 4.
async fn route(primary: Behaviour) -> (RunningGateway, SimHandle) {
    let s = sim(&[("m", primary), ("ok", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "{}\n[health]\nmin_calls = 4\nwindow = 10\nfailure_rate = 0.5\nopen_for = \"30s\"\n\
         [[routes]]\nname = \"r\"\ntargets = [\"a/m\", \"a/ok\"]\nnum_retries = 0\n",
        providers(&[("a", &s)])
    ))
    .await;
    (gw, s)
}

/// The primary's entry in `GET /v1/health/targets`.
async fn primary(gw: &RunningGateway) -> Value {
    let h = json_of(
        client()
            .get(format!("{}/v1/health/targets", gw.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    h["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "a/m")
        .cloned()
        .unwrap_or_else(|| panic!("a/m not in {h}"))
}

/// Sends one request to `r`; the target that answered it.
async fn served_by(gw: &RunningGateway) -> String {
    let resp = post(gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    header(&resp, "x-modelmux-target")
}

async fn advance(ms: u64) {
    tokio::time::advance(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn after_a_rate_limit_the_primary_serves_again_once_retry_after_has_passed() {
    let (gw, s) = route(faulty(&["429:retry-after=2"])).await;
    assert_eq!(served_by(&gw).await, "a/ok", "the 429 moved on at once");
    let p = primary(&gw).await;
    assert_eq!(
        (&p["state"], &p["circuit"]),
        (&"cooling_down".into(), &"closed".into()),
        "{p}"
    );
    assert_eq!(p["cooldown"]["cause"], "rate_limited_retry_after", "{p}");
    assert_eq!(p["cooldown"]["remaining_ms"], 2000, "{p}");
    let reason = p["cooldown"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("rate limited: Retry-After cooldown until "),
        "{p}"
    );
    assert!(
        p["reason"].as_str().unwrap().starts_with("rate limited"),
        "{p}"
    );
    assert_eq!(
        (&p["failures"], &p["rate_limited"]),
        (&0.into(), &1.into()),
        "{p}"
    );
    // Held for the time asked, not a moment longer.
    advance(1999).await;
    assert_eq!(served_by(&gw).await, "a/ok");
    assert_eq!(s.requests("m"), 1, "not called while held");
    advance(1).await;
    assert_eq!(
        served_by(&gw).await,
        "a/m",
        "the next request after Retry-After"
    );
    let p = primary(&gw).await;
    assert_eq!(p["state"], "closed", "{p}");
    assert!(p.get("cooldown").is_none(), "{p}");
    assert_eq!(p["consecutive_rate_limits"], 0, "reset by the success: {p}");
}

#[tokio::test(start_paused = true)]
async fn many_rate_limits_in_a_row_never_open_the_circuit() {
    let faults = vec!["429:retry-after=1"; 25];
    let (gw, s) = route(faulty(&faults)).await;
    for i in 1..=25u64 {
        assert_eq!(served_by(&gw).await, "a/ok");
        assert_eq!(
            s.requests("m"),
            i,
            "the primary was tried again after its cooldown"
        );
        let p = primary(&gw).await;
        assert_eq!(
            (&p["circuit"], &p["failures"]),
            (&"closed".into(), &0.into()),
            "{p}"
        );
        assert_eq!(p["recent_failure_rate"], 0.0, "{p}");
        advance(1000).await;
    }
    assert_eq!(served_by(&gw).await, "a/m");
    let p = primary(&gw).await;
    assert_eq!(
        (&p["state"], &p["rate_limited"]),
        (&"closed".into(), &25.into()),
        "{p}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_without_a_time_backs_off_and_recovers() {
    let (gw, s) = route(faulty(&["429", "429", "429"])).await;
    let mut calls = 0;
    for backoff in [1000, 2000, 4000] {
        assert_eq!(served_by(&gw).await, "a/ok");
        calls += 1;
        assert_eq!(s.requests("m"), calls);
        let p = primary(&gw).await;
        assert_eq!(p["cooldown"]["cause"], "rate_limited_backoff", "{p}");
        assert_eq!(p["cooldown"]["remaining_ms"], backoff, "{p}");
        assert!(
            p["cooldown"]["reason"]
                .as_str()
                .unwrap()
                .starts_with("rate limited: backoff"),
            "{p}"
        );
        assert_eq!(
            (&p["circuit"], &p["consecutive_rate_limits"]),
            (&"closed".into(), &calls.into())
        );
        advance(backoff - 1).await;
        assert_eq!(served_by(&gw).await, "a/ok", "still backing off");
        assert_eq!(s.requests("m"), calls);
        advance(1).await;
    }
    assert_eq!(served_by(&gw).await, "a/m", "recovered");
    let p = primary(&gw).await;
    assert_eq!(
        (&p["state"], &p["consecutive_rate_limits"]),
        (&"closed".into(), &0.into()),
        "{p}"
    );
    assert_eq!(
        (&p["failures"], &p["rate_limited"]),
        (&0.into(), &3.into()),
        "{p}"
    );
    // The next 429 without a time starts the backoff again at its base.
    s.set_behaviour("m", faulty(&["429"]));
    assert_eq!(served_by(&gw).await, "a/ok");
    assert_eq!(primary(&gw).await["cooldown"]["remaining_ms"], 1000);
}

#[tokio::test(start_paused = true)]
async fn server_errors_still_open_the_circuit() {
    let (gw, s) = route(faulty(&["503", "500", "503", "502"])).await;
    for _ in 0..4 {
        assert_eq!(served_by(&gw).await, "a/ok");
    }
    let p = primary(&gw).await;
    assert_eq!(
        (&p["state"], &p["circuit"]),
        (&"open".into(), &"open".into()),
        "{p}"
    );
    assert_eq!(
        (&p["failures"], &p["rate_limited"]),
        (&4.into(), &0.into()),
        "{p}"
    );
    assert!(
        p["reason"].as_str().unwrap().starts_with("circuit open"),
        "{p}"
    );
    // Open: well past any cooldown, the primary is still skipped until open_for has passed.
    advance(29_000).await;
    assert_eq!(served_by(&gw).await, "a/ok");
    assert_eq!(s.requests("m"), 4);
    advance(1_000).await;
    assert_eq!(served_by(&gw).await, "a/m", "the half-open probe succeeds");
}

/// An OpenAI-format provider on port 0 whose first answer is a 429 without Retry-After while
/// its request limit is at zero, resetting in 3s; then plain answers. Counts its calls.
async fn limit_at_zero() -> (String, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            use axum::response::IntoResponse;
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                let body = r#"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
                return (
                    http::StatusCode::TOO_MANY_REQUESTS,
                    [
                        ("content-type", "application/json"),
                        ("x-ratelimit-remaining-requests", "0"),
                        ("x-ratelimit-reset-requests", "3s"),
                    ],
                    body,
                )
                    .into_response();
            }
            let body = r#"{"id":"chatcmpl-1","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
            (
                http::StatusCode::OK,
                [
                    ("content-type", "application/json"),
                    ("x-ratelimit-remaining-requests", "99"),
                    ("x-ratelimit-reset-requests", "1s"),
                ],
                body,
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_at_zero_holds_the_target_until_its_reset() {
    let (url, calls) = limit_at_zero().await;
    let ok = sim(&[("ok", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[providers.a]\nkind = \"openai\"\nbase_url = \"{url}\"\n{}\n\
         [[routes]]\nname = \"r\"\ntargets = [\"a/m\", \"b/ok\"]\nnum_retries = 0\n",
        providers(&[("b", &ok)])
    ))
    .await;
    assert_eq!(served_by(&gw).await, "b/ok");
    let p = primary(&gw).await;
    assert_eq!(p["cooldown"]["cause"], "rate_limited_reset", "{p}");
    assert_eq!(p["cooldown"]["remaining_ms"], 3000, "{p}");
    assert_eq!(
        (&p["circuit"], &p["failures"]),
        (&"closed".into(), &0.into()),
        "{p}"
    );
    advance(2999).await;
    assert_eq!(served_by(&gw).await, "b/ok");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "held until the reset");
    advance(1).await;
    assert_eq!(served_by(&gw).await, "a/m");
}

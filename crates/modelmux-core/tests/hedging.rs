//! Hedged requests over loopback HTTP to the simulator, on a paused clock: a slow attempt is
//! raced against the next candidate after `hedge_after` (fixed or the observed p95), the
//! first answer wins and the other is cancelled, both attempts are recorded (the hedge
//! marked), a fast attempt is never hedged, the share of hedged requests stays under its
//! cap, and a race both sides lose moves on to the candidate after them.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;
#[path = "store_support/mod.rs"]
mod store_support;

use std::time::Duration;

use common::*;
use modelmux_core::records::{Record, SqliteStore, Store};
use modelmux_sim::{Behaviour, Fault};
use serde_json::Value;
use store_support::TempDir;
use tokio::time::Instant;

fn slow(ms: u64) -> Behaviour {
    Behaviour {
        latency_ms: ms,
        ..Behaviour::default()
    }
}

/// A gateway over `targets` of provider `a` whose route `r` hedges as `hedge` says, with
/// records in an SQLite file under `dir`.
fn route(sims: &str, targets: &[&str], hedge: &str, dir: &TempDir) -> String {
    let list: Vec<String> = targets.iter().map(|t| format!("\"a/{t}\"")).collect();
    format!(
        "{sims}\n[[routes]]\nname = \"r\"\ntargets = [{}]\nnum_retries = 0\n{hedge}\n\
         [store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\nflush_interval = \"10ms\"\n",
        list.join(", "),
        dir.path().display()
    )
}

/// The stored record of the request that got `resp`, after the gateway drained.
async fn record_of(dir: &TempDir, request_id: &str) -> Record {
    let store = SqliteStore::open(&dir.path().join("records.sqlite"))
        .await
        .unwrap();
    store.get(request_id).await.unwrap().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_is_hedged_and_the_first_answer_wins() {
    let s = sim(&[("slow", slow(5_000)), ("quick", slow(50))]).await;
    let dir = TempDir::new("hedge-win");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["slow", "quick"],
        "hedge_after = \"200ms\"\nhedge_max_share = 1.0",
        &dir,
    ))
    .await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    let took = t0.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "a/quick");
    assert_eq!(header(&resp, "x-modelmux-attempts"), "2");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1_000),
        "answered after the hedge delay plus the hedge's latency, not the slow one's: {took:?}"
    );
    let id = header(&resp, "x-modelmux-request-id");
    json_of(resp).await;
    assert_eq!((s.requests("slow"), s.requests("quick")), (1, 1));
    gw.shutdown().await.unwrap();
    let r = record_of(&dir, &id).await;
    assert_eq!(r.target.as_deref(), Some("a/quick"));
    assert_eq!(r.attempts.len(), 2, "{:?}", r.attempts);
    let (loser, winner) = (&r.attempts[0], &r.attempts[1]);
    assert_eq!(
        (loser.target.as_str(), loser.error.as_deref(), loser.hedge),
        ("a/slow", Some("cancelled"), false)
    );
    assert_eq!(
        (winner.target.as_str(), winner.status, winner.hedge),
        ("a/quick", Some(200), true)
    );
}

#[tokio::test(start_paused = true)]
async fn the_first_attempt_wins_when_it_answers_before_the_hedge() {
    // The primary is slower than the delay but faster than the hedge would be.
    let s = sim(&[("first", slow(300)), ("second", slow(2_000))]).await;
    let dir = TempDir::new("hedge-first");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["first", "second"],
        "hedge_after = \"100ms\"\nhedge_max_share = 1.0",
        &dir,
    ))
    .await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "a/first");
    let id = header(&resp, "x-modelmux-request-id");
    json_of(resp).await;
    assert_eq!(s.requests("second"), 1, "the hedge was sent");
    gw.shutdown().await.unwrap();
    let r = record_of(&dir, &id).await;
    let got: Vec<(&str, Option<&str>, bool)> = r
        .attempts
        .iter()
        .map(|a| (a.target.as_str(), a.error.as_deref(), a.hedge))
        .collect();
    assert_eq!(
        got,
        [
            ("a/second", Some("cancelled"), true),
            ("a/first", None, false)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_quick_answer_is_never_hedged() {
    let s = sim(&[("x", slow(20)), ("y", slow(20))]).await;
    let dir = TempDir::new("hedge-none");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["x", "y"],
        "hedge_after = \"200ms\"\nhedge_max_share = 1.0",
        &dir,
    ))
    .await;
    for _ in 0..10 {
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(header(&resp, "x-modelmux-attempts"), "1");
    }
    assert_eq!(s.requests("y"), 0);
}

#[tokio::test(start_paused = true)]
async fn streams_hedge_on_the_first_token_and_relay_the_winner() {
    let s = sim(&[
        (
            "slow",
            Behaviour {
                ttft_ms: 5_000,
                ..Behaviour::default()
            },
        ),
        ("quick", slow(30)),
    ])
    .await;
    let dir = TempDir::new("hedge-stream");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["slow", "quick"],
        "hedge_after = \"150ms\"\nhedge_max_share = 1.0",
        &dir,
    ))
    .await;
    let resp = post(&gw, &chat_stream("r", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "a/quick");
    let id = header(&resp, "x-modelmux-request-id");
    let text = body_text(resp).await;
    let events = data_events(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    let chunk: Value = serde_json::from_str(&events[0]).unwrap();
    assert!(chunk["choices"].is_array(), "{chunk}");
    gw.shutdown().await.unwrap();
    let r = record_of(&dir, &id).await;
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[0].error.as_deref(), Some("cancelled"));
    assert!(r.attempts[1].hedge && r.attempts[1].ttft_ms.is_some());
    assert!(r.stream.unwrap().completed);
}

#[tokio::test(start_paused = true)]
async fn the_share_of_hedged_requests_is_capped() {
    let s = sim(&[("slow", slow(400)), ("other", slow(10))]).await;
    let dir = TempDir::new("hedge-share");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["slow", "other"],
        "hedge_after = \"100ms\"\nhedge_max_share = 0.1",
        &dir,
    ))
    .await;
    for _ in 0..100 {
        assert_eq!(post(&gw, &chat("r")).await.status(), 200);
    }
    let hedged = s.requests("other");
    // One hedge to start with, then one per ten requests.
    assert!((9..=11).contains(&hedged), "hedged {hedged} of 100");
}

#[tokio::test(start_paused = true)]
async fn a_p95_delay_waits_for_history_then_hedges_the_outlier() {
    let s = sim(&[("main", slow(40)), ("spare", slow(10))]).await;
    let dir = TempDir::new("hedge-p95");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["main", "spare"],
        "hedge_after = \"p95\"\nhedge_max_share = 1.0",
        &dir,
    ))
    .await;
    // No history: no delay to go on, so no hedge (even with a budget for every request).
    assert_eq!(
        header(&post(&gw, &chat("r")).await, "x-modelmux-attempts"),
        "1"
    );
    assert_eq!(s.requests("spare"), 0);
    for _ in 0..20 {
        // On the paused clock every answer takes exactly the p95, so some tie and hedge.
        assert_eq!(post(&gw, &chat("r")).await.status(), 200);
    }
    s.set_behaviour("main", slow(10_000));
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "a/spare");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(50) && took < Duration::from_millis(200),
        "hedged after the observed p95 (about 40 ms) plus the spare's 10 ms: {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_race_both_sides_lose_moves_on_past_both() {
    let s = sim(&[("one", slow(300)), ("two", slow(300)), ("three", slow(10))]).await;
    s.push_faults(
        "one",
        [Fault::Status {
            code: 503,
            retry_after: None,
        }],
    );
    s.push_faults(
        "two",
        [Fault::Status {
            code: 503,
            retry_after: None,
        }],
    );
    let dir = TempDir::new("hedge-lose");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["one", "two", "three"],
        "hedge_after = \"100ms\"\nhedge_max_share = 1.0",
        &dir,
    ))
    .await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "a/three");
    assert_eq!(header(&resp, "x-modelmux-attempts"), "3");
    assert_eq!(
        (s.requests("one"), s.requests("two"), s.requests("three")),
        (1, 1, 1),
        "the hedged candidate is not called again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_error_ends_the_race() {
    let s = sim(&[("one", slow(300)), ("two", slow(1_000))]).await;
    s.push_faults(
        "one",
        [Fault::Status {
            code: 400,
            retry_after: None,
        }],
    );
    let dir = TempDir::new("hedge-stop");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["one", "two"],
        "hedge_after = \"100ms\"\nhedge_max_share = 1.0",
        &dir,
    ))
    .await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 400);
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "the hedge was not waited for"
    );
}

#[tokio::test]
async fn explain_and_config_errors_name_the_hedge() {
    let s = sim(&[("x", slow(0)), ("y", slow(0))]).await;
    let dir = TempDir::new("hedge-explain");
    let gw = gateway(&route(
        &providers(&[("a", &s)]),
        &["x", "y"],
        "hedge_after = \"p95\"\nhedge_max_share = 0.05",
        &dir,
    ))
    .await;
    let resp = client()
        .post(format!("{}/v1/route/explain", gw.url()))
        .body(chat("r").to_string())
        .send()
        .await
        .unwrap();
    let v = json_of(resp).await;
    assert_eq!(v["settings"]["hedge_after"], "p95");
    assert_eq!(v["settings"]["hedge_max_share"], 0.05);
    assert_eq!(v["settings"]["max_concurrent_upstream_calls"], 2);

    let bad = format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/x\"]\nhedge_after = \"soon\"\nhedge_max_share = 2\n",
        providers(&[("a", &s)])
    );
    let err = modelmux_core::Config::from_toml(
        &bad,
        modelmux_core::config::ConfigSource::Inline,
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("routes[0].hedge_after"), "{err}");
    assert!(err.contains("routes[0].hedge_max_share"), "{err}");
}

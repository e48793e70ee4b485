//! Retries and fallback over real loopback HTTP, on a paused clock: each trigger that
//! should move on (connect error, timeout, 408, 409, 429, 5xx, 529), the ones that must not
//! (other 4xx), context-length fallback to a larger window, both Retry-After paths, and the
//! total deadline.

mod common;

use std::time::Duration;

use common::*;
use modelmux_sim::Behaviour;
use tokio::time::Instant;

/// A route `r` over primary a/m and backup b/m, no retries unless `extra` says otherwise.
async fn two_targets(
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
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\", \"b/m\"]\n{}{extra}\n",
        providers(&[("a", &a), ("b", &b)]),
        if extra.contains("num_retries") {
            ""
        } else {
            "num_retries = 0\n"
        }
    ))
    .await;
    (gw, a, b)
}

#[tokio::test(start_paused = true)]
async fn retryable_statuses_fall_back_to_the_next_target() {
    for status in ["408", "409", "429", "500", "502", "503", "504", "529"] {
        let (gw, a, b) = two_targets(faulty(&[status]), "").await;
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(resp.status(), 200, "status {status}");
        assert_eq!(header(&resp, "x-modelmux-target"), "b/m", "status {status}");
        assert_eq!(header(&resp, "x-modelmux-attempts"), "2");
        assert_eq!(header(&resp, "x-modelmux-route"), "r");
        assert_eq!(
            (a.requests("m"), b.requests("m")),
            (1, 1),
            "status {status}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn other_client_errors_do_not_fall_back() {
    let (gw, _a, b) = two_targets(faulty(&["400"]), "").await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-modelmux-attempts"), "1");
    let v = json_of(resp).await;
    assert!(
        error_object(&v)["message"]
            .as_str()
            .unwrap()
            .starts_with("a/m: "),
        "{v}"
    );
    assert_eq!(b.requests("m"), 0);

    // The provider rejecting the gateway's own key is not the client's fault: 502, no fallback.
    let (gw, _a, b) = two_targets(faulty(&["401"]), "").await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 502);
    let v = json_of(resp).await;
    assert_eq!(error_object(&v)["type"], "upstream_auth_error");
    assert_eq!(b.requests("m"), 0);
}

#[tokio::test(start_paused = true)]
async fn connection_errors_fall_back() {
    // Reset: the provider closes the connection without an answer.
    let (gw, a, b) = two_targets(faulty(&["reset"]), "").await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    assert_eq!((a.requests("m"), b.requests("m")), (1, 1));

    // Nothing listens at the first target's address.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[providers.dead]\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\n{}\n[[routes]]\nname = \"r\"\ntargets = [\"dead/m\", \"b/m\"]\n",
        providers(&[("b", &b)])
    ))
    .await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    // Retried (num_retries defaults to 2) and then fell back.
    assert_eq!(header(&resp, "x-modelmux-attempts"), "4");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_provider_times_out_and_falls_back() {
    let (gw, a, b) = two_targets(faulty(&["hang"]), "timeout = \"5s\"").await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
    assert_eq!((a.requests("m"), b.requests("m")), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn retries_the_same_target_with_backoff_before_falling_back() {
    let (gw, a, b) = two_targets(
        faulty(&["503", "500"]),
        "num_retries = 2\nretry_backoff = \"1s\"",
    )
    .await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
    assert_eq!(header(&resp, "x-modelmux-attempts"), "3");
    assert_eq!((a.requests("m"), b.requests("m")), (3, 0));
    // Backoff 1s then 2s, each jittered into [50%, 100%).
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited <= Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_short_retry_after_is_waited_out_on_the_same_target() {
    let (gw, a, b) = two_targets(faulty(&["429:retry-after=2"]), "num_retries = 1").await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
    assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!((a.requests("m"), b.requests("m")), (2, 0));

    let (gw, a, _b) = two_targets(faulty(&["503:retry-after-ms=300"]), "num_retries = 1").await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(400),
        "{waited:?}"
    );
    assert_eq!(a.requests("m"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_moves_on_at_once() {
    let (gw, a, b) = two_targets(
        faulty(&["429:retry-after=60"]),
        "num_retries = 2\nmax_retry_after = \"10s\"",
    )
    .await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!((a.requests("m"), b.requests("m")), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_deadline_is_not_waited() {
    let (gw, a, b) = two_targets(
        faulty(&["429:retry-after=5"]),
        "num_retries = 1\ntotal_timeout = \"3s\"",
    )
    .await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    assert_eq!((a.requests("m"), b.requests("m")), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn context_length_moves_to_a_larger_window() {
    // The config believes the small targets have 100k windows (so the capability filter keeps
    // them); the providers themselves reject the prompt, and the gateway reacts to that.
    let small = sim(&[(
        "m",
        Behaviour {
            context_window: Some(1000),
            ..Behaviour::default()
        },
    )])
    .await;
    let mid = sim(&[(
        "m",
        Behaviour {
            context_window: Some(1000),
            ..Behaviour::default()
        },
    )])
    .await;
    let large = sim(&[(
        "m",
        Behaviour {
            context_window: Some(100_000),
            ..Behaviour::default()
        },
    )])
    .await;
    let gw = gateway(&format!(
        "{}\n[providers.small.models.m]\ncontext_window = 100000\n[providers.mid.models.m]\ncontext_window = 100000\n[providers.large.models.m]\ncontext_window = 200000\n\
         [[routes]]\nname = \"r\"\ntargets = [\"small/m\", \"mid/m\", \"large/m\"]\n",
        providers(&[("small", &small), ("mid", &mid), ("large", &large)])
    ))
    .await;
    let long_prompt = "word ".repeat(2000);
    let body =
        serde_json::json!({"model": "r", "messages": [{"role": "user", "content": long_prompt}]});
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "large/m");
    // No retry on the same small target, and the equally small one is skipped.
    assert_eq!(
        (small.requests("m"), mid.requests("m"), large.requests("m")),
        (1, 0, 1)
    );

    // Without a larger window the client learns its prompt is too long: 400, not 5xx.
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"small/m\"]\n",
        providers(&[("small", &small)])
    ))
    .await;
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 400);
    let v = json_of(resp).await;
    assert_eq!(error_object(&v)["code"], "context_length_exceeded");
}

#[tokio::test(start_paused = true)]
async fn fallback_routes_extend_the_chain() {
    let a = sim(&[("m", faulty(&["503"]))]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"main\"\ntargets = [\"a/m\"]\nnum_retries = 0\nfallbacks = [\"backup\"]\n[[routes]]\nname = \"backup\"\ntargets = [\"b/m\"]\n",
        providers(&[("a", &a), ("b", &b)])
    ))
    .await;
    let resp = post(&gw, &chat("main")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-route"), "main");
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
}

#[tokio::test(start_paused = true)]
async fn when_everything_fails_the_status_fits_and_the_message_lists_attempts() {
    let cases: &[(&[&str], u16, &str)] = &[
        (&["429", "429"], 429, "rate_limited"),
        (&["503", "529"], 503, "upstream_unavailable"),
        (&["500", "503"], 502, "upstream_failed"),
        (&["503", "hang"], 504, "upstream_timeout"),
    ];
    for (faults, status, code) in cases {
        let a = sim(&[("m", faulty(&faults[..1]))]).await;
        let b = sim(&[("m", faulty(&faults[1..]))]).await;
        let gw = gateway(&format!(
            "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\", \"b/m\"]\nnum_retries = 0\ntimeout = \"2s\"\n",
            providers(&[("a", &a), ("b", &b)])
        ))
        .await;
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(resp.status(), *status, "{faults:?}");
        assert_eq!(header(&resp, "x-modelmux-attempts"), "2");
        assert_eq!(header(&resp, "x-should-retry"), "false");
        let v = json_of(resp).await;
        let e = error_object(&v);
        assert_eq!(e["code"], *code, "{v}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains("a/m → ") && msg.contains("b/m → "), "{msg}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_total_deadline_bounds_the_walk() {
    let (gw, _a, b) = two_targets(faulty(&["hang"]), "total_timeout = \"3s\"").await;
    let t0 = Instant::now();
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 504);
    assert!(t0.elapsed() < Duration::from_secs(4));
    assert_eq!(b.requests("m"), 0);
    let v = json_of(resp).await;
    assert_eq!(error_object(&v)["code"], "deadline_exceeded");
}

//! `GET /v1/analytics` end to end: a SQLite store seeded with the records and feedback of
//! the hand-computed fixture of tests/outcomes.rs (groups `a` and `b`, episodes e1–e4, a
//! later verdict replacing an earlier one, an orphan, another tenant's feedback), a gateway
//! over it, and the JSON checked against the hand figures and against
//! `analytics::run` on the same store (what `modelmux report --format json` prints). Also:
//! the query parameters (per, metric, filter, baseline) and their errors.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap is the test failing"
)]

mod common;
mod store_support;

use std::time::{Duration, SystemTime};

use common::*;
use modelmux_core::analytics::{self, Query};
use modelmux_core::outcomes::Per;
use modelmux_core::records::record::to_unix_ms;
use modelmux_core::records::{AttemptRecord, Feedback, GroupBy, Record, SqliteStore, Store};
use serde_json::Value;
use store_support::TempDir;

const ADMIN: &str = "adm-secret-0123456789";
const ANALYTICS: &str = "ana-secret-0123456789";
const METRICS: &str = "[[metrics]]\nname = \"resolved\"\ntype = \"boolean\"\nlevel = \"episode\"\noptimize = \"max\"\n[[metrics]]\nname = \"score\"\ntype = \"float\"\nlevel = \"request\"\noptimize = \"max\"\n";

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-6
}

fn record(
    id: &str,
    route: &str,
    ep: Option<&str>,
    cost: f64,
    lat: u64,
    failed: bool,
    attempts: usize,
) -> Record {
    let mut r = Record::new(id, SystemTime::now() - Duration::from_secs(30));
    r.route = route.into();
    r.tenant = Some("key:k1".into());
    r.episode_id = ep.map(str::to_owned);
    r.cost_usd = Some(cost);
    r.latency_ms = lat;
    r.status = Some(if failed { 502 } else { 200 });
    r.error = failed.then(|| "upstream".to_owned());
    r.attempts = (0..attempts)
        .map(|_| AttemptRecord {
            target: "p/m".into(),
            status: Some(200),
            error: None,
            latency_ms: lat,
            ttft_ms: None,
            hedge: false,
        })
        .collect();
    r
}

fn fb(
    tenant: &str,
    id: &str,
    req: Option<&str>,
    ep: Option<&str>,
    metric: &str,
    v: f64,
    t: i64,
) -> Feedback {
    Feedback {
        tenant: tenant.into(),
        id: id.into(),
        request_id: req.map(str::to_owned),
        episode_id: ep.map(str::to_owned),
        metric: metric.into(),
        value_num: Some(v),
        value_text: None,
        source: "user".into(),
        comment: None,
        tags: Vec::new(),
        time_ms: to_unix_ms(SystemTime::now()) - 1000 + t,
    }
}

async fn seed(dir: &TempDir) {
    let store = SqliteStore::open(&dir.path().join("records.sqlite"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .write(&[
            record("r1", "a", Some("e1"), 0.01, 100, false, 1),
            record("r2", "a", Some("e1"), 0.03, 200, false, 2),
            record("r3", "a", Some("e2"), 0.02, 300, true, 1),
            record("r4", "a", None, 0.04, 400, false, 1),
            record("r5", "b", Some("e3"), 0.10, 50, false, 1),
            record("r6", "b", Some("e4"), 0.20, 70, false, 1),
        ])
        .await
        .unwrap();
    let k = "key:k1";
    store
        .write_feedback(&[
            fb(k, "f1", None, Some("e1"), "resolved", 1.0, 1),
            fb(k, "f2", None, Some("e2"), "resolved", 1.0, 1),
            fb(k, "f3", None, Some("e2"), "resolved", 0.0, 2),
            fb(k, "f4", None, Some("e3"), "resolved", 1.0, 1),
            fb(k, "f5", None, Some("e4"), "resolved", 1.0, 1),
            fb(k, "f6", Some("r1"), None, "score", 0.5, 1),
            fb(k, "f7", Some("r2"), None, "score", 1.0, 1),
            fb(k, "f8", Some("r3"), None, "score", 0.0, 1),
            fb(k, "f9", Some("r5"), None, "score", 0.8, 1),
            fb(k, "f10", Some("r-unknown"), None, "score", 0.1, 1),
            fb("key:other", "f11", None, Some("e2"), "resolved", 1.0, 9),
        ])
        .await
        .unwrap();
}

async fn get(gw: &modelmux_core::RunningGateway, query: &str, key: &str) -> (u16, Value) {
    let resp = client()
        .get(format!("{}/v1/analytics{query}", gw.url()))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, json_of(resp).await)
}

#[tokio::test]
async fn analytics_equal_the_hand_computation_and_the_report() {
    let dir = TempDir::new("analytics");
    seed(&dir).await;
    let gw = gateway(&format!(
        "[keys]\nadmin_key = \"{ADMIN}\"\nanalytics_key = \"{ANALYTICS}\"\n[store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\n{METRICS}",
        dir.path().display()
    ))
    .await;
    let (status, v) = get(&gw, "?by=route&baseline=a&since=1h", ANALYTICS).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["by"], "route");
    assert_eq!(v["metrics"], serde_json::json!(["resolved", "score"]));
    let a = &v["groups"][0];
    assert_eq!(a["group"], "a");
    assert_eq!(
        (a["requests"].as_u64(), a["episodes"].as_u64()),
        (Some(4), Some(3))
    );
    assert!(close(&a["cost_usd"], 0.10) && close(&a["cost_per_request"], 0.025));
    assert!(close(&a["cost_per_episode"]["mean"], 0.1 / 3.0));
    assert_eq!(
        (a["p50_latency_ms"].as_u64(), a["p95_latency_ms"].as_u64()),
        (Some(200), Some(400))
    );
    assert!(close(&a["error_rate"]["mean"], 0.25));
    assert!(close(&a["error_rate"]["lo"], 0.045_587_260_809_700_6));
    assert!(close(&a["error_rate"]["hi"], 0.699_358_157_417_598_2));
    assert!(close(&a["fallback_rate"]["mean"], 0.25));
    let resolved = &a["metrics"][0];
    assert_eq!(resolved["covered"], 2);
    assert!(
        close(&resolved["estimate"]["mean"], 0.5),
        "e2's latest verdict: {resolved}"
    );
    assert!(close(&resolved["estimate"]["lo"], 0.094_531_205_734_230_68));
    let score = &a["metrics"][1];
    assert_eq!(score["covered"], 3);
    assert!(close(&score["estimate"]["mean"], 0.5));
    assert!(close(&score["estimate"]["hi"], 1.742_068_855_875_165_1));
    // $0.10 over the group's episodes, one of them resolved.
    assert!(close(&a["cost_per_resolved"][0][1]["mean"], 0.10), "{a}");
    let b = &v["groups"][1];
    assert_eq!(b["group"], "b");
    assert!(b["vs_baseline"]["cost_pct"]["mean"].as_f64().unwrap() > 0.0);
    assert_eq!(b["vs_baseline"]["baseline"], "a");
    assert!(a["vs_baseline"].is_null());
    assert_eq!(v["latency"][0]["p99"], 400);
    // r-unknown names no request; the other tenant's e2 names no episode of theirs.
    assert_eq!(v["orphan_feedback"], 2);

    // The report's numbers, from the same store.
    let store = SqliteStore::open(&dir.path().join("records.sqlite"))
        .await
        .unwrap();
    let q = Query {
        by: GroupBy::Route,
        per: Per::Request,
        metrics: None,
        since: SystemTime::now() - Duration::from_secs(3600),
        filter: None,
        baseline: Some("a".into()),
    };
    let report = analytics::run(&store, &gw_metrics(), &q).await.unwrap();
    // Through text, as the CLI prints it and the endpoint sends it.
    let report: Value = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(report["groups"], v["groups"]);
    assert_eq!(report["latency"], v["latency"]);

    // The admin key reads them too; per episode, one metric, a filter.
    let (status, v) = get(
        &gw,
        "?per=episode&metric=score&filter=latency_ms%20%3C%20250",
        ADMIN,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["per"], "episode");
    assert_eq!(v["metrics"], serde_json::json!(["score"]));
    let a = &v["groups"][0];
    assert_eq!(a["requests"], 2, "r1 and r2 are under 250 ms: {v}");
    assert_eq!(v["groups"][1]["requests"], 2);

    for (query, needle) in [
        ("?by=colour", "unknown grouping"),
        ("?per=week", "unknown unit"),
        ("?metric=nope", "unknown metric"),
        ("?since=forever", "since"),
        ("?filter=route%20%3D%3D", "does not parse"),
        ("?baseline=zzz", "baseline"),
        ("?by=experiment", "no experiments configured"),
        ("?colour=red", "unknown parameter"),
    ] {
        let (status, v) = get(&gw, query, ANALYTICS).await;
        assert_eq!(status, 400, "{query}: {v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains(needle), "{query}: {m}");
    }
}

fn gw_metrics() -> Vec<modelmux_core::config::feedback::Metric> {
    config(METRICS).metrics.clone()
}

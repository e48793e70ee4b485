//! `Store::outcome_rows` and `Store::feedback_values` on every backend: the same records
//! and feedback give the same rows in SQLite, PostgreSQL (skipped with the reason printed
//! when DATABASE_URL is unset) and memory — the client's request id where it sent one, the
//! group column of each `GroupBy` (rule, intent from the decision), the filter fields, the
//! window — and so the same analytics.

#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

mod store_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use modelmux_core::analytics::{self, Query};
use modelmux_core::outcomes::{FeedbackValue, Per};
use modelmux_core::records::record::to_unix_ms;
use modelmux_core::records::{
    Feedback, GroupBy, MemoryStore, OutcomeRow, Record, Store, StreamOutcome,
};
use store_support::{TempDir, unique_id};

fn records(tag: &str, now: SystemTime) -> Vec<Record> {
    let mut out = Vec::new();
    for i in 0..5u64 {
        let mut r = Record::new(format!("{tag}-r{i}"), now - Duration::from_secs(60));
        r.route = if i < 3 { "chat".into() } else { "code".into() };
        r.rule = (i % 2 == 0).then(|| "billing-rule".to_owned());
        r.decision = if i == 1 {
            "route=chat;by=rule;strategy=first;intent=billing;order=a/m".into()
        } else {
            "route=chat;by=default;strategy=first;order=a/m".into()
        };
        r.target = Some("a/m".into());
        r.key = Some("k1".into());
        r.team = (i > 0).then(|| "ops".to_owned());
        r.tenant = Some("key:k1".into());
        r.episode_id = Some(format!("{tag}-e{}", i / 2));
        r.client_request_id = (i == 2).then(|| format!("{tag}-client-2"));
        r.latency_ms = 100 * (i + 1);
        r.ttft_ms = (i == 3).then_some(40);
        r.cost_usd = Some(0.01 * (i + 1) as f64);
        r.status = Some(if i == 4 { 502 } else { 200 });
        r.error = (i == 4).then(|| "upstream".to_owned());
        r.stream = (i == 3).then_some(StreamOutcome {
            completed: true,
            cut_reason: None,
            chunks_sent: 3,
        });
        out.push(r);
    }
    // Outside the window.
    out.push(Record::new(
        format!("{tag}-old"),
        now - Duration::from_secs(7200),
    ));
    out
}

fn feedback(tag: &str, now: SystemTime) -> Vec<Feedback> {
    let f = |id: &str,
             req: Option<String>,
             ep: Option<String>,
             metric: &str,
             v: Option<f64>,
             age: i64| Feedback {
        tenant: "key:k1".into(),
        id: format!("{tag}-{id}"),
        request_id: req,
        episode_id: ep,
        metric: metric.into(),
        value_num: v,
        value_text: v.is_none().then(|| "great".to_owned()),
        source: "user".into(),
        comment: None,
        tags: Vec::new(),
        time_ms: to_unix_ms(now) - age,
    };
    vec![
        f(
            "f1",
            Some(format!("{tag}-r0")),
            None,
            "thumbs",
            Some(1.0),
            1000,
        ),
        f(
            "f2",
            Some(format!("{tag}-client-2")),
            None,
            "thumbs",
            Some(0.0),
            1000,
        ),
        f(
            "f3",
            None,
            Some(format!("{tag}-e0")),
            "resolved",
            Some(1.0),
            1000,
        ),
        f("f4", None, Some(format!("{tag}-e1")), "mood", None, 1000),
        f(
            "f5",
            Some(format!("{tag}-r1")),
            None,
            "thumbs",
            Some(1.0),
            7_200_000,
        ),
    ]
}

/// Seeds `store` and returns its rows (by request id) and feedback (by time, then metric).
async fn seeded(
    store: &dyn Store,
    tag: &str,
    by: GroupBy,
) -> (Vec<OutcomeRow>, Vec<FeedbackValue>) {
    let now = SystemTime::now();
    store.write(&records(tag, now)).await.unwrap();
    store.write_feedback(&feedback(tag, now)).await.unwrap();
    let since = now - Duration::from_secs(3600);
    let mut rows = store.outcome_rows(by, since).await.unwrap();
    rows.retain(|r| r.row.request_id.starts_with(tag));
    rows.sort_by(|a, b| a.row.request_id.cmp(&b.row.request_id));
    let mut values = store.feedback_values(since).await.unwrap();
    values.retain(|v| {
        v.request_id
            .as_deref()
            .or(v.episode_id.as_deref())
            .is_some_and(|id| id.starts_with(tag))
    });
    values.sort_by(|a, b| {
        (a.metric.as_str(), &a.request_id, &a.episode_id).cmp(&(
            b.metric.as_str(),
            &b.request_id,
            &b.episode_id,
        ))
    });
    // Tags differ per store: compare with the tag taken out.
    for r in &mut rows {
        r.row.request_id = r.row.request_id.replacen(tag, "T", 1);
        r.row.episode = r.row.episode.as_ref().map(|e| e.replacen(tag, "T", 1));
    }
    for v in &mut values {
        v.request_id = v.request_id.as_ref().map(|e| e.replacen(tag, "T", 1));
        v.episode_id = v.episode_id.as_ref().map(|e| e.replacen(tag, "T", 1));
        v.time_ms = 0;
    }
    (rows, values)
}

fn check_reference(rows: &[OutcomeRow], values: &[FeedbackValue], by: GroupBy) {
    assert_eq!(rows.len(), 5, "the old record is outside the window");
    let ids: Vec<&str> = rows.iter().map(|r| r.row.request_id.as_str()).collect();
    assert_eq!(ids, ["T-client-2", "T-r0", "T-r1", "T-r3", "T-r4"]);
    let r1 = &rows[2];
    match by {
        GroupBy::Intent => assert_eq!(r1.row.group.as_deref(), Some("billing")),
        GroupBy::Rule => assert_eq!(rows[1].row.group.as_deref(), Some("billing-rule")),
        _ => {}
    }
    let r3 = &rows[3];
    assert!(r3.stream && r3.row.ttft_ms == Some(40));
    assert_eq!(rows[4].status, Some(502));
    assert!(rows[4].row.failed && rows[4].error.as_deref() == Some("upstream"));
    assert_eq!(values.len(), 4, "f5 is outside the window");
    let mood = values.iter().find(|v| v.metric == "mood").unwrap();
    assert_eq!(mood.value, None);
}

async fn all_stores(by: GroupBy) {
    let tag = unique_id("oc");
    let memory = MemoryStore::new();
    let reference = seeded(&memory, &tag, by).await;
    check_reference(&reference.0, &reference.1, by);
    let dir = TempDir::new("outcomes");
    let sqlite = store_support::sqlite(&dir).await;
    assert_eq!(seeded(sqlite.as_ref(), &tag, by).await, reference, "sqlite");
    if let Some(pg) = store_support::postgres(&format!("store_outcomes::{}", by.name())).await {
        let store: Arc<dyn Store> = pg.store.clone();
        assert_eq!(
            seeded(store.as_ref(), &tag, by).await,
            reference,
            "postgres"
        );
        pg.drop_schema().await;
    }
}

#[tokio::test]
async fn rows_agree_by_intent() {
    all_stores(GroupBy::Intent).await;
}

#[tokio::test]
async fn rows_agree_by_rule() {
    all_stores(GroupBy::Rule).await;
}

#[tokio::test]
async fn rows_agree_by_experiment_with_no_group() {
    all_stores(GroupBy::Experiment).await;
}

#[tokio::test]
async fn analytics_agree_between_sqlite_and_memory() {
    let tag = unique_id("an");
    let now = SystemTime::now();
    let memory = MemoryStore::new();
    let dir = TempDir::new("outcomes-an");
    let sqlite = store_support::sqlite(&dir).await;
    for s in [&memory as &dyn Store, sqlite.as_ref()] {
        s.write(&records(&tag, now)).await.unwrap();
        s.write_feedback(&feedback(&tag, now)).await.unwrap();
    }
    let metrics = modelmux_core::config::Config::from_toml(
        "[[metrics]]\nname = \"thumbs\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\"\n",
        modelmux_core::config::ConfigSource::Inline,
        &|_| None,
    )
    .unwrap()
    .metrics;
    let q = Query {
        by: GroupBy::Route,
        per: Per::Episode,
        metrics: None,
        since: now - Duration::from_secs(3600),
        filter: Some("!stream".into()),
        baseline: Some("chat".into()),
    };
    let a = analytics::run(&memory, &metrics, &q).await.unwrap();
    let b = analytics::run(sqlite.as_ref(), &metrics, &q).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a.groups[0].requests, 3);
    assert_eq!(a.groups[1].requests, 1, "the stream is filtered out");
}

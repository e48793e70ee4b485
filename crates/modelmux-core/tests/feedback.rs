//! `POST /v1/feedback` over real loopback HTTP, records and feedback in SQLite in a temp
//! directory (read back through a second connection): every validation answers 400 naming
//! the field; the same id twice stores one row with the second value; feedback that comes
//! before its record (an orphan until the record appears) and after it; signed feedback
//! tokens on every kind of answer, held to their request and episode, expiring, refusing
//! forgeries, and letting a key-less post in; feedback that survives a store outage (the
//! writer's spill) and a restart.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers and clients"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test: a failed unwrap is the test failing"
)]

mod common;
mod store_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use modelmux_core::feedback::token::Signer;
use modelmux_core::records::{
    Feedback, MemoryStore, RecordWriter, SqliteStore, Store, StoreConfig, Subject,
};
use modelmux_core::{RunningGateway, Tasks};
use modelmux_sim::Behaviour;
use serde_json::{Value, json};
use store_support::{FlakyStore, Mode, TempDir, record};

const MASTER: &str = "mk-master-0123456789";
const SECRET: &str = "feedback-secret-0123456789abcdef";

const METRICS: &str = r#"
[[metrics]]
name = "thumbs"
type = "boolean"
level = "request"
optimize = "max"

[[metrics]]
name = "resolved"
type = "boolean"
level = "episode"
optimize = "max"

[[metrics]]
name = "rating"
type = "float"
level = "request"
optimize = "max"
min = 1
max = 5

[[metrics]]
name = "label"
type = "category"
level = "request"
optimize = "max"
values = ["good", "bad"]

[[metrics]]
name = "note"
type = "comment"
level = "request"
"#;

/// A gateway with route `r` over a simulated `a/m` (OpenAI) and `b/m` (Anthropic), the
/// metrics above, records in SQLite under `dir`, and `extra` config.
async fn gateway_in(dir: &TempDir, extra: &str) -> (Vec<modelmux_sim::SimHandle>, RunningGateway) {
    let a = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n{METRICS}\n[store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\nflush_interval = \"10ms\"\n{extra}",
        providers(&[("a", &a)]),
        dir.path().display()
    ))
    .await;
    (vec![a], gw)
}

async fn stored(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("records.sqlite"))
        .await
        .unwrap()
}

async fn post(
    gw: &RunningGateway,
    key: Option<&str>,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut req = client()
        .post(format!("{}/v1/feedback", gw.url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(t) = token {
        req = req.header("x-modelmux-feedback-token", t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, json_of(resp).await)
}

/// Polls the store until the tenant's feedback about `about` satisfies `ok`.
async fn rows_until(
    store: &SqliteStore,
    tenant: &str,
    about: Subject,
    what: &str,
    ok: impl Fn(&[Feedback]) -> bool,
) -> Vec<Feedback> {
    let mut last = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        last = store.feedback(tenant, &about).await.unwrap_or(last);
        if ok(&last) {
            return last;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {last:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn chat_answer(gw: &RunningGateway, key: Option<&str>) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}/v1/chat/completions", gw.url()))
        .body(chat("r").to_string());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp
}

#[tokio::test]
async fn every_validation_answers_400_naming_the_field() {
    let dir = TempDir::new("fb-valid");
    let (_s, gw) = gateway_in(&dir, "").await;
    let long = "x".repeat(129);
    let ok = json!({"request_id": "req_1", "metric": "thumbs", "value": true});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("metric", json!("thumbz")), "metric"),
        (json!({"request_id": "req_1", "value": true}), "metric"),
        (with("value", json!("yes")), "value"),
        (json!({"request_id": "req_1", "metric": "thumbs"}), "value"),
        (
            json!({"request_id": "r", "metric": "rating", "value": 6}),
            "value",
        ),
        (
            json!({"request_id": "r", "metric": "rating", "value": 0.5}),
            "value",
        ),
        (
            json!({"request_id": "r", "metric": "rating", "value": "4"}),
            "value",
        ),
        (
            json!({"request_id": "r", "metric": "label", "value": "meh"}),
            "value",
        ),
        (
            json!({"request_id": "r", "metric": "label", "value": 1}),
            "value",
        ),
        (
            json!({"request_id": "r", "metric": "note", "value": "x".repeat(8193)}),
            "value",
        ),
        (
            json!({"request_id": "r", "metric": "resolved", "value": true}),
            "request_id",
        ),
        (
            json!({"episode_id": "e", "metric": "thumbs", "value": true}),
            "episode_id",
        ),
        (json!({"metric": "thumbs", "value": true}), "request_id"),
        (json!({"metric": "resolved", "value": true}), "episode_id"),
        (with("episode_id", json!("e")), "episode_id"),
        (with("source", json!("robot")), "source"),
        (with("request_id", json!(long)), "request_id"),
        (with("request_id", json!(7)), "request_id"),
        (with("id", json!(long)), "id"),
        (with("comment", json!("c".repeat(8193))), "comment"),
        (with("tags", json!(vec!["t"; 17])), "tags"),
        (with("tags", json!(["ok", 3])), "tags[1]"),
        (with("colour", json!("red")), "colour"),
        (
            json!({"feedback": [ok.clone(), ok.clone(), with("value", json!(1))]}),
            "feedback[2].value",
        ),
        (json!({"feedback": []}), "feedback"),
        (json!({"feedback": vec![ok.clone(); 1001]}), "feedback"),
        (json!({"feedback": ok.clone()}), "feedback"),
        (json!({"feedback": [ok.clone()], "extra": 1}), "extra"),
    ];
    for (body, param) in &cases {
        let (status, v) = post(&gw, None, None, body).await;
        let shown = body.to_string().chars().take(120).collect::<String>();
        assert_eq!(status, 400, "{shown}: {v}");
        assert_eq!(v["error"]["param"], *param, "{shown}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert!(
            v["error"]["message"].as_str().is_some_and(|m| m.len() > 10),
            "{v}"
        );
    }
    let (status, v) = post(&gw, None, None, &json!([ok])).await;
    assert_eq!(status, 400, "a bare array is not a batch: {v}");
    // A batch is all-or-nothing: the good items of a refused batch were not stored.
    let store = stored(&dir).await;
    let (status, v) = post(&gw, None, None, &json!({"feedback": [
        {"request_id": "req_ok", "metric": "thumbs", "value": true, "source": "judge", "tags": ["a"]},
        {"request_id": "req_ok", "metric": "rating", "value": 4.5, "comment": "fine"},
        {"request_id": "req_ok", "metric": "label", "value": "good"},
        {"request_id": "req_ok", "metric": "note", "value": "Answered the question."},
        {"episode_id": "ep_1", "metric": "resolved", "value": false, "source": "code"},
    ]})).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["count"], 5, "{v}");
    let rows = rows_until(
        &store,
        "open",
        Subject::Request("req_ok".into()),
        "the batch",
        |r| r.len() == 4,
    )
    .await;
    let by = |m: &str| rows.iter().find(|r| r.metric == m).unwrap().clone();
    assert_eq!(by("thumbs").value_num, Some(1.0));
    assert_eq!(by("thumbs").source, "judge");
    assert_eq!(by("thumbs").tags, ["a"]);
    assert_eq!(by("rating").value_num, Some(4.5));
    assert_eq!(by("rating").comment.as_deref(), Some("fine"));
    assert_eq!(by("label").value_text.as_deref(), Some("good"));
    assert_eq!(by("note").source, "user", "the default source");
    let ep = rows_until(
        &store,
        "open",
        Subject::Episode("ep_1".into()),
        "the episode row",
        |r| r.len() == 1,
    )
    .await;
    assert_eq!(ep[0].value_num, Some(0.0));
    assert_eq!(
        store
            .feedback("open", &Subject::Request("req_1".into()))
            .await
            .unwrap(),
        []
    );
}

#[tokio::test]
async fn the_same_id_twice_stores_one_row_with_the_later_value() {
    let dir = TempDir::new("fb-idem");
    let (_s, gw) = gateway_in(&dir, &format!("[server]\nmaster_keys = [\"{MASTER}\"]\n")).await;
    let store = stored(&dir).await;
    let item =
        |v: f64| json!({"request_id": "req_i", "metric": "rating", "value": v, "id": "fb-1"});
    assert_eq!(post(&gw, Some(MASTER), None, &item(2.0)).await.0, 202);
    rows_until(
        &store,
        "master",
        Subject::Request("req_i".into()),
        "first",
        |r| r.len() == 1,
    )
    .await;
    let (status, v) = post(&gw, Some(MASTER), None, &item(4.0)).await;
    assert_eq!(status, 202);
    assert_eq!(v["ids"], json!(["fb-1"]));
    let rows = rows_until(
        &store,
        "master",
        Subject::Request("req_i".into()),
        "updated",
        |r| r.len() == 1 && r[0].value_num == Some(4.0),
    )
    .await;
    assert_eq!(rows[0].id, "fb-1");
    // Twice in one batch: one row, the later item.
    let (status, _) = post(
        &gw,
        Some(MASTER),
        None,
        &json!({"feedback": [item(1.0), item(5.0)]}),
    )
    .await;
    assert_eq!(status, 202);
    rows_until(
        &store,
        "master",
        Subject::Request("req_i".into()),
        "batch",
        |r| r.len() == 1 && r[0].value_num == Some(5.0),
    )
    .await;
    // Without an id every item is a row of its own.
    let anon = json!({"request_id": "req_i", "metric": "thumbs", "value": true});
    post(&gw, Some(MASTER), None, &anon).await;
    post(&gw, Some(MASTER), None, &anon).await;
    rows_until(
        &store,
        "master",
        Subject::Request("req_i".into()),
        "anonymous",
        |r| r.len() == 3,
    )
    .await;
    // Tenants are apart: the open tenant sees none of the master's rows.
    assert_eq!(
        store
            .feedback("open", &Subject::Request("req_i".into()))
            .await
            .unwrap(),
        []
    );
}

#[tokio::test]
async fn early_and_late_feedback_join_and_orphans_are_counted() {
    let dir = TempDir::new("fb-join");
    let (_s, gw) = gateway_in(&dir, "").await;
    let store = stored(&dir).await;
    // Early: about a request the store has not seen.
    let early = json!({"request_id": "req_not_yet", "metric": "thumbs", "value": true});
    assert_eq!(post(&gw, None, None, &early).await.0, 202);
    rows_until(
        &store,
        "open",
        Subject::Request("req_not_yet".into()),
        "early",
        |r| r.len() == 1,
    )
    .await;
    assert_eq!(store.feedback_orphans("open").await.unwrap(), 1);
    // Its record arrives (later, from elsewhere): joined, no longer an orphan.
    store.write(&[record("req_not_yet")]).await.unwrap();
    assert_eq!(store.feedback_orphans("open").await.unwrap(), 0);
    assert!(store.get("req_not_yet").await.unwrap().is_some());
    // Late: about an answer already recorded.
    let resp = chat_answer(&gw, None).await;
    let id = header(&resp, "x-modelmux-request-id");
    eventually(Duration::from_secs(10), "the record", || {
        let (store, id) = (&store, id.clone());
        async move { store.get(&id).await.unwrap().is_some() }
    })
    .await;
    let late = json!({"request_id": id, "metric": "rating", "value": 5});
    assert_eq!(post(&gw, None, None, &late).await.0, 202);
    rows_until(&store, "open", Subject::Request(id.clone()), "late", |r| {
        r.len() == 1
    })
    .await;
    assert_eq!(store.feedback_orphans("open").await.unwrap(), 0);
    // An id no record will ever have stays an orphan.
    let never = json!({"request_id": "req_never", "metric": "thumbs", "value": false});
    assert_eq!(post(&gw, None, None, &never).await.0, 202);
    rows_until(
        &store,
        "open",
        Subject::Request("req_never".into()),
        "never",
        |r| r.len() == 1,
    )
    .await;
    assert_eq!(store.feedback_orphans("open").await.unwrap(), 1);
    // Another tenant's record does not adopt the open tenant's orphan.
    let mut foreign = record("req_never");
    foreign.key = Some("k_other".into());
    foreign.tenant = Some("key:k_other".into());
    store.write(&[foreign]).await.unwrap();
    assert_eq!(store.feedback_orphans("open").await.unwrap(), 1);
}

/// The token header of every answer: JSON and streams, in all three client formats.
#[tokio::test]
async fn every_answer_carries_a_feedback_token_for_its_request() {
    let dir = TempDir::new("fb-every");
    let (_s, gw) = gateway_in(&dir, &format!("[feedback]\nsecret = \"{SECRET}\"\n")).await;
    let signer = Signer::new(SECRET.as_bytes());
    let chat_body = chat("r");
    let msg =
        json!({"model": "r", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]});
    let resp_body = json!({"model": "r", "input": "hi", "store": false});
    let mut cases = Vec::new();
    for (path, body) in [
        ("/v1/chat/completions", chat_body),
        ("/v1/messages", msg),
        ("/v1/responses", resp_body),
    ] {
        let mut stream = body.clone();
        stream["stream"] = json!(true);
        cases.push((path, body));
        cases.push((path, stream));
    }
    for (path, body) in cases {
        let resp = client()
            .post(format!("{}{path}", gw.url()))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let id = header(&resp, "x-modelmux-request-id");
        let token = header(&resp, "x-modelmux-feedback-token");
        assert!(!token.is_empty(), "{path} {body}: no token");
        let grant = signer.verify(&token, SystemTime::now()).unwrap();
        assert_eq!(grant.request_id, id, "{path}");
        assert_eq!(grant.tenant, "open");
        let _ = resp.bytes().await.unwrap();
    }
    // Without a secret, no token.
    let dir2 = TempDir::new("fb-none");
    let (_s2, plain) = gateway_in(&dir2, "").await;
    let resp = chat_answer(&plain, None).await;
    assert_eq!(header(&resp, "x-modelmux-feedback-token"), "");
}

#[tokio::test]
async fn a_token_posts_without_a_key_for_its_own_request_and_episode_only() {
    let dir = TempDir::new("fb-token");
    let (_s, gw) = gateway_in(
        &dir,
        &format!("[server]\nmaster_keys = [\"{MASTER}\"]\n[feedback]\nsecret = \"{SECRET}\"\n"),
    )
    .await;
    let store = stored(&dir).await;
    let resp = chat_answer(&gw, Some(MASTER)).await;
    let id = header(&resp, "x-modelmux-request-id");
    let token = header(&resp, "x-modelmux-feedback-token");
    let own = json!({"request_id": id, "metric": "thumbs", "value": true});
    // No key at all, the token only: accepted, stored for the request's tenant.
    let (status, v) = post(&gw, None, Some(&token), &own).await;
    assert_eq!(status, 202, "{v}");
    rows_until(
        &store,
        "master",
        Subject::Request(id.clone()),
        "token row",
        |r| r.len() == 1,
    )
    .await;
    // Without the token: refused.
    assert_eq!(post(&gw, None, None, &own).await.0, 401);
    // Another request: refused, saying why.
    let other = json!({"request_id": "req_other", "metric": "thumbs", "value": true});
    let (status, v) = post(&gw, None, Some(&token), &other).await;
    assert_eq!(status, 401, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is for request"),
        "{v}"
    );
    // In a batch, one foreign item refuses the batch.
    let (status, v) = post(
        &gw,
        None,
        Some(&token),
        &json!({"feedback": [own.clone(), other]}),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("feedback[1].request_id"),
        "{v}"
    );
    // This answer had no episode: no episode feedback with its token.
    let ep = json!({"episode_id": "ep_1", "metric": "resolved", "value": true});
    let (status, v) = post(&gw, None, Some(&token), &ep).await;
    assert_eq!(status, 401, "{v}");
    // A token of an episode posts for that episode, not another.
    let signer = Signer::new(SECRET.as_bytes());
    let ep_token = signer.sign(
        "master",
        "req_e",
        Some("ep_1"),
        SystemTime::now(),
        Duration::from_secs(60),
    );
    assert_eq!(post(&gw, None, Some(&ep_token), &ep).await.0, 202);
    let ep2 = json!({"episode_id": "ep_2", "metric": "resolved", "value": true});
    let (status, v) = post(&gw, None, Some(&ep_token), &ep2).await;
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is for episode \"ep_1\""),
        "{v}"
    );
    rows_until(
        &store,
        "master",
        Subject::Episode("ep_1".into()),
        "episode row",
        |r| r.len() == 1,
    )
    .await;
    // Forged: a flipped bit in the MAC, a changed request id, another secret.
    // (The MAC's first character: its bits are all data, unlike the last one's.)
    let mut flipped = token.clone().into_bytes();
    let at = token.rfind('.').unwrap() + 1;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let (status, v) = post(&gw, None, Some(&flipped), &own).await;
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{v}"
    );
    let stranger = Signer::new(b"some-other-secret-0123456789abcd");
    let foreign = stranger.sign(
        "master",
        &id,
        None,
        SystemTime::now(),
        Duration::from_secs(60),
    );
    let (status, v) = post(&gw, None, Some(&foreign), &own).await;
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{v}"
    );
    let (status, v) = post(&gw, None, Some("not.a.token"), &own).await;
    assert_eq!(status, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed"),
        "{v}"
    );
    // A key beside a token: the key decides (a wrong key is refused whatever the token).
    assert_eq!(post(&gw, Some("mk-wrong"), Some(&token), &own).await.0, 401);
    assert_eq!(post(&gw, Some(MASTER), Some(&flipped), &other).await.0, 202);
}

#[tokio::test]
async fn a_token_expires() {
    let dir = TempDir::new("fb-expiry");
    let (_s, gw) = gateway_in(
        &dir,
        &format!("[feedback]\nsecret = \"{SECRET}\"\ntoken_ttl = \"1s\"\n"),
    )
    .await;
    let resp = chat_answer(&gw, None).await;
    let id = header(&resp, "x-modelmux-request-id");
    let token = header(&resp, "x-modelmux-feedback-token");
    let own = json!({"request_id": id, "metric": "thumbs", "value": true, "id": "same"});
    assert_eq!(post(&gw, None, Some(&token), &own).await.0, 202, "fresh");
    // The expiry is wall-clock (tokens outlive processes): poll until it passes.
    let waited = eventually(Duration::from_secs(10), "the token expires", || {
        let (gw, token, own) = (&gw, token.clone(), own.clone());
        async move { post(gw, None, Some(&token), &own).await.0 == 401 }
    })
    .await;
    assert!(waited <= Duration::from_secs(3), "{waited:?}");
    let (_, v) = post(&gw, None, Some(&token), &own).await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expired"),
        "{v}"
    );
}

#[tokio::test]
async fn feedback_survives_a_restart_on_sqlite() {
    let dir = TempDir::new("fb-restart");
    let (_s, gw) = gateway_in(&dir, "").await;
    let item = |v: f64| json!({"request_id": "req_r", "metric": "rating", "value": v, "id": "r-1"});
    assert_eq!(post(&gw, None, None, &item(3.0)).await.0, 202);
    // Shut down at once: the queued row is drained into the store, not dropped.
    gw.shutdown().await.unwrap();
    let (_s, gw) = gateway_in(&dir, "").await;
    let store = stored(&dir).await;
    let rows = store
        .feedback("open", &Subject::Request("req_r".into()))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].value_num, Some(3.0));
    // The same id after the restart updates the same row.
    assert_eq!(post(&gw, None, None, &item(1.0)).await.0, 202);
    rows_until(
        &store,
        "open",
        Subject::Request("req_r".into()),
        "updated after restart",
        |r| r.len() == 1 && r[0].value_num == Some(1.0),
    )
    .await;
}

fn writer_config(dir: &TempDir) -> StoreConfig {
    StoreConfig {
        batch_size: 64,
        flush_interval: Duration::from_millis(20),
        queue: 16,
        write_timeout: Duration::from_millis(200),
        retry_interval: Duration::from_millis(50),
        ..StoreConfig::sqlite(dir.path())
    }
}

fn row(id: &str, request: &str, value: f64) -> Feedback {
    Feedback {
        tenant: "open".into(),
        id: id.into(),
        request_id: Some(request.into()),
        episode_id: None,
        metric: "rating".into(),
        value_num: Some(value),
        value_text: None,
        source: "user".into(),
        comment: None,
        tags: vec!["t".into()],
        time_ms: 1_000,
    }
}

/// Through the record writer with the store down: rows (and records beside them) go to
/// the spill, channel overflow included, and are replayed once the store is back.
#[tokio::test]
async fn feedback_survives_a_store_outage() {
    let dir = TempDir::new("fb-outage");
    let inner = Arc::new(MemoryStore::new());
    let flaky = FlakyStore::new(inner.clone());
    let (writer, sink) = RecordWriter::start(flaky.clone(), &writer_config(&dir), &Tasks::new());
    flaky.set(Mode::Fail);
    // More than the queue holds at once: some rows overflow straight to the spill.
    let rows: Vec<Feedback> = (0..200)
        .map(|i| row(&format!("f-{i}"), &format!("req-{i}"), 2.0))
        .collect();
    sink.send_feedback(rows).unwrap();
    for i in 0..20 {
        sink.send(record(format!("req-{i}")));
    }
    eventually(Duration::from_secs(10), "the outage was hit", || async {
        flaky.failures.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    assert!(sink.stats().spilled > 0, "{:?}", sink.stats());
    flaky.set(Mode::Ok);
    eventually(Duration::from_secs(10), "replayed", || {
        let inner = inner.clone();
        async move {
            inner
                .feedback("open", &Subject::Request("req-199".into()))
                .await
                .unwrap()
                .len()
                == 1
                && inner.feedback_orphans("open").await.unwrap() == 180
        }
    })
    .await;
    writer.shutdown().await;
    let mut n = 0;
    for i in 0..200 {
        n += inner
            .feedback("open", &Subject::Request(format!("req-{i}")))
            .await
            .unwrap()
            .len();
    }
    assert_eq!(n, 200, "{:?}", sink.stats());
    assert_eq!(inner.count().await.unwrap(), 20);
    assert_eq!(sink.stats().lost, 0);
}

/// Rows spilled while the store was down when the gateway stopped are replayed by the
/// next run, into SQLite; a replayed older row never undoes a newer write of its id.
#[tokio::test]
async fn spilled_feedback_is_replayed_after_a_restart_without_undoing_newer_rows() {
    let dir = TempDir::new("fb-spill-restart");
    let sqlite = store_support::sqlite(&dir).await;
    let flaky = FlakyStore::new(sqlite.clone());
    flaky.set(Mode::Fail);
    let cfg = writer_config(&dir);
    let (writer, sink) = RecordWriter::start(flaky.clone(), &cfg, &Tasks::new());
    sink.send_feedback(vec![row("a", "req-a", 1.0), row("b", "req-b", 1.0)])
        .unwrap();
    writer.shutdown().await;
    assert_eq!(sink.stats().spilled, 2, "{:?}", sink.stats());
    // Meanwhile a newer write of `b` reached the store (another instance, say).
    let mut newer = row("b", "req-b", 5.0);
    newer.time_ms = 2_000;
    sqlite.write_feedback(&[newer]).await.unwrap();
    flaky.set(Mode::Ok);
    let (writer, sink) = RecordWriter::start(flaky.clone(), &cfg, &Tasks::new());
    writer.shutdown().await;
    assert_eq!(sink.stats().replayed, 2, "{:?}", sink.stats());
    let a = sqlite
        .feedback("open", &Subject::Request("req-a".into()))
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].tags, ["t"]);
    let b = sqlite
        .feedback("open", &Subject::Request("req-b".into()))
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].value_num, Some(5.0), "the replay kept the newer row");
}

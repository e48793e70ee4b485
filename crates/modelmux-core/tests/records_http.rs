//! Records through HTTP: every request that reaches the gateway leaves one. Early rejections
//! (unknown path, wrong method, bad key, too large, malformed body) are recorded with their
//! status and error kind, and the response carries the request id to find it; health probes
//! are not. A client that gives up before its answer leaves a `client_gone` record. Shutdown
//! under load (JSON and streams against a slow provider, more requests arriving while it
//! drains) completes every request in flight and loses no record. Records go to SQLite in a
//! temporary directory and are read back after the gateway has stopped.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "a test: a failed unwrap is the test failing"
)]

mod common;
mod store_support;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use modelmux_core::RunningGateway;
use modelmux_core::records::{SqliteStore, Store};
use modelmux_sim::Behaviour;
use serde_json::json;
use store_support::TempDir;
use tokio::net::TcpListener;

fn sqlite(dir: &TempDir) -> String {
    format!(
        "[store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\nflush_interval = \"20ms\"\n",
        dir.path().display()
    )
}

async fn stored(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("records.sqlite"))
        .await
        .unwrap()
}

/// A gateway with route `r` over one simulated model `a/m`, recording into `dir`.
async fn one_route(model: Behaviour, dir: &TempDir) -> (modelmux_sim::SimHandle, RunningGateway) {
    let a = sim(&[("m", model)]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n{}",
        providers(&[("a", &a)]),
        sqlite(dir)
    ))
    .await;
    (a, gw)
}

fn request_id(resp: &reqwest::Response) -> String {
    let id = header(resp, "x-modelmux-request-id");
    assert!(!id.is_empty(), "no request id on {}", resp.status());
    id
}

#[tokio::test]
async fn early_rejections_leave_a_record_with_status_and_kind() {
    let dir = TempDir::new("rejections");
    let a = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[server]\nmaster_keys = [\"mk-right\"]\nmax_body_bytes = 2048\n{}\n\
         [[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n{}",
        providers(&[("a", &a)]),
        sqlite(&dir)
    ))
    .await;
    let c = client();
    let url = |p: &str| format!("{}{p}", gw.url());
    let good = chat("r").to_string();
    let big = json!({"model": "r", "messages": [{"role": "user", "content": "x".repeat(4000)}]})
        .to_string();
    // (what, response, status, error kind, client format)
    let mut cases = Vec::new();
    let mut case = |what: &'static str, resp: reqwest::Response, kind: &'static str, fmt| {
        cases.push((what, resp.status().as_u16(), request_id(&resp), kind, fmt));
    };
    let resp = c.get(url("/v2/nowhere")).send().await.unwrap();
    case("unknown path", resp, "not_found", "openai_chat");
    let resp = c.get(url("/v1/chat/completions")).send().await.unwrap();
    case("wrong method", resp, "method_not_allowed", "openai_chat");
    let resp = c
        .post(url("/v1/chat/completions"))
        .bearer_auth("mk-wrong")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    case("bad key", resp, "unauthorized", "openai_chat");
    let resp = c
        .post(url("/v1/chat/completions"))
        .bearer_auth("mk-right")
        .body(big)
        .send()
        .await
        .unwrap();
    case("too large", resp, "too_large", "openai_chat");
    let resp = c
        .post(url("/v1/chat/completions"))
        .bearer_auth("mk-right")
        .body("{not json")
        .send()
        .await
        .unwrap();
    case("malformed", resp, "invalid_request", "openai_chat");
    let resp = c
        .post(url("/v1/messages"))
        .bearer_auth("mk-right")
        .body("[]")
        .send()
        .await
        .unwrap();
    case("malformed messages", resp, "invalid_request", "anthropic");
    let resp = c.get(url("/v1/models")).send().await.unwrap();
    case("models without a key", resp, "unauthorized", "openai_chat");
    let resp = c
        .post(url("/v1/route/explain"))
        .bearer_auth("mk-right")
        .body("{")
        .send()
        .await
        .unwrap();
    case("malformed explain", resp, "invalid_request", "openai_chat");
    let resp = c
        .get(url("/v1/responses/resp_nope"))
        .bearer_auth("mk-right")
        .send()
        .await
        .unwrap();
    case(
        "unknown stored response",
        resp,
        "not_found",
        "openai_responses",
    );
    let resp = c
        .post(url("/v1/chat/completions"))
        .bearer_auth("mk-right")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answered = request_id(&resp);
    // Probes leave nothing.
    for p in ["/healthz", "/readyz"] {
        let resp = c.get(url(p)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-modelmux-request-id"), "");
    }
    gw.shutdown().await.unwrap();

    let store = stored(&dir).await;
    for (what, status, id, kind, fmt) in &cases {
        let r = store
            .get(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: no record {id}"));
        assert_eq!(r.status, Some(*status), "{what}");
        assert_eq!(r.error.as_deref(), Some(*kind), "{what}");
        assert_eq!(r.client_format, *fmt, "{what}");
        assert!(r.attempts.is_empty(), "{what}");
    }
    let statuses: Vec<u16> = cases.iter().map(|c| c.1).collect();
    assert_eq!(statuses, [404, 405, 401, 413, 400, 400, 401, 400, 404]);
    assert_eq!(
        store.get(&answered).await.unwrap().unwrap().status,
        Some(200)
    );
    assert_eq!(store.count().await.unwrap(), cases.len() as u64 + 1);
}

#[tokio::test]
async fn a_client_gone_before_its_answer_leaves_a_record() {
    let dir = TempDir::new("gone");
    let slow = Behaviour {
        latency_ms: 600,
        ..Behaviour::default()
    };
    let (a, gw) = one_route(slow, &dir).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    for (path, body) in [
        ("/v1/chat/completions", chat("r")),
        ("/v1/chat/completions", chat_stream("r", true)),
        (
            "/v1/messages",
            json!({"model": "r", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ] {
        let sent = impatient
            .post(format!("{}{path}", gw.url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        assert!(sent.is_err(), "the client gave up first");
    }
    // One more that waits: its record is the handler's, once.
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200);
    let answered = request_id(&resp);
    // Every request's record is in the store (WAL: readable while the gateway writes).
    let store = stored(&dir).await;
    let s = &store;
    eventually(Duration::from_secs(10), "4 records stored", || async move {
        s.count().await.unwrap() >= 4
    })
    .await;
    gw.shutdown().await.unwrap();
    assert_eq!(a.requests("m"), 4, "all reached the provider");

    let db = rusqlite::Connection::open(dir.path().join("records.sqlite")).unwrap();
    let mut q = db
        .prepare("SELECT request_id, client_format, status, error FROM records ORDER BY time_ms")
        .unwrap();
    let rows: Vec<(String, String, Option<i64>, Option<String>)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    let gone: Vec<_> = rows
        .iter()
        .filter(|r| r.2 == Some(499) && r.3.as_deref() == Some("client_gone"))
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(
        gone,
        ["openai_chat", "openai_chat", "anthropic"],
        "{rows:?}"
    );
    let last = rows.iter().find(|r| r.0 == answered).unwrap();
    assert_eq!((last.2, last.3.as_deref()), (Some(200), None));
}

#[tokio::test]
async fn a_client_gone_mid_stream_leaves_a_record_of_the_cut_stream() {
    let dir = TempDir::new("gone-mid-stream");
    // The first word at once, then one every 300 ms: the client reads one chunk and leaves.
    let slow = Behaviour {
        tokens_per_second: 3.0,
        output_tokens: 20,
        ..Behaviour::default()
    };
    let (_a, gw) = one_route(slow, &dir).await;
    let mut resp = post(&gw, &chat_stream("r", true)).await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "), "{first:?}");
    drop(resp);
    // The gateway notices the closed connection, drops the stream (and its provider call),
    // and records the cut stream.
    let store = stored(&dir).await;
    let (s, id_ref) = (&store, &id);
    eventually(
        Duration::from_secs(10),
        "the cut stream's record",
        || async move { s.get(id_ref).await.unwrap().is_some() },
    )
    .await;
    gw.shutdown().await.unwrap();

    let record = stored(&dir).await.get(&id).await.unwrap().unwrap();
    assert_eq!(record.status, Some(200));
    let stream = record.stream.expect("a stream record");
    assert!(!stream.completed, "{stream:?}");
    assert_eq!(stream.cut_reason.as_deref(), Some("client_gone"));
    assert!(stream.chunks_sent >= 1, "{stream:?}");
    assert_eq!(record.attempts.len(), 1);
}

/// One request's end as the client saw it.
#[derive(Debug)]
struct Seen {
    id: String,
    status: u16,
    stream: bool,
    complete: bool,
}

async fn one(
    c: reqwest::Client,
    url: String,
    model: &str,
    stream: bool,
    first_chunk: Option<tokio::sync::mpsc::Sender<()>>,
) -> Option<Seen> {
    let body = if stream {
        chat_stream(model, true)
    } else {
        chat(model)
    };
    // A request the closing listener refused never reached the gateway.
    let mut resp = c
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .ok()?;
    let id = header(&resp, "x-modelmux-request-id");
    let status = resp.status().as_u16();
    let mut text = String::new();
    // A body cut short ends the loop with an error: `complete` stays false.
    while let Ok(Some(chunk)) = resp.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(tx) = &first_chunk {
            let _ = tx.try_send(());
        }
    }
    let complete = if stream {
        text.trim_end().ends_with("data: [DONE]")
    } else {
        serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v["choices"].is_array())
    };
    Some(Seen {
        id,
        status,
        stream,
        complete,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_load_drains_and_loses_no_record() {
    let dir = TempDir::new("sigterm");
    let slow = Behaviour {
        latency_ms: 300,
        ttft_ms: 50,
        tokens_per_second: 40.0,
        output_tokens: 12,
        ..Behaviour::default()
    };
    // Streams that take over a second once started: mid-body when the shutdown comes.
    let long = Behaviour {
        tokens_per_second: 10.0,
        output_tokens: 12,
        ..Behaviour::default()
    };
    let a = sim(&[("m", slow), ("s", long)]).await;
    let config = config(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\nnum_retries = 0\n\
         [[routes]]\nname = \"long\"\ntargets = [\"a/s\"]\nnum_retries = 0\n{}",
        providers(&[("a", &a)]),
        sqlite(&dir)
    ));
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(modelmux_core::serve(listener, config, async move {
        let _ = stopped.await;
    }));

    const LONG: usize = 10;
    const LOAD: usize = 80;
    let c = client();
    let mut tasks = Vec::new();
    let (started, mut first_chunks) = tokio::sync::mpsc::channel(1024);
    for _ in 0..LONG {
        let started = Some(started.clone());
        tasks.push(tokio::spawn(one(
            c.clone(),
            url.clone(),
            "long",
            true,
            started,
        )));
    }
    for _ in 0..LONG {
        first_chunks.recv().await.unwrap();
    }
    for i in 0..LOAD {
        tasks.push(tokio::spawn(one(
            c.clone(),
            url.clone(),
            "r",
            i % 2 == 1,
            None,
        )));
    }
    // Shut down once every request is with the provider: the long streams mid-body, the
    // others waiting for their headers.
    let t0 = std::time::Instant::now();
    eventually(Duration::from_secs(10), "load arrived", || async {
        a.requests("m") >= LOAD as u64
    })
    .await;
    stop.send(()).unwrap();
    // More clients arrive while it drains: refused, or answered and recorded.
    let late_client = client();
    let mut late = Vec::new();
    for i in 0..20 {
        late.push(tokio::spawn(one(
            late_client.clone(),
            url.clone(),
            "r",
            i % 2 == 0,
            None,
        )));
    }
    let drained = tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("shutdown drained within 20s")
        .unwrap();
    drained.unwrap();
    eprintln!(
        "shutdown drained {} requests in {:?}",
        LOAD + LONG,
        t0.elapsed()
    );

    let mut seen = Vec::new();
    for t in tasks {
        let s = t.await.unwrap().expect("a request in flight was answered");
        assert_eq!(s.status, 200, "{s:?}");
        assert!(s.complete, "in flight at shutdown and cut: {s:?}");
        seen.push(s);
    }
    let mut refused = 0;
    for t in late {
        match t.await.unwrap() {
            Some(s) => seen.push(s),
            None => refused += 1,
        }
    }
    eprintln!(
        "late arrivals: {} answered, {refused} refused",
        seen.len() - LOAD - LONG
    );

    let store = stored(&dir).await;
    let mut by_id = HashMap::new();
    for s in &seen {
        let r = store
            .get(&s.id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("lost the record of {s:?}"));
        assert_eq!(r.status, Some(s.status), "{s:?}");
        if s.stream && s.status == 200 {
            assert!(r.stream.as_ref().is_some_and(|o| o.completed), "{r:?}");
        }
        by_id.insert(s.id.clone(), r);
    }
    assert_eq!(by_id.len(), seen.len(), "request ids are unique");
    assert_eq!(
        store.count().await.unwrap(),
        seen.len() as u64,
        "one record per request that reached the gateway, no more"
    );
}

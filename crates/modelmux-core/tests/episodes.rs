//! Episodes and client-chosen request ids through HTTP. The episode comes from
//! `x-modelmux-episode`, else the configured aliases in order (metadata, Responses
//! `conversation`, Claude Code's and Helicone's session headers, `x-session-id`), else the
//! gateway issues a UUIDv7; it comes back in `x-modelmux-episode` on JSON and streamed
//! answers and on errors, in all three client formats, and is stored with the turn number
//! (assistant messages + 1), which rules read as `episode_turn`. A client's
//! `x-modelmux-request-id` is checked, echoed, unique per tenant (409 on a duplicate, also
//! between concurrent requests) and stored; SQLite and PostgreSQL keep the new columns.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn concurrent callers and await them"
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

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use modelmux_core::RunningGateway;
use modelmux_core::records::{Record, SqliteStore, Store};
use modelmux_sim::{Behaviour, SimHandle};
use serde_json::{Value, json};
use store_support::TempDir;

const EPISODE: &str = "x-modelmux-episode";
const REQUEST_ID: &str = "x-modelmux-request-id";
const GATEWAY_ID: &str = "x-modelmux-gateway-request-id";

/// Headers to send with a request.
type Headers<'a> = Vec<(&'a str, &'a str)>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Chat,
    Messages,
    Responses,
}

const FORMATS: [Format; 3] = [Format::Chat, Format::Messages, Format::Responses];

impl Format {
    fn path(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Messages => "/v1/messages",
            Self::Responses => "/v1/responses",
        }
    }

    /// A body asking `model`, streamed or not.
    fn body(self, model: &str, stream: bool) -> Value {
        match self {
            Self::Chat => {
                json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Say hi"}]})
            }
            Self::Messages => json!({"model": model, "max_tokens": 50, "stream": stream,
                "messages": [{"role": "user", "content": "Say hi"}]}),
            Self::Responses => json!({"model": model, "stream": stream, "input": "Say hi"}),
        }
    }
}

struct Gw {
    gw: RunningGateway,
    dir: TempDir,
    _sims: Vec<SimHandle>,
}

/// A gateway with route `r` over `a/m` and route `later` over `b/m`, recording into SQLite;
/// `extra` is appended to the config.
async fn setup(extra: &str) -> Gw {
    let a = sim(&[("m", Behaviour::default())]).await;
    let b = sim(&[("m", Behaviour::default())]).await;
    let dir = TempDir::new("episodes");
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n[[routes]]\nname = \"later\"\ntargets = [\"b/m\"]\n\
         [store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\nflush_interval = \"20ms\"\n{extra}",
        providers(&[("a", &a), ("b", &b)]),
        dir.path().display()
    ))
    .await;
    Gw {
        gw,
        dir,
        _sims: vec![a, b],
    }
}

async fn send(
    gw: &RunningGateway,
    format: Format,
    body: &Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}{}", gw.url(), format.path()))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The stored record of a gateway request id, once the writer has written it.
async fn stored(g: &Gw, gateway_id: &str) -> Record {
    let store = SqliteStore::open(&g.dir.path().join("records.sqlite"))
        .await
        .unwrap();
    let found = Arc::new(std::sync::Mutex::new(None));
    let (s, f, id) = (&store, Arc::clone(&found), gateway_id.to_owned());
    eventually(Duration::from_secs(10), "record stored", move || {
        let (f, id) = (Arc::clone(&f), id.clone());
        async move {
            let r = s.get(&id).await.ok().flatten();
            let ok = r.is_some();
            *f.lock().unwrap() = r;
            ok
        }
    })
    .await;
    found.lock().unwrap().take().unwrap()
}

fn ours(resp: &reqwest::Response) -> String {
    let g = header(resp, GATEWAY_ID);
    if g.is_empty() {
        header(resp, REQUEST_ID)
    } else {
        g
    }
}

#[tokio::test]
async fn the_episode_comes_from_each_source_in_order() {
    let g = setup("").await;
    let chat = |extra: Value| {
        let mut b = Format::Chat.body("r", false);
        b["metadata"] = extra;
        b
    };
    let cases: Vec<(Format, Value, Headers, &str)> = vec![
        // The header beats every alias.
        (
            Format::Chat,
            chat(json!({"episode_id": "meta-1"})),
            vec![(EPISODE, "hdr-1"), ("x-session-id", "sess-1")],
            "hdr-1",
        ),
        // metadata.episode_id beats the session headers.
        (
            Format::Chat,
            chat(json!({"episode_id": "ticket/42@desk"})),
            vec![("x-session-id", "sess-1"), ("helicone-session-id", "h-1")],
            "ticket/42@desk",
        ),
        (
            Format::Messages,
            {
                let mut b = Format::Messages.body("r", false);
                b["metadata"] = json!({"episode_id": "anth-meta"});
                b
            },
            vec![("x-claude-code-session-id", "cc-1")],
            "anth-meta",
        ),
        (
            Format::Messages,
            Format::Messages.body("r", false),
            vec![
                ("x-claude-code-session-id", "cc-1"),
                ("helicone-session-id", "h-1"),
            ],
            "cc-1",
        ),
        (
            Format::Chat,
            Format::Chat.body("r", false),
            vec![("helicone-session-id", "h-1"), ("x-session-id", "sess-1")],
            "h-1",
        ),
        (
            Format::Chat,
            Format::Chat.body("r", false),
            vec![("x-session-id", "sess-1")],
            "sess-1",
        ),
        // The Responses conversation, as a string and as an object.
        (
            Format::Responses,
            {
                let mut b = Format::Responses.body("r", false);
                b["conversation"] = json!("conv_abc");
                b
            },
            vec![("x-session-id", "sess-1")],
            "conv_abc",
        ),
        (
            Format::Responses,
            {
                let mut b = Format::Responses.body("r", false);
                b["conversation"] = json!({"id": "conv_obj"});
                b
            },
            vec![],
            "conv_obj",
        ),
        (
            Format::Responses,
            {
                let mut b = Format::Responses.body("r", false);
                b["metadata"] = json!({"episode_id": "resp-meta"});
                b["conversation"] = json!("conv_abc");
                b
            },
            vec![],
            "resp-meta",
        ),
    ];
    for (format, body, headers, want) in cases {
        let resp = send(&g.gw, format, &body, &headers).await;
        assert_eq!(resp.status(), 200, "{format:?} {want}");
        assert_eq!(header(&resp, EPISODE), want, "{format:?} {headers:?}");
    }
}

#[tokio::test]
async fn configured_aliases_replace_the_defaults() {
    let g = setup("[episodes]\naliases = [\"header:X-Thread\"]\n").await;
    let mut body = Format::Chat.body("r", false);
    body["metadata"] = json!({"episode_id": "meta-1"});
    let resp = send(&g.gw, Format::Chat, &body, &[("x-thread", "t-9")]).await;
    assert_eq!(header(&resp, EPISODE), "t-9");
    // Without the configured header the defaults are not consulted: an id is issued.
    let resp = send(&g.gw, Format::Chat, &body, &[("x-session-id", "s")]).await;
    let id = header(&resp, EPISODE);
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    // A bad alias is refused with its exact path.
    let bad = modelmux_core::Config::from_toml(
        "[episodes]\naliases = [\"cookie:x\"]\n",
        modelmux_core::config::ConfigSource::Inline,
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("episodes.aliases[0]"), "{bad}");
}

#[tokio::test]
async fn issued_episodes_are_uuid_v7_and_come_back_everywhere() {
    let g = setup("").await;
    for format in FORMATS {
        for stream in [false, true] {
            let resp = send(&g.gw, format, &format.body("r", stream), &[]).await;
            assert_eq!(resp.status(), 200, "{format:?} stream={stream}");
            let id = header(&resp, EPISODE);
            let u = uuid::Uuid::parse_str(&id)
                .unwrap_or_else(|_| panic!("{format:?} stream={stream}: {id:?}"));
            assert_eq!(u.get_version_num(), 7);
            let _ = body_text(resp).await;
            // A client-given one comes back on a stream too.
            let resp = send(
                &g.gw,
                format,
                &format.body("r", stream),
                &[(EPISODE, "given-1")],
            )
            .await;
            assert_eq!(header(&resp, EPISODE), "given-1", "{format:?} {stream}");
            let _ = body_text(resp).await;
        }
        // An error answer after the episode is known carries it.
        let resp = send(
            &g.gw,
            format,
            &format.body("nope", false),
            &[(EPISODE, "e-1")],
        )
        .await;
        assert_eq!(resp.status(), 404, "{format:?}");
        assert_eq!(header(&resp, EPISODE), "e-1", "{format:?}");
    }
}

#[tokio::test]
async fn bad_episode_ids_are_refused_naming_their_source() {
    let g = setup("").await;
    let long = "a".repeat(129);
    let cases: Vec<(Format, Headers, Option<Value>, &str)> = vec![
        (Format::Chat, vec![(EPISODE, "has space")], None, EPISODE),
        (Format::Messages, vec![(EPISODE, &long)], None, EPISODE),
        (
            Format::Responses,
            vec![("x-session-id", "semi;colon")],
            None,
            "x-session-id",
        ),
        (
            Format::Chat,
            vec![],
            Some(json!({"episode_id": "tab\there"})),
            "metadata.episode_id",
        ),
    ];
    for (format, headers, metadata, named) in cases {
        let mut body = format.body("r", false);
        if let Some(m) = metadata {
            body["metadata"] = m;
        }
        let resp = send(&g.gw, format, &body, &headers).await;
        assert_eq!(resp.status(), 400, "{format:?} {named}");
        let v = json_of(resp).await;
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{format:?}: {v}");
        if format == Format::Messages {
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["type"], "invalid_request_error");
        } else {
            assert_eq!(error_object(&v)["param"], named);
        }
    }
}

#[tokio::test]
async fn records_keep_the_episode_and_its_turns() {
    let g = setup("").await;
    let turns = [
        (json!([{"role": "user", "content": "a"}]), 1),
        (
            json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "user", "content": "c"}]),
            2,
        ),
        (
            json!([{"role": "user", "content": "a"},
                   {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "f", "arguments": "{}"}}]},
                   {"role": "tool", "tool_call_id": "c1", "content": "r"},
                   {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]),
            3,
        ),
    ];
    for (messages, turn) in turns {
        let body = json!({"model": "r", "messages": messages});
        let resp = send(&g.gw, Format::Chat, &body, &[(EPISODE, "ticket-7")]).await;
        assert_eq!(resp.status(), 200);
        let r = stored(&g, &ours(&resp)).await;
        assert_eq!(r.episode_id.as_deref(), Some("ticket-7"));
        assert_eq!(r.episode_turn, Some(turn));
        assert_eq!(r.tenant.as_deref(), Some("open"));
    }
    // Messages: assistant turns counted from the canonical request.
    let body = json!({"model": "r", "max_tokens": 20, "messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}]});
    let resp = send(&g.gw, Format::Messages, &body, &[]).await;
    let issued = header(&resp, EPISODE);
    let r = stored(&g, &ours(&resp)).await;
    assert_eq!(r.episode_id.as_deref(), Some(issued.as_str()));
    assert_eq!(r.episode_turn, Some(2));
    // Responses: a `previous_response_id` chain counts the earlier turns.
    let resp = send(
        &g.gw,
        Format::Responses,
        &Format::Responses.body("r", false),
        &[],
    )
    .await;
    let first = json_of(resp).await["id"].as_str().unwrap().to_owned();
    let mut body = Format::Responses.body("r", false);
    body["previous_response_id"] = json!(first);
    let resp = send(&g.gw, Format::Responses, &body, &[(EPISODE, "resp-chain")]).await;
    assert_eq!(resp.status(), 200);
    let r = stored(&g, &ours(&resp)).await;
    assert_eq!(r.episode_turn, Some(2));
    // An error answer is recorded with its episode too.
    let resp = send(
        &g.gw,
        Format::Chat,
        &Format::Chat.body("nope", false),
        &[(EPISODE, "e-2")],
    )
    .await;
    let r = stored(&g, &ours(&resp)).await;
    assert_eq!(r.status, Some(404));
    assert_eq!(r.episode_id.as_deref(), Some("e-2"));
}

#[tokio::test]
async fn a_rule_routes_first_and_later_turns_differently() {
    let g = setup(
        "[[rules]]\nname = \"later-turns\"\nwhen = \"episode_turn > 1\"\nroute = \"later\"\n",
    )
    .await;
    let first = json!({"model": "r", "messages": [{"role": "user", "content": "a"}]});
    let resp = send(&g.gw, Format::Chat, &first, &[]).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
    let later = json!({"model": "r", "messages": [{"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]});
    let resp = send(&g.gw, Format::Chat, &later, &[]).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "b/m");
    assert_eq!(header(&resp, "x-modelmux-route"), "later");
    // The explain endpoint shows the variable.
    let resp = client()
        .post(format!("{}/v1/route/explain", g.gw.url()))
        .body(later.to_string())
        .send()
        .await
        .unwrap();
    let v = json_of(resp).await;
    assert!(v.to_string().contains("\"episode_turn\":2"), "{v}");
}

#[tokio::test]
async fn client_request_ids_are_checked_echoed_and_stored() {
    let g = setup("").await;
    for format in FORMATS {
        let id = format!("client-{format:?}.1:a_b");
        let resp = send(
            &g.gw,
            format,
            &format.body("r", false),
            &[(REQUEST_ID, &id)],
        )
        .await;
        assert_eq!(resp.status(), 200, "{format:?}");
        assert_eq!(header(&resp, REQUEST_ID), id);
        let gateway_id = header(&resp, GATEWAY_ID);
        assert!(gateway_id.starts_with("mmx-"), "{gateway_id}");
        let r = stored(&g, &gateway_id).await;
        assert_eq!(r.client_request_id.as_deref(), Some(id.as_str()));
        // The same id again: 409 in the client's format, recorded without the id.
        let resp = send(
            &g.gw,
            format,
            &format.body("r", false),
            &[(REQUEST_ID, &id)],
        )
        .await;
        assert_eq!(resp.status(), 409, "{format:?}");
        let dup_id = header(&resp, REQUEST_ID);
        assert!(dup_id.starts_with("mmx-"), "{dup_id}");
        let v = json_of(resp).await;
        if format == Format::Messages {
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["type"], "invalid_request_error");
        } else {
            assert_eq!(error_object(&v)["code"], "duplicate_request_id");
        }
        let r = stored(&g, &dup_id).await;
        assert_eq!(r.status, Some(409));
        assert_eq!(r.error.as_deref(), Some("duplicate_request_id"));
        assert_eq!(r.client_request_id, None);
        // Streams echo it too.
        let sid = format!("stream-{format:?}");
        let resp = send(
            &g.gw,
            format,
            &format.body("r", true),
            &[(REQUEST_ID, &sid)],
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, REQUEST_ID), sid);
        let _ = body_text(resp).await;
    }
    // Malformed ids: 400 naming the header.
    for bad in ["has space", "slash/no", &"x".repeat(129), ""] {
        let resp = send(
            &g.gw,
            Format::Chat,
            &Format::Chat.body("r", false),
            &[(REQUEST_ID, bad)],
        )
        .await;
        assert_eq!(resp.status(), 400, "{bad:?}");
        let v = json_of(resp).await;
        assert_eq!(error_object(&v)["param"], REQUEST_ID);
    }
    let resp = send(
        &g.gw,
        Format::Messages,
        &Format::Messages.body("r", false),
        &[(REQUEST_ID, "a b")],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v = json_of(resp).await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains(REQUEST_ID),
        "{v}"
    );
}

#[tokio::test]
async fn the_store_remembers_client_ids_across_restarts() {
    let dir = TempDir::new("episodes-restart");
    let a = sim(&[("m", Behaviour::default())]).await;
    let toml = format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n[store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\nflush_interval = \"20ms\"\n",
        providers(&[("a", &a)]),
        dir.path().display()
    );
    let gw = gateway(&toml).await;
    let resp = send(
        &gw,
        Format::Chat,
        &Format::Chat.body("r", false),
        &[(REQUEST_ID, "once")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    gw.shutdown().await.unwrap();
    // A new instance knows nothing in memory: the store's index refuses the id.
    let gw = gateway(&toml).await;
    let resp = send(
        &gw,
        Format::Chat,
        &Format::Chat.body("r", false),
        &[(REQUEST_ID, "once")],
    )
    .await;
    assert_eq!(resp.status(), 409);
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_let_exactly_one_through() {
    let g = setup("").await;
    let url = format!("{}/v1/chat/completions", g.gw.url());
    let mut calls = Vec::new();
    for _ in 0..12 {
        let url = url.clone();
        calls.push(tokio::spawn(async move {
            client()
                .post(url)
                .header("content-type", "application/json")
                .header(REQUEST_ID, "same-id")
                .body(Format::Chat.body("r", false).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for c in calls {
        statuses.push(c.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        11,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn client_ids_are_unique_per_tenant() {
    const MASTER: &str = "mk-episodes-0123456789";
    const ADMIN: &str = "adm-episodes-0123456789";
    let a = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[server]\nmaster_keys = [\"{MASTER}\"]\n[keys]\nadmin_key = \"{ADMIN}\"\n{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &a)])
    ))
    .await;
    let resp = client()
        .post(format!("{}/admin/keys", gw.url()))
        .bearer_auth(ADMIN)
        .body(json!({"name": "tenant-b"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let key = json_of(resp).await["key"].as_str().unwrap().to_owned();
    let ask = |bearer: String| {
        let url = format!("{}/v1/chat/completions", gw.url());
        async move {
            client()
                .post(url)
                .bearer_auth(bearer)
                .header(REQUEST_ID, "shared-id")
                .body(Format::Chat.body("r", false).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(ask(MASTER.to_owned()).await, 200);
    assert_eq!(
        ask(key.clone()).await,
        200,
        "another tenant may use the same id"
    );
    assert_eq!(ask(MASTER.to_owned()).await, 409);
    assert_eq!(ask(key).await, 409);
}

fn episode_record(id: &str, tenant: &str, client_id: Option<&str>) -> Record {
    let mut r = store_support::record(store_support::unique_id(id));
    r.time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_760_000_000_000);
    r.tenant = Some(tenant.into());
    r.episode_id = Some("ticket-9".into());
    r.episode_turn = Some(3);
    r.client_request_id = client_id.map(str::to_owned);
    r
}

/// What every store must do with the new fields: read back, answer the client id lookup
/// per tenant, and keep a client id once per tenant (a second record with it is skipped,
/// not an error that would spill the batch).
async fn store_keeps_episode_columns(store: Arc<dyn Store>) {
    let first = episode_record("ep", "key:a", Some("cid-1"));
    let other_tenant = episode_record("ep", "key:b", Some("cid-1"));
    let dup = episode_record("ep", "key:a", Some("cid-1"));
    let none = episode_record("ep", "key:a", None);
    let none2 = episode_record("ep", "key:a", None);
    store
        .write(&[
            first.clone(),
            other_tenant.clone(),
            dup.clone(),
            none.clone(),
            none2.clone(),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.get(&first.request_id).await.unwrap(),
        Some(first.clone())
    );
    assert!(store.get(&other_tenant.request_id).await.unwrap().is_some());
    // A duplicate client id that raced past the gateway's check (another instance) still
    // leaves its record: nothing that reached the gateway goes unrecorded.
    assert!(store.get(&dup.request_id).await.unwrap().is_some());
    assert!(store.get(&none.request_id).await.unwrap().is_some());
    assert!(store.get(&none2.request_id).await.unwrap().is_some());
    assert!(store.has_client_request_id("key:a", "cid-1").await.unwrap());
    assert!(store.has_client_request_id("key:b", "cid-1").await.unwrap());
    assert!(!store.has_client_request_id("key:c", "cid-1").await.unwrap());
    assert!(!store.has_client_request_id("key:a", "cid-2").await.unwrap());
    // The same record written again (a replayed batch) is stored once.
    store.write(std::slice::from_ref(&first)).await.unwrap();
    assert_eq!(
        store.get(&first.request_id).await.unwrap(),
        Some(first.clone())
    );
}

#[tokio::test]
async fn sqlite_stores_the_episode_columns() {
    let dir = TempDir::new("episodes-sqlite");
    let store = store_support::sqlite(&dir).await;
    store_keeps_episode_columns(store.clone()).await;
    let db = rusqlite::Connection::open(dir.path().join("records.sqlite")).unwrap();
    let (episode, turn, tenant): (String, i64, String) = db
        .query_row(
            "SELECT episode_id, episode_turn, tenant FROM records WHERE client_request_id = 'cid-1' AND tenant = 'key:a'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (episode.as_str(), turn, tenant.as_str()),
        ("ticket-9", 3, "key:a")
    );
}

#[tokio::test]
async fn memory_stores_the_episode_fields() {
    store_keeps_episode_columns(Arc::new(modelmux_core::records::MemoryStore::new())).await;
}

#[tokio::test]
async fn postgres_stores_the_episode_columns() {
    let Some(pg) = store_support::postgres("episodes::postgres_stores_the_episode_columns").await
    else {
        return;
    };
    store_keeps_episode_columns(pg.store.clone()).await;
    let (client, conn) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one(
            &format!(
                "SELECT episode_id, episode_turn, tenant FROM {} WHERE client_request_id = 'cid-1' AND tenant = 'key:a' LIMIT 1",
                pg.store.table()
            ),
            &[],
        )
        .await
        .unwrap();
    let (episode, turn, tenant): (String, i32, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (episode.as_str(), turn, tenant.as_str()),
        ("ticket-9", 3, "key:a")
    );
    pg.drop_schema().await;
}

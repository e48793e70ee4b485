//! Stored Responses kept by the gateway: only their owner reads, continues or deletes them
//! (anyone else gets the 404 of a missing id), their ids come from the CSPRNG, they live in
//! the record store (SQLite across a restart, PostgreSQL across instances, streamed turns
//! included) and are gone once their retention has passed.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;
mod store_support;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use modelmux_core::records::SqliteStore;
use modelmux_core::responses_store::{MemoryBackend, ResponseBackend, ResponseRow, new_id};
use modelmux_sim::{Behaviour, SimHandle};
use serde_json::{Value, json};
use store_support::TempDir;

const ADMIN: &str = "adm-secret-0123456789";
const MASTER: &str = "mk-master-0123456789";

async fn m_sim() -> SimHandle {
    sim(&[(
        "m",
        Behaviour {
            output_tokens: 5,
            ..Behaviour::default()
        },
    )])
    .await
}

fn route_toml(s: &SimHandle) -> String {
    format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\nnum_retries = 0\n",
        providers(&[("a", s)])
    )
}

async fn post_with(gw: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = client()
        .post(format!("{gw}/v1/responses"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap()
}

async fn call(method: reqwest::Method, url: String, key: Option<&str>) -> reqwest::Response {
    let mut req = client().request(method, url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap()
}

async fn get_response(gw: &str, id: &str, key: Option<&str>) -> reqwest::Response {
    call(reqwest::Method::GET, format!("{gw}/v1/responses/{id}"), key).await
}

async fn input_items(gw: &str, id: &str, key: Option<&str>) -> reqwest::Response {
    call(
        reqwest::Method::GET,
        format!("{gw}/v1/responses/{id}/input_items?order=asc"),
        key,
    )
    .await
}

async fn delete_response(gw: &str, id: &str, key: Option<&str>) -> reqwest::Response {
    call(
        reqwest::Method::DELETE,
        format!("{gw}/v1/responses/{id}"),
        key,
    )
    .await
}

async fn make_key(gw: &str, name: &str) -> String {
    let resp = client()
        .post(format!("{gw}/admin/keys"))
        .bearer_auth(ADMIN)
        .body(json!({"name": name}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    json_of(resp).await["key"].as_str().unwrap().to_owned()
}

/// Creates a stored response (JSON); its id.
async fn create(gw: &str, key: Option<&str>, body: Value) -> String {
    let resp = post_with(gw, key, &body).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let v = json_of(resp).await;
    v["id"].as_str().unwrap().to_owned()
}

/// Creates a stored response by streaming; its id (from `response.completed`).
async fn create_streamed(gw: &str, body: Value) -> String {
    let mut body = body;
    body["stream"] = json!(true);
    let resp = post_with(gw, None, &body).await;
    assert_eq!(resp.status(), 200);
    let text = body_text(resp).await;
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|e| e["type"] == "response.completed")
        .and_then(|e| e["response"]["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no response.completed in {text}"))
}

async fn item_count(gw: &str, id: &str) -> usize {
    let resp = input_items(gw, id, None).await;
    assert_eq!(resp.status(), 200);
    json_of(resp).await["data"].as_array().unwrap().len()
}

/// Polls `GET /v1/responses/{id}` until it answers `status` (a streamed turn is written in
/// the background), failing after a deadline.
async fn wait_for_status(gw: &str, id: &str, status: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = get_response(gw, id, None).await.status();
        if got == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} still answers {got}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn only_the_owner_reads_continues_and_deletes() {
    let s = m_sim().await;
    let gw = gateway(&format!(
        "[server]\nmaster_keys = [\"{MASTER}\"]\n[keys]\nadmin_key = \"{ADMIN}\"\n{}",
        route_toml(&s)
    ))
    .await;
    let url = gw.url();
    let a = make_key(&url, "a").await;
    let b = make_key(&url, "b").await;
    let id = create(
        &url,
        Some(&a),
        json!({"model": "r", "input": "ECHO: secret plan"}),
    )
    .await;

    for key in [Some(b.as_str()), Some(MASTER)] {
        assert_eq!(get_response(&url, &id, key).await.status(), 404);
        assert_eq!(input_items(&url, &id, key).await.status(), 404);
        let cont = post_with(
            &url,
            key,
            &json!({"model": "r", "previous_response_id": id, "input": "more"}),
        )
        .await;
        assert_eq!(cont.status(), 404, "{}", cont.text().await.unwrap());
        assert_eq!(delete_response(&url, &id, key).await.status(), 404);
    }
    let foreign = body_text(get_response(&url, &id, Some(&b)).await).await;
    for resp in [
        get_response(&url, &id, None).await,
        input_items(&url, &id, None).await,
        delete_response(&url, &id, None).await,
        post_with(
            &url,
            None,
            &json!({"model": "r", "previous_response_id": id, "input": "x"}),
        )
        .await,
    ] {
        assert_eq!(resp.status(), 401);
    }

    // The owner still has it all.
    let got = get_response(&url, &id, Some(&a)).await;
    assert_eq!(got.status(), 200);
    assert_eq!(json_of(got).await["id"], id.as_str());
    assert_eq!(input_items(&url, &id, Some(&a)).await.status(), 200);
    let next = create(
        &url,
        Some(&a),
        json!({"model": "r", "previous_response_id": id, "input": "ECHO: go on"}),
    )
    .await;
    assert_ne!(next, id);
    assert_eq!(delete_response(&url, &id, Some(&a)).await.status(), 200);
    let missing = get_response(&url, &id, Some(&a)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        body_text(missing).await,
        foreign,
        "another owner's response answers exactly like a missing one"
    );
    gw.shutdown().await.unwrap();
}

#[tokio::test]
async fn issued_ids_are_distinct_and_from_the_csprng() {
    let ids: HashSet<String> = (0..1000).map(|_| new_id().unwrap()).collect();
    assert_eq!(ids.len(), 1000);
    for id in &ids {
        let hex = id.strip_prefix("resp_").unwrap();
        assert_eq!(hex.len(), 32, "128 bits: {id}");
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
    // The gateway's own ids have that shape (fastrand's were 24 alphanumerics).
    let s = m_sim().await;
    let gw = gateway(&route_toml(&s)).await;
    let url = gw.url();
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let id = create(
            &url,
            None,
            json!({"model": "r", "input": "hi", "store": false}),
        )
        .await;
        let hex = id.strip_prefix("resp_").unwrap();
        assert!(
            hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(seen.insert(id));
    }
    assert_eq!(modelmux_core::auth::Caller::Open.tenant().as_str(), "open");
    assert_eq!(
        modelmux_core::auth::Caller::Master.tenant().as_str(),
        "master"
    );
    gw.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_instances_share_conversations_through_postgres() {
    let Some(pg) =
        store_support::postgres("two_instances_share_conversations_through_postgres").await
    else {
        return;
    };
    let s = m_sim().await;
    let toml = format!(
        "{}\n[store]\nkind = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\n",
        route_toml(&s),
        pg.url,
        pg.schema
    );
    let a = gateway(&toml).await;
    let b = gateway(&toml).await;
    let (ua, ub) = (a.url(), b.url());

    let first = create(&ua, None, json!({"model": "r", "input": "ECHO: one"})).await;
    // JSON turns are written before the answer: B continues at once.
    let second = create_streamed(
        &ub,
        json!({"model": "r", "previous_response_id": first, "input": "ECHO: two"}),
    )
    .await;
    // The streamed turn is written in the background: A sees it shortly.
    wait_for_status(&ua, &second, 200).await;
    let third = create(
        &ua,
        None,
        json!({"model": "r", "previous_response_id": second, "input": "ECHO: three"}),
    )
    .await;
    assert_eq!(item_count(&ub, &second).await, 3);
    assert_eq!(item_count(&ub, &third).await, 5, "the whole conversation");

    // A delete on one instance is seen by the other even though it has the entry cached.
    assert_eq!(get_response(&ua, &third, None).await.status(), 200);
    assert_eq!(delete_response(&ub, &third, None).await.status(), 200);
    assert_eq!(get_response(&ua, &third, None).await.status(), 404);

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    pg.drop_schema().await;
}

#[tokio::test]
async fn a_conversation_continues_after_a_restart_on_sqlite() {
    let dir = TempDir::new("responses-restart");
    let s = m_sim().await;
    let toml = format!(
        "{}\n[store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\n",
        route_toml(&s),
        dir.path().display()
    );
    let gw = gateway(&toml).await;
    let first = create(
        &gw.url(),
        None,
        json!({"model": "r", "input": "ECHO: before"}),
    )
    .await;
    let streamed = create_streamed(
        &gw.url(),
        json!({"model": "r", "previous_response_id": first, "input": "ECHO: streamed"}),
    )
    .await;
    wait_for_status(&gw.url(), &streamed, 200).await;
    gw.shutdown().await.unwrap();

    let gw = gateway(&toml).await;
    let url = gw.url();
    let got = get_response(&url, &first, None).await;
    assert_eq!(got.status(), 200);
    let next = create(
        &url,
        None,
        json!({"model": "r", "previous_response_id": streamed, "input": "ECHO: after"}),
    )
    .await;
    assert_eq!(item_count(&url, &next).await, 5);
    gw.shutdown().await.unwrap();
}

#[tokio::test]
async fn expired_responses_are_not_served() {
    let dir = TempDir::new("responses-expiry");
    let s = m_sim().await;
    let gw = gateway(&format!(
        "[server]\nresponses_retention = \"1ms\"\n{}\n[store]\nkind = \"sqlite\"\ndata_dir = \"{}\"\n",
        route_toml(&s),
        dir.path().display()
    ))
    .await;
    let url = gw.url();
    let id = create(
        &url,
        None,
        json!({"model": "r", "input": "ECHO: short-lived"}),
    )
    .await;
    wait_for_status(&url, &id, 404).await;
    assert_eq!(input_items(&url, &id, None).await.status(), 404);
    let cont = post_with(
        &url,
        None,
        &json!({"model": "r", "previous_response_id": id, "input": "x"}),
    )
    .await;
    assert_eq!(cont.status(), 404);
    gw.shutdown().await.unwrap();
}

fn row(id: &str, owner: &str, expires_ms: i64) -> ResponseRow {
    ResponseRow {
        id: id.to_owned(),
        owner: owner.to_owned(),
        created_ms: 1,
        expires_ms,
        response: json!({"id": id}).to_string(),
        input_items: "[]".to_owned(),
    }
}

/// Every backend filters by owner and expiry, keeps ownership on a clashing id, and purges.
async fn backend_contract(b: &dyn ResponseBackend) {
    b.put(&row("r1", "key:a", 1_000)).await.unwrap();
    b.put(&row("r2", "key:a", 5_000)).await.unwrap();
    assert_eq!(
        b.get("r1", "key:a", 500).await.unwrap(),
        Some(row("r1", "key:a", 1_000))
    );
    assert!(
        b.get("r1", "key:b", 500).await.unwrap().is_none(),
        "another owner"
    );
    assert!(
        b.get("r1", "key:a", 1_000).await.unwrap().is_none(),
        "expired"
    );
    assert!(b.exists("r1", "key:a", 500).await.unwrap());
    assert!(!b.exists("r1", "key:b", 500).await.unwrap());
    // A clashing id from another owner does not take the response over.
    b.put(&row("r2", "key:b", 9_000)).await.unwrap();
    assert!(b.get("r2", "key:b", 500).await.unwrap().is_none());
    assert!(!b.delete("r2", "key:b", 500).await.unwrap());
    assert_eq!(b.purge(2_000).await.unwrap(), 1, "r1 expired");
    assert!(b.get("r1", "key:a", 0).await.unwrap().is_none(), "purged");
    assert!(b.delete("r2", "key:a", 500).await.unwrap());
    assert!(!b.exists("r2", "key:a", 500).await.unwrap());
}

#[tokio::test]
async fn backends_filter_by_owner_and_expiry_and_purge() {
    backend_contract(&MemoryBackend::new()).await;
    let dir = TempDir::new("responses-backend");
    let sqlite = store_support::sqlite(&dir).await;
    backend_contract(sqlite.as_ref() as &SqliteStore).await;
    match store_support::postgres("backends_filter_by_owner_and_expiry_and_purge").await {
        Some(pg) => {
            backend_contract(pg.store.as_ref()).await;
            pg.drop_schema().await;
        }
        None => eprintln!("SKIPPED the PostgreSQL part: DATABASE_URL is not set"),
    }
}

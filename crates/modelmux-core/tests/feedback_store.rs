//! The feedback methods of every store (SQLite in a temp dir, PostgreSQL in a schema of its
//! own — skipped with a printed reason when DATABASE_URL is unset — and memory), run as one
//! suite so the three agree: idempotent upserts by (tenant, id) where an older write never
//! replaces a newer one, listings by request and by episode within the tenant, and orphans
//! (request-level rows whose request no record of the tenant has).

#![allow(
    clippy::disallowed_methods,
    reason = "store_support's PostgreSQL cleanup runs a connection of its own"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod store_support;

use std::sync::Arc;

use modelmux_core::records::{Feedback, MemoryStore, Store, Subject};
use store_support::{TempDir, record};

fn fb(
    tenant: &str,
    id: &str,
    request: Option<&str>,
    episode: Option<&str>,
    v: f64,
    t: i64,
) -> Feedback {
    Feedback {
        tenant: tenant.into(),
        id: id.into(),
        request_id: request.map(Into::into),
        episode_id: episode.map(Into::into),
        metric: "rating".into(),
        value_num: Some(v),
        value_text: Some("text".into()),
        source: "judge".into(),
        comment: Some("a comment".into()),
        tags: vec!["x".into(), "y".into()],
        time_ms: t,
    }
}

async fn suite(store: Arc<dyn Store>) {
    let r = |id: &str| Subject::Request(id.into());
    store
        .write_feedback(&[
            fb("open", "1", Some("req-1"), None, 1.0, 10),
            fb("open", "2", Some("req-1"), None, 2.0, 11),
            fb("open", "3", None, Some("ep-1"), 3.0, 12),
            fb("key:k1", "1", Some("req-1"), None, 9.0, 10),
            // The same id twice in one batch: the newer wins.
            fb("open", "4", Some("req-2"), None, 1.0, 10),
            fb("open", "4", Some("req-2"), None, 4.0, 20),
        ])
        .await
        .unwrap();
    let rows = store.feedback("open", &r("req-1")).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0],
        fb("open", "1", Some("req-1"), None, 1.0, 10),
        "round trip"
    );
    let theirs = store.feedback("key:k1", &r("req-1")).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].value_num, Some(9.0));
    let two = store.feedback("open", &r("req-2")).await.unwrap();
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].value_num, Some(4.0));
    let ep = store
        .feedback("open", &Subject::Episode("ep-1".into()))
        .await
        .unwrap();
    assert_eq!(ep.len(), 1);
    assert_eq!(ep[0].request_id, None);
    // An update: same id, newer time; then a stale replay of the old row changes nothing.
    store
        .write_feedback(&[fb("open", "1", Some("req-1"), None, 5.0, 30)])
        .await
        .unwrap();
    store
        .write_feedback(&[fb("open", "1", Some("req-1"), None, 1.0, 10)])
        .await
        .unwrap();
    let rows = store.feedback("open", &r("req-1")).await.unwrap();
    let one = rows.iter().find(|f| f.id == "1").unwrap();
    assert_eq!(one.value_num, Some(5.0));
    assert_eq!(rows.len(), 2);
    // Orphans: open has req-1 (twice), req-2 and episode ep-1 without records; k1 has req-1.
    assert_eq!(store.feedback_orphans("open").await.unwrap(), 4);
    assert_eq!(store.feedback_orphans("key:k1").await.unwrap(), 1);
    store.write(&[record("req-1")]).await.unwrap();
    assert_eq!(
        store.feedback_orphans("open").await.unwrap(),
        2,
        "req-2 and ep-1 left"
    );
    assert_eq!(
        store.feedback_orphans("key:k1").await.unwrap(),
        1,
        "a key-less record is not key k1's"
    );
    let mut keyed = record("req-2");
    keyed.key = Some("k1".into());
    keyed.tenant = Some("key:k1".into());
    store.write(&[keyed]).await.unwrap();
    assert_eq!(
        store.feedback_orphans("open").await.unwrap(),
        2,
        "k1's record is not open's"
    );
    // A record of the episode joins the episode's feedback.
    let mut in_episode = record("req-3");
    in_episode.episode_id = Some("ep-1".into());
    store.write(&[in_episode]).await.unwrap();
    assert_eq!(
        store.feedback_orphans("open").await.unwrap(),
        1,
        "req-2 left"
    );
    assert_eq!(store.feedback_orphans("nobody").await.unwrap(), 0);
    store.write_feedback(&[]).await.unwrap();
}

#[tokio::test]
async fn memory() {
    suite(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite() {
    let dir = TempDir::new("fb-suite");
    suite(store_support::sqlite(&dir).await).await;
}

#[tokio::test]
async fn postgres() {
    let Some(pg) = store_support::postgres("feedback_store::postgres").await else {
        return;
    };
    suite(pg.store.clone()).await;
    // Migrating again (a restart, a second instance) is a no-op with the table in place.
    pg.reopen().migrate().await.unwrap();
    pg.drop_schema().await;
}

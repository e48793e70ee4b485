//! Virtual keys authenticate by hash: the plain key is nowhere in the store, a revoked key
//! is refused, a rotated key's old value is refused and the new one works, allowed-route
//! globs are enforced, the file store is shared with another process's changes, and the
//! admin API (guarded by the admin key) creates, lists, revokes, rotates and reports spend.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "helpers of a test: a failed unwrap is the test failing"
)]

mod keys_support;

use std::sync::Arc;

use keys_support::*;
use modelmux_core::keys::file_store::FileStore;
use modelmux_core::keys::{KeyError, KeySpec, Keys, KeysConfig, ManualClock, admin_router};
use modelmux_core::secret::Secret;
use serde_json::{Value, json};

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mmx-keys-{name}-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("keys.json")
}

#[tokio::test]
async fn revoked_and_rotated_keys_are_refused() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    assert!(!keys.enabled(), "no key and no admin key: off");
    let (plain, info) = make_key(keys, spec("app")).await;
    assert!(keys.enabled());
    assert!(plain.starts_with("mmx-") && plain.len() == 44);
    assert_eq!(keys.authenticate("").await.unwrap_err(), KeyError::Missing);
    assert_eq!(
        keys.authenticate("sk-something").await.unwrap_err(),
        KeyError::Invalid
    );
    let mut wrong = plain.clone();
    wrong.pop();
    wrong.push('!');
    assert_eq!(
        keys.authenticate(&wrong).await.unwrap_err(),
        KeyError::Invalid
    );

    let rotated = keys.rotate(&info.id).await.unwrap();
    let new_plain = rotated.key.expose().to_owned();
    assert_ne!(new_plain, plain);
    assert_eq!(
        keys.authenticate(&plain).await.unwrap_err(),
        KeyError::Invalid,
        "old value"
    );
    let again = keys.authenticate(&new_plain).await.unwrap();
    assert_eq!(
        (again.id.as_str(), again.name.as_str()),
        (info.id.as_str(), "app")
    );

    keys.revoke(&info.id).await.unwrap();
    let e = keys.authenticate(&new_plain).await.unwrap_err();
    assert_eq!(e, KeyError::Revoked);
    assert_eq!(e.status().as_u16(), 401);
    assert!(
        keys.rotate(&info.id).await.is_err(),
        "a revoked key cannot be rotated back"
    );
}

#[tokio::test]
async fn keys_are_stored_hashed() {
    let path = temp_file("hashed");
    let config = KeysConfig {
        file: Some(path.clone()),
        ..KeysConfig::default()
    };
    let keys = Keys::new(&config, &modelmux_core::Tasks::new())
        .await
        .unwrap();
    let created = keys
        .create(KeySpec {
            team: Some("ml".into()),
            ..spec("hashed")
        })
        .await
        .unwrap();
    let rotated = keys.rotate(&created.stored.info.id).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for plain in [created.key.expose(), rotated.key.expose()] {
        assert!(!text.contains(plain), "plain key in the store");
        assert!(
            !text.contains(&plain[4..]),
            "random part of the key in the store"
        );
    }
    assert!(text.contains(&modelmux_core::keys::key::hash_key(rotated.key.expose())));
    assert!(
        !format!("{created:?} {rotated:?}").contains(&created.key.expose()[4..]),
        "Debug leaks"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Another process (the CLI) adds a key to the file; the gateway sees it after a reload.
    let other = FileStore::new(path.clone());
    let cli_key = modelmux_core::keys::manage::create(&other, spec("from-cli"))
        .await
        .unwrap();
    keys.reload().await.unwrap();
    assert_eq!(
        keys.authenticate(cli_key.key.expose()).await.unwrap().name,
        "from-cli"
    );
    assert_eq!(keys.list().await.unwrap().len(), 2);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn allowed_routes_are_globs() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let keys = &inst[0];
    let (_, open) = make_key(keys, spec("all")).await;
    let (_, narrow) = make_key(
        keys,
        KeySpec {
            allowed: vec!["chat".into(), "cheap-*".into(), "openai/gpt-4o-mini".into()],
            ..spec("narrow")
        },
    )
    .await;
    assert!(keys.allows(&open, "anything"));
    for ok in ["chat", "cheap-fast", "openai/gpt-4o-mini"] {
        assert!(keys.allows(&narrow, ok), "{ok}");
    }
    for no in ["chat-pro", "expensive", "openai/gpt-4o", "anthropic/claude"] {
        assert!(!keys.allows(&narrow, no), "{no}");
    }
}

#[tokio::test]
async fn bad_specs_are_refused_naming_the_field() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let e = inst[0]
        .create(KeySpec {
            name: " ".into(),
            rpm: Some(0),
            budgets: hard_total(-1.0),
            ..KeySpec::default()
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("name: must not be empty"), "{e}");
    assert!(e.contains("rpm: must be at least 1"), "{e}");
    assert!(e.contains("budgets.total.hard"), "{e}");
}

/// One admin call: (status, JSON body).
async fn call(method: &str, url: &str, auth: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut req = http.request(method.parse().unwrap(), url);
    if let Some(a) = auth {
        req = req.bearer_auth(a);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn serve_admin(keys: Arc<Keys>) -> String {
    let app: axum::Router = axum::Router::new().nest("/admin", admin_router(keys));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/admin")
}

#[tokio::test]
async fn admin_api_manages_keys_and_reports_spend() {
    let admin = "adm-0123456789abcdef";
    let config = KeysConfig {
        admin_key: Some(Secret::new(admin)),
        ..KeysConfig::default()
    };
    let clock = ManualClock::new(T0);
    let inst = instances(&config, &clock, 1).await;
    let keys = inst[0].clone();
    assert!(keys.enabled(), "an admin key turns keys on");
    let base = serve_admin(keys.clone()).await;
    let (status, _) = call("GET", &format!("{base}/keys"), None, None).await;
    assert_eq!(status, 401);
    let (status, body) = call(
        "GET",
        &format!("{base}/keys"),
        Some("adm-wrong-wrong-wrong"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");

    let spec = json!({
        "name": "svc", "team": "search", "allowed": ["chat"], "rpm": 100, "tpm": 50000,
        "budgets": {"daily": {"soft": 5.0, "hard": 10.0}, "total": {"hard": 100.0}}
    });
    let (status, created) = call("POST", &format!("{base}/keys"), Some(admin), Some(spec)).await;
    assert_eq!(status, 201);
    let plain = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["budgets"]["daily"]["hard"], 10.0);
    assert!(created.get("hash").is_none());
    let info = keys.authenticate(&plain).await.unwrap();
    assert_eq!(
        (info.rpm, info.tpm, info.team.as_deref()),
        (Some(100), Some(50_000), Some("search"))
    );

    let (status, body) = call(
        "POST",
        &format!("{base}/keys"),
        Some(admin),
        Some(json!({"name": "x", "bogus": 1})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (_, list) = call("GET", &format!("{base}/keys"), Some(admin), None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let listed = list["data"][0].to_string();
    assert!(
        !listed.contains(&plain[4..]) && !listed.contains("sha256"),
        "{listed}"
    );
    assert_eq!(list["data"][0]["hint"], format!("mmx-…{}", &plain[40..]));

    keys.admit(&info, 100, 0.25)
        .await
        .unwrap()
        .settle(100, 0.2)
        .await;
    let (_, spend) = call("GET", &format!("{base}/spend/keys"), Some(admin), None).await;
    assert_eq!(spend["data"][0]["spend"]["total"], 0.2);
    assert_eq!(spend["data"][0]["remaining"], 9.8);
    let (_, teams) = call("GET", &format!("{base}/spend/teams"), Some(admin), None).await;
    assert_eq!(teams["data"][0]["team"], "search");
    assert_eq!(teams["data"][0]["spend"]["daily"], 0.2);

    let (_, r) = call(
        "POST",
        &format!("{base}/keys/{id}/rotate"),
        Some(admin),
        None,
    )
    .await;
    let new_plain = r["key"].as_str().unwrap();
    assert!(keys.authenticate(&plain).await.is_err());
    assert!(keys.authenticate(new_plain).await.is_ok());

    let (status, _) = call(
        "POST",
        &format!("{base}/keys/{id}/revoke"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        keys.authenticate(new_plain).await.unwrap_err(),
        KeyError::Revoked
    );
    let (status, _) = call(
        "POST",
        &format!("{base}/keys/key_nope/revoke"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (_, limits) = call("GET", &format!("{base}/limits"), Some(admin), None).await;
    assert_eq!(limits["local_fallbacks"], 0);
}

#[tokio::test]
async fn admin_api_is_off_without_an_admin_key() {
    let clock = ManualClock::new(T0);
    let inst = instances(&local_config(), &clock, 1).await;
    let base = serve_admin(inst[0].clone()).await;
    let (status, _) = call("GET", &format!("{base}/keys"), Some("anything"), None).await;
    assert_eq!(status, 404);
}

#[test]
fn the_keys_section_of_a_gateway_config() {
    let toml = r#"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[[routes]]
name = "chat"
targets = ["local/m"]

[keys]
admin_key = "${MODELMUX_ADMIN_KEY}"
redis_url = "${REDIS_URL:-redis://127.0.0.1:6379}"
file = "keys.json"
fail_open = false
"#;
    let env = |k: &str| (k == "MODELMUX_ADMIN_KEY").then(|| "adm-0123456789abcdef".to_owned());
    let c =
        modelmux_core::Config::from_toml(toml, modelmux_core::config::ConfigSource::Inline, &env)
            .unwrap();
    assert_eq!(
        c.keys.admin_key.as_ref().map(Secret::expose),
        Some("adm-0123456789abcdef")
    );
    assert_eq!(
        c.keys.redis_url.as_ref().map(Secret::expose),
        Some("redis://127.0.0.1:6379")
    );
    assert!(!c.keys.fail_open);
    let e = modelmux_core::Config::from_toml(
        &toml.replace("fail_open = false", "fail_opne = false"),
        modelmux_core::config::ConfigSource::Inline,
        &env,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("keys") && e.contains("fail_opne"), "{e}");
}

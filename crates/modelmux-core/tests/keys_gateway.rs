//! Virtual keys through the gateway: a key created with the admin API authenticates
//! requests, is held to its allowed routes, and is refused in the client's own format once
//! its hard budget is spent (reserved before dispatch, settled with the actual cost).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_sim::Behaviour;
use serde_json::{Value, json};

async fn setup() -> (modelmux_core::RunningGateway, String) {
    let s = sim(&[(
        "m",
        Behaviour {
            output_tokens: 50,
            ..Behaviour::default()
        },
    )])
    .await;
    let gw = gateway(&format!(
        "[keys]\nadmin_key = \"adm-secret-0123456789\"\n{}\n[providers.a.models.m]\ninput_price = 100.0\noutput_price = 100.0\n\
         [[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n[[routes]]\nname = \"other\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let resp = client()
        .post(format!("{}/admin/keys", gw.url()))
        .bearer_auth("adm-secret-0123456789")
        .body(json!({"name": "team-key", "team": "support", "allowed": ["r"], "budgets": {"total": {"hard": 0.05}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let v: Value = json_of(resp).await;
    (gw, v["key"].as_str().unwrap().to_owned())
}

async fn chat_with(
    gw: &modelmux_core::RunningGateway,
    key: &str,
    model: &str,
) -> reqwest::Response {
    let mut body = chat(model);
    body["max_tokens"] = json!(60);
    client()
        .post(format!("{}/v1/chat/completions", gw.url()))
        .bearer_auth(key)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_authenticate_limit_routes_and_hold_budgets() {
    let (gw, key) = setup().await;
    assert!(key.starts_with("mmx-"));
    assert_eq!(
        chat_with(&gw, "mmx-not-a-real-key", "r").await.status(),
        401
    );
    assert_eq!(
        chat_with(&gw, &key, "other").await.status(),
        404,
        "the key may only use route r"
    );

    // Each answer costs about (prompt + 50 output tokens) × $100/M ≈ $0.006; the estimate
    // (prompt + the 60 max_tokens asked) reserves a little more. The $0.05 hard cap admits some requests, then refuses.
    let mut ok = 0;
    let mut refused = None;
    for _ in 0..40 {
        let resp = chat_with(&gw, &key, "r").await;
        if resp.status() == 200 {
            ok += 1;
        } else {
            refused = Some(resp);
            break;
        }
    }
    assert!(ok >= 3, "a few requests fit under the cap: {ok}");
    let resp = refused.expect("the hard cap must refuse eventually");
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-should-retry"), "false");
    let v = json_of(resp).await;
    assert_eq!(error_object(&v)["code"], "insufficient_quota", "{v}");

    // Spend is visible to the admin, per key and per team, and never above the cap by more
    // than one request's estimate.
    let spend = json_of(
        client()
            .get(format!("{}/admin/spend/teams", gw.url()))
            .bearer_auth("adm-secret-0123456789")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let text = spend.to_string();
    assert!(text.contains("support"), "{spend}");

    // An Anthropic client gets the refusal in its own shape.
    let resp = client()
        .post(format!("{}/v1/messages", gw.url()))
        .header("x-api-key", &key)
        .body(json!({"model": "r", "max_tokens": 400, "messages": [{"role": "user", "content": "hi"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let v = json_of(resp).await;
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "billing_error", "{v}");
}

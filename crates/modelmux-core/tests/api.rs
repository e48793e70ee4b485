//! The client-facing API: bad input gets its status and the OpenAI error shape, unknown
//! fields pass through both ways, targets can be addressed directly, master keys are
//! enforced, `/v1/models` lists routes and targets, Azure URLs and headers are right, a
//! gateway without providers says what to do, and shutdown drains an in-flight stream.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]

mod common;

use common::*;
use modelmux_sim::{Behaviour, SimConfig};
use serde_json::{Value, json};

async fn one_route() -> (modelmux_core::RunningGateway, modelmux_sim::SimHandle) {
    let s = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[server]\nmax_body_bytes = 4096\n{}\n[providers.a.models.m]\ncontext_window = 1000\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    (gw, s)
}

#[tokio::test]
async fn bad_input_gets_its_status_and_shape() {
    let (gw, s) = one_route().await;
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("{not json", 400, None),
        ("[]", 400, None),
        (
            r#"{"messages":[{"role":"user","content":"x"}]}"#,
            400,
            Some("model"),
        ),
        (r#"{"model":"r","messages":[]}"#, 400, Some("messages")),
        (
            r#"{"model":"r","messages":[{"role":"wizard","content":"x"}]}"#,
            400,
            Some("messages[0].role"),
        ),
        (
            r#"{"model":"r","stream":"yes","messages":[{"role":"user","content":"x"}]}"#,
            400,
            Some("stream"),
        ),
        (
            r#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#,
            404,
            Some("model"),
        ),
        (
            r#"{"model":"ghost/m","messages":[{"role":"user","content":"x"}]}"#,
            404,
            Some("model"),
        ),
    ];
    for (body, status, param) in cases {
        let resp = post_raw(&gw, (*body).to_owned()).await;
        assert_eq!(resp.status(), *status, "{body}");
        assert!(!header(&resp, "x-modelmux-request-id").is_empty());
        let v = json_of(resp).await;
        let e = error_object(&v);
        assert_eq!(e["param"].as_str(), *param, "{body}: {v}");
    }
    let v = json_of(
        post_raw(
            &gw,
            r#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#.into(),
        )
        .await,
    )
    .await;
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Available routes: r"),
        "{v}"
    );

    // Over the body limit: declared, and streamed without a length.
    let big = json!({"model": "r", "messages": [{"role": "user", "content": "x".repeat(8000)}]})
        .to_string();
    let resp = post_raw(&gw, big.clone()).await;
    assert_eq!(resp.status(), 413);
    error_object(&json_of(resp).await);
    let chunked = reqwest::Body::wrap_stream(futures_util::stream::iter(
        big.into_bytes()
            .chunks(1000)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    ));
    let resp = client()
        .post(format!("{}/v1/chat/completions", gw.url()))
        .body(chunked)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // Wrong method, unknown path.
    let resp = client()
        .get(format!("{}/v1/chat/completions", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    error_object(&json_of(resp).await);
    let resp = client()
        .post(format!("{}/v1/nothing", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    error_object(&json_of(resp).await);
    assert_eq!(s.total_requests(), 0, "no bad request reached a provider");
}

#[tokio::test]
async fn unknown_fields_pass_through_both_ways() {
    let (gw, s) = one_route().await;
    let body = json!({
        "model": "r",
        "messages": [{"role": "user", "content": "hi", "x_msg_extra": 1}],
        "x_custom": {"nested": [1, "two", {"three": null}]},
        "temperature": 0.25,
        "seed": 7
    });
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    let v = json_of(resp).await;
    assert_eq!(
        v["sim_extra"],
        json!({"echo": true}),
        "unknown response field lost: {v}"
    );
    assert_eq!(v["object"], "chat.completion");
    let sent: Value = serde_json::from_slice(&s.last_request("m").unwrap().body).unwrap();
    assert_eq!(
        sent["model"], "m",
        "the route name is replaced by the target's model"
    );
    assert_eq!(sent["x_custom"], body["x_custom"]);
    assert_eq!(sent["messages"], body["messages"]);
    assert_eq!(sent["temperature"], 0.25);
    assert_eq!(sent["seed"], 7);
}

#[tokio::test]
async fn targets_can_be_addressed_directly() {
    let (gw, s) = one_route().await;
    let resp = post(&gw, &chat("a/m")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-route"), "a/m");
    assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
    // A bare model name that one provider declares resolves to it.
    let resp = post(&gw, &chat("m")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "a/m");
    assert_eq!(s.requests("m"), 2);
}

#[tokio::test]
async fn master_keys_are_enforced() {
    let s = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[server]\nmaster_keys = [\"mk-right\"]\n{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let url = format!("{}/v1/chat/completions", gw.url());
    let send = |key: Option<&'static str>| {
        let mut req = client()
            .post(&url)
            .header("content-type", "application/json")
            .body(chat("r").to_string());
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        req.send()
    };
    for key in [None, Some("mk-wrong")] {
        let resp = send(key).await.unwrap();
        assert_eq!(resp.status(), 401);
        let v = json_of(resp).await;
        assert_eq!(error_object(&v)["code"], "invalid_api_key");
        assert!(!v.to_string().contains("mk-right"), "the key leaked: {v}");
    }
    assert_eq!(send(Some("mk-right")).await.unwrap().status(), 200);
    let resp = client()
        .get(format!("{}/v1/models", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Health endpoints stay open for probes.
    assert_eq!(
        client()
            .get(format!("{}/healthz", gw.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(s.requests("m"), 1);
}

#[tokio::test]
async fn models_lists_routes_and_targets() {
    let (gw, _s) = one_route().await;
    let v = json_of(
        client()
            .get(format!("{}/v1/models", gw.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r", "a/m"]);
    assert_eq!(v["data"][0]["modelmux"]["targets"], json!(["a/m"]));
    assert_eq!(v["data"][1]["modelmux"]["context_window"], 1000);
    let ready = json_of(
        client()
            .get(format!("{}/readyz", gw.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ready["ready"], true);
}

#[tokio::test]
async fn azure_uses_deployment_urls_and_the_api_key_header() {
    let s = modelmux_sim::bind(SimConfig {
        api_key: Some("az-key".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let base = s.base_url().trim_end_matches("/v1").to_owned();
    let gw = gateway(&format!(
        "[providers.az]\nkind = \"azure\"\nbase_url = \"{base}\"\napi_key = \"az-key\"\napi_version = \"2024-10-21\"\n[[routes]]\nname = \"r\"\ntargets = [\"az/my-gpt4o\"]\n"
    ))
    .await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let req = s.last_request("my-gpt4o").unwrap();
    assert_eq!(
        req.path_and_query,
        "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(req.headers["api-key"], "az-key");
    assert!(req.headers.get("authorization").is_none());
}

#[tokio::test]
async fn provider_keys_go_upstream_and_never_back() {
    let s = modelmux_sim::bind(SimConfig {
        api_key: Some("sk-upstream-secret".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let gw = gateway(&format!(
        "[providers.a]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-upstream-secret\"\n[providers.b]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-wrong-secret\"\n[[routes]]\nname = \"good\"\ntargets = [\"a/m\"]\n[[routes]]\nname = \"bad\"\ntargets = [\"b/m\"]\n",
        s.base_url(),
        s.base_url()
    ))
    .await;
    let resp = client()
        .post(format!("{}/v1/chat/completions", gw.url()))
        .bearer_auth("client-key-not-forwarded")
        .body(chat("good").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let req = s.last_request("m").unwrap();
    assert_eq!(req.headers["authorization"], "Bearer sk-upstream-secret");
    let resp = post(&gw, &chat("bad")).await;
    assert_eq!(resp.status(), 502);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn without_providers_the_answer_says_what_to_do() {
    let mut config = modelmux_core::Config::embedded(&|_| None);
    config.store.kind = modelmux_core::records::StoreKind::Memory;
    assert!(config.providers.is_empty());
    assert!(
        config
            .disabled
            .iter()
            .any(|(p, why)| p.as_str() == "openai" && why.contains("OPENAI_API_KEY"))
    );
    let gw = modelmux_core::spawn(config).await.unwrap();
    let resp = post(&gw, &chat("default")).await;
    assert_eq!(resp.status(), 503);
    let v = json_of(resp).await;
    let msg = error_object(&v)["message"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("OPENAI_API_KEY") && msg.contains("modelmux demo"),
        "{msg}"
    );
    assert_eq!(
        client()
            .get(format!("{}/healthz", gw.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_embedded_default_enables_providers_with_keys() {
    let env = |k: &str| match k {
        "OPENAI_API_KEY" => Some("sk-test".to_owned()),
        "GROQ_API_KEY" => Some("gsk-test".to_owned()),
        _ => None,
    };
    let config = modelmux_core::Config::embedded(&env);
    let ids: Vec<&str> = config.providers.keys().map(|p| p.as_str()).collect();
    assert_eq!(ids, ["groq", "openai"]);
    let route = config.route("default").unwrap();
    let chain: Vec<String> = route.candidates.iter().map(ToString::to_string).collect();
    assert_eq!(
        chain,
        ["openai/gpt-4o-mini", "groq/llama-3.3-70b-versatile"]
    );
    assert!(
        format!("{config:?}").contains("Secret(***)") && !format!("{config:?}").contains("sk-test")
    );
}

#[tokio::test]
async fn shutdown_drains_an_in_flight_stream() {
    let s = sim(&[(
        "m",
        Behaviour {
            output_tokens: 20,
            tokens_per_second: 100.0,
            ..Behaviour::default()
        },
    )])
    .await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let url = gw.url();
    let mut resp = post(&gw, &chat_stream("r", false)).await;
    assert_eq!(resp.status(), 200);
    // The first chunk has arrived: the stream is mid-body when shutdown begins.
    let first = resp.chunk().await.unwrap().unwrap();
    let reader = tokio::spawn(async move {
        let rest = resp.text().await.unwrap();
        format!("{}{rest}", String::from_utf8_lossy(&first))
    });
    let shut = tokio::spawn(gw.shutdown());
    let text = reader.await.unwrap();
    assert!(
        text.trim_end().ends_with("data: [DONE]"),
        "cut by shutdown: {text}"
    );
    shut.await.unwrap().unwrap();
    // And the listener is closed afterwards.
    assert!(client().get(format!("{url}/healthz")).send().await.is_err());
}

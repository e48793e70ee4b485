//! Steering and inspecting the simulator: API keys, the Azure deployment path, counters and
//! the last request, `x-sim-*` header overrides, `/v1/models`, `/_sim/*`, rate-limit headers,
//! error shapes for bad requests, TOML config and shutdown.

mod common;

use std::time::Duration;

use common::*;
use modelmux_sim::{Behaviour, Fault, SimConfig};
use serde_json::{Value, json};
use tokio::time::Instant;

#[tokio::test]
async fn api_key_is_enforced_with_bearer_or_api_key() {
    let sim = sim(SimConfig {
        api_key: Some("sk-test".into()),
        ..SimConfig::default()
    })
    .await;
    let resp = post(&sim, &body("m", false)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        json_of(resp).await["error"],
        json!({"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"})
    );
    assert_eq!(
        post(&sim, &body("m", false))
            .bearer_auth("sk-wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(&sim, &body("m", false))
            .bearer_auth("sk-test")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(&sim, &body("m", false))
            .header("api-key", "sk-test")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let models = format!("{}/models", sim.base_url());
    assert_eq!(client().get(&models).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn azure_deployment_path_needs_api_version() {
    let sim = sim(SimConfig {
        api_key: Some("az".into()),
        ..SimConfig::default()
    })
    .await;
    let url = format!(
        "http://{}/openai/deployments/my-dep/chat/completions",
        sim.addr()
    );
    let send = |url: String| {
        client()
            .post(url)
            .header("api-key", "az")
            .body(body("ignored", false).to_string())
            .send()
    };
    let resp = send(format!("{url}?api-version=2024-10-21")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["model"], "my-dep");
    let resp = send(url.clone()).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        json_of(resp).await["error"]["type"],
        "invalid_request_error"
    );
    assert_eq!(sim.requests("my-dep"), 2);
    assert_eq!(sim.requests("ignored"), 0);
    assert_eq!(
        sim.last_request("my-dep").unwrap().path_and_query,
        "/openai/deployments/my-dep/chat/completions"
    );
}

#[tokio::test]
async fn counters_and_last_request() {
    let sim = sim(SimConfig::default()).await;
    let first = body("a", false);
    post(&sim, &first)
        .header("x-test", "1")
        .send()
        .await
        .unwrap();
    let second = json!({"model": "a", "messages": [{"role": "user", "content": "again"}]});
    let url = format!("http://{}/v1/chat/completions?trace=1", sim.addr());
    client()
        .post(url)
        .header("x-test", "2")
        .body(second.to_string())
        .send()
        .await
        .unwrap();
    post(&sim, &body("b", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        (
            sim.requests("a"),
            sim.requests("b"),
            sim.requests("c"),
            sim.total_requests()
        ),
        (2, 1, 0, 3)
    );
    let last = sim.last_request("a").unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.path_and_query, "/v1/chat/completions?trace=1");
    assert_eq!(last.headers["x-test"], "2");
    assert_eq!(serde_json::from_slice::<Value>(&last.body).unwrap(), second);
    assert!(sim.last_request("c").is_none());
}

#[tokio::test(start_paused = true)]
async fn header_overrides_apply_per_request() {
    let sim = sim(SimConfig::default()).await;
    let started = Instant::now();
    let resp = post(&sim, &body("m", false))
        .header("x-sim-output-tokens", "3")
        .header("x-sim-latency-ms", "200")
        .header("x-sim-tps", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(resp).await["choices"][0]["message"]["content"],
        "lorem ipsum dolor"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let resp = post(&sim, &body("m", true))
        .header("x-sim-ttft-ms", "300")
        .send()
        .await
        .unwrap();
    resp.text().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    for (name, value) in [
        ("x-sim-fault", "bogus"),
        ("x-sim-tps", "fast"),
        ("x-sim-latency-ms", "-1"),
    ] {
        let resp = post(&sim, &body("m", false))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{name}: {value}");
    }
    let resp = post(&sim, &body("m", false))
        .header("x-sim-fault", "429:retry-after=3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            resp.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "3")
    );
}

#[tokio::test]
async fn sim_endpoints_stats_and_behaviour() {
    let sim = sim(SimConfig::default()).await;
    let url = |p: &str| format!("http://{}{p}", sim.addr());
    let set = json!({"model": "py", "behaviour": {"reply": "from python", "faults": ["429"]}});
    let resp = client()
        .post(url("/_sim/behaviour"))
        .body(set.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        post(&sim, &body("py", false))
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    let v = json_of(post(&sim, &body("py", false)).send().await.unwrap()).await;
    assert_eq!(v["choices"][0]["message"]["content"], "from python");
    let bad = client()
        .post(url("/_sim/behaviour"))
        .body(r#"{"model":"x","behaviour":{"nope":1}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let stats = json_of(client().get(url("/_sim/stats")).send().await.unwrap()).await;
    assert_eq!(
        stats,
        json!({"total": 2, "models": {"py": {"requests": 2}}})
    );
}

#[tokio::test]
async fn models_list_and_error_shapes() {
    let config: SimConfig = toml::from_str(
        r#"
        [default]
        output_tokens = 2
        [models.fast]
        latency_ms = 0
        faults = ["503:retry-after-ms=10"]
        [models.slow]
        rate_limit_headers = true
        "#,
    )
    .unwrap();
    assert_eq!(
        config.models["fast"].faults,
        vec![Fault::Status {
            code: 503,
            retry_after: Some(modelmux_sim::RetryAfter::Millis(10))
        }]
    );
    assert!(toml::from_str::<SimConfig>("apikey = 'x'").is_err());
    let sim = sim(config).await;
    sim.set_behaviour("added", Behaviour::default());
    let v = json_of(post(&sim, &body("unlisted", false)).send().await.unwrap()).await;
    assert_eq!(
        v["usage"]["completion_tokens"], 2,
        "unlisted models use [default]"
    );

    let v = json_of(
        client()
            .get(format!("{}/models", sim.base_url()))
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
    assert_eq!(ids, ["added", "fast", "slow"]);
    assert_eq!(v["data"][0]["owned_by"], "modelmux-sim");

    let r1 = post(&sim, &body("slow", false)).send().await.unwrap();
    let r2 = post(&sim, &body("slow", false)).send().await.unwrap();
    assert_eq!(r1.headers()["x-ratelimit-remaining-requests"], "999");
    assert_eq!(r2.headers()["x-ratelimit-remaining-requests"], "998");
    assert_eq!(r2.headers()["x-ratelimit-limit-requests"], "1000");
    assert!(r2.headers().contains_key("x-ratelimit-remaining-tokens"));
    assert_eq!(
        json_of(r2).await["usage"]["completion_tokens"],
        12,
        "listed models use their own behaviour"
    );

    for (body, status) in [
        ("{not json", 400),
        (r#"{"model":"m"}"#, 400),
        (r#"{"messages":[]}"#, 400),
    ] {
        let resp = client()
            .post(format!("{}/chat/completions", sim.base_url()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{body}");
        let v = json_of(resp).await;
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"].get("code").is_some() && v["error"].get("param").is_some());
    }
    let resp = client()
        .get(format!("http://{}/v1/nothing", sim.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(json_of(resp).await["error"]["message"].is_string());
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let sim = sim(SimConfig::default()).await;
    assert_eq!(
        post(&sim, &body("m", false)).send().await.unwrap().status(),
        200
    );
    sim.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(post(&sim, &body("m", false)).send().await.is_err());
}

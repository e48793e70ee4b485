//! The routing engine over loopback HTTP to simulated providers: each strategy under scripted
//! latencies and failures, the capability filter, health (circuit breaker, Retry-After
//! cooldown), policy rules and header overrides, explain, and the support-assistant scenario
//! of `examples/support.toml` end to end.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};

async fn explain(gw: &modelmux_core::RunningGateway, body: &Value) -> Value {
    let resp = client()
        .post(format!("{}/v1/route/explain", gw.url()))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    json_of(resp).await
}

fn kept(decision: &Value) -> Vec<String> {
    decision["decision"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kept"] == true)
        .map(|c| c["target"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn cheapest_orders_by_estimated_cost_and_explain_calls_no_provider() {
    let s = sim(&[
        ("pricey", Behaviour::default()),
        ("cheap", Behaviour::default()),
    ])
    .await;
    let gw = gateway(&format!(
        "{}\n[providers.a.models.pricey]\ninput_price = 5.0\noutput_price = 15.0\n[providers.a.models.cheap]\ninput_price = 0.1\noutput_price = 0.4\n\
         [[routes]]\nname = \"r\"\ntargets = [\"a/pricey\", \"a/cheap\"]\nstrategy = \"cheapest\"\n",
        providers(&[("a", &s)])
    ))
    .await;
    let d = explain(&gw, &chat("r")).await;
    assert_eq!(kept(&d), ["a/cheap", "a/pricey"]);
    let cheap_cost = d["decision"]["candidates"][0]["est_cost"].as_f64().unwrap();
    let pricey_cost = d["decision"]["candidates"][1]["est_cost"].as_f64().unwrap();
    assert!(cheap_cost < pricey_cost / 10.0, "{d}");
    assert_eq!(d["decision"]["strategy"], "cheapest");
    assert_eq!(s.total_requests(), 0, "explain never calls a provider");
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "a/cheap");
    assert!(
        header(&resp, "x-modelmux-decision").contains("strategy=cheapest;order=a/cheap,a/pricey"),
        "{}",
        header(&resp, "x-modelmux-decision")
    );
}

#[tokio::test]
async fn weighted_splits_traffic_by_weight() {
    let s = sim(&[("x", Behaviour::default()), ("y", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/x\", \"a/y\"]\nstrategy = \"weighted\"\nweights = {{ \"a/x\" = 3, \"a/y\" = 1 }}\n",
        providers(&[("a", &s)])
    ))
    .await;
    for _ in 0..200 {
        assert_eq!(post(&gw, &chat("r")).await.status(), 200);
    }
    let (x, y) = (s.requests("x") as f64, s.requests("y") as f64);
    let share = x / (x + y);
    // 3:1 → 75 %; with 200 draws the standard error is about 3 %: ±10 points is > 3σ.
    assert!((0.65..=0.85).contains(&share), "x={x} y={y}");
}

#[tokio::test(start_paused = true)]
async fn fastest_prefers_the_observed_faster_target_and_keeps_exploring() {
    let slow = Behaviour {
        latency_ms: 400,
        ..Behaviour::default()
    };
    let fast = Behaviour {
        latency_ms: 20,
        ..Behaviour::default()
    };
    let s = sim(&[("slow", slow), ("fast", fast)]).await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/slow\", \"a/fast\"]\nstrategy = \"fastest\"\n",
        providers(&[("a", &s)])
    ))
    .await;
    // 300 requests: 5 % exploration tries the slow target about 15 times; fewer than 2 has
    // a chance below 1e-5 (100 requests left it at about 4 %: a flaky test).
    for _ in 0..300 {
        assert_eq!(post(&gw, &chat("r")).await.status(), 200);
    }
    let (slow_n, fast_n) = (s.requests("slow"), s.requests("fast"));
    assert!(fast_n > 240, "fast={fast_n} slow={slow_n}");
    assert!(
        slow_n >= 2,
        "exploration still tries the slow target now and then: slow={slow_n}"
    );
    // The slow one recovers: exploration notices and traffic moves to it.
    s.set_behaviour(
        "slow",
        Behaviour {
            latency_ms: 1,
            ..Behaviour::default()
        },
    );
    s.set_behaviour(
        "fast",
        Behaviour {
            latency_ms: 300,
            ..Behaviour::default()
        },
    );
    let before = s.requests("slow");
    for _ in 0..200 {
        post(&gw, &chat("r")).await;
    }
    assert!(
        s.requests("slow") - before > 50,
        "recovered target gets traffic again: {}",
        s.requests("slow") - before
    );
}

#[tokio::test(start_paused = true)]
async fn least_busy_avoids_a_target_with_requests_in_flight() {
    let s = sim(&[
        (
            "busy",
            Behaviour {
                latency_ms: 60_000,
                ..Behaviour::default()
            },
        ),
        ("idle", Behaviour::default()),
    ])
    .await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"hold\"\ntargets = [\"a/busy\"]\n[[routes]]\nname = \"r\"\ntargets = [\"a/busy\", \"a/idle\"]\nstrategy = \"least-busy\"\n",
        providers(&[("a", &s)])
    ))
    .await;
    // Five slow requests keep the busy target occupied.
    let url = gw.url();
    let mut held = Vec::new();
    for _ in 0..5 {
        let url = url.clone();
        held.push(tokio::spawn(async move {
            client()
                .post(format!("{url}/v1/chat/completions"))
                .body(chat("hold").to_string())
                .send()
                .await
        }));
    }
    eventually(Duration::from_secs(10), "5 requests held", || async {
        s.requests("busy") >= 5
    })
    .await;
    for _ in 0..20 {
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(header(&resp, "x-modelmux-target"), "a/idle");
    }
    for h in held {
        h.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_moves_traffic_and_recovers_through_a_probe() {
    let s = sim(&[
        (
            "flaky",
            Behaviour {
                fault_rate: 1.0,
                ..Behaviour::default()
            },
        ),
        ("ok", Behaviour::default()),
    ])
    .await;
    let gw = gateway(&format!(
        "{}\n[health]\nmin_calls = 4\nwindow = 10\nfailure_rate = 0.5\nopen_for = \"30s\"\n[[routes]]\nname = \"r\"\ntargets = [\"a/flaky\", \"a/ok\"]\nnum_retries = 0\n",
        providers(&[("a", &s)])
    ))
    .await;
    for _ in 0..4 {
        assert_eq!(post(&gw, &chat("r")).await.status(), 200);
    }
    assert_eq!(s.requests("flaky"), 4);
    for _ in 0..10 {
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(
            header(&resp, "x-modelmux-attempts"),
            "1",
            "the open target goes last, so the first try succeeds"
        );
        assert!(header(&resp, "x-modelmux-decision").contains("order=a/ok,a/flaky"));
    }
    assert_eq!(s.requests("flaky"), 4, "no calls while the circuit is open");
    let h = json_of(
        client()
            .get(format!("{}/v1/health/targets", gw.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let flaky = h["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "a/flaky")
        .unwrap()
        .clone();
    assert_eq!(flaky["state"], "open", "{h}");
    // After open_for the target is probed again; healthy now, it closes.
    s.set_behaviour("flaky", Behaviour::default());
    tokio::time::advance(Duration::from_secs(31)).await;
    let resp = post(&gw, &chat("r")).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "a/flaky");
    let h = json_of(
        client()
            .get(format!("{}/v1/health/targets", gw.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        h["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["target"] == "a/flaky" && t["state"] == "closed"),
        "{h}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_cooldown_skips_the_target_until_it_passes() {
    let s = sim(&[
        ("limited", faulty(&["429:retry-after=20"])),
        ("ok", Behaviour::default()),
    ])
    .await;
    let gw = gateway(&format!(
        "{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/limited\", \"a/ok\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    assert_eq!(
        header(&post(&gw, &chat("r")).await, "x-modelmux-target"),
        "a/ok"
    );
    for _ in 0..5 {
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(header(&resp, "x-modelmux-attempts"), "1");
    }
    assert_eq!(s.requests("limited"), 1, "cooling down: not called again");
    tokio::time::advance(Duration::from_secs(21)).await;
    assert_eq!(
        header(&post(&gw, &chat("r")).await, "x-modelmux-target"),
        "a/limited"
    );
}

#[tokio::test]
async fn the_capability_filter_drops_what_cannot_serve_with_reasons() {
    let s = sim(&[
        ("text-only", Behaviour::default()),
        ("small", Behaviour::default()),
        ("full", Behaviour::default()),
    ])
    .await;
    let gw = gateway(&format!(
        "{}\n[providers.a.models.text-only]\ncapabilities = [\"streaming\"]\n[providers.a.models.small]\ncontext_window = 100\ncapabilities = [\"tools\", \"vision\", \"streaming\"]\n\
         [providers.a.models.full]\ncontext_window = 100000\ncapabilities = [\"tools\", \"vision\", \"json_schema\", \"streaming\"]\n\
         [[routes]]\nname = \"r\"\ntargets = [\"a/text-only\", \"a/small\", \"a/full\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let tools =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let body = json!({"model": "r", "tools": tools, "messages": [{"role": "user", "content": "word ".repeat(400)}]});
    let d = explain(&gw, &body).await;
    assert_eq!(kept(&d), ["a/full"]);
    let reasons: HashMap<String, String> = d["decision"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kept"] == false)
        .map(|c| {
            (
                c["target"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons["a/text-only"], "no tool support");
    assert!(
        reasons["a/small"].starts_with("context window 100 <"),
        "{reasons:?}"
    );
    let resp = post(&gw, &body).await;
    assert_eq!(header(&resp, "x-modelmux-target"), "a/full");
    assert!(header(&resp, "x-modelmux-decision").contains("dropped=a/text-only(no tool support)"));
    // Images need vision; nothing left → a clear 400.
    let only = gateway(&format!("{}\n[providers.a.models.text-only]\ncapabilities = [\"streaming\"]\n[[routes]]\nname = \"r\"\ntargets = [\"a/text-only\"]\n", providers(&[("a", &s)]))).await;
    let img = json!({"model": "r", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]});
    let resp = post(&only, &img).await;
    assert_eq!(resp.status(), 400);
    let v = json_of(resp).await;
    assert_eq!(v["error"]["code"], "no_capable_target");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a/text-only (no vision)"),
        "{v}"
    );
}

#[tokio::test]
async fn header_routes_only_within_policy() {
    let s = sim(&[("m", Behaviour::default()), ("n", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[router]\nheader_routes = [\"allowed\"]\n{}\n[[routes]]\nname = \"main\"\ntargets = [\"a/m\"]\n[[routes]]\nname = \"allowed\"\ntargets = [\"a/n\"]\n[[routes]]\nname = \"secret\"\ntargets = [\"a/n\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let send = |route: &'static str| {
        client()
            .post(format!("{}/v1/chat/completions", gw.url()))
            .header("x-modelmux-route", route)
            .body(chat("main").to_string())
            .send()
    };
    let resp = send("allowed").await.unwrap();
    assert_eq!(header(&resp, "x-modelmux-route"), "allowed");
    assert!(header(&resp, "x-modelmux-decision").contains("by=header"));
    let resp = send("secret").await.unwrap();
    assert_eq!(
        header(&resp, "x-modelmux-route"),
        "main",
        "a route outside policy is ignored"
    );
}

/// The simulators behind `examples/support.toml` (OpenAI-format "openai" and "groq",
/// Anthropic-format "claude"), and the gateway over them.
async fn support() -> (
    modelmux_core::RunningGateway,
    HashMap<&'static str, SimHandle>,
) {
    let mut sims = HashMap::new();
    for name in ["openai", "groq", "claude"] {
        sims.insert(
            name,
            modelmux_sim::bind(SimConfig::default()).await.unwrap(),
        );
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/support.toml"
    ))
    .unwrap();
    let urls: HashMap<String, String> = [
        (
            "SUPPORT_OPENAI_URL",
            format!("{}/v1", sims["openai"].root_url()),
        ),
        (
            "SUPPORT_GROQ_URL",
            format!("{}/v1", sims["groq"].root_url()),
        ),
        (
            "SUPPORT_ANTHROPIC_URL",
            format!("{}/v1", sims["claude"].root_url()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut config = modelmux_core::Config::from_toml(
        &text,
        modelmux_core::config::ConfigSource::Inline,
        &|k| urls.get(k).cloned(),
    )
    .unwrap();
    config.store.kind = modelmux_core::records::StoreKind::Memory;
    (modelmux_core::spawn(config).await.unwrap(), sims)
}

fn ask(text: &str) -> Value {
    json!({"model": "support", "messages": [{"role": "system", "content": "You are a support assistant."}, {"role": "user", "content": text}]})
}

#[tokio::test(start_paused = true)]
async fn the_support_scenario_routes_as_described() {
    let (gw, sims) = support().await;
    // A short billing FAQ: the cheapest fast model (groq's llama-3.1-8b-instant).
    let resp = post(&gw, &ask("How do I get a refund for a double charge?")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-route"), "faq");
    assert_eq!(
        header(&resp, "x-modelmux-target"),
        "groq/llama-3.1-8b-instant"
    );
    let decision = header(&resp, "x-modelmux-decision");
    assert!(
        decision.contains("rule=billing-faq") && decision.contains("intent=billing"),
        "{decision}"
    );

    // A policy-sensitive question: the strong reasoning model on the Anthropic-format provider.
    let resp = post(&gw, &ask("Does your data retention comply with GDPR?")).await;
    assert_eq!(header(&resp, "x-modelmux-route"), "reasoning");
    assert_eq!(
        header(&resp, "x-modelmux-target"),
        "claude/claude-sonnet-4-5"
    );
    assert_eq!(sims["claude"].requests("claude-sonnet-4-5"), 1);

    // A long billing question is not a short FAQ: the general route.
    let long = format!("About my invoice: {}", "context ".repeat(2000));
    let resp = post(&gw, &ask(&long)).await;
    assert_eq!(header(&resp, "x-modelmux-route"), "support");

    // The cheap provider is rate limited with a long Retry-After: traffic moves to OpenAI at once.
    sims["groq"].set_behaviour("llama-3.1-8b-instant", faulty(&["429:retry-after=60"]));
    let t0 = tokio::time::Instant::now();
    let resp = post(&gw, &ask("Where is my invoice?")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-target"), "openai/gpt-4o-mini");
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "no waiting on a long Retry-After"
    );
    // And stays there while the provider cools down, without another failed call.
    let groq_calls = sims["groq"].requests("llama-3.1-8b-instant");
    for _ in 0..3 {
        let resp = post(&gw, &ask("Can I pay by invoice?")).await;
        assert_eq!(header(&resp, "x-modelmux-target"), "openai/gpt-4o-mini");
        assert_eq!(header(&resp, "x-modelmux-attempts"), "1");
    }
    assert_eq!(sims["groq"].requests("llama-3.1-8b-instant"), groq_calls);

    // Explain shows why, without calling anyone.
    let before: u64 = sims.values().map(|s| s.total_requests()).sum();
    let d = explain(&gw, &ask("I need a refund")).await;
    assert_eq!(d["decision"]["rule"], "billing-faq");
    assert_eq!(d["decision"]["features"]["intent"], "billing");
    assert_eq!(
        kept(&d),
        ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"],
        "the cooling-down target is demoted: {d}"
    );
    assert!(
        d["decision"]["candidates"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("Retry-After cooldown"),
        "{d}"
    );
    assert_eq!(
        sims.values().map(|s| s.total_requests()).sum::<u64>(),
        before
    );
}

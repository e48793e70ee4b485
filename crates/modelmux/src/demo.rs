//! `modelmux demo`: no keys, no network. Starts three simulated providers (fast and cheap,
//! strong and slow, flaky), a gateway over them whose routes fall back, sends a few hundred
//! mixed requests (some streaming) through the gateway, and prints per route and per target
//! what happened: requests, successes, fallbacks, latency percentiles, errors.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use modelmux_core::Config;
use modelmux_core::config::ConfigSource;
use modelmux_sim::{Behaviour, Fault, SimConfig, SimHandle};
use tokio::sync::Semaphore;

use crate::cli::DemoArgs;

const ROUTES: [(&str, u32); 3] = [("chat", 50), ("smart", 30), ("fast", 20)];

struct Outcome {
    route: &'static str,
    status: u16,
    target: String,
    attempts: u32,
    latency: Duration,
    stream: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let fast = sim(
        "fast-mini",
        Behaviour {
            latency_ms: 12,
            ttft_ms: 8,
            tokens_per_second: 600.0,
            output_tokens: 24,
            ..Behaviour::default()
        },
    )
    .await?;
    let strong = sim(
        "strong-large",
        Behaviour {
            latency_ms: 90,
            ttft_ms: 60,
            tokens_per_second: 150.0,
            output_tokens: 40,
            // Now and then rate limited with a long Retry-After: the gateway moves on at once.
            fault_rate: 0.1,
            random_fault: Some(Fault::Status {
                code: 429,
                retry_after: Some(modelmux_sim::RetryAfter::Seconds(30.0)),
            }),
            ..Behaviour::default()
        },
    )
    .await?;
    let flaky = sim(
        "flaky-medium",
        Behaviour {
            latency_ms: 20,
            ttft_ms: 15,
            tokens_per_second: 400.0,
            output_tokens: 24,
            fault_rate: 0.35,
            random_fault: Some(Fault::Status {
                code: 503,
                retry_after: None,
            }),
            ..Behaviour::default()
        },
    )
    .await?;
    let config_text = format!(
        r#"
[providers.fast]
kind = "openai"
base_url = "{fast}"

[providers.fast.models.fast-mini]      # USD per million tokens, so records carry a cost
input_price = 0.15
output_price = 0.60

[providers.strong]
kind = "openai"
base_url = "{strong}"

[providers.strong.models.strong-large]
input_price = 3.00
output_price = 15.00

[providers.flaky]
kind = "openai"
base_url = "{flaky}"

[providers.flaky.models.flaky-medium]
input_price = 0.40
output_price = 1.60

[[routes]]
name = "chat"                      # cheap first; falls back when the flaky provider fails
targets = ["flaky/flaky-medium", "fast/fast-mini"]
num_retries = 0

[[routes]]
name = "smart"
targets = ["strong/strong-large"]
fallbacks = ["fast"]

[[routes]]
name = "fast"
targets = ["fast/fast-mini"]
"#,
        fast = fast.base_url(),
        strong = strong.base_url(),
        flaky = flaky.base_url()
    );
    let config = Config::from_toml(&config_text, ConfigSource::Inline, &|_| None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let gateway = modelmux_core::spawn(config).await?;
    println!(
        "modelmux demo: 3 simulated providers on loopback, one gateway at {}",
        gateway.url()
    );
    println!("  fast/fast-mini       ~12 ms, cheap");
    println!(
        "  strong/strong-large  ~90 ms + 150 tok/s, 10% of calls answer 429 with Retry-After: 30"
    );
    println!("  flaky/flaky-medium   ~20 ms, 35% of calls answer 503");
    println!("routes: chat = flaky -> fast, smart = strong -> (fallback route) fast, fast = fast");
    println!(
        "sending {} requests, {} at a time, {}% streaming ...\n",
        args.requests, args.concurrency, args.stream_percent
    );

    let client = reqwest::Client::builder().build()?;
    let url = format!("{}/v1/chat/completions", gateway.url());
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.requests);
    for i in 0..args.requests {
        let route = pick_route(i);
        let stream = (i as u32 * 37 % 100) < args.stream_percent;
        let (client, url, gate) = (client.clone(), url.clone(), gate.clone());
        tasks.push(modelmux_core::tasks::spawn_owned(
            "demo client",
            async move {
                let _permit = gate.acquire_owned().await.ok();
                one(&client, &url, route, stream, i).await
            },
        ));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(o) = t.await {
            outcomes.push(o);
        }
    }
    let wall = started.elapsed();
    print!(
        "{}",
        render(
            &outcomes,
            &[
                ("fast/fast-mini", &fast, "fast-mini"),
                ("strong/strong-large", &strong, "strong-large"),
                ("flaky/flaky-medium", &flaky, "flaky-medium")
            ]
        )
    );
    println!(
        "\n{} requests in {:.1} s; every failed flaky call was absorbed by a fallback the client never saw.",
        outcomes.len(),
        wall.as_secs_f64()
    );
    println!(
        "Next: `modelmux serve --config examples/basic.toml`, or see README.md for the config reference."
    );
    gateway.shutdown().await?;
    for s in [fast, strong, flaky] {
        s.shutdown();
    }
    Ok(ExitCode::SUCCESS)
}

async fn sim(model: &str, b: Behaviour) -> anyhow::Result<SimHandle> {
    let mut models = BTreeMap::new();
    models.insert(model.to_owned(), b);
    Ok(modelmux_sim::bind(SimConfig {
        models,
        ..SimConfig::default()
    })
    .await?)
}

fn pick_route(i: usize) -> &'static str {
    let slot = (i * 53 % 100) as u32;
    let mut acc = 0;
    for (name, share) in ROUTES {
        acc += share;
        if slot < acc {
            return name;
        }
    }
    "chat"
}

async fn one(
    client: &reqwest::Client,
    url: &str,
    route: &'static str,
    stream: bool,
    i: usize,
) -> Outcome {
    let body = serde_json::json!({
        "model": route,
        "stream": stream,
        "messages": [{"role": "user", "content": format!("Demo question number {i}: what does a gateway do?")}],
    });
    let t0 = Instant::now();
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    let mut out = Outcome {
        route,
        status: 0,
        target: String::new(),
        attempts: 0,
        latency: Duration::ZERO,
        stream,
    };
    let Ok(resp) = resp else {
        out.latency = t0.elapsed();
        return out;
    };
    out.status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    out.target = header("x-modelmux-target");
    out.attempts = header("x-modelmux-attempts").parse().unwrap_or(0);
    if stream {
        let mut body = resp.bytes_stream();
        let mut complete = false;
        while let Some(Ok(chunk)) = body.next().await {
            complete |= chunk.windows(6).any(|w| w == b"[DONE]");
        }
        if !complete {
            out.status = 0;
        }
    } else if resp.bytes().await.is_err() {
        out.status = 0;
    }
    out.latency = t0.elapsed();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn render(outcomes: &[Outcome], sims: &[(&str, &SimHandle, &str)]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>8} {:>7} {:>8} {:>10} {:>8} {:>8} {:>7}",
        "route", "requests", "stream", "ok", "fallbacks", "p50 ms", "p95 ms", "errors"
    );
    for (route, _) in ROUTES {
        let rows: Vec<&Outcome> = outcomes.iter().filter(|o| o.route == route).collect();
        let mut lat: Vec<Duration> = rows
            .iter()
            .filter(|o| o.status == 200)
            .map(|o| o.latency)
            .collect();
        lat.sort();
        let ok = rows.iter().filter(|o| o.status == 200).count();
        let _ = writeln!(
            out,
            "{:<8} {:>8} {:>7} {:>8} {:>10} {:>8.1} {:>8.1} {:>7}",
            route,
            rows.len(),
            rows.iter().filter(|o| o.stream).count(),
            ok,
            rows.iter().filter(|o| o.attempts > 1).count(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            rows.len() - ok
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<20} {:>14} {:>9} {:>13} {:>8} {:>8}",
        "target", "upstream calls", "answered", "failed calls", "p50 ms", "p95 ms"
    );
    for (name, sim, model) in sims {
        let calls = sim.requests(model);
        let answered: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.status == 200 && o.target == *name)
            .collect();
        let mut lat: Vec<Duration> = answered.iter().map(|o| o.latency).collect();
        lat.sort();
        let _ = writeln!(
            out,
            "{:<20} {:>14} {:>9} {:>13} {:>8.1} {:>8.1}",
            name,
            calls,
            answered.len(),
            calls.saturating_sub(answered.len() as u64),
            percentile(&lat, 0.5),
            percentile(&lat, 0.95)
        );
    }
    out
}

//! `modelmux demo`: a support assistant, with no keys and no network. Two simulated models
//! (fast and cheap, strong and expensive), each with its own chance of resolving a ticket of
//! each kind, behind one gateway with three routes: `cheap`, `strong`, and `support`, which a
//! rule on the intent splits (billing FAQs to the cheap model, account questions and
//! policy-sensitive edge cases to the strong one). Tickets (`tickets::plan`, from the seed)
//! are sent as episodes of 1–4 turns (`x-modelmux-episode`); after each one the demo posts
//! the customer's verdict, `resolved`, to `POST /v1/feedback`, drawn from the probability of
//! the model that gave the last answer (`x-modelmux-target`). At the end the gateway is shut
//! down (draining its record writer), its records and feedback are read back from the SQLite
//! store, and `modelmux_core::outcomes::report` computes per route the cost per ticket, the
//! resolution rate with its 95 % interval and the cost per resolved ticket (`table`).
//!
//! Quiet by default: no access log (`--log info` shows it) and a progress bar on stderr when
//! it is a terminal.

mod table;
mod tickets;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use modelmux_core::Config;
use modelmux_core::config::ConfigSource;
use modelmux_core::records::{SqliteStore, Store, Subject};
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::cli::DemoArgs;
use tickets::Ticket;

/// The routes a client asks for, in the order the tables list them.
pub const ROUTES: [&str; 3] = ["cheap", "strong", "support"];

/// One simulated model: where it is served, its prices (USD per million tokens) and its
/// behaviour (including its resolution probability per intent).
struct Model {
    provider: &'static str,
    name: &'static str,
    input_price: f64,
    output_price: f64,
    behaviour: Behaviour,
}

impl Model {
    fn target(&self) -> String {
        format!("{}/{}", self.provider, self.name)
    }
}

fn models() -> [Model; 2] {
    let resolution = |b: f64, a: f64, p: f64| {
        BTreeMap::from([
            ("billing".to_owned(), b),
            ("account".to_owned(), a),
            ("policy".to_owned(), p),
        ])
    };
    [
        Model {
            provider: "fast",
            name: "fast-mini",
            input_price: 0.15,
            output_price: 0.60,
            behaviour: Behaviour {
                latency_ms: 8,
                output_tokens: 120,
                resolution: resolution(0.86, 0.60, 0.30),
                ..Behaviour::default()
            },
        },
        Model {
            provider: "strong",
            name: "strong-large",
            input_price: 3.00,
            output_price: 15.00,
            behaviour: Behaviour {
                latency_ms: 40,
                output_tokens: 240,
                resolution: resolution(0.92, 0.88, 0.82),
                ..Behaviour::default()
            },
        },
    ]
}

/// The gateway's config over the simulators at `urls` (one per model), storing records in
/// SQLite under `data_dir`.
fn gateway_config(models: &[Model], urls: &[String], data_dir: &std::path::Path) -> String {
    let mut text = String::new();
    for (m, url) in models.iter().zip(urls) {
        text.push_str(&format!(
            "[providers.{p}]\nkind = \"openai\"\nbase_url = \"{url}\"\n\n\
             [providers.{p}.models.{n}]\ninput_price = {i}\noutput_price = {o}\n\n",
            p = m.provider,
            n = m.name,
            i = m.input_price,
            o = m.output_price,
        ));
    }
    let data_dir = data_dir.display().to_string().replace('\\', "/");
    text.push_str(&format!(
        r#"
# Policy first: an edge case that mentions a refund is still an edge case.
[[intents]]
name = "policy"
patterns = ['(?i)\b(gdpr|privacy|legal|chargeback|data retention)\b']

[[intents]]
name = "billing"
keywords = ["invoice", "refund", "charge", "billing", "payment", "receipt"]

[[intents]]
name = "account"
keywords = ["login", "account", "password", "two-factor"]

[[rules]]
name = "faq-to-cheap"
when = 'requested == "support" && intent == "billing"'
route = "cheap"

[[routes]]
name = "cheap"
targets = ["fast/fast-mini"]

[[routes]]
name = "strong"
targets = ["strong/strong-large"]

[[routes]]
name = "support"                  # what the rule does not send to cheap: the strong model
targets = ["strong/strong-large"]

[[metrics]]
name = "resolved"
type = "boolean"
level = "episode"
optimize = "max"

[store]
kind = "sqlite"
data_dir = "{data_dir}"
flush_interval = "20ms"
"#
    ));
    text
}

/// What one request observed.
#[derive(Debug, Clone)]
pub struct Turn {
    pub request_id: String,
    pub status: u16,
    pub target: String,
}

/// What one ticket observed.
#[derive(Debug, Clone)]
pub struct TicketRun {
    pub ticket: Ticket,
    pub turns: Vec<Turn>,
    pub resolved: bool,
    /// The probability the answering model had of resolving it (what the verdict was drawn
    /// from); 0 when nothing answered.
    pub p_resolve: f64,
    pub feedback_status: u16,
}

/// Everything the tables show.
#[derive(Debug)]
pub struct DemoResult {
    pub runs: Vec<TicketRun>,
    pub outcomes: Vec<modelmux_core::outcomes::GroupOutcome>,
    /// Per target: upstream calls the simulator saw, and its records (cost, latency).
    pub targets: Vec<table::TargetRow>,
    pub requests: usize,
    pub wall: Duration,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let logging =
        tracing::level_filters::LevelFilter::current() >= tracing::level_filters::LevelFilter::INFO;
    let bar = if std::io::stderr().is_terminal() && !logging {
        let bar =
            ProgressBar::with_draw_target(Some(args.tickets as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} tickets {elapsed} {msg}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    print!("{}", table::header(&args, &models()));
    let result = simulate(&args, &bar).await?;
    bar.finish_and_clear();
    print!("{}", table::render(&result));
    println!(
        "\n{} requests in {:.1} s; the same seed prints the same tables (--seed).",
        result.requests,
        result.wall.as_secs_f64()
    );
    println!("Next: `modelmux serve --config examples/support.toml`, README.md \"Feedback\".");
    Ok(ExitCode::SUCCESS)
}

/// Runs the whole demo without printing: simulators, gateway, tickets, feedback, then the
/// report over what the store kept. `bar` advances once per ticket.
pub async fn simulate(args: &DemoArgs, bar: &ProgressBar) -> anyhow::Result<DemoResult> {
    let models = models();
    let mut sims = Vec::new();
    for m in &models {
        sims.push(sim(m.name, m.behaviour.clone()).await?);
    }
    let urls: Vec<String> = sims.iter().map(SimHandle::base_url).collect();
    let data_dir = temp_dir();
    let config_text = gateway_config(&models, &urls, &data_dir);
    let config = Config::from_toml(&config_text, ConfigSource::Inline, &|_| None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let gateway = modelmux_core::spawn(config).await?;
    let plan = tickets::plan(args.tickets, &ROUTES, args.stream_percent, args.seed);

    let client = reqwest::Client::builder().build()?;
    let base = gateway.url();
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let behaviours: Arc<BTreeMap<String, Behaviour>> = Arc::new(
        models
            .iter()
            .map(|m| (m.target(), m.behaviour.clone()))
            .collect(),
    );
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(plan.len());
    for ticket in plan {
        let (client, base, gate, behaviours) = (
            client.clone(),
            base.clone(),
            gate.clone(),
            behaviours.clone(),
        );
        let progress = ProgressBar::clone(bar);
        tasks.push(modelmux_core::tasks::spawn_owned(
            "demo ticket",
            async move {
                let _permit = gate.acquire_owned().await.ok();
                let run = one_ticket(&client, &base, ticket, &behaviours).await;
                progress.inc(1);
                run
            },
        ));
    }
    let mut runs = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(r) = t.await {
            runs.push(r);
        }
    }
    let wall = started.elapsed();
    gateway.shutdown().await?;
    let calls: Vec<(String, u64)> = models
        .iter()
        .zip(&sims)
        .map(|(m, s)| (m.target(), s.requests(m.name)))
        .collect();
    for s in &sims {
        s.shutdown();
    }
    let store = SqliteStore::open(&data_dir.join("records.sqlite")).await;
    let read = match store {
        Ok(store) => read_back(&store, &runs).await,
        Err(e) => Err(e.into()),
    };
    let _ = std::fs::remove_dir_all(&data_dir);
    let (rows, feedback, records) = read?;
    let opts = modelmux_core::outcomes::Options {
        per: modelmux_core::outcomes::Per::Episode,
        metrics: vec![modelmux_core::outcomes::MetricSpec {
            name: "resolved".into(),
            kind: modelmux_core::outcomes::Kind::Boolean,
            level: modelmux_core::outcomes::Level::Episode,
        }],
        baseline: Some("strong".into()),
        seed: args.seed,
        ..modelmux_core::outcomes::Options::default()
    };
    let outcomes = modelmux_core::outcomes::report(&rows, &feedback, &opts);
    Ok(DemoResult {
        requests: rows.len(),
        targets: table::targets(&calls, &records),
        runs,
        outcomes,
        wall,
    })
}

type ReadBack = (
    Vec<modelmux_core::outcomes::RequestRow>,
    Vec<modelmux_core::outcomes::FeedbackValue>,
    Vec<modelmux_core::records::Record>,
);

/// The records of every request the demo made and the feedback on every ticket, as the
/// store kept them; each record grouped by the route its ticket asked for (a `support`
/// ticket's billing turns are recorded on route `cheap`, where the rule sent them).
async fn read_back(store: &SqliteStore, runs: &[TicketRun]) -> anyhow::Result<ReadBack> {
    let (mut rows, mut feedback, mut records) = (Vec::new(), Vec::new(), Vec::new());
    for run in runs {
        let mut tenant = None;
        for turn in &run.turns {
            let Some(r) = store.get(&turn.request_id).await? else {
                continue;
            };
            tenant = r.tenant.clone();
            rows.push(modelmux_core::outcomes::RequestRow {
                tenant: r.tenant.clone(),
                request_id: r.request_id.clone(),
                group: Some(run.ticket.route.to_owned()),
                episode: r.episode_id.clone(),
                latency_ms: r.latency_ms,
                ttft_ms: r.ttft_ms,
                failed: r.failed(),
                attempts: u32::try_from(r.attempts.len()).unwrap_or(u32::MAX),
                cost_usd: r.cost_usd,
            });
            records.push(r);
        }
        let Some(tenant) = tenant else { continue };
        let about = Subject::Episode(run.ticket.id.clone());
        for f in store.feedback(&tenant, &about).await? {
            feedback.push(modelmux_core::outcomes::FeedbackValue {
                tenant: Some(f.tenant),
                request_id: f.request_id,
                episode_id: f.episode_id,
                metric: f.metric,
                value: f.value_num,
                time_ms: f.time_ms,
            });
        }
    }
    Ok((rows, feedback, records))
}

/// A fresh directory for the demo's record store.
fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "modelmux-demo-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ))
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

/// Sends a ticket's turns in order (each with the conversation so far), then its verdict.
async fn one_ticket(
    client: &reqwest::Client,
    base: &str,
    ticket: Ticket,
    behaviours: &BTreeMap<String, Behaviour>,
) -> TicketRun {
    let mut messages: Vec<Value> = vec![json!({"role": "system", "content":
        "You are the support assistant of a software company. Be brief and exact."})];
    let mut turns = Vec::new();
    for (text, stream) in ticket.messages.iter().zip(&ticket.stream) {
        messages.push(json!({"role": "user", "content": text}));
        let (turn, answer) = send(client, base, &ticket, &messages, *stream).await;
        let ok = turn.status == 200;
        turns.push(turn);
        if !ok {
            break;
        }
        messages.push(json!({"role": "assistant", "content": answer}));
    }
    let last = turns.last().filter(|t| t.status == 200);
    let p_resolve = last
        .and_then(|t| behaviours.get(&t.target))
        .map_or(0.0, |b| b.resolution_rate(ticket.intent.name()));
    let resolved = last
        .and_then(|t| behaviours.get(&t.target))
        .is_some_and(|b| b.resolves(ticket.intent.name(), ticket.draw));
    let feedback_status = client
        .post(format!("{base}/v1/feedback"))
        .header("content-type", "application/json")
        .body(
            json!({"episode_id": ticket.id, "metric": "resolved", "value": resolved,
                   "source": "user", "id": format!("{}-resolved", ticket.id)})
            .to_string(),
        )
        .send()
        .await
        .map_or(0, |r| r.status().as_u16());
    TicketRun {
        ticket,
        turns,
        resolved,
        p_resolve,
        feedback_status,
    }
}

/// One turn: the answer's ids and target, and its text (for the next turn's history).
async fn send(
    client: &reqwest::Client,
    base: &str,
    ticket: &Ticket,
    messages: &[Value],
    stream: bool,
) -> (Turn, String) {
    let body = json!({"model": ticket.route, "stream": stream, "messages": messages});
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-modelmux-episode", &ticket.id)
        .body(body.to_string())
        .send()
        .await;
    let mut turn = Turn {
        request_id: String::new(),
        status: 0,
        target: String::new(),
    };
    let Ok(resp) = resp else {
        return (turn, String::new());
    };
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    turn.status = resp.status().as_u16();
    turn.request_id = header("x-modelmux-request-id");
    turn.target = header("x-modelmux-target");
    let mut answer = String::new();
    if stream {
        let mut body = resp.bytes_stream();
        let mut buf = Vec::new();
        let mut complete = false;
        while let Some(Ok(chunk)) = body.next().await {
            buf.extend_from_slice(&chunk);
        }
        for line in String::from_utf8_lossy(&buf).lines() {
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            complete |= data.trim() == "[DONE]";
            if let Ok(v) = serde_json::from_str::<Value>(data)
                && let Some(s) = v["choices"][0]["delta"]["content"].as_str()
            {
                answer.push_str(s);
            }
        }
        if !complete {
            turn.status = 0;
        }
    } else {
        match resp
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        {
            Some(v) => {
                answer = v["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
            }
            None => turn.status = 0,
        }
    }
    (turn, answer)
}

#[cfg(test)]
mod tests;

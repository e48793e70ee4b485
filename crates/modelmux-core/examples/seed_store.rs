//! Seeds a record store for the report and analytics benchmarks (`bench/report.sh`): N
//! records over four routes and six targets, in episodes of one to five requests, and M
//! feedback rows (an episode-level `resolved` verdict for most episodes, request-level
//! `thumbs` for the rest of the rows), written through the store's own batch writes so the
//! schema is exactly the gateway's. Deterministic for a seed.
//!
//! ```sh
//! cargo run --release -p modelmux-core --example seed_store -- \
//!     --config bench/report-sqlite.toml --records 1000000 --feedback 200000
//! ```

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool that reports progress"
)]

use std::time::{Duration, Instant, SystemTime};

use modelmux_core::Config;
use modelmux_core::config::ConfigSource;
use modelmux_core::records::feedback::Feedback;
use modelmux_core::records::{AttemptRecord, Record, Tokens};

const ROUTES: [&str; 4] = ["support", "faq", "reasoning", "cheap"];
const TARGETS: [&str; 6] = [
    "openai/gpt-4.1-mini",
    "openai/gpt-4.1",
    "anthropic/claude-sonnet-4-5",
    "anthropic/claude-haiku-4-5",
    "gemini/gemini-2.5-flash",
    "groq/llama-3.1-8b-instant",
];
const BATCH: usize = 5_000;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let config_path = arg(&args, "--config").ok_or_else(|| anyhow::anyhow!("--config FILE"))?;
    let records: usize = arg(&args, "--records").map_or(Ok(1_000_000), |v| v.parse())?;
    let feedback: usize = arg(&args, "--feedback").map_or(Ok(200_000), |v| v.parse())?;
    let seed: u64 = arg(&args, "--seed").map_or(Ok(7), |v| v.parse())?;
    let text = std::fs::read_to_string(&config_path)?;
    let config = Config::from_toml(&text, ConfigSource::Inline, &|k| std::env::var(k).ok())
        .map_err(|e| anyhow::anyhow!("{config_path}: {e}"))?;
    let tasks = modelmux_core::Tasks::new();
    let store = modelmux_core::records::open(&config.store, &tasks).await?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let now = SystemTime::now();
    let started = Instant::now();
    let mut episodes: Vec<String> = Vec::new();
    let mut request_ids: Vec<String> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut left_in_episode = 0;
    for i in 0..records {
        if left_in_episode == 0 {
            episodes.push(format!("ep-{seed}-{}", episodes.len()));
            left_in_episode = rng.usize(1..=5);
        }
        left_in_episode -= 1;
        let id = format!("req-{seed}-{i:08}");
        // Spread over the last 25 days, oldest first.
        let age = Duration::from_millis(((records - i) as u64 * 2_160_000_000) / records as u64);
        let mut r = Record::new(id.clone(), now - age);
        let target = TARGETS[rng.usize(..TARGETS.len())];
        r.tenant = Some("open".into());
        r.client_format = "openai_chat".into();
        r.route = ROUTES[rng.usize(..ROUTES.len())].into();
        r.episode_id = episodes.last().cloned();
        r.target = Some(target.into());
        let failed = rng.f64() < 0.02;
        r.status = Some(if failed { 502 } else { 200 });
        r.error = failed.then(|| "all_failed".to_owned());
        r.latency_ms = 200 + rng.u64(..3_000);
        r.ttft_ms = (rng.f64() < 0.4).then(|| 100 + rng.u64(..800));
        r.attempts.push(AttemptRecord {
            target: target.into(),
            status: r.status,
            error: None,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            hedge: false,
        });
        r.tokens = Tokens {
            input: 200 + rng.u64(..4_000),
            output: 50 + rng.u64(..800),
            ..Tokens::default()
        };
        r.cost_usd = (!failed).then(|| rng.f64() * 0.02);
        request_ids.push(id);
        batch.push(r);
        if batch.len() == BATCH {
            store.write(&batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.write(&batch).await?;
    }
    println!(
        "{records} records in {:.1} s ({} episodes)",
        started.elapsed().as_secs_f64(),
        episodes.len()
    );
    let started = Instant::now();
    let verdicts = feedback.min(episodes.len()) * 3 / 4;
    let mut rows = Vec::with_capacity(BATCH);
    for i in 0..feedback {
        let (request_id, episode_id, metric) =
            if let Some(ep) = episodes.get(i).filter(|_| i < verdicts) {
                (None, Some(ep.clone()), "resolved")
            } else {
                let r = &request_ids[rng.usize(..request_ids.len())];
                (Some(r.clone()), None, "thumbs")
            };
        rows.push(Feedback {
            tenant: "open".into(),
            id: format!("fb-{seed}-{i}"),
            request_id,
            episode_id,
            metric: metric.into(),
            value_num: Some(if rng.f64() < 0.8 { 1.0 } else { 0.0 }),
            value_text: None,
            source: "user".into(),
            comment: None,
            tags: Vec::new(),
            time_ms: i64::try_from(now.duration_since(SystemTime::UNIX_EPOCH)?.as_millis())?,
        });
        if rows.len() == BATCH {
            store.write_feedback(&rows).await?;
            rows.clear();
        }
    }
    if !rows.is_empty() {
        store.write_feedback(&rows).await?;
    }
    println!(
        "{feedback} feedback rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tasks.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

//! `modelmux report`: outcomes per route, target, rule, intent, key or team over a window
//! (`--since 24h`), optionally per episode, filtered by a CEL expression over record fields
//! and compared with a baseline group: volumes, cost (per request and per episode), latency
//! and TTFT, error and fallback rates, each `[[metrics]]` metric with its confidence interval
//! and coverage, cost per resolved episode, Δcost and Δquality with p-values. The numbers
//! come from `modelmux_core::analytics`, exactly as `GET /v1/analytics` serves them.
//!
//! Only `[store]` and `[[metrics]]` are read from the config, so provider keys need not be
//! in the environment; without `--config` the defaults apply (SQLite in
//! `$MODELMUX_DATA_DIR` or `./modelmux-data`, no metrics).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use modelmux_core::analytics::{self, Analytics, AnalyticsError, Query};
use modelmux_core::config::feedback::{Metric, MetricType, RawFeedbackConfig, RawMetric};
use modelmux_core::outcomes::Per;
use modelmux_core::records::config::{RawStoreConfig, StoreConfig, StoreKind, validate};
use modelmux_core::records::{self, GroupBy};
use serde::Deserialize;

use crate::report_table;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Config file (TOML) whose `[store]` locates the records and `[[metrics]]` names the metrics.
    #[arg(long, short, env = "MODELMUX_CONFIG")]
    pub config: Option<PathBuf>,
    /// How far back to look (`1h`, `24h`, `7d`).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// What to group by.
    #[arg(long, value_enum, default_value_t = By::Route)]
    pub by: By,
    /// The unit costs and request-level metrics are counted in.
    #[arg(long, value_enum, default_value_t = Unit::Request)]
    pub per: Unit,
    /// Metrics to show (default: every configured one).
    #[arg(long = "metric", num_args = 1.., value_name = "NAME")]
    pub metrics: Vec<String>,
    /// Keep only the records a CEL expression holds for, e.g. `route == "chat" && !stream`
    /// (fields: route, target, rule, key, team, status, error, stream, cost_usd, latency_ms, episode).
    #[arg(long)]
    pub filter: Option<String>,
    /// Compare every other group with this one (Δcost, Δ each metric, p-values).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    Route,
    Target,
    Rule,
    Intent,
    Key,
    Team,
    Experiment,
}

impl From<By> for GroupBy {
    fn from(b: By) -> Self {
        match b {
            By::Route => GroupBy::Route,
            By::Target => GroupBy::Target,
            By::Rule => GroupBy::Rule,
            By::Intent => GroupBy::Intent,
            By::Key => GroupBy::Key,
            By::Team => GroupBy::Team,
            By::Experiment => GroupBy::Experiment,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    Request,
    Episode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// The config file as far as this command cares: `[store]` and `[[metrics]]`.
#[derive(Deserialize)]
struct StoreOnly {
    #[serde(default)]
    store: RawStoreConfig,
    #[serde(default)]
    metrics: Vec<RawMetric>,
}

/// What the report needs from the config: the store and the metrics.
struct Setup {
    store: StoreConfig,
    metrics: Vec<Metric>,
}

fn load(path: Option<&Path>) -> anyhow::Result<Result<Setup, Vec<String>>> {
    let file = match path {
        None => StoreOnly {
            store: RawStoreConfig::default(),
            metrics: Vec::new(),
        },
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("{} is not valid", p.display()))?
        }
    };
    let mut issues = Vec::new();
    let env = |k: &str| std::env::var(k).ok();
    let store = validate(&file.store, &env, &mut issues);
    let (metrics, _) = modelmux_core::config::feedback::validate(
        &file.metrics,
        &RawFeedbackConfig::default(),
        &env,
        &mut issues,
    );
    if issues.is_empty() {
        Ok(Ok(Setup { store, metrics }))
    } else {
        Ok(Err(issues
            .into_iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect()))
    }
}

/// The query the flags ask for, ending `now`.
fn query(args: &ReportArgs, now: SystemTime) -> Query {
    Query {
        by: args.by.into(),
        per: match args.per {
            Unit::Request => Per::Request,
            Unit::Episode => Per::Episode,
        },
        metrics: (!args.metrics.is_empty()).then(|| args.metrics.clone()),
        since: now
            .checked_sub(args.since)
            .unwrap_or(SystemTime::UNIX_EPOCH),
        filter: args.filter.clone(),
        baseline: args.baseline.clone(),
    }
}

/// The report as text in the asked format, or `None` when there is no store file yet.
async fn produce(
    args: &ReportArgs,
    setup: &Setup,
    now: SystemTime,
) -> anyhow::Result<Option<String>> {
    let config = &setup.store;
    let location = match config.kind {
        StoreKind::Sqlite => {
            let path = config.sqlite_path();
            if !path.exists() {
                return Ok(None);
            }
            format!("sqlite {}", path.display())
        }
        StoreKind::Postgres => "postgres".to_owned(),
        StoreKind::Memory => bail!("[store] kind = \"memory\" keeps no records to report on"),
    };
    let store = records::open(config, &modelmux_core::Tasks::new())
        .await
        .with_context(|| format!("cannot open the record store ({location})"))?;
    let q = query(args, now);
    let a: Analytics = match analytics::run(store.as_ref(), &setup.metrics, &q).await {
        Ok(a) => a,
        Err(AnalyticsError::Query(m)) => bail!("{m}"),
        Err(AnalyticsError::Store(e)) => return Err(e.into()),
    };
    let format = if args.json { Format::Json } else { args.format };
    Ok(Some(match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&a)?),
        Format::Csv => report_table::csv(&a),
        Format::Table => {
            let window = format!(
                "since {} (last {})",
                humantime::format_rfc3339_seconds(q.since),
                humantime::format_duration(args.since)
            );
            let boolean = |name: &str| {
                setup
                    .metrics
                    .iter()
                    .any(|m| m.name == name && m.kind == MetricType::Boolean)
            };
            report_table::table(&a, &location, &window, &boolean)
        }
    }))
}

pub async fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let setup = match load(args.config.as_deref())? {
        Ok(s) => s,
        Err(issues) => {
            for i in issues {
                eprintln!("  error: {i}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    match produce(&args, &setup, SystemTime::now()).await? {
        Some(text) => print!("{text}"),
        None => println!(
            "no records yet: {} does not exist",
            setup.store.sqlite_path().display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;

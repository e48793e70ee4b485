//! Analytics: the outcomes report (`crate::outcomes`) over a store, as both `modelmux report`
//! and `GET /v1/analytics` ask for it. A [`Query`] (group by, unit, metrics, window, CEL
//! filter, baseline) is checked against the configured `[[metrics]]`, the store hands over
//! its outcome rows and feedback values (one query each), the filter keeps the records it
//! holds for, and `outcomes::report` does the statistics. Both callers serialise the same
//! [`Analytics`] value, so the CLI's JSON and the endpoint's agree for one store.
//!
//! Rows are sorted by request id before aggregation: the seeded bootstrap then draws the
//! same units whatever order a backend returns them in.

pub mod filter;

use std::collections::HashSet;
use std::time::SystemTime;

use serde::Serialize;

use crate::config::feedback::{Metric, MetricLevel, MetricType};
use crate::outcomes::{self, GroupOutcome, Kind, Level, MetricSpec, Options, Per};
use crate::records::report::{GroupBy, NO_GROUP, percentile};
use crate::records::{Store, StoreError};

pub use filter::Filter;

/// What to report.
#[derive(Debug, Clone)]
pub struct Query {
    pub by: GroupBy,
    pub per: Per,
    /// Metric names; `None`: every configured metric.
    pub metrics: Option<Vec<String>>,
    pub since: SystemTime,
    /// A CEL expression over record fields (`filter::FIELDS`).
    pub filter: Option<String>,
    /// The group the others are compared with.
    pub baseline: Option<String>,
}

/// Latency percentiles of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    pub group: String,
    pub p50: u64,
    pub p75: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
}

/// The answer: what was asked, each group's outcomes (busiest first), latency
/// percentiles, and how many feedback values in the window name no request or episode of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analytics {
    pub by: &'static str,
    pub per: &'static str,
    pub since_ms: i64,
    pub filter: Option<String>,
    pub baseline: Option<String>,
    pub metrics: Vec<String>,
    pub groups: Vec<GroupOutcome>,
    pub latency: Vec<Percentiles>,
    pub orphan_feedback: u64,
}

/// Why a query cannot be answered: the asker's mistake, or the store.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("{0}")]
    Query(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `by` from its name.
pub fn parse_by(s: &str) -> Result<GroupBy, AnalyticsError> {
    GroupBy::parse(s).ok_or_else(|| {
        let names: Vec<&str> = GroupBy::NAMES.iter().map(|(n, _)| *n).collect();
        AnalyticsError::Query(format!(
            "unknown grouping {s:?} (expected one of: {})",
            names.join(", ")
        ))
    })
}

/// `per` from its name.
pub fn parse_per(s: &str) -> Result<Per, AnalyticsError> {
    match s {
        "request" => Ok(Per::Request),
        "episode" => Ok(Per::Episode),
        _ => Err(AnalyticsError::Query(format!(
            "unknown unit {s:?} (expected \"request\" or \"episode\")"
        ))),
    }
}

fn per_name(p: Per) -> &'static str {
    match p {
        Per::Request => "request",
        Per::Episode => "episode",
    }
}

/// A configured metric as the outcomes engine sees it.
pub fn spec(m: &Metric) -> MetricSpec {
    MetricSpec {
        name: m.name.clone(),
        kind: match m.kind {
            MetricType::Boolean => Kind::Boolean,
            MetricType::Float { .. } => Kind::Float,
            MetricType::Category { .. } => Kind::Category,
            MetricType::Comment => Kind::Comment,
        },
        level: match m.level {
            MetricLevel::Request => Level::Request,
            MetricLevel::Episode => Level::Episode,
        },
    }
}

/// The metrics a query asks for, in its order (every configured one when it names none).
fn select(
    configured: &[Metric],
    asked: Option<&[String]>,
) -> Result<Vec<MetricSpec>, AnalyticsError> {
    let Some(asked) = asked else {
        return Ok(configured.iter().map(spec).collect());
    };
    asked
        .iter()
        .map(|name| {
            configured
                .iter()
                .find(|m| m.name == *name)
                .map(spec)
                .ok_or_else(|| {
                    let names: Vec<&str> = configured.iter().map(|m| m.name.as_str()).collect();
                    AnalyticsError::Query(if names.is_empty() {
                        format!("unknown metric {name:?}: no [[metrics]] are configured")
                    } else {
                        format!("unknown metric {name:?} (configured: {})", names.join(", "))
                    })
                })
        })
        .collect()
}

/// Runs `query` over `store` with the configured metrics.
pub async fn run(
    store: &dyn Store,
    configured: &[Metric],
    query: &Query,
) -> Result<Analytics, AnalyticsError> {
    if query.by == GroupBy::Experiment {
        return Err(AnalyticsError::Query(
            "no experiments configured: nothing to group by experiment".into(),
        ));
    }
    let metrics = select(configured, query.metrics.as_deref())?;
    let filter = query
        .filter
        .as_deref()
        .map(Filter::compile)
        .transpose()
        .map_err(AnalyticsError::Query)?;
    let mut rows = store.outcome_rows(query.by, query.since).await?;
    if let Some(f) = &filter {
        rows.retain(|r| f.matches(r));
    }
    let mut rows: Vec<outcomes::RequestRow> = rows.into_iter().map(|r| r.row).collect();
    rows.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    if let Some(b) = &query.baseline
        && !rows
            .iter()
            .any(|r| r.group.as_deref().unwrap_or(NO_GROUP) == b)
    {
        return Err(AnalyticsError::Query(format!(
            "baseline {b:?} is no {} with requests in this window",
            query.by.name()
        )));
    }
    let feedback = store.feedback_values(query.since).await?;
    let orphan_feedback = orphans(&rows, &feedback);
    let opts = Options {
        per: query.per,
        metrics: metrics.clone(),
        baseline: query.baseline.clone(),
        ..Options::default()
    };
    let groups = outcomes::report(&rows, &feedback, &opts);
    let mut by_group: std::collections::HashMap<&str, Vec<u64>> = std::collections::HashMap::new();
    for r in &rows {
        by_group
            .entry(r.group.as_deref().unwrap_or(NO_GROUP))
            .or_default()
            .push(r.latency_ms);
    }
    let latency = groups
        .iter()
        .map(|g| {
            let mut lat = by_group.remove(g.group.as_str()).unwrap_or_default();
            lat.sort_unstable();
            let p = |q| percentile(&lat, q).unwrap_or(0);
            Percentiles {
                group: g.group.clone(),
                p50: p(0.5),
                p75: p(0.75),
                p90: p(0.9),
                p95: p(0.95),
                p99: p(0.99),
            }
        })
        .collect();
    Ok(Analytics {
        by: query.by.name(),
        per: per_name(query.per),
        since_ms: crate::records::record::to_unix_ms(query.since),
        filter: query.filter.clone(),
        baseline: query.baseline.clone(),
        metrics: metrics.into_iter().map(|m| m.name).collect(),
        groups,
        latency,
        orphan_feedback,
    })
}

/// Feedback values that name no request (by the client's id) or episode of their tenant
/// among the reported rows.
fn orphans(rows: &[outcomes::RequestRow], feedback: &[outcomes::FeedbackValue]) -> u64 {
    let requests: HashSet<(Option<&str>, &str)> = rows
        .iter()
        .map(|r| (r.tenant.as_deref(), r.request_id.as_str()))
        .collect();
    let episodes: HashSet<(Option<&str>, &str)> = rows
        .iter()
        .filter_map(|r| Some((r.tenant.as_deref(), r.episode.as_deref()?)))
        .collect();
    feedback
        .iter()
        .filter(|f| {
            let t = f.tenant.as_deref();
            let by_request = f
                .request_id
                .as_deref()
                .is_some_and(|id| requests.contains(&(t, id)));
            let by_episode = f
                .episode_id
                .as_deref()
                .is_some_and(|id| episodes.contains(&(t, id)));
            !(by_request || by_episode)
        })
        .count() as u64
}

impl Query {
    /// A query from URL parameters (`by`, `per`, `metric` — repeated or comma-separated —,
    /// `since` as a duration back from `now` such as `24h`, `filter`, `baseline`); unknown
    /// parameters are refused so a typo does not silently widen a report.
    pub fn from_params(
        params: &[(String, String)],
        now: SystemTime,
    ) -> Result<Self, AnalyticsError> {
        let mut q = Query {
            by: GroupBy::Route,
            per: Per::Request,
            metrics: None,
            since: now
                .checked_sub(std::time::Duration::from_secs(86_400))
                .unwrap_or(SystemTime::UNIX_EPOCH),
            filter: None,
            baseline: None,
        };
        for (k, v) in params {
            match k.as_str() {
                "by" => q.by = parse_by(v)?,
                "per" => q.per = parse_per(v)?,
                "metric" | "metrics" => q.metrics.get_or_insert_with(Vec::new).extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(str::to_owned),
                ),
                "since" => {
                    let d = humantime::parse_duration(v).map_err(|e| {
                        AnalyticsError::Query(format!(
                            "since {v:?} is not a duration like \"24h\" or \"7d\": {e}"
                        ))
                    })?;
                    q.since = now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH);
                }
                "filter" => q.filter = Some(v.clone()),
                "baseline" => q.baseline = Some(v.clone()),
                other => {
                    return Err(AnalyticsError::Query(format!(
                        "unknown parameter {other:?} (expected by, per, metric, since, filter, baseline)"
                    )));
                }
            }
        }
        Ok(q)
    }
}

//! Report aggregates for `modelmux report`: per route, target, key or team, the request
//! count, cost, p50/p95 latency and time to first token, error rate and fallback rate.
//! Stores select the few columns each record contributes (`Sample`) and this module
//! aggregates them in Rust, so percentiles are computed the same way on every backend
//! (SQLite has no percentile function; PostgreSQL's would differ in interpolation).

use std::collections::HashMap;

use serde::Serialize;

use super::record::Record;

/// What a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    Route,
    /// The target that answered (or `(none)` when nothing did).
    Target,
    /// The policy rule that chose the route (`(none)` for requests no rule matched).
    Rule,
    /// The classified intent (`intent=` in the decision; a column since migration 5).
    Intent,
    Key,
    Team,
    /// An experiment arm: no experiments exist yet, so every request is `(none)`.
    Experiment,
}

impl GroupBy {
    pub const NAMES: [(&'static str, GroupBy); 7] = [
        ("route", GroupBy::Route),
        ("target", GroupBy::Target),
        ("rule", GroupBy::Rule),
        ("intent", GroupBy::Intent),
        ("key", GroupBy::Key),
        ("team", GroupBy::Team),
        ("experiment", GroupBy::Experiment),
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, g)| *g)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Target => "target",
            Self::Rule => "rule",
            Self::Intent => "intent",
            Self::Key => "key",
            Self::Team => "team",
            Self::Experiment => "experiment",
        }
    }

    /// The column that holds the group in every SQL store (fixed names, never user input).
    pub(crate) fn column(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Target => "target",
            Self::Rule => "rule",
            Self::Intent => "intent",
            Self::Key => "key_id",
            Self::Team => "team",
            Self::Experiment => "CAST(NULL AS TEXT)",
        }
    }

    /// The group of a record.
    pub fn of(self, r: &Record) -> Option<&str> {
        match self {
            Self::Route => Some(r.route.as_str()),
            Self::Target => r.target.as_deref(),
            Self::Rule => r.rule.as_deref(),
            Self::Intent => intent_of(&r.decision),
            Self::Key => r.key.as_deref(),
            Self::Team => r.team.as_deref(),
            Self::Experiment => None,
        }
    }
}

/// The intent in a compact decision string (`...;intent=billing;...`).
pub fn intent_of(decision: &str) -> Option<&str> {
    decision
        .split(';')
        .find_map(|part| part.strip_prefix("intent="))
        .filter(|i| !i.is_empty())
}

/// What one record contributes to an outcomes report: the row `outcomes` aggregates, and
/// the fields a `--filter` expression may read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutcomeRow {
    pub row: crate::outcomes::RequestRow,
    pub route: String,
    pub target: Option<String>,
    pub rule: Option<String>,
    pub key: Option<String>,
    pub team: Option<String>,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Whether the answer streamed.
    pub stream: bool,
}

impl OutcomeRow {
    pub fn of(r: &Record, by: GroupBy) -> Self {
        Self {
            row: crate::outcomes::RequestRow {
                tenant: r.tenant.clone(),
                request_id: r
                    .client_request_id
                    .clone()
                    .unwrap_or_else(|| r.request_id.clone()),
                group: by.of(r).map(str::to_owned),
                episode: r.episode_id.clone(),
                latency_ms: r.latency_ms,
                ttft_ms: r.ttft_ms,
                failed: r.failed(),
                attempts: u32::try_from(r.attempts.len()).unwrap_or(u32::MAX),
                cost_usd: r.cost_usd,
            },
            route: r.route.clone(),
            target: r.target.clone(),
            rule: r.rule.clone(),
            key: r.key.clone(),
            team: r.team.clone(),
            status: r.status,
            error: r.error.clone(),
            stream: r.stream.is_some(),
        }
    }
}

/// The label of records without a group value (no key, no team, no target).
pub const NO_GROUP: &str = "(none)";

/// One group's aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    pub group: String,
    pub requests: u64,
    pub cost_usd: f64,
    pub p50_latency_ms: u64,
    pub p95_latency_ms: u64,
    /// Over the requests that have a TTFT (streams); `None` when none has.
    pub p50_ttft_ms: Option<u64>,
    pub p95_ttft_ms: Option<u64>,
    /// Share of requests that failed (`Record::failed`).
    pub error_rate: f64,
    /// Share of requests that needed more than one attempt.
    pub fallback_rate: f64,
}

/// What one record contributes to a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub group: Option<String>,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub failed: bool,
    pub attempts: u32,
    pub cost_usd: Option<f64>,
}

impl Sample {
    pub fn of(r: &Record, by: GroupBy) -> Self {
        Self {
            group: by.of(r).map(str::to_owned),
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            failed: r.failed(),
            attempts: u32::try_from(r.attempts.len()).unwrap_or(u32::MAX),
            cost_usd: r.cost_usd,
        }
    }
}

#[derive(Default)]
struct Acc {
    latencies: Vec<u64>,
    ttfts: Vec<u64>,
    cost: f64,
    failed: u64,
    fell_back: u64,
}

/// Aggregates samples into rows, busiest group first (ties by name).
pub fn aggregate(samples: impl IntoIterator<Item = Sample>) -> Vec<ReportRow> {
    let mut groups: HashMap<String, Acc> = HashMap::new();
    for s in samples {
        let a = groups
            .entry(s.group.unwrap_or_else(|| NO_GROUP.to_owned()))
            .or_default();
        a.latencies.push(s.latency_ms);
        if let Some(t) = s.ttft_ms {
            a.ttfts.push(t);
        }
        a.cost += s.cost_usd.unwrap_or(0.0);
        a.failed += u64::from(s.failed);
        a.fell_back += u64::from(s.attempts > 1);
    }
    let mut rows: Vec<ReportRow> = groups
        .into_iter()
        .map(|(group, mut a)| {
            a.latencies.sort_unstable();
            a.ttfts.sort_unstable();
            let n = a.latencies.len() as u64;
            let share = |k: u64| if n == 0 { 0.0 } else { k as f64 / n as f64 };
            ReportRow {
                group,
                requests: n,
                cost_usd: a.cost,
                p50_latency_ms: percentile(&a.latencies, 0.50).unwrap_or(0),
                p95_latency_ms: percentile(&a.latencies, 0.95).unwrap_or(0),
                p50_ttft_ms: percentile(&a.ttfts, 0.50),
                p95_ttft_ms: percentile(&a.ttfts, 0.95),
                error_rate: share(a.failed),
                fallback_rate: share(a.fell_back),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.group.cmp(&b.group)));
    rows
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `p` of the
/// values at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.95), Some(95));
        assert_eq!(percentile(&[7], 0.95), Some(7));
        assert_eq!(percentile(&[1, 2], 0.5), Some(1));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn aggregates_by_group() {
        let s = |g: Option<&str>, lat, failed, attempts| Sample {
            group: g.map(str::to_owned),
            latency_ms: lat,
            ttft_ms: None,
            failed,
            attempts,
            cost_usd: Some(0.5),
        };
        let rows = aggregate([
            s(Some("a"), 10, false, 1),
            s(Some("a"), 30, true, 2),
            s(None, 5, false, 1),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].group, "a");
        assert_eq!(rows[0].requests, 2);
        assert_eq!(rows[0].p50_latency_ms, 10);
        assert_eq!(rows[0].p95_latency_ms, 30);
        assert_eq!(rows[0].error_rate, 0.5);
        assert_eq!(rows[0].fallback_rate, 0.5);
        assert_eq!(rows[0].cost_usd, 1.0);
        assert_eq!(rows[0].p50_ttft_ms, None);
        assert_eq!(rows[1].group, NO_GROUP);
    }
}

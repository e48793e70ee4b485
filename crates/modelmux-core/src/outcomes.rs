//! Outcomes by group: what `modelmux report` and `GET /v1/analytics` show. Records (one per
//! request) and feedback values (joined by request id, or by episode id for episode-level
//! metrics) are aggregated per group — a route, a target, a rule, a key... — into volumes,
//! cost (total, per request, per episode at p50 / mean / p95), latency and time to first
//! token, error and fallback rates, each metric's mean with its confidence interval and its
//! coverage (the share of units that carry it), and the cost per resolved episode; against a
//! baseline group, the difference in cost and in each metric with its interval.
//!
//! Units: a request, or with `Per::Episode` an episode — the requests of one episode inside
//! one group (an episode that touched two routes counts once in each). Episode-level metrics
//! are always per episode. Several values for one unit and metric: the latest counts.
//! Intervals come from `stats` (Wilson for booleans and rates, Student t for floats, a
//! seeded bootstrap for cost ratios — the delta method from 1,000 units on, where a bootstrap
//! would cost resamples × units draws), so the same data always gives the same report.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::stats::{self, Difference, Estimate};

/// What a metric measures, as `[[metrics]]` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Boolean,
    Float,
    /// Shown by coverage only (no mean).
    Category,
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Request,
    Episode,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    pub name: String,
    pub kind: Kind,
    pub level: Level,
}

/// The unit of analysis for costs and request-level metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Per {
    #[default]
    Request,
    Episode,
}

/// What one record contributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestRow {
    /// Whose request it is: feedback joins within the tenant only.
    pub tenant: Option<String>,
    /// The id the client knows the request by (its own `x-modelmux-request-id`, else the
    /// gateway's): what feedback names.
    pub request_id: String,
    pub group: Option<String>,
    pub episode: Option<String>,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub failed: bool,
    pub attempts: u32,
    pub cost_usd: Option<f64>,
}

/// One feedback value, as stored (booleans as 0 or 1).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackValue {
    pub tenant: Option<String>,
    pub request_id: Option<String>,
    pub episode_id: Option<String>,
    pub metric: String,
    pub value: Option<f64>,
    pub time_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub per: Per,
    pub metrics: Vec<MetricSpec>,
    pub baseline: Option<String>,
    pub confidence: f64,
    /// Bootstrap resamples and seed for ratio intervals.
    pub resamples: usize,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            per: Per::Request,
            metrics: Vec::new(),
            baseline: None,
            confidence: 0.95,
            resamples: 1000,
            seed: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub p50: f64,
    pub mean: f64,
    pub p95: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricOutcome {
    pub metric: String,
    /// The mean with its interval (`None` for categories, comments and uncovered metrics).
    pub estimate: Option<Estimate>,
    /// Units that carry the metric, and their share of all units of its level.
    pub covered: u64,
    pub coverage: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VsBaseline {
    pub baseline: String,
    /// Relative difference in cost per unit, in percent, with a bootstrap interval.
    pub cost_pct: Option<Estimate>,
    pub metrics: Vec<(String, Option<Difference>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupOutcome {
    pub group: String,
    pub requests: u64,
    pub episodes: u64,
    pub cost_usd: f64,
    pub cost_per_request: f64,
    /// Cost of an episode (inside this group): p50, mean, p95.
    pub cost_per_episode: Option<Spread>,
    pub p50_latency_ms: u64,
    pub p95_latency_ms: u64,
    pub p50_ttft_ms: Option<u64>,
    pub p95_ttft_ms: Option<u64>,
    pub error_rate: Option<Estimate>,
    pub fallback_rate: Option<Estimate>,
    pub metrics: Vec<MetricOutcome>,
    /// For each boolean episode metric: the group's episode cost over its episodes where the
    /// metric is true, with a bootstrap interval over episodes.
    pub cost_per_resolved: Vec<(String, Option<Estimate>)>,
    pub vs_baseline: Option<VsBaseline>,
}

/// The latest value per (tenant, unit key, metric), borrowing from the feedback (no copy
/// per lookup: a report over a million records looks up every unit and metric).
type Latest<'a> = HashMap<(Option<&'a str>, &'a str, &'a str), (i64, Option<f64>)>;

fn latest(feedback: &[FeedbackValue], episode_level: bool) -> Latest<'_> {
    let mut map: Latest<'_> = HashMap::new();
    for f in feedback {
        let key = if episode_level {
            &f.episode_id
        } else {
            &f.request_id
        };
        let Some(key) = key else { continue };
        let slot = map
            .entry((f.tenant.as_deref(), key.as_str(), f.metric.as_str()))
            .or_insert((i64::MIN, None));
        if f.time_ms >= slot.0 {
            *slot = (f.time_ms, f.value);
        }
    }
    map
}

/// One group's units: a unit is a request, or an episode's requests in the group (an
/// episode belongs to one tenant).
struct Unit<'a> {
    rows: Rows<'a>,
    episode: Option<&'a str>,
    tenant: Option<&'a str>,
}

/// A unit's requests: one (no allocation per request unit), or an episode's.
enum Rows<'a> {
    One(&'a RequestRow),
    Many(Vec<&'a RequestRow>),
}

impl<'a> Rows<'a> {
    fn iter(&self) -> impl Iterator<Item = &'a RequestRow> + '_ {
        let (one, many) = match self {
            Rows::One(r) => (Some(*r), &[][..]),
            Rows::Many(v) => (None, v.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

impl Unit<'_> {
    fn cost(&self) -> f64 {
        self.rows.iter().filter_map(|r| r.cost_usd).sum()
    }
}

/// The report, one entry per group (busiest first); the baseline group's own entry
/// carries no comparison.
pub fn report(
    rows: &[RequestRow],
    feedback: &[FeedbackValue],
    opts: &Options,
) -> Vec<GroupOutcome> {
    let by_request = latest(feedback, false);
    let by_episode = latest(feedback, true);
    let mut groups: BTreeMap<&str, Vec<&RequestRow>> = BTreeMap::new();
    for r in rows {
        groups
            .entry(
                r.group
                    .as_deref()
                    .unwrap_or(crate::records::report::NO_GROUP),
            )
            .or_default()
            .push(r);
    }
    let built: Vec<(GroupOutcome, Samples)> = groups
        .iter()
        .map(|(g, rs)| group(g, rs, &by_request, &by_episode, opts))
        .collect();
    let base = opts
        .baseline
        .as_deref()
        .and_then(|b| built.iter().find(|(g, _)| g.group == b))
        .map(|(g, s)| (g.group.clone(), s.clone()));
    let mut out: Vec<GroupOutcome> = built
        .into_iter()
        .map(|(mut g, s)| {
            if let Some((name, b)) = &base
                && *name != g.group
            {
                g.vs_baseline = Some(compare(name, b, &s, opts));
            }
            g
        })
        .collect();
    out.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.group.cmp(&b.group)));
    out
}

/// What a group keeps for comparisons: cost per unit, and each metric's values per unit.
#[derive(Clone, Default)]
struct Samples {
    unit_costs: Vec<f64>,
    metric_values: Vec<(String, Kind, Vec<f64>)>,
}

fn units<'a>(rows: &[&'a RequestRow], per: Per) -> Vec<Unit<'a>> {
    match per {
        Per::Request => rows
            .iter()
            .map(|r| Unit {
                rows: Rows::One(r),
                episode: r.episode.as_deref(),
                tenant: r.tenant.as_deref(),
            })
            .collect(),
        Per::Episode => episodes(rows),
    }
}

fn episodes<'a>(rows: &[&'a RequestRow]) -> Vec<Unit<'a>> {
    let mut map: BTreeMap<(Option<&str>, &str), Vec<&'a RequestRow>> = BTreeMap::new();
    for r in rows {
        // A request without an episode is an episode of its own.
        let e = r.episode.as_deref().unwrap_or(r.request_id.as_str());
        map.entry((r.tenant.as_deref(), e)).or_default().push(r);
    }
    map.into_iter()
        .map(|((tenant, e), rows)| Unit {
            episode: Some(e),
            tenant,
            rows: Rows::Many(rows),
        })
        .collect()
}

fn group(
    name: &str,
    rows: &[&RequestRow],
    by_request: &Latest<'_>,
    by_episode: &Latest<'_>,
    opts: &Options,
) -> (GroupOutcome, Samples) {
    let n = rows.len() as u64;
    let mut lat: Vec<u64> = rows.iter().map(|r| r.latency_ms).collect();
    let mut ttft: Vec<u64> = rows.iter().filter_map(|r| r.ttft_ms).collect();
    lat.sort_unstable();
    ttft.sort_unstable();
    let pct = crate::records::report::percentile;
    let failed = rows.iter().filter(|r| r.failed).count() as u64;
    let fell_back = rows.iter().filter(|r| r.attempts > 1).count() as u64;
    let cost: f64 = rows.iter().filter_map(|r| r.cost_usd).sum();
    let eps = episodes(rows);
    let mut ep_costs: Vec<f64> = eps.iter().map(Unit::cost).collect();
    ep_costs.sort_by(f64::total_cmp);
    let request_units = units(rows, opts.per);
    let mut samples = Samples {
        unit_costs: request_units.iter().map(Unit::cost).collect(),
        metric_values: Vec::new(),
    };
    let mut metrics = Vec::new();
    let mut cost_per_resolved = Vec::new();
    for m in &opts.metrics {
        let (unit_list, table) = match m.level {
            Level::Request => (&request_units, by_request),
            Level::Episode => (&eps, by_episode),
        };
        let values: Vec<f64> = unit_list
            .iter()
            .filter_map(|u| unit_value(u, m, table))
            .collect();
        let covered = values.len() as u64;
        let estimate = match m.kind {
            Kind::Boolean => {
                let yes = values.iter().filter(|v| **v >= 0.5).count() as u64;
                stats::wilson(yes, covered, opts.confidence)
            }
            Kind::Float => stats::mean_t(&values, opts.confidence),
            Kind::Category | Kind::Comment => None,
        };
        metrics.push(MetricOutcome {
            metric: m.name.clone(),
            estimate,
            covered,
            coverage: share(covered, unit_list.len() as u64),
        });
        if m.kind == Kind::Boolean && m.level == Level::Episode {
            let pairs: Vec<(f64, f64)> = eps
                .iter()
                .map(|u| {
                    let resolved = unit_value(u, m, by_episode).is_some_and(|v| v >= 0.5);
                    (u.cost(), f64::from(u8::from(resolved)))
                })
                .collect();
            cost_per_resolved.push((m.name.clone(), ratio(&pairs, opts)));
        }
        samples.metric_values.push((m.name.clone(), m.kind, values));
    }
    let outcome = GroupOutcome {
        group: name.to_owned(),
        requests: n,
        episodes: eps.len() as u64,
        cost_usd: cost,
        cost_per_request: if n == 0 { 0.0 } else { cost / n as f64 },
        cost_per_episode: (!ep_costs.is_empty()).then(|| Spread {
            p50: stats::quantile(&ep_costs, 0.5),
            mean: ep_costs.iter().sum::<f64>() / ep_costs.len() as f64,
            p95: stats::quantile(&ep_costs, 0.95),
        }),
        p50_latency_ms: pct(&lat, 0.5).unwrap_or(0),
        p95_latency_ms: pct(&lat, 0.95).unwrap_or(0),
        p50_ttft_ms: pct(&ttft, 0.5),
        p95_ttft_ms: pct(&ttft, 0.95),
        error_rate: stats::wilson(failed, n, opts.confidence),
        fallback_rate: stats::wilson(fell_back, n, opts.confidence),
        metrics,
        cost_per_resolved,
        vs_baseline: None,
    };
    (outcome, samples)
}

/// A unit's value of `m`: the episode's for an episode unit; for a request-level metric on
/// an episode unit, the mean of its requests' values.
fn unit_value(u: &Unit<'_>, m: &MetricSpec, table: &Latest<'_>) -> Option<f64> {
    let get = |key: &str| {
        table
            .get(&(u.tenant, key, m.name.as_str()))
            .and_then(|v| v.1)
    };
    if m.level == Level::Episode {
        return u.episode.and_then(get);
    }
    let (mut sum, mut n) = (0.0, 0u32);
    for v in u.rows.iter().filter_map(|r| get(&r.request_id)) {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / f64::from(n))
}

fn share(k: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { k as f64 / n as f64 }
}

/// Units from which an interval of a ratio is worked out by the delta method rather than a
/// bootstrap (whose cost is resamples × units; at this size the two agree).
const DELTA_FROM: usize = 1000;

/// Σcost / Σresolved over units, with a seeded bootstrap interval over units (the delta
/// method on large samples).
fn ratio(pairs: &[(f64, f64)], opts: &Options) -> Option<Estimate> {
    if pairs.len() >= DELTA_FROM {
        return stats::ratio_delta(pairs, opts.confidence);
    }
    let of = |ps: &mut dyn Iterator<Item = (f64, f64)>| {
        let (c, r) = ps.fold((0.0, 0.0), |(c, r), (pc, pr)| (c + pc, r + pr));
        (r > 0.0).then(|| c / r)
    };
    let point = of(&mut pairs.iter().copied())?;
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let n = pairs.len();
    let mut draws: Vec<f64> = (0..opts.resamples)
        .filter_map(|_| of(&mut (0..n).map(|_| pairs[rng.usize(..n)])))
        .collect();
    draws.sort_by(f64::total_cmp);
    let tail = (1.0 - opts.confidence) / 2.0;
    Some(Estimate {
        mean: point,
        lo: stats::quantile(&draws, tail),
        hi: stats::quantile(&draws, 1.0 - tail),
        n: n as u64,
        confidence: opts.confidence,
    })
}

fn compare(name: &str, base: &Samples, s: &Samples, opts: &Options) -> VsBaseline {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let large = base.unit_costs.len().min(s.unit_costs.len()) >= DELTA_FROM;
    let cost_pct = if large {
        stats::relative_difference_delta(&s.unit_costs, &base.unit_costs, opts.confidence)
    } else {
        (!base.unit_costs.is_empty() && !s.unit_costs.is_empty() && mean(&base.unit_costs) > 0.0)
            .then(|| {
                let point = (mean(&s.unit_costs) / mean(&base.unit_costs) - 1.0) * 100.0;
                let mut rng = fastrand::Rng::with_seed(opts.seed);
                let draw = |v: &[f64], rng: &mut fastrand::Rng| {
                    (0..v.len()).map(|_| v[rng.usize(..v.len())]).sum::<f64>() / v.len() as f64
                };
                let mut draws: Vec<f64> = (0..opts.resamples)
                    .filter_map(|_| {
                        let b = draw(&base.unit_costs, &mut rng);
                        let a = draw(&s.unit_costs, &mut rng);
                        (b > 0.0).then(|| (a / b - 1.0) * 100.0)
                    })
                    .collect();
                draws.sort_by(f64::total_cmp);
                let tail = (1.0 - opts.confidence) / 2.0;
                Estimate {
                    mean: point,
                    lo: stats::quantile(&draws, tail),
                    hi: stats::quantile(&draws, 1.0 - tail),
                    n: s.unit_costs.len() as u64,
                    confidence: opts.confidence,
                }
            })
    };
    let metrics = s
        .metric_values
        .iter()
        .zip(&base.metric_values)
        .map(|((name, kind, v), (_, _, b))| {
            let d = match kind {
                Kind::Boolean => {
                    let yes = |x: &[f64]| x.iter().filter(|v| **v >= 0.5).count() as u64;
                    stats::diff_proportions(
                        (yes(b), b.len() as u64),
                        (yes(v), v.len() as u64),
                        opts.confidence,
                    )
                }
                Kind::Float => stats::diff_means(b, v, opts.confidence),
                Kind::Category | Kind::Comment => None,
            };
            (name.clone(), d)
        })
        .collect();
    VsBaseline {
        baseline: name.to_owned(),
        cost_pct,
        metrics,
    }
}

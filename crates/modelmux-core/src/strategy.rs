//! Choosing the order of candidates. First the capability filter drops candidates that
//! cannot serve the request at all (window too small for the estimated input plus the
//! requested output; no tools, vision or json_schema when the request needs them), each with
//! its reason. Then health moves unavailable targets (open circuit, Retry-After cooldown,
//! exhausted rate limit) to the end, and the route's strategy orders the rest: `priority`,
//! `weighted`, `cheapest` (catalog prices × token estimate), `fastest` (EWMA of TTFT and time
//! per token, with ε-exploration so a recovered target gets traffic again), `least-busy`
//! (power of two choices on in-flight requests). A `max_ttft` bound composes with any of them:
//! targets whose observed p95 TTFT exceeds it go after those within it.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::config::Strategy;
use crate::features::Features;
use crate::health::Health;
use crate::ids::TargetRef;
use crate::routing::Candidate;

/// Share of `fastest` decisions that try a random candidate first.
const EXPLORE: f64 = 0.05;

/// What the strategy did with one candidate, for the decision.
#[derive(Debug, Clone, Serialize)]
pub struct Considered {
    /// Shown as `provider/model`.
    #[serde(serialize_with = "as_text")]
    pub target: TargetRef,
    pub kept: bool,
    pub reason: Reason,
    /// The strategy's score, where it has one (USD for cheapest, ms for fastest, in-flight
    /// requests for least-busy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Estimated cost of this request on this target, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub est_cost: Option<f64>,
}

/// Why a candidate is where it is; shown as text (`#1 by cheapest`, `demoted: ...`, or why
/// it was dropped). Kept structured so a decision costs no formatting until it is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Kept at this place (from 1) of the strategy's order.
    Ranked { rank: usize, strategy: &'static str },
    /// Kept, but moved after the others for this reason.
    Demoted(String),
    /// Left out for this reason.
    Dropped(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Ranked { rank, strategy } => write!(f, "#{rank} by {strategy}"),
            Reason::Demoted(why) => write!(f, "demoted: {why}"),
            Reason::Dropped(why) => f.write_str(why),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn as_text<S: Serializer>(t: &TargetRef, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// The estimated cost of the request on `c` (`cost::estimate`, the one estimate budgets
/// reserve too).
pub fn estimate_cost(c: &Candidate, f: &Features) -> Option<f64> {
    crate::cost::estimate(c, f.input_tokens, f.max_output, f.expected_output)
}

/// Why `c` cannot serve the request, if it cannot.
pub fn capability_gap(c: &Candidate, f: &Features, clamp_output: bool) -> Option<String> {
    let i = &c.info;
    if let Some(window) = i.context_window {
        // A clamped request needs at most the target's own output limit.
        let out = match (f.max_output, i.max_output_tokens, clamp_output) {
            (Some(asked), Some(limit), true) => asked.min(limit),
            (Some(asked), _, _) => asked,
            (None, _, _) => 0,
        };
        if f.input_tokens + out > window {
            return Some(format!(
                "context window {window} < {} estimated input + {out} output",
                f.input_tokens
            ));
        }
    }
    if let Some(caps) = i.capabilities {
        if f.tools && !caps.tools {
            return Some("no tool support".into());
        }
        if f.images && !caps.vision {
            return Some("no vision".into());
        }
        if f.output_format == "json_schema" && !caps.json_schema {
            return Some("no json_schema output".into());
        }
    }
    None
}

/// Orders `candidates` for the request; returns the order to try and what happened to each.
pub fn order(
    strategy: Strategy,
    weights: &[(TargetRef, u32)],
    max_ttft: Option<Duration>,
    candidates: Vec<Candidate>,
    f: &Features,
    health: &Health,
    clamp_output: bool,
) -> (Vec<Candidate>, Vec<Considered>) {
    let mut notes = Vec::new();
    let mut fit = Vec::with_capacity(candidates.len());
    for c in candidates {
        match capability_gap(&c, f, clamp_output) {
            Some(reason) => notes.push(Considered {
                est_cost: estimate_cost(&c, f),
                target: c.target,
                kept: false,
                reason: Reason::Dropped(reason),
                score: None,
            }),
            None => fit.push(c),
        }
    }
    let views: Vec<_> = fit.iter().map(|c| health.snapshot(&c.target)).collect();
    let out_est = f
        .max_output
        .map_or(f.expected_output, |m| m.min(f.expected_output)) as f64;
    let score = |i: usize, c: &Candidate| -> Option<f64> {
        match strategy {
            Strategy::Priority | Strategy::Weighted => None,
            Strategy::Cheapest => estimate_cost(c, f),
            Strategy::Fastest => {
                let v = &views[i];
                // Unobserved targets score 0: they get tried, and so get observed.
                Some(
                    v.ewma_ttft_ms.or(v.ewma_latency_ms).unwrap_or(0.0)
                        + v.ewma_time_per_token_ms.unwrap_or(0.0) * out_est,
                )
            }
            Strategy::LeastBusy => Some(f64::from(views[i].in_flight)),
        }
    };
    let mut ranked: Vec<(usize, Option<f64>)> = fit
        .iter()
        .enumerate()
        .map(|(i, c)| (i, score(i, c)))
        .collect();
    match strategy {
        Strategy::Priority => {}
        Strategy::Weighted => {
            // Weighted sampling without replacement: key = u^(1/w), largest first.
            let mut keyed: Vec<(usize, f64)> = ranked
                .iter()
                .map(|(i, _)| {
                    let w = weights
                        .iter()
                        .find(|(t, _)| *t == fit[*i].target)
                        .map_or(1, |(_, w)| *w)
                        .max(1);
                    (*i, fastrand::f64().powf(1.0 / f64::from(w)))
                })
                .collect();
            keyed.sort_by(|a, b| b.1.total_cmp(&a.1));
            ranked = keyed.into_iter().map(|(i, _)| (i, None)).collect();
        }
        Strategy::Cheapest => ranked.sort_by(|a, b| cmp_scores(a.1, b.1)),
        Strategy::Fastest => {
            ranked.sort_by(|a, b| cmp_scores(a.1, b.1));
            if ranked.len() > 1 && fastrand::f64() < EXPLORE {
                let pick = fastrand::usize(1..ranked.len());
                let explored = ranked.remove(pick);
                ranked.insert(0, explored);
            }
        }
        Strategy::LeastBusy => {
            ranked.sort_by(|a, b| cmp_scores(a.1, b.1));
            if ranked.len() > 1 {
                // Power of two choices: two at random, the less busy first.
                let a = fastrand::usize(..ranked.len());
                let mut b = fastrand::usize(..ranked.len() - 1);
                if b >= a {
                    b += 1;
                }
                let first = if cmp_scores(ranked[a].1, ranked[b].1).is_le() {
                    a
                } else {
                    b
                };
                let chosen = ranked.remove(first);
                ranked.insert(0, chosen);
            }
        }
    }
    // Health and the TTFT bound demote, keeping the strategy's order within each group.
    let group = |i: usize| -> (u8, Option<String>) {
        let v = &views[i];
        if let Some(why) = &v.unavailable {
            return (2, Some(why.clone()));
        }
        if let Some(l) = v.rate_limits {
            let est = f.input_tokens
                + f.max_output
                    .map_or(f.expected_output, |m| m.min(f.expected_output));
            if l.remaining_requests == Some(0) || l.remaining_tokens.is_some_and(|t| t < est) {
                return (1, Some("rate limit nearly exhausted".into()));
            }
        }
        if let (Some(bound), Some(p95)) = (max_ttft, v.p95_ttft_ms)
            && p95 > bound.as_secs_f64() * 1e3
        {
            return (
                1,
                Some(format!(
                    "p95 TTFT {p95:.0} ms over the {} bound",
                    humantime::format_duration(bound)
                )),
            );
        }
        (0, None)
    };
    let mut grouped: Vec<(u8, Option<String>, usize, Option<f64>)> = ranked
        .into_iter()
        .map(|(i, s)| {
            let (g, why) = group(i);
            (g, why, i, s)
        })
        .collect();
    grouped.sort_by_key(|(g, ..)| *g);
    let mut ordered = Vec::with_capacity(grouped.len());
    let mut kept_notes = Vec::with_capacity(grouped.len() + notes.len());
    let mut fit: Vec<Option<Candidate>> = fit.into_iter().map(Some).collect();
    for (rank, (_, why, i, s)) in grouped.into_iter().enumerate() {
        let Some(c) = fit.get_mut(i).and_then(Option::take) else {
            continue;
        };
        let reason = match why {
            Some(w) => Reason::Demoted(w),
            None => Reason::Ranked {
                rank: rank + 1,
                strategy: strategy.name(),
            },
        };
        kept_notes.push(Considered {
            target: c.target.clone(),
            kept: true,
            reason,
            score: s,
            est_cost: estimate_cost(&c, f),
        });
        ordered.push(c);
    }
    kept_notes.extend(notes);
    (ordered, kept_notes)
}

fn cmp_scores(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

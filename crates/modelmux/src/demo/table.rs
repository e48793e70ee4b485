//! The demo's terminal output, every line at most 80 columns: the set-up it runs, the
//! outcomes by route (tickets, turns, resolution rate with its interval, cost per ticket and
//! per resolved ticket, from `modelmux_core::outcomes`), and a short table per target
//! (upstream calls, answers, median latency, cost per call, from the records).

use std::fmt::Write;

use modelmux_core::records::Record;

use super::{DemoResult, Model, ROUTES};
use crate::cli::DemoArgs;

/// One target's line.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    pub target: String,
    /// Upstream calls the simulator counted.
    pub calls: u64,
    /// Records this target answered.
    pub answered: u64,
    pub p50_ms: u64,
    pub cost_usd: f64,
}

pub fn targets(calls: &[(String, u64)], records: &[Record]) -> Vec<TargetRow> {
    calls
        .iter()
        .map(|(target, calls)| {
            let mine: Vec<&Record> = records
                .iter()
                .filter(|r| r.target.as_deref() == Some(target.as_str()) && !r.failed())
                .collect();
            let mut lat: Vec<u64> = mine.iter().map(|r| r.latency_ms).collect();
            lat.sort_unstable();
            TargetRow {
                target: target.clone(),
                calls: *calls,
                answered: mine.len() as u64,
                p50_ms: modelmux_core::records::report::percentile(&lat, 0.5).unwrap_or(0),
                cost_usd: mine.iter().filter_map(|r| r.cost_usd).sum(),
            }
        })
        .collect()
}

pub fn header(args: &DemoArgs, models: &[Model]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "modelmux demo: a support assistant on simulated models, one gateway (seed {})",
        args.seed
    );
    for m in models {
        let rates: Vec<String> = super::tickets::Intent::ALL
            .iter()
            .map(|i| format!("{:.0}", m.behaviour.resolution_rate(i.name()) * 100.0))
            .collect();
        let _ = writeln!(
            out,
            "  {:<20} ${:>5.2} / ${:>5.2} per M tokens, resolves {} %",
            m.target(),
            m.input_price,
            m.output_price,
            rates.join(" / ")
        );
    }
    let _ = writeln!(
        out,
        "  (its chance to resolve billing FAQs / account questions / policy edge cases)"
    );
    let _ = writeln!(
        out,
        "routes: cheap = fast-mini, strong = strong-large, support = a rule on intent:"
    );
    let _ = writeln!(
        out,
        "  billing -> fast-mini, account and policy -> strong-large"
    );
    let _ = writeln!(
        out,
        "{} tickets of 1-4 turns (each scenario once per route), {} at a time;",
        args.tickets, args.concurrency
    );
    let _ = writeln!(
        out,
        "after each, `resolved` true or false is posted to /v1/feedback\n"
    );
    out
}

pub fn render(result: &DemoResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>7} {:>5}  {:<22} {:>5} {:>9} {:>11}",
        "route", "tickets", "turns", "resolved (95% CI)", "true", "$/ticket", "$/resolved"
    );
    for route in ROUTES {
        let Some(g) = result.outcomes.iter().find(|g| g.group == route) else {
            continue;
        };
        let resolved = g
            .metrics
            .iter()
            .find(|m| m.metric == "resolved")
            .and_then(|m| m.estimate.as_ref())
            .map_or_else(
                || "-".to_owned(),
                |e| {
                    format!(
                        "{:.1} % [{:.1}, {:.1}]",
                        e.mean * 100.0,
                        e.lo * 100.0,
                        e.hi * 100.0
                    )
                },
            );
        let per_ticket = g.cost_per_episode.as_ref().map_or(0.0, |s| s.mean);
        let per_resolved = g
            .cost_per_resolved
            .iter()
            .find(|(m, _)| m == "resolved")
            .and_then(|(_, e)| e.as_ref())
            .map_or_else(|| "-".to_owned(), |e| format!("{:.5}", e.mean));
        // The rate the simulator was configured with, over this route's tickets.
        let mine: Vec<f64> = result
            .runs
            .iter()
            .filter(|r| r.ticket.route == route)
            .map(|r| r.p_resolve)
            .collect();
        let truth = mine.iter().sum::<f64>() / mine.len().max(1) as f64 * 100.0;
        let _ = writeln!(
            out,
            "{:<8} {:>7} {:>5}  {:<22} {:>5.1} {:>9.5} {:>11}",
            route, g.episodes, g.requests, resolved, truth, per_ticket, per_resolved
        );
    }
    for g in &result.outcomes {
        let Some(vs) = &g.vs_baseline else { continue };
        let cost = vs.cost_pct.as_ref().map_or_else(
            || "-".to_owned(),
            |e| format!("{:+.0} % [{:+.0}, {:+.0}]", e.mean, e.lo, e.hi),
        );
        let resolved = vs
            .metrics
            .iter()
            .find(|(m, _)| m == "resolved")
            .and_then(|(_, d)| d.as_ref())
            .map_or_else(
                || "-".to_owned(),
                |d| {
                    format!(
                        "{:+.1} pts [{:+.1}, {:+.1}]",
                        d.delta * 100.0,
                        d.lo * 100.0,
                        d.hi * 100.0
                    )
                },
            );
        let _ = writeln!(
            out,
            "{:<8} vs {}: $/ticket {cost}, resolved {resolved}",
            g.group, vs.baseline
        );
    }
    let posted = result
        .runs
        .iter()
        .filter(|r| r.feedback_status == 202)
        .count();
    let resolved = result.runs.iter().filter(|r| r.resolved).count();
    let _ = writeln!(
        out,
        "feedback: {posted} of {} verdicts accepted, {resolved} resolved; true = the rate",
        result.runs.len()
    );
    let _ = writeln!(
        out,
        "the simulator draws from, resolved = what the feedback says (Wilson interval)"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<22} {:>8} {:>9} {:>8} {:>10}",
        "target", "calls", "answered", "p50 ms", "$/answer"
    );
    for t in &result.targets {
        let per = if t.answered == 0 {
            0.0
        } else {
            t.cost_usd / t.answered as f64
        };
        let _ = writeln!(
            out,
            "{:<22} {:>8} {:>9} {:>8} {:>10.5}",
            t.target, t.calls, t.answered, t.p50_ms, per
        );
    }
    out
}

//! How `modelmux report` prints an `Analytics` value: a table that stays readable in an
//! 80-column terminal (one small card per group: volumes, cost, latency, rates and each
//! metric on lines of their own, every estimate with its interval and sample size, like
//! `81.0 % ±3.1 (n=612)`), or CSV with one line per group. JSON is `serde_json` itself.

use std::fmt::Write;

use modelmux_core::analytics::Analytics;
use modelmux_core::outcomes::GroupOutcome;
use modelmux_core::stats::{Difference, Estimate};

/// The widest line the table prints.
pub const WIDTH: usize = 80;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn usd(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.5}")
    } else {
        format!("${v:.4}")
    }
}

fn half(e: &Estimate) -> f64 {
    (e.hi - e.lo) / 2.0
}

/// A proportion: `81.0 % ±3.1 (n=612)`.
fn rate(e: Option<&Estimate>) -> String {
    e.map_or_else(
        || "-".to_owned(),
        |e| {
            format!(
                "{:.1} % ±{:.1} (n={})",
                e.mean * 100.0,
                half(e) * 100.0,
                e.n
            )
        },
    )
}

/// A mean: `0.723 ±0.051 (n=100)`.
fn mean(e: Option<&Estimate>) -> String {
    e.map_or_else(
        || "-".to_owned(),
        |e| format!("{:.3} ±{:.3} (n={})", e.mean, half(e), e.n),
    )
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A difference against the baseline: percentage points (`scale` 100, one decimal) for
/// proportions, the metric's own unit (three decimals) for means.
fn diff(d: Option<&Difference>, scale: f64, unit: &str) -> String {
    let places = if scale == 1.0 { 3 } else { 1 };
    d.map_or_else(
        || "-".to_owned(),
        |d| {
            format!(
                "{:+.places$}{unit} [{:+.places$}, {:+.places$}] p={:.3}",
                d.delta * scale,
                d.lo * scale,
                d.hi * scale,
                d.p_value
            )
        },
    )
}

fn card(out: &mut String, g: &GroupOutcome, a: &Analytics, boolean: &dyn Fn(&str) -> bool) {
    let line = |out: &mut String, label: &str, value: String| {
        let _ = writeln!(out, "  {:<14} {}", cut(label, 14), cut(&value, WIDTH - 17));
    };
    let _ = writeln!(
        out,
        "{}",
        cut(
            &format!(
                "== {} {}: {} requests, {} episodes",
                a.by, g.group, g.requests, g.episodes
            ),
            WIDTH
        )
    );
    line(
        out,
        "cost",
        format!(
            "{} total, {} per request",
            usd(g.cost_usd),
            usd(g.cost_per_request)
        ),
    );
    if let Some(s) = &g.cost_per_episode {
        line(
            out,
            "per episode",
            format!(
                "p50 {}  mean {}  p95 {}",
                usd(s.p50),
                usd(s.mean),
                usd(s.p95)
            ),
        );
    }
    line(
        out,
        "latency ms",
        format!(
            "p50 {}  p95 {}   ttft p50 {}  p95 {}",
            g.p50_latency_ms,
            g.p95_latency_ms,
            ms(g.p50_ttft_ms),
            ms(g.p95_ttft_ms)
        ),
    );
    line(out, "errors", rate(g.error_rate.as_ref()));
    line(out, "fallbacks", rate(g.fallback_rate.as_ref()));
    for m in &g.metrics {
        let value = if boolean(&m.metric) {
            rate(m.estimate.as_ref())
        } else {
            mean(m.estimate.as_ref())
        };
        line(
            out,
            &m.metric,
            format!("{value}, coverage {:.1} %", m.coverage * 100.0),
        );
    }
    for (name, e) in &g.cost_per_resolved {
        let value = e.as_ref().map_or_else(
            || "- (none resolved)".to_owned(),
            |e| format!("{} [{}, {}] (n={})", usd(e.mean), usd(e.lo), usd(e.hi), e.n),
        );
        line(out, &format!("$/{name}"), value);
    }
    if let Some(vs) = &g.vs_baseline {
        let cost = vs.cost_pct.as_ref().map_or_else(
            || "-".to_owned(),
            |e| format!("{:+.1} % [{:+.1}, {:+.1}]", e.mean, e.lo, e.hi),
        );
        line(out, "Δcost", format!("{cost} vs {}", vs.baseline));
        for (name, d) in &vs.metrics {
            let text = if boolean(name) {
                diff(d.as_ref(), 100.0, " pts")
            } else {
                diff(d.as_ref(), 1.0, "")
            };
            line(out, &format!("Δ{name}"), text);
        }
    }
}

/// The table: a header, one card per group, then the orphan feedback count.
pub fn table(
    a: &Analytics,
    location: &str,
    window: &str,
    boolean: &dyn Fn(&str) -> bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", cut(&format!("records in {location}"), WIDTH));
    let _ = writeln!(
        out,
        "{}",
        cut(&format!("{window}, by {}, per {}", a.by, a.per), WIDTH)
    );
    if let Some(f) = &a.filter {
        let _ = writeln!(out, "{}", cut(&format!("filter: {f}"), WIDTH));
    }
    if a.groups.is_empty() {
        out.push_str("no requests in this window\n");
    }
    for g in &a.groups {
        out.push('\n');
        card(&mut out, g, a, boolean);
    }
    let _ = writeln!(
        out,
        "\n{} feedback values name no request or episode in this window",
        a.orphan_feedback
    );
    out
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// CSV: a header, then one line per group; a metric contributes its mean, bounds, n and
/// coverage (and, against a baseline, its difference and p-value).
pub fn csv(a: &Analytics) -> String {
    let mut head: Vec<String> = [
        "group",
        "requests",
        "episodes",
        "cost_usd",
        "cost_per_request",
        "cost_per_episode_p50",
        "cost_per_episode_mean",
        "cost_per_episode_p95",
        "p50_latency_ms",
        "p95_latency_ms",
        "p50_ttft_ms",
        "p95_ttft_ms",
        "error_rate",
        "error_lo",
        "error_hi",
        "fallback_rate",
        "fallback_lo",
        "fallback_hi",
        "cost_pct_vs_baseline",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for m in &a.metrics {
        for s in ["mean", "lo", "hi", "n", "coverage", "delta", "p_value"] {
            head.push(field(&format!("{m}_{s}")));
        }
    }
    let mut out = head.join(",");
    out.push('\n');
    for g in &a.groups {
        let est = |e: Option<&Estimate>| {
            [
                num(e.map(|e| e.mean)),
                num(e.map(|e| e.lo)),
                num(e.map(|e| e.hi)),
            ]
        };
        let mut row = vec![
            field(&g.group),
            g.requests.to_string(),
            g.episodes.to_string(),
            g.cost_usd.to_string(),
            g.cost_per_request.to_string(),
            num(g.cost_per_episode.as_ref().map(|s| s.p50)),
            num(g.cost_per_episode.as_ref().map(|s| s.mean)),
            num(g.cost_per_episode.as_ref().map(|s| s.p95)),
            g.p50_latency_ms.to_string(),
            g.p95_latency_ms.to_string(),
            ms(g.p50_ttft_ms).replace('-', ""),
            ms(g.p95_ttft_ms).replace('-', ""),
        ];
        row.extend(est(g.error_rate.as_ref()));
        row.extend(est(g.fallback_rate.as_ref()));
        row.push(num(g
            .vs_baseline
            .as_ref()
            .and_then(|v| v.cost_pct.as_ref())
            .map(|e| e.mean)));
        for name in &a.metrics {
            let m = g.metrics.iter().find(|m| &m.metric == name);
            row.extend(est(m.and_then(|m| m.estimate.as_ref())));
            row.push(m.map(|m| m.covered.to_string()).unwrap_or_default());
            row.push(num(m.map(|m| m.coverage)));
            let d = g
                .vs_baseline
                .as_ref()
                .and_then(|v| v.metrics.iter().find(|(n, _)| n == name))
                .and_then(|(_, d)| d.as_ref());
            row.push(num(d.map(|d| d.delta)));
            row.push(num(d.map(|d| d.p_value)));
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

//! The outcomes report on a fixture computed by hand: volumes, episodes, cost per request and
//! per episode, latency, error and fallback rates with their Wilson intervals, metric means
//! and coverage, the latest value winning, cost per resolved episode, and the comparison with
//! a baseline group. Interval bounds are the values statsmodels and scipy give for the same
//! counts.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap is the test failing"
)]

use modelmux_core::outcomes::{
    FeedbackValue, Kind, Level, MetricSpec, Options, Per, RequestRow, report,
};

fn row(
    id: &str,
    group: &str,
    ep: Option<&str>,
    cost: f64,
    lat: u64,
    failed: bool,
    attempts: u32,
) -> RequestRow {
    RequestRow {
        tenant: Some("key:k1".into()),
        request_id: id.into(),
        group: Some(group.into()),
        episode: ep.map(str::to_owned),
        latency_ms: lat,
        ttft_ms: None,
        failed,
        attempts,
        cost_usd: Some(cost),
    }
}

fn fb(req: Option<&str>, ep: Option<&str>, metric: &str, v: f64, t: i64) -> FeedbackValue {
    FeedbackValue {
        tenant: Some("key:k1".into()),
        request_id: req.map(str::to_owned),
        episode_id: ep.map(str::to_owned),
        metric: metric.into(),
        value: Some(v),
        time_ms: t,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn fixture() -> (Vec<RequestRow>, Vec<FeedbackValue>, Options) {
    let rows = vec![
        row("r1", "a", Some("e1"), 0.01, 100, false, 1),
        row("r2", "a", Some("e1"), 0.03, 200, false, 2),
        row("r3", "a", Some("e2"), 0.02, 300, true, 1),
        row("r4", "a", None, 0.04, 400, false, 1),
        row("r5", "b", Some("e3"), 0.10, 50, false, 1),
        row("r6", "b", Some("e4"), 0.20, 70, false, 1),
    ];
    let feedback = vec![
        fb(None, Some("e1"), "resolved", 1.0, 1),
        fb(None, Some("e2"), "resolved", 1.0, 1),
        // A later verdict replaces the earlier one.
        fb(None, Some("e2"), "resolved", 0.0, 2),
        fb(None, Some("e3"), "resolved", 1.0, 1),
        fb(None, Some("e4"), "resolved", 1.0, 1),
        fb(Some("r1"), None, "score", 0.5, 1),
        fb(Some("r2"), None, "score", 1.0, 1),
        fb(Some("r3"), None, "score", 0.0, 1),
        fb(Some("r5"), None, "score", 0.8, 1),
        // Feedback for a request no record has (an orphan) joins nothing.
        fb(Some("r-unknown"), None, "score", 0.1, 1),
        // Nor does another tenant's feedback naming the same ids.
        FeedbackValue {
            tenant: Some("key:other".into()),
            ..fb(None, Some("e2"), "resolved", 1.0, 9)
        },
        FeedbackValue {
            tenant: Some("key:other".into()),
            ..fb(Some("r4"), None, "score", 1.0, 9)
        },
    ];
    let opts = Options {
        metrics: vec![
            MetricSpec {
                name: "resolved".into(),
                kind: Kind::Boolean,
                level: Level::Episode,
            },
            MetricSpec {
                name: "score".into(),
                kind: Kind::Float,
                level: Level::Request,
            },
        ],
        baseline: Some("a".into()),
        ..Options::default()
    };
    (rows, feedback, opts)
}

#[test]
fn figures_equal_the_hand_computation() {
    let (rows, feedback, opts) = fixture();
    let out = report(&rows, &feedback, &opts);
    assert_eq!(out.len(), 2);
    let a = &out[0];
    assert_eq!(a.group, "a");
    assert_eq!((a.requests, a.episodes), (4, 3), "e1, e2 and r4 alone");
    assert!(close(a.cost_usd, 0.10) && close(a.cost_per_request, 0.025));
    let ep = a.cost_per_episode.as_ref().unwrap();
    assert!(close(ep.p50, 0.04) && close(ep.mean, 0.1 / 3.0) && close(ep.p95, 0.04));
    assert_eq!((a.p50_latency_ms, a.p95_latency_ms), (200, 400));
    let err = a.error_rate.unwrap();
    assert!(close(err.mean, 0.25) && err.n == 4);
    assert!((err.lo - 0.045_587_260_809_700_6).abs() < 1e-6, "{err:?}");
    assert!((err.hi - 0.699_358_157_417_598_2).abs() < 1e-6, "{err:?}");
    assert!(close(a.fallback_rate.unwrap().mean, 0.25));

    let resolved = &a.metrics[0];
    assert_eq!(resolved.covered, 2, "e1 and e2 carry it, r4 does not");
    assert!(close(resolved.coverage, 2.0 / 3.0));
    let r = resolved.estimate.unwrap();
    assert!(close(r.mean, 0.5), "e2's latest verdict is 0: {r:?}");
    assert!((r.lo - 0.094_531_205_734_230_68).abs() < 1e-6);
    assert!((r.hi - 0.905_468_794_265_769_3).abs() < 1e-6);

    let score = &a.metrics[1];
    assert_eq!(score.covered, 3);
    assert!(close(score.coverage, 0.75));
    let s = score.estimate.unwrap();
    assert!(close(s.mean, 0.5));
    assert!((s.lo + 0.742_068_855_875_165_1).abs() < 1e-6, "{s:?}");
    assert!((s.hi - 1.742_068_855_875_165_1).abs() < 1e-6, "{s:?}");

    // $0.10 spent over the group's episodes, one resolved.
    let (name, cpr) = &a.cost_per_resolved[0];
    assert_eq!(name, "resolved");
    assert!(close(cpr.unwrap().mean, 0.10));
    assert!(
        a.vs_baseline.is_none(),
        "the baseline is not compared with itself"
    );
}

#[test]
fn a_group_against_the_baseline() {
    let (rows, feedback, opts) = fixture();
    let out = report(&rows, &feedback, &opts);
    let b = &out[1];
    assert_eq!(b.group, "b");
    let vs = b.vs_baseline.as_ref().unwrap();
    assert_eq!(vs.baseline, "a");
    // $0.15 per request against $0.025: +500 %.
    let cost = vs.cost_pct.unwrap();
    assert!((cost.mean - 500.0).abs() < 1e-6, "{cost:?}");
    assert!(cost.lo <= cost.mean && cost.mean <= cost.hi);
    let (metric, d) = &vs.metrics[0];
    assert_eq!(metric, "resolved");
    let d = d.unwrap();
    assert!(close(d.delta, 0.5), "2 of 2 against 1 of 2");
    assert!((d.lo + 0.272_572_785_113_181_6).abs() < 1e-6, "{d:?}");
    assert!((d.hi - 0.905_468_794_265_769_3).abs() < 1e-6, "{d:?}");
    assert!((d.p_value - 0.248_213_078_989_923_62).abs() < 1e-6, "{d:?}");
    assert_eq!(vs.metrics[1].0, "score");
    assert!(vs.metrics[1].1.is_none(), "one score in b: no t interval");
}

#[test]
fn per_episode_units() {
    let (rows, feedback, mut opts) = fixture();
    opts.per = Per::Episode;
    opts.baseline = None;
    let out = report(&rows, &feedback, &opts);
    let a = &out[0];
    // e1's requests scored 0.5 and 1.0: the episode's score is their mean.
    let s = &a.metrics[1];
    assert_eq!(s.covered, 2, "e1 and e2 (r4 has no score)");
    assert!(close(s.coverage, 2.0 / 3.0));
    assert!(close(s.estimate.unwrap().mean, (0.75 + 0.0) / 2.0));
}

#[test]
fn the_same_data_gives_the_same_report() {
    let (rows, feedback, opts) = fixture();
    assert_eq!(
        report(&rows, &feedback, &opts),
        report(&rows, &feedback, &opts)
    );
}

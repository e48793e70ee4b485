//! The demo run end to end without printing: simulators, gateway, tickets as episodes,
//! feedback, the report read back from the store. Checks that every ticket got its verdict
//! stored, that the rule split the `support` tickets by intent, that each route's resolution
//! rate lands within its interval of the probability the simulator was configured with, that
//! the same seed gives the same table, and that every line fits 80 columns.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap is the test failing"
)]

use indicatif::ProgressBar;

use super::tickets::Intent;
use super::*;

fn args(tickets: usize, seed: u64) -> DemoArgs {
    DemoArgs {
        tickets,
        concurrency: 8,
        stream_percent: 30,
        seed,
    }
}

fn route_table(r: &DemoResult) -> String {
    table::render(r)
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_rates_land_within_their_intervals_of_the_configured_ones() {
    let r = simulate(&args(150, 7), &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(r.runs.len(), 150);
    for run in &r.runs {
        assert_eq!(run.feedback_status, 202, "{}", run.ticket.id);
        assert_eq!(run.turns.len(), run.ticket.messages.len());
        assert!(run.turns.iter().all(|t| t.status == 200), "{run:?}");
        // The rule splits `support` by intent; the other routes have one target each.
        let expected = match (run.ticket.route, run.ticket.intent) {
            ("cheap", _) | ("support", Intent::Billing) => "fast/fast-mini",
            _ => "strong/strong-large",
        };
        assert!(run.turns.iter().all(|t| t.target == expected), "{run:?}");
    }
    assert_eq!(
        r.requests,
        r.runs.iter().map(|t| t.turns.len()).sum::<usize>()
    );
    for route in ROUTES {
        let mine: Vec<&TicketRun> = r.runs.iter().filter(|t| t.ticket.route == route).collect();
        let g = r.outcomes.iter().find(|g| g.group == route).unwrap();
        assert_eq!(g.episodes, mine.len() as u64);
        let est = g.metrics[0].estimate.unwrap();
        assert_eq!(est.n, mine.len() as u64, "every ticket carries its verdict");
        // What the store gave back is what the demo posted.
        let posted = mine.iter().filter(|t| t.resolved).count() as f64 / mine.len() as f64;
        assert!(
            (est.mean - posted).abs() < 1e-9,
            "{route}: {est:?} vs {posted}"
        );
        // And it estimates the configured probability (the mean over the route's tickets).
        let truth = mine.iter().map(|t| t.p_resolve).sum::<f64>() / mine.len() as f64;
        assert!(
            est.lo <= truth && truth <= est.hi,
            "{route}: {truth} not in {est:?}"
        );
        assert!(g.cost_per_episode.as_ref().unwrap().mean > 0.0);
    }
    let cost = |route: &str| {
        let g = r.outcomes.iter().find(|g| g.group == route).unwrap();
        g.cost_per_episode.as_ref().unwrap().mean
    };
    assert!(cost("cheap") < cost("support") && cost("support") < cost("strong"));
    assert_eq!(
        r.targets.iter().map(|t| t.answered).sum::<u64>(),
        r.requests as u64
    );

    let text = format!(
        "{}{}",
        table::header(&args(150, 7), &models()),
        table::render(&r)
    );
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    assert!(text.contains("resolved (95% CI)"), "{text}");

    let again = simulate(&args(150, 7), &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(
        route_table(&r),
        route_table(&again),
        "same seed, same table"
    );
}

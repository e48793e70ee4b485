//! Cost before and after the answer. Before: `estimate` is the one estimate of what a request
//! will cost on a candidate — the `cheapest` strategy orders by it and a key's budget
//! reservation takes the priciest candidate's — from catalog prices, the token estimate and
//! the output the request is *expected* to produce (`expected_output`: what the route's
//! answers usually take, never more than the output the target may give after clamping).
//! After: `Price::cost` prices the real usage. `OutputStats` keeps, per route and kind of
//! request, a window of recent output lengths; its p95 is the expectation.
//!
//! The bound this gives budgets: a request reserves `estimate` and settles its real cost,
//! which is at most its clamped worst case (`worst_case`). So a key's spend can pass its
//! cap by at most the sum, over the requests in flight when the cap was reached, of
//! `worst_case − reserved`.

use std::collections::VecDeque;
use std::sync::Mutex;

use foldhash::HashMap;

use crate::catalog::Price;
use crate::routing::Candidate;

/// Output tokens expected when nothing better is known (no configured reservation, too
/// few observed answers on the route).
pub const DEFAULT_EXPECTED_OUTPUT: u64 = 1024;
/// Answers a route must have given before its observed p95 is trusted.
const MIN_SAMPLES: usize = 20;
/// Answers kept per route and kind.
const WINDOW: usize = 128;
/// Routes (and directly addressed targets) whose output lengths are kept.
const MAX_ROUTES: usize = 4096;

/// The output a request may produce on a target: what it asked for, clamped to the
/// target's own limit (what the body sent to the target says); `None` when neither says.
pub fn output_cap(asked: Option<u64>, limit: Option<u64>) -> Option<u64> {
    match (asked, limit) {
        (Some(a), Some(l)) => Some(a.min(l)),
        (a, l) => a.or(l),
    }
}

/// The output to expect: `expected`, never above the clamped cap.
pub fn expected_output(asked: Option<u64>, limit: Option<u64>, expected: u64) -> u64 {
    output_cap(asked, limit).map_or(expected, |cap| cap.min(expected))
}

/// The estimated cost in USD of a request of `input_tokens` on `c`, expecting `expected`
/// output tokens (clamped as the target will be); `None` when `c` has no price.
pub fn estimate(
    c: &Candidate,
    input_tokens: u64,
    asked: Option<u64>,
    expected: u64,
) -> Option<f64> {
    let p = c.info.price?;
    let out = expected_output(asked, c.info.max_output_tokens, expected);
    Some(of_tokens(&p, input_tokens, out))
}

/// The most a request can cost on `c`: its whole clamped output (`DEFAULT_EXPECTED_OUTPUT`
/// where neither the request nor the target bounds it).
pub fn worst_case(c: &Candidate, input_tokens: u64, asked: Option<u64>) -> Option<f64> {
    let p = c.info.price?;
    let out = output_cap(asked, c.info.max_output_tokens).unwrap_or(DEFAULT_EXPECTED_OUTPUT);
    Some(of_tokens(&p, input_tokens, out))
}

fn of_tokens(p: &Price, input: u64, output: u64) -> f64 {
    (input as f64 * p.input + output as f64 * p.output) / 1_000_000.0
}

/// Recent output lengths per route and kind of request (with tools or without: agent turns
/// that call tools answer shorter than prose).
#[derive(Debug, Default)]
pub struct OutputStats {
    routes: Mutex<HashMap<String, [Window; 2]>>,
}

#[derive(Debug, Default)]
struct Window {
    recent: VecDeque<u64>,
    p95: Option<u64>,
}

impl OutputStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// An answer of `output` tokens on `route`.
    pub fn observe(&self, route: &str, tools: bool, output: u64) {
        let Ok(mut map) = self.routes.lock() else {
            return;
        };
        if !map.contains_key(route) {
            if map.len() >= MAX_ROUTES {
                return;
            }
            map.insert(route.to_owned(), Default::default());
        }
        let Some(w) = map.get_mut(route).map(|w| &mut w[usize::from(tools)]) else {
            return;
        };
        if w.recent.len() == WINDOW {
            w.recent.pop_front();
        }
        w.recent.push_back(output);
        if w.recent.len() >= MIN_SAMPLES {
            let mut sorted: Vec<u64> = w.recent.iter().copied().collect();
            sorted.sort_unstable();
            let at = (sorted.len() * 95).div_ceil(100).saturating_sub(1);
            w.p95 = sorted.get(at).copied();
        }
    }

    /// The p95 output of `route`'s recent answers of this kind, once there are enough.
    pub fn p95(&self, route: &str, tools: bool) -> Option<u64> {
        let map = self.routes.lock().ok()?;
        map.get(route)?[usize::from(tools)].p95
    }

    /// The output a request on `route` is expected to produce: the configured reservation,
    /// else the observed p95, else `DEFAULT_EXPECTED_OUTPUT`.
    pub fn expected(&self, route: &str, tools: bool, configured: Option<u64>) -> u64 {
        configured
            .or_else(|| self.p95(route, tools))
            .unwrap_or(DEFAULT_EXPECTED_OUTPUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectation_is_clamped() {
        assert_eq!(output_cap(Some(128_000), Some(64_000)), Some(64_000));
        assert_eq!(output_cap(None, Some(8_192)), Some(8_192));
        assert_eq!(output_cap(None, None), None);
        assert_eq!(expected_output(Some(128_000), Some(64_000), 1024), 1024);
        assert_eq!(expected_output(Some(100), Some(64_000), 1024), 100);
        assert_eq!(expected_output(None, None, 700), 700);
    }

    #[test]
    fn p95_after_enough_answers() {
        let s = OutputStats::new();
        for i in 1..=19 {
            s.observe("chat", false, i * 10);
        }
        assert_eq!(s.p95("chat", false), None, "too few answers");
        assert_eq!(s.expected("chat", false, None), DEFAULT_EXPECTED_OUTPUT);
        s.observe("chat", false, 200);
        assert_eq!(s.p95("chat", false), Some(190));
        assert_eq!(s.p95("chat", true), None, "kinds are apart");
        assert_eq!(s.expected("chat", false, Some(50)), 50, "configured wins");
        for _ in 0..WINDOW {
            s.observe("chat", false, 7);
        }
        assert_eq!(
            s.p95("chat", false),
            Some(7),
            "old answers leave the window"
        );
    }
}

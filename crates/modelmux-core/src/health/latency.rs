//! Latency statistics of one target, from its successful calls: EWMAs of time to first token,
//! time per output token and whole latency, the p95 of the last 64 TTFTs (kept current, as
//! decisions read it often) and the p95 of the last 64 non-streaming latencies (worked out
//! when asked for, for hedge delays).

use std::collections::VecDeque;
use std::time::Duration;

use super::circuit::push;

const SAMPLES: usize = 64;
const ALPHA: f64 = 0.3;

#[derive(Debug, Default)]
pub(super) struct Latency {
    pub(super) ewma_ttft_ms: Option<f64>,
    pub(super) ewma_tpot_ms: Option<f64>,
    pub(super) ewma_latency_ms: Option<f64>,
    ttfts: VecDeque<f64>,
    /// p95 of `ttfts`, kept current as samples arrive.
    pub(super) p95_ttft_ms: Option<f64>,
    latencies: VecDeque<f64>,
    /// p95 of `latencies`, worked out when asked for and kept until the next sample.
    p95_latency_ms: Option<Option<f64>>,
}

impl Latency {
    /// A successful call: its whole latency, and its TTFT when it streamed.
    pub(super) fn success(&mut self, latency: Duration, ttft: Option<Duration>) {
        let ms = latency.as_secs_f64() * 1e3;
        self.ewma_latency_ms = ewma(self.ewma_latency_ms, ms);
        if let Some(ttft) = ttft {
            let t = ttft.as_secs_f64() * 1e3;
            self.ewma_ttft_ms = ewma(self.ewma_ttft_ms, t);
            push(&mut self.ttfts, t, SAMPLES);
            self.p95_ttft_ms = p95(&self.ttfts);
        } else {
            push(&mut self.latencies, ms, SAMPLES);
            self.p95_latency_ms = None;
        }
    }

    /// A finished stream: time per output token after the first.
    pub(super) fn stream_done(&mut self, after_first: Duration, output_tokens: u64) {
        if output_tokens > 1 {
            let per = after_first.as_secs_f64() * 1e3 / (output_tokens - 1) as f64;
            self.ewma_tpot_ms = ewma(self.ewma_tpot_ms, per);
        }
    }

    /// The p95 of TTFT (`stream`) or of whole latency, in ms.
    pub(super) fn p95_ms(&mut self, stream: bool) -> Option<f64> {
        if stream {
            self.p95_ttft_ms
        } else {
            *self
                .p95_latency_ms
                .get_or_insert_with(|| p95(&self.latencies))
        }
    }
}

fn ewma(old: Option<f64>, sample: f64) -> Option<f64> {
    Some(old.map_or(sample, |o| o + ALPHA * (sample - o)))
}

fn p95(samples: &VecDeque<f64>) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = samples.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() as f64 - 1.0) * 0.95).round() as usize;
    v.get(idx).copied()
}

//! Dispatch: walk a plan's candidates in order, make each attempt, classify its failure and
//! decide (`retry`) whether to wait and retry, fall back to the next candidate, or stop.
//! Every attempt is kept, so the client's error and the request's record can say exactly
//! what happened. Non-streaming calls are made here; streams open in `stream`, which hands
//! back a committed stream for the relay.

pub mod bridge;
pub mod hedge;
pub mod pipe;
pub mod retry;
pub mod stream;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use modelmux_wire::Usage;
use modelmux_wire::openai::ChatBody;
use tokio::time::Instant;

use crate::error::GatewayError;
use crate::health::Health;
use crate::ids::TargetRef;
use crate::ingress::Summary;
use crate::providers::{ErrorKind, ProviderError, Upstreams};
use crate::routing::{Candidate, Plan};
pub use hedge::{HedgeBudget, HedgeBudgets, Hedging};
use retry::{Next, decide};

/// One upstream attempt, successful or not.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub target: TargetRef,
    pub status: Option<u16>,
    pub error: Option<ErrorKind>,
    pub message: Option<String>,
    pub latency: Duration,
    /// Streams: time to the first content chunk.
    pub ttft: Option<Duration>,
    /// Started as a hedge, alongside a slow attempt on another candidate.
    pub hedge: bool,
    /// Cancelled because the attempt it raced against answered first.
    pub cancelled: bool,
}

impl Attempt {
    fn ok(target: &TargetRef, latency: Duration, ttft: Option<Duration>, hedge: bool) -> Self {
        Self {
            target: target.clone(),
            status: Some(200),
            error: None,
            message: None,
            latency,
            ttft,
            hedge,
            cancelled: false,
        }
    }

    fn failed(target: &TargetRef, err: &ProviderError, latency: Duration, hedge: bool) -> Self {
        Self {
            status: err.status,
            error: Some(err.kind),
            message: Some(err.message.clone()),
            ..Self::ok(target, latency, None, hedge)
        }
    }

    fn cancelled(target: &TargetRef, latency: Duration, hedge: bool) -> Self {
        Self {
            status: None,
            cancelled: true,
            ..Self::ok(target, latency, None, hedge)
        }
    }
}

/// What a successful walk returns: the answer, the candidate that gave it, and all attempts.
#[derive(Debug)]
pub struct Walked<T> {
    pub answer: T,
    pub target: TargetRef,
    pub attempts: Vec<Attempt>,
}

/// The failure of a walk: the error for the client, and all attempts.
#[derive(Debug)]
pub struct WalkError {
    pub error: GatewayError,
    pub attempts: Vec<Attempt>,
}

type Outcome<T> = (Result<(T, Option<Duration>), ProviderError>, Duration);

/// Runs one attempt on `target`: counted in flight, timed, and its outcome reported to
/// health. An attempt dropped before it ends (a hedge's loser) reports nothing.
async fn run<T>(
    health: &Health,
    target: &TargetRef,
    call: impl Future<Output = Result<(T, Option<Duration>), ProviderError>>,
) -> Outcome<T> {
    let started = Instant::now();
    let in_flight = health.begin(target);
    let result = call.await;
    drop(in_flight);
    let latency = started.elapsed();
    match &result {
        Ok((_, ttft)) => health.success(target, latency, *ttft),
        Err(e) => health.failure(target, e.kind, e.retry_after),
    }
    (result, latency)
}

/// The state of one walk: the attempts so far and what failures have taught it.
struct Walk {
    attempts: Vec<Attempt>,
    window_floor: Option<u64>,
    last_context_error: Option<(TargetRef, ProviderError)>,
    retry_after_hint: Option<Duration>,
}

impl Walk {
    /// Whether `cand` is worth calling after the context-length failures seen so far.
    fn fits(&self, cand: &Candidate) -> bool {
        match (self.window_floor, cand.info.context_window) {
            (Some(floor), Some(w)) => w > floor,
            _ => true,
        }
    }

    /// Learns from a failed attempt on `cand` and says what to do next.
    fn failed(
        &mut self,
        cand: &Candidate,
        err: &ProviderError,
        n: u32,
        s: &crate::config::RouteSettings,
        summary: &Summary,
        deadline: Instant,
    ) -> Next {
        tracing::debug!(target = %cand.target, attempt = n, error = %err, "attempt failed");
        if err.kind == ErrorKind::RateLimited {
            self.retry_after_hint = err.retry_after.or(self.retry_after_hint);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let next = decide(err, n, s, remaining, fastrand::f64());
        if next == Next::LargerWindow {
            let floor = cand
                .info
                .context_window
                .unwrap_or(summary.estimated_input_tokens);
            self.window_floor = Some(self.window_floor.map_or(floor, |f| f.max(floor)));
            self.last_context_error = Some((cand.target.clone(), err.clone()));
        }
        next
    }

    fn stop(self, target: &TargetRef, err: ProviderError) -> WalkError {
        WalkError {
            error: GatewayError::Upstream {
                target: target.clone(),
                error: Box::new(err),
            },
            attempts: self.attempts,
        }
    }

    fn deadline(self) -> WalkError {
        WalkError {
            error: GatewayError::Deadline {
                attempts: self.attempts.clone(),
            },
            attempts: self.attempts,
        }
    }
}

/// How a hedged race ended without an answer.
enum Race<T> {
    /// The hedge was never started: this is the first attempt's outcome.
    Single(Outcome<T>),
    /// Both failed (their attempts are recorded); the walk goes on past both candidates.
    BothFailed,
    /// A failure that ends the request (its attempts are recorded).
    Stop(TargetRef, ProviderError),
}

/// Walks `plan`, calling `call(candidate, remaining)` until one succeeds; `remaining` is the
/// time left before the request's deadline, which bounds the attempt. With `hedging`, an
/// attempt still unanswered after the hedge delay is raced against the next candidate's
/// first attempt (once per request, within the route's hedge budget).
pub async fn walk<T, F, Fut>(
    plan: &Plan,
    summary: &Summary,
    health: &Health,
    hedging: Option<Hedging<'_>>,
    mut call: F,
) -> Result<Walked<T>, WalkError>
where
    F: FnMut(&Candidate, Duration) -> Fut,
    Fut: Future<Output = Result<(T, Option<Duration>), ProviderError>>,
{
    let s = &plan.settings;
    let deadline = Instant::now() + s.total_timeout;
    let mut w = Walk {
        attempts: Vec::new(),
        window_floor: None,
        last_context_error: None,
        retry_after_hint: None,
    };
    if let Some(h) = &hedging {
        h.budget.earn();
    }
    let mut hedge = hedging;
    // The candidate a hedge already called; the walk does not call it again.
    let mut used: Option<usize> = None;

    for (i, cand) in plan.candidates.iter().enumerate() {
        if used == Some(i) || !w.fits(cand) {
            continue;
        }
        let mut n = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(w.deadline());
            }
            // A hedge goes to the next candidate the walk would call.
            let partner = hedge.and_then(|h| {
                let j = (i + 1..plan.candidates.len()).find(|&j| w.fits(&plan.candidates[j]))?;
                Some((h, j, h.delay(health, &cand.target)?))
            });
            let outcome = match partner {
                None => run(health, &cand.target, call(cand, remaining)).await,
                Some((h, j, delay)) => {
                    // Boxed: only hedging requests pay for the race's state.
                    let race = Box::pin(race(
                        plan,
                        summary,
                        health,
                        &mut w,
                        (i, n),
                        (j, delay, h.budget),
                        deadline,
                        &mut call,
                    ))
                    .await;
                    match race {
                        Ok(walked) => return Ok(walked),
                        Err(Race::Single(outcome)) => outcome,
                        Err(Race::BothFailed) => {
                            hedge = None;
                            used = Some(j);
                            break;
                        }
                        Err(Race::Stop(target, err)) => return Err(w.stop(&target, err)),
                    }
                }
            };
            let (result, latency) = outcome;
            match result {
                Ok((answer, ttft)) => {
                    w.attempts
                        .push(Attempt::ok(&cand.target, latency, ttft, false));
                    return Ok(Walked {
                        answer,
                        target: cand.target.clone(),
                        attempts: w.attempts,
                    });
                }
                Err(err) => {
                    w.attempts
                        .push(Attempt::failed(&cand.target, &err, latency, false));
                    match w.failed(cand, &err, n, s, summary, deadline) {
                        Next::RetryAfter(wait) => {
                            tokio::time::sleep(wait).await;
                            n += 1;
                        }
                        Next::NextTarget | Next::LargerWindow => break,
                        Next::Stop => return Err(w.stop(&cand.target, err)),
                    }
                }
            }
        }
    }
    // Nothing answered. A context-length failure with no larger window left is the client's
    // prompt being too long: say so rather than blame the providers.
    let only_context = w
        .attempts
        .iter()
        .filter(|a| !a.cancelled)
        .all(|a| a.error == Some(ErrorKind::ContextLengthExceeded));
    if let (Some((target, error)), true) = (w.last_context_error.take(), only_context) {
        return Err(w.stop(&target, error));
    }
    if w.attempts
        .iter()
        .any(|a| a.error == Some(ErrorKind::Timeout))
        && Instant::now() >= deadline
    {
        return Err(w.deadline());
    }
    Err(WalkError {
        error: GatewayError::AllFailed {
            attempts: w.attempts.clone(),
            retry_after: w.retry_after_hint,
        },
        attempts: w.attempts,
    })
}

/// Attempt `n` on candidate `i`, hedged by candidate `j` after `delay` if the budget allows:
/// the answer of whichever answers first, or how the race ended without one.
#[allow(
    clippy::too_many_arguments,
    reason = "the walk's state, passed down once"
)]
async fn race<T, F, Fut>(
    plan: &Plan,
    summary: &Summary,
    health: &Health,
    w: &mut Walk,
    (i, n): (usize, u32),
    (j, delay, budget): (usize, Duration, &HedgeBudget),
    deadline: Instant,
    call: &mut F,
) -> Result<Walked<T>, Race<T>>
where
    F: FnMut(&Candidate, Duration) -> Fut,
    Fut: Future<Output = Result<(T, Option<Duration>), ProviderError>>,
{
    let (a, b) = (&plan.candidates[i], &plan.candidates[j]);
    let started = [Instant::now(), Instant::now() + delay];
    let remaining = deadline.saturating_duration_since(started[0]);
    let first = run(health, &a.target, call(a, remaining));
    tokio::pin!(first);
    tokio::select! {
        biased;
        done = &mut first => return Err(Race::Single(done)),
        () = tokio::time::sleep(delay) => {}
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() || !budget.try_take() {
        return Err(Race::Single(first.await));
    }
    tracing::debug!(slow = %a.target, hedge = %b.target, after = ?delay, "hedging");
    let second = run(health, &b.target, call(b, remaining));
    tokio::pin!(second);
    // Which of the two is still running: 0 the first attempt, 1 the hedge.
    let mut running = [true, true];
    loop {
        let (k, (result, latency)) = tokio::select! {
            done = &mut first, if running[0] => (0, done),
            done = &mut second, if running[1] => (1, done),
        };
        running[k] = false;
        let (cand, other) = if k == 0 { (a, b) } else { (b, a) };
        // The loser goes first, so the last attempt is the one that answered.
        let cancel_other = |w: &mut Walk| {
            if running[1 - k] {
                let lasted = started[1 - k].elapsed();
                w.attempts
                    .push(Attempt::cancelled(&other.target, lasted, k == 0));
            }
        };
        match result {
            Ok((answer, ttft)) => {
                cancel_other(w);
                w.attempts
                    .push(Attempt::ok(&cand.target, latency, ttft, k == 1));
                return Ok(Walked {
                    answer,
                    target: cand.target.clone(),
                    attempts: std::mem::take(&mut w.attempts),
                });
            }
            Err(err) => {
                w.attempts
                    .push(Attempt::failed(&cand.target, &err, latency, k == 1));
                let tries = if k == 0 { n } else { 0 };
                if w.failed(cand, &err, tries, &plan.settings, summary, deadline) == Next::Stop {
                    cancel_other(w);
                    return Err(Race::Stop(cand.target.clone(), err));
                }
                if !running[1 - k] {
                    return Err(Race::BothFailed);
                }
            }
        }
    }
}

/// The request body for an OpenAI-format target from an OpenAI client: the client's body
/// with `model` set to the target's model, the output limit clamped to the target's maximum
/// when it asks for more, and, for streams, usage requested so every stream can be priced.
pub fn openai_body(body: &ChatBody, model: &str, stream: bool, clamp: Option<u64>) -> Bytes {
    let mut changes: Vec<(&str, String)> = Vec::with_capacity(4);
    changes.push(("model", serde_json::to_string(model).unwrap_or_default()));
    if let Some(limit) = clamp {
        for key in ["max_completion_tokens", "max_tokens"] {
            let asked = body.get(key).and_then(|v| v.get().parse::<u64>().ok());
            if asked.is_some_and(|n| n > limit) {
                changes.push((key, limit.to_string()));
            }
        }
    }
    if stream {
        let mut opts: serde_json::Map<String, serde_json::Value> = body
            .get("stream_options")
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default();
        opts.insert("include_usage".to_owned(), serde_json::Value::Bool(true));
        changes.push((
            "stream_options",
            serde_json::to_string(&opts).unwrap_or_default(),
        ));
    }
    Bytes::from(body.to_bytes_with(&changes))
}

/// A complete non-streaming answer, already in the client's format.
#[derive(Debug)]
pub struct JsonAnswer {
    pub body: Bytes,
    pub usage: Option<Usage>,
    pub upstream_request_id: Option<http::HeaderValue>,
}

/// One non-streaming attempt, bounded by `timeout` from send to the last body byte.
pub async fn call_json(
    up: &Upstreams,
    target: &TargetRef,
    body: Bytes,
    inbound: &crate::ingress::Inbound,
    forward: &[(http::HeaderName, http::HeaderValue)],
    timeout: Duration,
) -> Result<JsonAnswer, ProviderError> {
    let provider_format = up.format_for(&target.provider, inbound.format);
    let attempt = async {
        let sent = up
            .send(target, body, false, forward, provider_format)
            .await?;
        let upstream_request_id = sent.upstream_request_id();
        let bytes = sent.response.bytes().await?;
        let (body, usage) =
            bridge::json_answer(inbound, provider_format, bytes, target.model.as_str())?;
        Ok(JsonAnswer {
            body,
            usage,
            upstream_request_id,
        })
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| {
        ProviderError::new(
            ErrorKind::Timeout,
            format!("no answer within {}", humantime::format_duration(timeout)),
        )
    })?
}

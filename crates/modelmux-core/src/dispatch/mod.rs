//! Dispatch: walk a plan's candidates in order, make each attempt, classify its failure and
//! decide (`retry`) whether to wait and retry, fall back to the next candidate, or stop.
//! Every attempt is kept, so the client's error and the request's record can say exactly
//! what happened. Non-streaming calls are made here; streams open in `stream`, which hands
//! back a committed stream for the relay.

pub mod bridge;
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
use crate::ids::TargetRef;
use crate::ingress::Summary;
use crate::providers::{ErrorKind, ProviderError, Upstreams, transport_error};
use crate::routing::{Candidate, Plan};
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

/// Walks `plan`, calling `call(candidate, remaining)` until one succeeds; `remaining` is the
/// time left before the request's deadline, which bounds the attempt.
pub async fn walk<T, F, Fut>(
    plan: &Plan,
    summary: &Summary,
    health: &crate::health::Health,
    mut call: F,
) -> Result<Walked<T>, WalkError>
where
    F: FnMut(&Candidate, Duration) -> Fut,
    Fut: Future<Output = Result<(T, Option<Duration>), ProviderError>>,
{
    let s = &plan.settings;
    let deadline = Instant::now() + s.total_timeout;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut window_floor: Option<u64> = None;
    let mut last_context_error: Option<(TargetRef, ProviderError)> = None;
    let mut retry_after_hint: Option<Duration> = None;

    for cand in &plan.candidates {
        if let (Some(floor), Some(w)) = (window_floor, cand.info.context_window)
            && w <= floor
        {
            continue;
        }
        let mut n = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(WalkError {
                    error: GatewayError::Deadline {
                        attempts: attempts.clone(),
                    },
                    attempts,
                });
            }
            let started = Instant::now();
            let in_flight = health.begin(&cand.target);
            let result = call(cand, remaining).await;
            drop(in_flight);
            let latency = started.elapsed();
            match &result {
                Ok((_, ttft)) => health.success(&cand.target, latency, *ttft),
                Err(e) => health.failure(&cand.target, e.kind, e.retry_after),
            }
            match result {
                Ok((answer, ttft)) => {
                    attempts.push(Attempt {
                        target: cand.target.clone(),
                        status: Some(200),
                        error: None,
                        message: None,
                        latency,
                        ttft,
                    });
                    return Ok(Walked {
                        answer,
                        target: cand.target.clone(),
                        attempts,
                    });
                }
                Err(err) => {
                    tracing::debug!(target = %cand.target, attempt = n, error = %err, "attempt failed");
                    attempts.push(Attempt {
                        target: cand.target.clone(),
                        status: err.status,
                        error: Some(err.kind),
                        message: Some(err.message.clone()),
                        latency,
                        ttft: None,
                    });
                    if err.kind == ErrorKind::RateLimited {
                        retry_after_hint = err.retry_after.or(retry_after_hint);
                    }
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    match decide(&err, n, s, remaining, fastrand::f64()) {
                        Next::RetryAfter(wait) => {
                            tokio::time::sleep(wait).await;
                            n += 1;
                        }
                        Next::NextTarget => break,
                        Next::LargerWindow => {
                            let floor = cand
                                .info
                                .context_window
                                .unwrap_or(summary.estimated_input_tokens);
                            window_floor = Some(window_floor.map_or(floor, |f| f.max(floor)));
                            last_context_error = Some((cand.target.clone(), err));
                            break;
                        }
                        Next::Stop => {
                            return Err(WalkError {
                                error: GatewayError::Upstream {
                                    target: cand.target.clone(),
                                    error: Box::new(err),
                                },
                                attempts,
                            });
                        }
                    }
                }
            }
        }
    }
    // Nothing answered. A context-length failure with no larger window left is the client's
    // prompt being too long: say so rather than blame the providers.
    let only_context = attempts
        .iter()
        .all(|a| a.error == Some(ErrorKind::ContextLengthExceeded));
    if let (Some((target, error)), true) = (last_context_error, only_context) {
        return Err(WalkError {
            error: GatewayError::Upstream {
                target,
                error: Box::new(error),
            },
            attempts,
        });
    }
    if attempts.iter().any(|a| a.error == Some(ErrorKind::Timeout)) && Instant::now() >= deadline {
        return Err(WalkError {
            error: GatewayError::Deadline {
                attempts: attempts.clone(),
            },
            attempts,
        });
    }
    Err(WalkError {
        error: GatewayError::AllFailed {
            attempts: attempts.clone(),
            retry_after: retry_after_hint,
        },
        attempts,
    })
}

/// The request body for an OpenAI-format target from an OpenAI client: the client's body
/// with `model` set to the target's model, the output limit clamped to the target's maximum
/// when it asks for more, and, for streams, usage requested so every stream can be priced.
pub fn openai_body(body: &ChatBody, model: &str, stream: bool, clamp: Option<u64>) -> Bytes {
    let mut b = body.clone();
    b.set("model", model);
    if let Some(limit) = clamp {
        for key in ["max_completion_tokens", "max_tokens"] {
            let asked = b.get(key).and_then(|v| v.get().parse::<u64>().ok());
            if asked.is_some_and(|n| n > limit) {
                b.set(key, &limit);
            }
        }
    }
    if stream {
        let mut opts: serde_json::Map<String, serde_json::Value> = b
            .get("stream_options")
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default();
        opts.insert("include_usage".to_owned(), serde_json::Value::Bool(true));
        b.set("stream_options", &opts);
    }
    Bytes::from(b.to_bytes())
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
        let resp = up
            .send(target, body, false, forward, provider_format)
            .await?
            .response;
        let upstream_request_id = resp
            .headers()
            .get("x-request-id")
            .or_else(|| resp.headers().get("request-id"))
            .cloned();
        let bytes = resp.bytes().await.map_err(transport_error)?;
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

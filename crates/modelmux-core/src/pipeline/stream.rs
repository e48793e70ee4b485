//! Dispatch and respond for a streaming request: walk the candidates until one stream opens
//! with its first content (the commit point; before it any retryable failure moves on), then
//! answer with the relay as the response body. When the relay ends — completed, cut, or the
//! client gone — the finish path runs once: record, access log, target speed, the stored
//! Responses answer, and the settlement of the key's reservation.

use axum::body::Body;
use axum::response::Response;
use http::HeaderValue;

use crate::dispatch::bridge;
use crate::dispatch::stream::{self as dstream, StreamEnd};
use crate::dispatch::{self, Hedging, WalkError, Walked};
use crate::keys::Admission;
use crate::pipeline::admission::settle;
use crate::pipeline::target::{note_answer, prepare, price_of};
use crate::pipeline::{Finished, RequestCtx};
use crate::records::StreamOutcome;
use crate::routing::Plan;

pub async fn answer(ctx: RequestCtx, plan: Plan, admission: Option<Admission>) -> Response {
    let RequestCtx {
        inbound, mut trail, ..
    } = ctx;
    let state = trail.state.clone();
    let up = &state.upstreams;
    let format = inbound.format;
    let include_usage = inbound.summary.include_usage;
    let hedging = Hedging::of(&plan.settings, &state.hedges, &plan.route, true);
    let result = dispatch::walk(
        &plan,
        &inbound.summary,
        &state.health,
        hedging,
        |cand, remaining| {
            let prepared = prepare(&state, &inbound, cand);
            let timeout = plan.settings.timeout.min(remaining);
            let ttft = plan.settings.ttft_timeout.min(remaining);
            let target = cand.target.clone();
            let endpoint = up.format_for(&target.provider, format);
            let pipe = bridge::pipe(&inbound, endpoint, target.model.as_str(), include_usage);
            async move {
                let (body, forward) = prepared?;
                let t0 = tokio::time::Instant::now();
                let sent = up.send(&target, body, true, forward, endpoint);
                dstream::open(sent, pipe, timeout, ttft)
                    .await
                    .map(|s| (s, Some(t0.elapsed())))
            }
        },
    )
    .await;
    let Walked {
        answer: open,
        target,
        attempts,
    } = match result {
        Ok(w) => w,
        Err(WalkError { error, attempts }) => {
            settle(admission, None, None).await;
            return trail.fail(error, attempts);
        }
    };
    note_answer(
        &mut trail.meta,
        &plan,
        &target,
        inbound.summary.max_output_tokens,
        attempts.len(),
        open.upstream_request_id.clone(),
    );

    let idle = plan.settings.stream_idle_timeout;
    let mut headers = http::HeaderMap::with_capacity(16);
    trail.meta.apply(&mut headers);
    let price = price_of(&plan, &target);
    let on_complete: Option<dstream::OnComplete> =
        inbound.responses.clone().filter(|m| m.store).map(|meta| {
            let st = state.clone();
            Box::new(move |captured: &[u8]| {
                crate::http::responses::store_stream(&st, &meta, captured)
            }) as dstream::OnComplete
        });
    let committed = tokio::time::Instant::now();
    let on_end: dstream::OnEnd = Box::new(move |outcome| {
        if admission.is_some() {
            // Settling may call Redis: it runs on its own (tracked), after the stream.
            trail
                .state
                .tasks
                .spawn_if_running("settlement", settle(admission, outcome.usage, price));
        }
        if let (StreamEnd::Completed, Some(u)) = (&outcome.end, outcome.usage) {
            trail
                .state
                .health
                .stream_done(&target, committed.elapsed(), u.output);
        }
        let cut_reason = match &outcome.end {
            StreamEnd::Completed => None,
            StreamEnd::Cut { reason } => Some(reason.clone()),
            StreamEnd::ClientGone => Some("client_gone".to_owned()),
        };
        trail.finish(Finished {
            attempts: &attempts,
            usage: outcome.usage,
            price,
            ttft: attempts.last().and_then(|a| a.ttft),
            stream: Some(StreamOutcome {
                completed: outcome.end == StreamEnd::Completed,
                cut_reason,
                chunks_sent: outcome.chunks,
            }),
        });
    });
    let body = Body::from_stream(dstream::RelayBody::new(open, idle, on_complete, on_end));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    *h = headers;
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

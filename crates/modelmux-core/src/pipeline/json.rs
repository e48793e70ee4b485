//! Dispatch and respond for a JSON (non-streaming) request: walk the plan's candidates
//! (each gets its own body and headers; retries, fallback and hedging are the dispatcher's),
//! then finish — record, settle, store a Responses answer — and answer with the
//! `x-modelmux-*` headers, or fail with every attempt gathered into one error.

use axum::response::Response;
use http::StatusCode;

use crate::dispatch::{self, Hedging, WalkError, Walked};
use crate::http::respond;
use crate::keys::Admission;
use crate::pipeline::admission::settle;
use crate::pipeline::target::{note_answer, prepare, price_of};
use crate::pipeline::{Finished, RequestCtx};
use crate::routing::Plan;

pub async fn answer(ctx: RequestCtx, plan: Plan, admission: Option<Admission>) -> Response {
    let RequestCtx {
        inbound, mut trail, ..
    } = ctx;
    let state = trail.state.clone();
    let up = &state.upstreams;
    let inbound = &inbound;
    let hedging = Hedging::of(&plan.settings, &state.hedges, &plan.route, false);
    let result = dispatch::walk(
        &plan,
        &inbound.summary,
        &state.health,
        hedging,
        |cand, remaining| {
            let prepared = prepare(&state, inbound, cand);
            let timeout = plan.settings.timeout.min(remaining);
            let target = cand.target.clone();
            async move {
                let (body, forward) = prepared?;
                dispatch::call_json(up, &target, body, inbound, forward, timeout)
                    .await
                    .map(|a| (a, None))
            }
        },
    )
    .await;
    let Walked {
        answer,
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
        answer.upstream_request_id.clone(),
    );
    let price = price_of(&plan, &target);
    trail.finish(Finished {
        attempts: &attempts,
        usage: answer.usage,
        price,
        ttft: None,
        stream: None,
    });
    settle(admission, answer.usage, price).await;
    let body = crate::http::responses::finish_answer(&state, inbound, answer.body).await;
    respond::json(StatusCode::OK, body, &trail.meta)
}

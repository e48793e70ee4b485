//! The one path a model request takes once its handler has read, authenticated and decoded
//! it. The handler builds a `RequestCtx` and calls `run`, which passes it through the stages,
//! each in a module named for it:
//!
//! 0. `crate::episode` — the episode id and turn, and the client's own request id (a
//!    duplicate of this tenant's is refused before anything else happens);
//! 1. `decide` — the routing decision (rules, capability filter, health, strategy) and the
//!    caller's allowed routes;
//! 2. `admission` — the key's rate limits and budget: the expected cost of the priciest
//!    candidate is reserved (it prices the plan's candidates, so it follows the decision);
//! 3. dispatch and respond — `json` or `stream`: walk the candidates (translate, call,
//!    retry, fall back, hedge) and answer in the client's own format;
//! 4. `finish` — the record (`record`), access log, observed output, and settling the
//!    reservation.
//!
//! Every way out goes through `Trail`: `Trail::fail` is the one failure path (from any stage,
//! decode errors included), `Trail::finish` the one finish path of an answer.

mod admission;
mod decide;
mod finish;
mod json;
mod record;
mod stream;
mod target;

use std::time::Instant;

use axum::response::Response;
use http::HeaderMap;

use crate::auth::Caller;
use crate::error::ClientFormat;
use crate::http::respond::Meta;
use crate::ingress::Inbound;
use crate::state::AppState;

pub use finish::{Finished, Trail};

/// A decoded request on its way through the pipeline.
pub struct RequestCtx {
    pub caller: Caller,
    pub inbound: Inbound,
    /// The client's headers (routing reads `x-modelmux-route` and `x-modelmux-tags`).
    pub headers: HeaderMap,
    /// Who asked, how it went so far, and how to end it.
    pub trail: Trail,
}

impl RequestCtx {
    pub fn new(
        state: AppState,
        caller: Caller,
        inbound: Inbound,
        headers: HeaderMap,
        meta: Meta,
        started: Instant,
    ) -> Self {
        let mut trail = Trail::new(state, meta, inbound.format, started);
        trail.stream = inbound.summary.stream;
        trail.tools = inbound.summary.has_tools;
        if let Some(k) = caller.key() {
            trail.meta.key = Some(k.id.clone());
            trail.meta.team = k.team.clone();
        }
        Self {
            caller,
            inbound,
            headers,
            trail,
        }
    }

    pub fn format(&self) -> ClientFormat {
        self.inbound.format
    }
}

/// Answers a decoded request: episode → decide → admission → dispatch and respond → finish.
pub async fn run(mut ctx: RequestCtx) -> Response {
    if let Err(e) = crate::episode::begin(&mut ctx).await {
        return ctx.trail.fail(e, Vec::new());
    }
    // Signed once the episode and the request id the client sees are known.
    crate::feedback::token::stamp(&ctx.trail.state.config, &ctx.caller, &mut ctx.trail.meta);
    let decided = match decide::decide(&mut ctx) {
        Ok(d) => d,
        Err(e) => return ctx.trail.fail(e, Vec::new()),
    };
    let admission = match admission::admit(&mut ctx, &decided).await {
        Ok(a) => a,
        Err(e) => return ctx.trail.fail(e, Vec::new()),
    };
    // Boxed: each is a large state machine, and axum moves the handler's future (all of it
    // inlined otherwise) into a box of its own on every request.
    if ctx.inbound.summary.stream {
        Box::pin(stream::answer(ctx, decided.plan, admission)).await
    } else {
        Box::pin(json::answer(ctx, decided.plan, admission)).await
    }
}

//! What one candidate gets and gives: the request body in the candidate's format (clamped to
//! its output limit), the client headers it may carry, and — once it answered — its price and
//! whether its output limit lowered what the client asked for.

use bytes::Bytes;
use http::HeaderValue;

use crate::catalog::Price;
use crate::config::ProviderKind;
use crate::dispatch::bridge::{self, BodyOptions};
use crate::http::respond::Meta;
use crate::ids::TargetRef;
use crate::ingress::Inbound;
use crate::routing::{Candidate, Plan};
use crate::state::AppState;

/// Output limit Anthropic targets get when neither the client nor the catalog gives one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

pub type Forward = [(http::HeaderName, HeaderValue)];

fn body_options(state: &AppState, cand: &Candidate) -> BodyOptions {
    let legacy = state
        .upstreams
        .config_of(&cand.target.provider)
        .is_some_and(|p| p.kind == ProviderKind::OpenAi && p.legacy_max_tokens);
    BodyOptions {
        default_max_tokens: DEFAULT_MAX_TOKENS,
        legacy_max_tokens: legacy,
        max_output_tokens: cand.info.max_output_tokens,
    }
}

/// The request body for `cand`, and the client headers it may carry.
pub fn prepare<'a>(
    state: &AppState,
    inbound: &'a Inbound,
    cand: &Candidate,
) -> Result<(Bytes, &'a Forward), crate::providers::ProviderError> {
    let to = state
        .upstreams
        .format_for(&cand.target.provider, inbound.format);
    let body = bridge::request_body(
        inbound,
        to,
        cand.target.model.as_str(),
        body_options(state, cand),
    )?;
    let forward = if to == inbound.format {
        inbound.forward.as_slice()
    } else {
        &[]
    };
    Ok((body, forward))
}

/// The answering candidate's price.
pub fn price_of(plan: &Plan, target: &TargetRef) -> Option<Price> {
    plan.candidates
        .iter()
        .find(|c| c.target == *target)?
        .info
        .price
}

/// Notes in `meta` which target answered, after how many attempts, with which upstream
/// request id, and whether its output limit lowered what the client asked for.
pub fn note_answer(
    meta: &mut Meta,
    plan: &Plan,
    target: &TargetRef,
    asked: Option<u64>,
    attempts: usize,
    upstream_request_id: Option<HeaderValue>,
) {
    meta.clamped = clamp_note(plan, target, asked);
    if let (Some(c), Some(d)) = (&meta.clamped, meta.decision.as_mut()) {
        d.push_str(";clamped=");
        d.push_str(c);
    }
    meta.target = Some(target.to_string());
    meta.attempts = attempts;
    meta.upstream_request_id = upstream_request_id;
}

/// `max_tokens=<asked>-><limit>` when the answering target's output limit is below what the
/// request asked for (the body sent to it was clamped).
fn clamp_note(plan: &Plan, target: &TargetRef, asked: Option<u64>) -> Option<String> {
    let limit = plan
        .candidates
        .iter()
        .find(|c| c.target == *target)?
        .info
        .max_output_tokens?;
    let asked = asked?;
    (asked > limit).then(|| format!("max_tokens={asked}->{limit}"))
}

//! The admission stage: a virtual key's rate limits and budget, checked and reserved in one
//! atomic step before any call. The reservation is the *expected* cost of the priciest
//! candidate (`cost::estimate`, the estimate `cheapest` orders by): the estimated input plus
//! the output the route's answers usually take (`reserve_output_tokens`, else the route's
//! observed p95, else 1,024 tokens), never more than the output the target may give after
//! clamping. Reserving the whole requested `max_tokens` instead would lock out the agents
//! budgets are meant to meter (Claude Code asks for 128,000 on every turn).
//!
//! Settling replaces the reservation with the real cost. Since a request's real cost is at
//! most its clamped worst case, a key's spend passes its cap by at most the sum, over the
//! requests in flight when the cap was reached, of their worst case minus their reservation
//! (see `cost`).

use crate::cost;
use crate::error::GatewayError;
use crate::keys::Admission;
use crate::pipeline::RequestCtx;
use crate::pipeline::decide::Decided;

/// The key's admission for this request, or the limit that refuses it; `None` for callers
/// without a virtual key.
pub async fn admit(
    ctx: &mut RequestCtx,
    decided: &Decided,
) -> Result<Option<Admission>, GatewayError> {
    let Some(key) = ctx.caller.key() else {
        return Ok(None);
    };
    let (tokens, usd) = reservation(ctx, decided);
    let a = ctx
        .trail
        .state
        .keys
        .admit(key, tokens, usd)
        .await
        .map_err(GatewayError::Limit)?;
    ctx.trail.meta.budget_warning = a.warnings().first().cloned();
    Ok(Some(a))
}

/// Tokens and USD to reserve: the priciest candidate's expected request.
fn reservation(ctx: &RequestCtx, decided: &Decided) -> (u64, f64) {
    let s = &ctx.inbound.summary;
    let input = s.estimated_input_tokens;
    let expected = decided.expected_output;
    let mut tokens = 0;
    let mut usd = 0.0f64;
    for c in &decided.plan.candidates {
        let out = cost::expected_output(s.max_output_tokens, c.info.max_output_tokens, expected);
        tokens = tokens.max(input + out);
        if let Some(e) = cost::estimate(c, input, s.max_output_tokens, expected) {
            usd = usd.max(e);
        }
    }
    (tokens, usd)
}

/// Settles a key's reservation with what the request really used and cost.
pub async fn settle(
    admission: Option<Admission>,
    usage: Option<modelmux_wire::Usage>,
    price: Option<crate::catalog::Price>,
) {
    if let Some(a) = admission {
        let tokens = usage.map_or(0, |u| u.total());
        let cost = match (usage, price) {
            (Some(u), Some(p)) => p.cost(&u),
            _ => 0.0,
        };
        a.settle(tokens, cost).await;
    }
}

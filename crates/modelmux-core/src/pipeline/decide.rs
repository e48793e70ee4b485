//! The decide stage: the routing decision for the request (`routing::decide`), then what
//! the caller may do with it — a virtual key only reaches its allowed routes — and the
//! checks that must pass before any call is made: a candidate of another format needs the
//! canonical request (a client mistake in it is reported now), and built-in Responses tools
//! that only Responses targets run are named in the decision when they would be dropped.

use crate::error::GatewayError;
use crate::pipeline::RequestCtx;
use crate::routing::{self, Plan};

/// The plan to walk and what the decision expects of the answer.
pub struct Decided {
    pub plan: Plan,
    /// Output tokens the route's answers are expected to take (cost estimates use it).
    pub expected_output: u64,
}

pub fn decide(ctx: &mut RequestCtx) -> Result<Decided, GatewayError> {
    let state = ctx.trail.state.clone();
    let format = ctx.inbound.format;
    let budget = ctx
        .caller
        .key()
        .and_then(|k| state.keys.remaining_budget(k));
    let (plan, decision) = routing::decide(
        routing::Inputs::of(&state),
        &ctx.inbound.summary,
        format,
        &ctx.headers,
        budget,
    )?;
    let meta = &mut ctx.trail.meta;
    meta.route = Some(plan.route.clone());
    meta.alias = plan.alias.clone();
    meta.decision = Some(decision.compact());
    meta.rule = decision.rule.clone();
    // Whether some candidate speaks another format than the client.
    let translated = plan
        .candidates
        .iter()
        .any(|c| state.upstreams.format_for(&c.target.provider, format) != format);
    // Built-in Responses tools (web_search, ...) reach only Responses targets; say so.
    if format == modelmux_wire::WireFormat::OpenAiResponses
        && translated
        && let Ok(req) = ctx.inbound.canonical()
    {
        let builtins = modelmux_wire::responses::builtin_tools(req);
        if !builtins.is_empty()
            && let Some(d) = meta.decision.as_mut()
        {
            d.push_str(";dropped_tools=");
            d.push_str(&builtins.join(","));
        }
    }
    if let Some(k) = ctx.caller.key()
        && !state.keys.allows(k, &plan.route)
    {
        return Err(GatewayError::ModelNotFound {
            model: ctx.inbound.summary.model.clone(),
            known: k.allowed.clone(),
        });
    }
    if translated {
        ctx.inbound.canonical()?;
    }
    Ok(Decided {
        plan,
        expected_output: decision.features.expected_output,
    })
}

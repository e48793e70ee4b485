//! Turns what the client asked for (`model`) into a plan: the ordered candidates and the
//! retry settings to use. A route name wins; then a route alias (a glob such as
//! `claude-*-haiku-*`, for model names agents pick on their own); then `provider/model`
//! addresses one target directly; then a bare model name declared by exactly one provider.
//! A route with `max_output_policy = "filter"` drops targets that cannot give the output
//! the request asks for; by default such requests are clamped at dispatch instead. The
//! routing engine of a later issue replaces the fixed order with scored strategies; the plan
//! stays the seam.

use crate::config::{Config, MaxOutputPolicy, ModelInfo, RouteSettings};
use crate::error::GatewayError;
use crate::ids::{ModelId, ProviderId, TargetRef};

#[derive(Debug, Clone)]
pub struct Candidate {
    pub target: TargetRef,
    pub info: ModelInfo,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// The route name, or the target's `provider/model` for a direct call.
    pub route: String,
    /// The alias pattern that matched the client's model name, if one did.
    pub alias: Option<String>,
    pub candidates: Vec<Candidate>,
    pub settings: RouteSettings,
    /// Candidates the route had but the plan left out, with the reason.
    pub dropped: Vec<(TargetRef, String)>,
}

pub fn resolve(
    config: &Config,
    model: &str,
    max_output: Option<u64>,
) -> Result<Plan, GatewayError> {
    if config.providers.is_empty() {
        return Err(GatewayError::NoProviders {
            disabled: config
                .disabled
                .iter()
                .filter_map(|(_, why)| {
                    why.strip_prefix("set ")
                        .and_then(|s| s.split(' ').next())
                        .map(str::to_owned)
                })
                .collect(),
        });
    }
    let (route, alias) = match config.route(model) {
        Some(r) => (Some(r), None),
        None => match config.route_by_alias(model) {
            Some((r, a)) => (Some(r), Some(a.to_owned())),
            None => (None, None),
        },
    };
    if let Some(route) = route {
        let mut candidates = Vec::new();
        let mut dropped = Vec::new();
        for t in &route.candidates {
            let info = config.model_info(t);
            match (route.max_output_policy, info.max_output_tokens, max_output) {
                (MaxOutputPolicy::Filter, Some(limit), Some(asked)) if asked > limit => {
                    dropped.push((t.clone(), format!("max output {limit} < requested {asked}")));
                }
                _ => candidates.push(Candidate {
                    target: t.clone(),
                    info,
                }),
            }
        }
        if candidates.is_empty() {
            return Err(GatewayError::InvalidRequest {
                message: format!(
                    "No target of route `{}` can produce the requested output: {}.",
                    route.name,
                    dropped
                        .iter()
                        .map(|(t, why)| format!("{t} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                param: Some("max_tokens".into()),
                code: None,
            });
        }
        return Ok(Plan {
            route: route.name.to_string(),
            alias,
            candidates,
            settings: route.settings,
            dropped,
        });
    }
    let direct = |target: TargetRef| Plan {
        route: target.to_string(),
        alias: None,
        candidates: vec![Candidate {
            info: config.model_info(&target),
            target,
        }],
        settings: config.defaults,
        dropped: Vec::new(),
    };
    if let Some((p, m)) = TargetRef::parse(model) {
        let pid = ProviderId::new(p);
        if config.providers.contains_key(&pid) {
            return Ok(direct(TargetRef::new(pid, ModelId::new(m))));
        }
    }
    let mid = ModelId::new(model);
    let mut owners = config
        .providers
        .values()
        .filter(|p| p.models.contains_key(&mid));
    if let (Some(p), None) = (owners.next(), owners.next()) {
        return Ok(direct(TargetRef::new(p.id.clone(), mid)));
    }
    Err(GatewayError::ModelNotFound {
        model: model.to_owned(),
        known: config.routes.iter().map(|r| r.name.to_string()).collect(),
    })
}

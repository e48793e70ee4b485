//! Turns what the client asked for (`model`) into a plan: the ordered candidates and the
//! retry settings to use. A route name wins; then `provider/model` addresses one target
//! directly; then a bare model name declared by exactly one provider. The routing engine of
//! a later issue replaces the fixed order with scored strategies; the plan stays the seam.

use crate::config::{Config, ModelInfo, RouteSettings};
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
    pub candidates: Vec<Candidate>,
    pub settings: RouteSettings,
}

pub fn resolve(config: &Config, model: &str) -> Result<Plan, GatewayError> {
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
    if let Some(route) = config.route(model) {
        return Ok(Plan {
            route: route.name.to_string(),
            candidates: route
                .candidates
                .iter()
                .map(|t| Candidate {
                    target: t.clone(),
                    info: config.model_info(t),
                })
                .collect(),
            settings: route.settings,
        });
    }
    let direct = |target: TargetRef| Plan {
        route: target.to_string(),
        candidates: vec![Candidate {
            info: config.model_info(&target),
            target,
        }],
        settings: config.defaults,
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

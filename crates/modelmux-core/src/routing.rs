//! Turns what the client asked for (`model`) into a plan: the ordered candidates and the
//! retry settings to use. A route name wins; then a route alias (a glob such as
//! `claude-*-haiku-*`, for model names agents pick on their own); then `provider/model`
//! addresses one target directly; then a bare model name declared by exactly one provider.
//! A route with `max_output_policy = "filter"` drops targets that cannot give the output
//! the request asks for; by default such requests are clamped at dispatch instead.
//!
//! `decide` is the whole routing decision: features are scored once, the intent is
//! classified, a client's `x-modelmux-route` header is honoured only for routes the operator
//! allows, policy rules (CEL over the features, first match wins; run by `policy`'s native
//! evaluator where it can answer, else by the interpreter) may pick another route,
//! and the chosen route's candidates go through the capability filter, health and the
//! route's strategy. The result is a `Plan` to walk and a `Decision` to explain it.

use std::sync::{Arc, OnceLock};

use http::HeaderMap;

use crate::config::{Config, MaxOutputPolicy, ModelInfo, RouteSettings, Strategy, glob_match};
use crate::decision::Decision;
use crate::error::GatewayError;
use crate::features::Features;
use crate::health::Health;
use crate::ids::{ModelId, ProviderId, TargetRef};
use crate::ingress::Summary;
use crate::intent::{IntentClassifier, RuleClassifier};
use crate::policy::{Compiled, CompiledRule};

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

/// The shared CEL environment (the standard library), built once.
fn cel_env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(cel::Env::stdlib())).clone()
}

/// The first rule whose expression holds over `f`, and notes on rules that failed to run.
pub fn match_rule<'a>(
    rules: &'a Compiled,
    f: &Features,
    notes: &mut Vec<String>,
) -> Option<&'a CompiledRule> {
    if rules.is_empty() {
        return None;
    }
    // The interpreter's context is built only if a rule needs it.
    let mut ctx = None;
    for rule in rules.rules() {
        if let Some(holds) = rule.native.as_ref().and_then(|n| n.eval_bool(f)) {
            if holds {
                return Some(rule);
            }
            continue;
        }
        let ctx = ctx.get_or_insert_with(|| {
            let mut ctx = cel::Context::with_env(cel_env());
            ctx.set_variable_resolver(f);
            ctx
        });
        match rule.program.execute(ctx) {
            Ok(cel::Value::Bool(true)) => return Some(rule),
            Ok(cel::Value::Bool(false)) => {}
            Ok(other) => notes.push(format!("rule {} gave {other:?}, not a boolean", rule.name)),
            Err(e) => notes.push(format!("rule {} failed: {e}", rule.name)),
        }
    }
    None
}

/// What a decision reads besides the request: the config, its compiled rules, live health,
/// the intent classifier and the routes' observed output lengths.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub rules: &'a Compiled,
    pub health: &'a Health,
    pub classifier: &'a RuleClassifier,
    pub outputs: &'a crate::cost::OutputStats,
}

impl<'a> Inputs<'a> {
    pub fn of(state: &'a crate::state::AppState) -> Self {
        Self {
            config: &state.config,
            rules: &state.rules,
            health: &state.health,
            classifier: &state.classifier,
            outputs: &state.outputs,
        }
    }
}

/// The full routing decision for a request.
pub fn decide(
    inputs: Inputs<'_>,
    summary: &Summary,
    format: modelmux_wire::WireFormat,
    headers: &HeaderMap,
    budget_remaining: Option<f64>,
) -> Result<(Plan, Decision), GatewayError> {
    let Inputs {
        config,
        rules,
        health,
        classifier,
        outputs,
    } = inputs;
    let mut features = Features::compute(summary, format, headers);
    features.budget_remaining = budget_remaining;
    features.intent = classifier.classify(&summary.last_user_text);
    let mut notes = Vec::new();
    let mut rule = None;
    let mut chosen_by = None;
    let mut model: &str = &summary.model;
    if let Some(asked) = headers
        .get("x-modelmux-route")
        .and_then(|v| v.to_str().ok())
    {
        if config.route(asked).is_some()
            && config.header_routes.iter().any(|g| glob_match(g, asked))
        {
            model = asked;
            chosen_by = Some("header");
        } else {
            notes.push(format!(
                "x-modelmux-route {asked:?} is not allowed by policy; ignored"
            ));
        }
    }
    if chosen_by.is_none()
        && let Some(r) = match_rule(rules, &features, &mut notes)
    {
        model = r.route.as_str();
        rule = Some(r.name.clone());
        chosen_by = Some("rule");
    }
    let mut plan = resolve(config, model, summary.max_output_tokens)?;
    let route = config.route(&plan.route);
    features.expected_output = outputs.expected(
        &plan.route,
        summary.has_tools,
        plan.settings.reserve_output_tokens,
    );
    let strategy = route.map_or(Strategy::Priority, |r| r.strategy);
    let clamp = route.is_none_or(|r| r.max_output_policy == MaxOutputPolicy::Clamp);
    let (ordered, mut considered) = crate::strategy::order(
        strategy,
        route.map_or(&[][..], |r| r.weights.as_slice()),
        route.and_then(|r| r.max_ttft),
        std::mem::take(&mut plan.candidates),
        &features,
        health,
        clamp,
    );
    for (t, why) in &plan.dropped {
        considered.push(crate::strategy::Considered {
            target: t.clone(),
            kept: false,
            reason: crate::strategy::Reason::Dropped(why.clone()),
            score: None,
            est_cost: None,
        });
    }
    if ordered.is_empty() {
        let reasons: Vec<String> = considered
            .iter()
            .map(|c| format!("{} ({})", c.target, c.reason))
            .collect();
        return Err(GatewayError::InvalidRequest {
            message: format!(
                "No target of `{}` can serve this request: {}.",
                plan.route,
                reasons.join(", ")
            ),
            param: None,
            code: Some("no_capable_target"),
        });
    }
    plan.candidates = ordered;
    let chosen_by = chosen_by.unwrap_or(if plan.alias.is_some() {
        "alias"
    } else if route.is_some() {
        "route"
    } else {
        "target"
    });
    let decision = Decision {
        requested: summary.model.clone(),
        features,
        rule,
        chosen_by,
        route: plan.route.clone(),
        alias: plan.alias.clone(),
        strategy: strategy.name(),
        candidates: considered,
        notes,
    };
    Ok((plan, decision))
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
        let mut candidates = Vec::with_capacity(route.candidates.len());
        let mut dropped = Vec::new();
        let known = route.candidate_infos.len() == route.candidates.len();
        for (i, t) in route.candidates.iter().enumerate() {
            let info = match route.candidate_infos.get(i) {
                Some(info) if known => *info,
                _ => config.model_info(t),
            };
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

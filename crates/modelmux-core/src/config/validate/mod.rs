//! Raw config → typed `Config`. Every check reports the exact path of the value at fault
//! (`routes[2].targets[1]: unknown provider "opneai"`), and all problems are reported at
//! once rather than one per run. Providers are checked in `providers`; rules keep their
//! source text (compiled later, by `policy::Compiled::new`).

mod providers;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use super::interpolate::expand;
use super::raw::{RawConfig, RawRouteSettings};
use super::{
    Config, ConfigError, ConfigIssue, ConfigSource, DEFAULT_LISTEN, HedgeAfter, MaxOutputPolicy,
    RouteConfig, RouteSettings, ServerConfig, Strategy,
};
use super::{HealthSettings, Intent, Rule};
use crate::ids::{ModelId, ProviderId, RouteName, TargetRef};
use crate::secret::Secret;
use providers::{provider, unknown_provider};

struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }
}

pub(super) fn validate(
    raw: RawConfig,
    source: ConfigSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut issues = Issues(Vec::new());
    let mut text = |path: &str, s: &str, issues: &mut Issues| -> Option<String> {
        match expand(s, env) {
            Ok(v) => Some(v),
            Err(e) => {
                issues.add(path, e);
                None
            }
        }
    };

    let listen_text = raw
        .server
        .listen
        .as_deref()
        .map(|s| text("server.listen", s, &mut issues))
        .unwrap_or_else(|| Some(DEFAULT_LISTEN.to_owned()));
    let listen = match listen_text.map(|s| s.parse::<SocketAddr>()) {
        Some(Ok(a)) => a,
        Some(Err(_)) => {
            issues.add(
                "server.listen",
                "expected an address like \"127.0.0.1:4000\"",
            );
            default_listen()
        }
        None => default_listen(),
    };
    let mut master_keys = Vec::new();
    for (i, k) in raw.server.master_keys.iter().enumerate() {
        let path = format!("server.master_keys[{i}]");
        if let Some(v) = text(&path, k, &mut issues) {
            if v.is_empty() {
                issues.add(path, "a master key must not be empty");
            } else {
                master_keys.push(Secret::new(v));
            }
        }
    }
    let server = ServerConfig {
        listen,
        master_keys,
        max_body_bytes: raw.server.max_body_bytes.map_or(32 << 20, |n| n as usize),
        shutdown_grace: raw
            .server
            .shutdown_grace
            .map_or(Duration::from_secs(30), |d| d.0),
        responses_retention: raw
            .server
            .responses_retention
            .map_or(Duration::from_secs(86_400), |d| d.0),
    };
    if server.max_body_bytes < 1024 {
        issues.add("server.max_body_bytes", "must be at least 1024");
    }

    let mut providers = BTreeMap::new();
    for (id, p) in raw.providers {
        let path = format!("providers.{id}");
        if id.is_empty() || id.contains('/') {
            issues.add(
                &path,
                "a provider id must be non-empty and must not contain '/'",
            );
            continue;
        }
        if let Some(pc) = provider(&id, p, &path, &mut issues, &mut text, env) {
            providers.insert(pc.id.clone(), pc);
        }
    }

    let defaults = settings(
        &raw.router.settings(),
        RouteSettings::default(),
        "router",
        &mut issues,
    );
    let default_fallbacks = raw.router.fallbacks.clone().unwrap_or_default();

    let mut names = HashSet::new();
    let mut routes = Vec::new();
    for (i, r) in raw.routes.iter().enumerate() {
        let path = format!("routes[{i}]");
        if r.name.trim().is_empty() {
            issues.add(format!("{path}.name"), "must not be empty");
        } else if !names.insert(r.name.clone()) {
            issues.add(
                format!("{path}.name"),
                format!("duplicate route name {:?}", r.name),
            );
        }
        if r.targets.is_empty() {
            issues.add(
                format!("{path}.targets"),
                "a route needs at least one target",
            );
        }
        let mut targets = Vec::new();
        for (j, t) in r.targets.iter().enumerate() {
            let tpath = format!("{path}.targets[{j}]");
            match TargetRef::parse(t) {
                None => issues.add(tpath, format!("expected \"provider/model\", got {t:?}")),
                Some((p, m)) => {
                    let pid = ProviderId::new(p);
                    if providers.contains_key(&pid) {
                        targets.push(TargetRef::new(pid, ModelId::new(m)));
                    } else {
                        issues.add(tpath, unknown_provider(p, providers.keys()));
                    }
                }
            }
        }
        let strategy = match r.strategy.as_deref() {
            None => Strategy::Priority,
            Some(name) => match Strategy::NAMES.iter().find(|(n, _)| *n == name) {
                Some((_, s)) => *s,
                None => {
                    let names: Vec<&str> = Strategy::NAMES.iter().map(|(n, _)| *n).collect();
                    issues.add(
                        format!("{path}.strategy"),
                        format!(
                            "unknown strategy {name:?}; expected one of {}",
                            names.join(", ")
                        ),
                    );
                    Strategy::Priority
                }
            },
        };
        let mut weights = Vec::new();
        for (t, w) in &r.weights {
            match targets.iter().find(|x| x.to_string() == *t) {
                Some(x) => weights.push((x.clone(), *w)),
                None => issues.add(
                    format!("{path}.weights.{t}"),
                    "not one of the route's targets",
                ),
            }
        }
        let fallbacks: Vec<RouteName> = r
            .fallbacks
            .clone()
            .unwrap_or_else(|| {
                default_fallbacks
                    .iter()
                    .filter(|f| **f != r.name)
                    .cloned()
                    .collect()
            })
            .into_iter()
            .map(RouteName::new)
            .collect();
        let max_output_policy = match r.max_output_policy.as_deref() {
            None | Some("clamp") => MaxOutputPolicy::Clamp,
            Some("filter") => MaxOutputPolicy::Filter,
            Some(other) => {
                issues.add(
                    format!("{path}.max_output_policy"),
                    format!("expected \"clamp\" or \"filter\", got {other:?}"),
                );
                MaxOutputPolicy::Clamp
            }
        };
        for (j, a) in r.aliases.iter().enumerate() {
            if a.trim().is_empty() {
                issues.add(format!("{path}.aliases[{j}]"), "must not be empty");
            }
        }
        routes.push(RouteConfig {
            name: RouteName::new(&r.name),
            aliases: r.aliases.clone(),
            max_output_policy,
            targets,
            strategy,
            weights,
            max_ttft: r.max_ttft.map(|d| d.0),
            fallbacks,
            candidates: Vec::new(),
            candidate_infos: Vec::new(),
            settings: settings(&r.settings(), defaults, &path, &mut issues),
        });
    }
    for (i, r) in routes.iter().enumerate() {
        for (j, f) in r.fallbacks.iter().enumerate() {
            if !names.contains(f.as_str()) {
                issues.add(
                    format!("routes[{i}].fallbacks[{j}]"),
                    format!("unknown route {:?}", f.as_str()),
                );
            }
        }
    }
    for (i, r) in default_fallbacks.iter().enumerate() {
        if !names.contains(r.as_str()) {
            issues.add(
                format!("router.fallbacks[{i}]"),
                format!("unknown route {r:?}"),
            );
        }
    }
    if let Some(cycle) = find_cycle(&routes) {
        issues.add("routes", format!("fallback cycle: {}", cycle.join(" -> ")));
    }
    let mut rules = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if !names.contains(&r.route) {
            issues.add(
                format!("{path}.route"),
                format!("unknown route {:?}", r.route),
            );
        }
        rules.push(Rule {
            name: r.name.clone(),
            when: r.when.clone(),
            route: RouteName::new(&r.route),
        });
    }
    let mut intents = Vec::new();
    for (i, it) in raw.intents.iter().enumerate() {
        let mut patterns = Vec::new();
        for (j, p) in it.patterns.iter().enumerate() {
            match regex_lite::Regex::new(p) {
                Ok(re) => patterns.push(re),
                Err(e) => issues.add(
                    format!("intents[{i}].patterns[{j}]"),
                    format!("not a valid regular expression: {e}"),
                ),
            }
        }
        if it.keywords.is_empty() && it.patterns.is_empty() {
            issues.add(
                format!("intents[{i}]"),
                "an intent needs keywords or patterns",
            );
        }
        intents.push(Intent {
            name: it.name.clone(),
            keywords: it.keywords.iter().map(|k| k.to_lowercase()).collect(),
            patterns,
        });
    }
    let h = &raw.health;
    let health = HealthSettings {
        failure_rate: h.failure_rate.unwrap_or(0.5),
        min_calls: h.min_calls.unwrap_or(5),
        window: h.window.unwrap_or(20).max(1),
        open_for: h
            .open_for
            .map_or(std::time::Duration::from_secs(30), |d| d.0),
        shared: h.shared.unwrap_or(true),
        sync_interval: h
            .sync_interval
            .map_or(std::time::Duration::from_millis(250), |d| d.0),
        rate_limit_backoff: h
            .rate_limit_backoff
            .map_or(std::time::Duration::from_secs(1), |d| d.0),
        rate_limit_backoff_max: h
            .rate_limit_backoff_max
            .map_or(std::time::Duration::from_secs(60), |d| d.0),
    };
    if !(0.0..=1.0).contains(&health.failure_rate) || health.failure_rate == 0.0 {
        issues.add("health.failure_rate", "must be in (0, 1]");
    }
    if health.sync_interval < std::time::Duration::from_millis(10) {
        issues.add("health.sync_interval", "must be at least 10ms");
    }
    if health.rate_limit_backoff_max < health.rate_limit_backoff {
        issues.add(
            "health.rate_limit_backoff_max",
            "must be at least health.rate_limit_backoff",
        );
    }
    let store = super::store::validate(&raw.store, env, &mut issues.0);
    let keys = super::keys::validate(&raw.keys, env, &mut issues.0);
    let episodes = super::episodes::validate(&raw.episodes, &mut issues.0);
    let (metrics, feedback) =
        super::feedback::validate(&raw.metrics, &raw.feedback, env, &mut issues.0);
    if !issues.0.is_empty() {
        return Err(ConfigError(issues.0));
    }
    flatten_candidates(&mut routes);
    let mut config = Config {
        server,
        providers,
        routes,
        defaults,
        rules,
        intents,
        health,
        header_routes: raw.router.header_routes.clone(),
        store,
        keys,
        episodes,
        metrics,
        feedback,
        disabled: Vec::new(),
        source,
    };
    config.index_candidates();
    Ok(config)
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

fn settings(
    raw: &RawRouteSettings,
    base: RouteSettings,
    path: &str,
    issues: &mut Issues,
) -> RouteSettings {
    let d = |v: &Option<super::duration::DurationSpec>, dflt: Duration| v.map_or(dflt, |d| d.0);
    let s = RouteSettings {
        num_retries: raw.num_retries.unwrap_or(base.num_retries),
        timeout: d(&raw.timeout, base.timeout),
        total_timeout: d(&raw.total_timeout, base.total_timeout),
        ttft_timeout: d(&raw.ttft_timeout, base.ttft_timeout),
        stream_idle_timeout: d(&raw.stream_idle_timeout, base.stream_idle_timeout),
        retry_backoff: d(&raw.retry_backoff, base.retry_backoff),
        retry_backoff_max: d(&raw.retry_backoff_max, base.retry_backoff_max),
        max_retry_after: d(&raw.max_retry_after, base.max_retry_after),
        hedge_after: match raw.hedge_after.as_deref().map(str::trim) {
            None => base.hedge_after,
            Some("off") => None,
            Some("p95") => Some(HedgeAfter::P95),
            Some(text) => match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => Some(HedgeAfter::Fixed(d)),
                _ => {
                    issues.add(
                        format!("{path}.hedge_after"),
                        format!(
                            "{text:?} is not a delay: write e.g. \"300ms\", \"p95\" or \"off\""
                        ),
                    );
                    None
                }
            },
        },
        hedge_max_share: raw.hedge_max_share.unwrap_or(base.hedge_max_share),
        reserve_output_tokens: raw.reserve_output_tokens.or(base.reserve_output_tokens),
    };
    if s.reserve_output_tokens == Some(0) {
        issues.add(
            format!("{path}.reserve_output_tokens"),
            "at least 1 (a reservation of no output lets every request through)",
        );
    }
    if !(s.hedge_max_share > 0.0 && s.hedge_max_share <= 1.0) {
        issues.add(
            format!("{path}.hedge_max_share"),
            "a share of requests: greater than 0, at most 1",
        );
    }
    if s.num_retries > 10 {
        issues.add(format!("{path}.num_retries"), "at most 10");
    }
    for (name, v) in [
        ("timeout", s.timeout),
        ("total_timeout", s.total_timeout),
        ("ttft_timeout", s.ttft_timeout),
        ("stream_idle_timeout", s.stream_idle_timeout),
    ] {
        if v.is_zero() {
            issues.add(format!("{path}.{name}"), "must be greater than zero");
        }
    }
    s
}

fn find_cycle(routes: &[RouteConfig]) -> Option<Vec<String>> {
    fn visit<'a>(
        r: &'a RouteConfig,
        routes: &'a [RouteConfig],
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|n| *n == r.name.as_str()) {
            let mut c: Vec<String> = stack[pos..].iter().map(|s| (*s).to_owned()).collect();
            c.push(r.name.to_string());
            return Some(c);
        }
        stack.push(r.name.as_str());
        for f in &r.fallbacks {
            if let Some(next) = routes.iter().find(|x| x.name == *f)
                && let Some(c) = visit(next, routes, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    routes
        .iter()
        .find_map(|r| visit(r, routes, &mut Vec::new()))
}

/// Each route's candidates: its targets, then (depth first) each fallback route's
/// candidates, each target once.
pub(super) fn flatten_candidates(routes: &mut [RouteConfig]) {
    fn collect(
        name: &RouteName,
        routes: &[RouteConfig],
        seen_routes: &mut HashSet<RouteName>,
        out: &mut Vec<TargetRef>,
    ) {
        if !seen_routes.insert(name.clone()) {
            return;
        }
        let Some(r) = routes.iter().find(|r| r.name == *name) else {
            return;
        };
        for t in &r.targets {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        for f in &r.fallbacks {
            collect(f, routes, seen_routes, out);
        }
    }
    let all: Vec<Vec<TargetRef>> = routes
        .iter()
        .map(|r| {
            let mut out = Vec::new();
            collect(&r.name, routes, &mut HashSet::new(), &mut out);
            out
        })
        .collect();
    for (r, c) in routes.iter_mut().zip(all) {
        r.candidates = c;
    }
}

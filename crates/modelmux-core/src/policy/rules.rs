//! The config's policy rules compiled for routing: each rule's CEL source (`config::Rule`)
//! becomes a `cel::Program` (the definition of what it means) and, when it lies within the
//! native subset, a `Node` (`compile`). Built once, when the app state is built and by
//! `modelmux check`; an expression that does not parse, or reads a variable the features do
//! not have (`features::VARIABLES`), is refused with its exact path (`rules[2].when`).

use std::sync::Arc;

use crate::config::{Config, ConfigError, ConfigIssue};
use crate::ids::RouteName;

use super::Node;

/// One rule, ready to run.
#[derive(Clone)]
pub struct CompiledRule {
    pub name: String,
    pub route: RouteName,
    pub program: Arc<cel::Program>,
    /// The expression compiled for the native evaluator, when it lies within its subset;
    /// evaluation falls back to `program` whenever this gives no answer.
    pub native: Option<Node>,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule")
            .field("name", &self.name)
            .field("route", &self.route)
            .field("native", &self.native.is_some())
            .finish_non_exhaustive()
    }
}

/// The config's rules, in order (first match wins).
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    rules: Vec<CompiledRule>,
}

impl Compiled {
    /// Compiles every rule of `config`; all bad expressions are reported at once, each with
    /// its path (`rules[i].when`).
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let mut rules = Vec::with_capacity(config.rules.len());
        let mut issues = Vec::new();
        for (i, r) in config.rules.iter().enumerate() {
            let issue = |message: String| ConfigIssue {
                path: format!("rules[{i}].when"),
                message,
            };
            let program = match cel::Program::compile(&r.when) {
                Ok(p) => p,
                Err(e) => {
                    issues.push(issue(format!(
                        "not a valid CEL expression: {}",
                        e.to_string().lines().next().unwrap_or("")
                    )));
                    continue;
                }
            };
            let unknown: Vec<String> = program
                .references()
                .variables()
                .into_iter()
                .filter(|v| !crate::features::VARIABLES.contains(v))
                .map(str::to_owned)
                .collect();
            if !unknown.is_empty() {
                issues.push(issue(format!(
                    "unknown variable(s) {}; known: {}",
                    unknown.join(", "),
                    crate::features::VARIABLES.join(", ")
                )));
                continue;
            }
            rules.push(CompiledRule {
                name: r.name.clone(),
                route: r.route.clone(),
                native: super::compile(&program),
                program: Arc::new(program),
            });
        }
        if issues.is_empty() {
            Ok(Self { rules })
        } else {
            Err(ConfigError(issues))
        }
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

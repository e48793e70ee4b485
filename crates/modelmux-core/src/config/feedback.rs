//! The `[[metrics]]` and `[feedback]` config sections: which quality signals clients may post
//! to `POST /v1/feedback` (a metric's name, value type, whether it scores one request or a
//! whole episode, and which way is better), and the secret that signs the feedback tokens
//! every answer carries (`x-modelmux-feedback-token`), with their lifetime.
//!
//! ```toml
//! [[metrics]]
//! name = "resolved"
//! type = "boolean"        # boolean | float | category | comment
//! level = "episode"       # request | episode
//! optimize = "max"        # max | min (not for comment)
//!
//! [[metrics]]
//! name = "rating"
//! type = "float"
//! level = "request"
//! optimize = "max"
//! min = 1
//! max = 5
//!
//! [feedback]
//! secret = "${MODELMUX_FEEDBACK_SECRET}"   # absent: no feedback tokens
//! token_ttl = "7d"
//! ```

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigIssue;
use super::duration::DurationSpec;
use super::interpolate::expand;
use crate::secret::Secret;

/// One `[[metrics]]` entry as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub level: Option<String>,
    pub optimize: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub values: Option<Vec<String>>,
}

/// `[feedback]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeedbackConfig {
    pub secret: Option<String>,
    pub token_ttl: Option<DurationSpec>,
}

/// What a metric's values are.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricType {
    Boolean,
    /// A number, within `min..=max` where given.
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// One of the listed labels.
    Category {
        values: Vec<String>,
    },
    /// Free text.
    Comment,
}

impl MetricType {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Float { .. } => "float",
            Self::Category { .. } => "category",
            Self::Comment => "comment",
        }
    }
}

/// What a metric scores: one request, or a whole episode (ticket, conversation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricLevel {
    Request,
    Episode,
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimize {
    Max,
    Min,
}

/// A validated metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricType,
    pub level: MetricLevel,
    /// `None` for comments.
    pub optimize: Option<Optimize>,
}

/// `[feedback]` validated.
#[derive(Debug, Clone)]
pub struct FeedbackConfig {
    /// The key that signs and checks feedback tokens (`feedback::token::Signer`); `None`:
    /// answers carry no token and only keys may post feedback.
    pub secret: Option<Secret>,
    /// How long a feedback token is valid after its answer.
    pub token_ttl: Duration,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        Self {
            secret: None,
            token_ttl: Duration::from_secs(7 * 86_400),
        }
    }
}

/// The shortest secret accepted (HMAC-SHA256 wants 32 bytes of key).
const MIN_SECRET: usize = 32;

pub fn validate(
    metrics: &[RawMetric],
    feedback: &RawFeedbackConfig,
    env: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<ConfigIssue>,
) -> (Vec<Metric>, FeedbackConfig) {
    let mut issue = |path: String, message: String| issues.push(ConfigIssue { path, message });
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, m) in metrics.iter().enumerate() {
        let path = format!("metrics[{i}]");
        let name = m.name.trim();
        if name.is_empty() {
            issue(format!("{path}.name"), "must not be empty".into());
        } else if name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            issue(
                format!("{path}.name"),
                "use at most 64 letters, digits, '_', '-' or '.'".into(),
            );
        } else if !names.insert(name.to_owned()) {
            issue(
                format!("{path}.name"),
                format!("duplicate metric name {name:?}"),
            );
        }
        let level = match m.level.as_deref() {
            None => {
                issue(
                    format!("{path}.level"),
                    "missing: \"request\" or \"episode\"".into(),
                );
                MetricLevel::Request
            }
            Some("request") => MetricLevel::Request,
            Some("episode") => MetricLevel::Episode,
            Some(other) => {
                issue(
                    format!("{path}.level"),
                    format!("unknown level {other:?} (expected \"request\" or \"episode\")"),
                );
                MetricLevel::Request
            }
        };
        let kind = match m.kind.as_str() {
            "boolean" => Some(MetricType::Boolean),
            "float" => Some(MetricType::Float {
                min: m.min,
                max: m.max,
            }),
            "category" => Some(MetricType::Category {
                values: m.values.clone().unwrap_or_default(),
            }),
            "comment" => Some(MetricType::Comment),
            "" => {
                issue(
                    format!("{path}.type"),
                    "missing: boolean, float, category or comment".into(),
                );
                None
            }
            other => {
                issue(
                    format!("{path}.type"),
                    format!(
                        "unknown type {other:?} (expected boolean, float, category or comment)"
                    ),
                );
                None
            }
        };
        let Some(kind) = kind else { continue };
        if !matches!(kind, MetricType::Float { .. }) {
            for (field, set) in [("min", m.min.is_some()), ("max", m.max.is_some())] {
                if set {
                    issue(
                        format!("{path}.{field}"),
                        "only a float metric has a range".into(),
                    );
                }
            }
        }
        if !matches!(kind, MetricType::Category { .. }) && m.values.is_some() {
            issue(
                format!("{path}.values"),
                "only a category metric lists values".into(),
            );
        }
        match &kind {
            MetricType::Float { min, max } => {
                for (field, v) in [("min", min), ("max", max)] {
                    if v.is_some_and(|v| !v.is_finite()) {
                        issue(format!("{path}.{field}"), "must be a finite number".into());
                    }
                }
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    issue(
                        format!("{path}.min"),
                        format!("min ({lo}) is greater than max ({hi})"),
                    );
                }
            }
            MetricType::Category { values } => {
                if values.is_empty() {
                    issue(
                        format!("{path}.values"),
                        "a category metric needs at least one value".into(),
                    );
                }
                let mut seen = HashSet::new();
                for (j, v) in values.iter().enumerate() {
                    if v.is_empty() || v.len() > 128 {
                        issue(
                            format!("{path}.values[{j}]"),
                            "must be 1 to 128 characters".into(),
                        );
                    } else if !seen.insert(v.as_str()) {
                        issue(
                            format!("{path}.values[{j}]"),
                            format!("duplicate value {v:?}"),
                        );
                    }
                }
            }
            MetricType::Boolean | MetricType::Comment => {}
        }
        let optimize = match (m.optimize.as_deref(), &kind) {
            (Some(_), MetricType::Comment) => {
                issue(
                    format!("{path}.optimize"),
                    "a comment metric has no direction".into(),
                );
                None
            }
            (None, MetricType::Comment) => None,
            (Some("max"), _) => Some(Optimize::Max),
            (Some("min"), _) => Some(Optimize::Min),
            (Some(other), _) => {
                issue(
                    format!("{path}.optimize"),
                    format!("unknown direction {other:?} (expected \"max\" or \"min\")"),
                );
                None
            }
            (None, _) => {
                issue(
                    format!("{path}.optimize"),
                    "missing: \"max\" or \"min\"".into(),
                );
                None
            }
        };
        out.push(Metric {
            name: name.to_owned(),
            kind,
            level,
            optimize,
        });
    }

    let mut config = FeedbackConfig::default();
    if let Some(s) = &feedback.secret {
        match expand(s, env) {
            Err(message) => issue("feedback.secret".into(), message),
            Ok(s) if s.len() < MIN_SECRET => issue(
                "feedback.secret".into(),
                format!("must be at least {MIN_SECRET} characters long"),
            ),
            Ok(s) => config.secret = Some(Secret::new(s)),
        }
    }
    if let Some(ttl) = feedback.token_ttl {
        if ttl.0 < Duration::from_secs(1) {
            issue("feedback.token_ttl".into(), "must be at least 1s".into());
        } else {
            config.token_ttl = ttl.0;
        }
    }
    (out, config)
}

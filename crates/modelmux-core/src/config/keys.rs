//! The `[keys]` config section: where the virtual keys are stored (a JSON file, or memory),
//! the admin key that guards the admin API, and where the limit counters live (in process, or
//! in Redis shared by every instance) with what happens when Redis cannot be reached.
//!
//! ```toml
//! [keys]
//! admin_key = "${MODELMUX_ADMIN_KEY}"
//! analytics_key = "${MODELMUX_ANALYTICS_KEY}"  # read-only: GET /v1/analytics
//! file = "modelmux-keys.json"     # absent: keys live in memory and die with the process
//! redis_url = "${REDIS_URL}"      # absent: limits and budgets are counted in process
//! redis_prefix = "modelmux"
//! redis_timeout = "250ms"
//! fail_open = true                # Redis down: true → local limits, false → 503
//! reservation_ttl = "20m"
//! reload_interval = "5s"
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigIssue;
use super::duration::DurationSpec;
use super::interpolate::expand;
use crate::secret::Secret;

/// `[keys]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeysConfig {
    pub admin_key: Option<String>,
    pub analytics_key: Option<String>,
    pub file: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub redis_timeout: Option<DurationSpec>,
    pub fail_open: Option<bool>,
    pub reservation_ttl: Option<DurationSpec>,
    pub reload_interval: Option<DurationSpec>,
}

/// `[keys]` validated.
#[derive(Debug, Clone)]
pub struct KeysConfig {
    /// Guards the admin API; `None` disables it.
    pub admin_key: Option<Secret>,
    /// Opens `GET /v1/analytics` only (read-only, every tenant's numbers); `None`: only the
    /// admin key does.
    pub analytics_key: Option<Secret>,
    /// The JSON key store; `None` keeps keys in memory.
    pub file: Option<PathBuf>,
    /// Where shared counters live; `None` counts in process. A `Secret` because URLs carry
    /// passwords.
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key, so deployments (and tests) sharing a Redis stay apart.
    pub redis_prefix: String,
    /// How long one Redis call may take before it counts as a failure.
    pub redis_timeout: Duration,
    /// Redis unreachable: `true` enforces limits locally, `false` rejects with 503.
    pub fail_open: bool,
    /// After this long an unsettled budget reservation (a crashed instance's) is dropped.
    pub reservation_ttl: Duration,
    /// How often the gateway re-reads the key file (to see the CLI's changes).
    pub reload_interval: Duration,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            admin_key: None,
            analytics_key: None,
            file: None,
            redis_url: None,
            redis_prefix: "modelmux".into(),
            redis_timeout: Duration::from_millis(250),
            fail_open: true,
            reservation_ttl: Duration::from_secs(20 * 60),
            reload_interval: Duration::from_secs(5),
        }
    }
}

pub fn validate(
    raw: &RawKeysConfig,
    env: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<ConfigIssue>,
) -> KeysConfig {
    let mut text = |path: &str, s: &Option<String>| -> Option<String> {
        let s = s.as_deref()?;
        match expand(s, env) {
            Ok(v) => Some(v),
            Err(message) => {
                issues.push(ConfigIssue {
                    path: path.into(),
                    message,
                });
                None
            }
        }
    };
    let admin_key = text("keys.admin_key", &raw.admin_key);
    let analytics_key = text("keys.analytics_key", &raw.analytics_key);
    let file = text("keys.file", &raw.file);
    let redis_url = text("keys.redis_url", &raw.redis_url);
    let prefix = text("keys.redis_prefix", &raw.redis_prefix);
    let mut out = KeysConfig::default();
    let mut issue = |path: &str, message: &str| {
        issues.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    };
    match admin_key {
        Some(k) if k.len() < 16 => issue(
            "keys.admin_key",
            "the admin key must be at least 16 characters long",
        ),
        Some(k) => out.admin_key = Some(Secret::new(k)),
        None => {}
    }
    match analytics_key {
        Some(k) if k.len() < 16 => issue(
            "keys.analytics_key",
            "the analytics key must be at least 16 characters long",
        ),
        Some(k) => out.analytics_key = Some(Secret::new(k)),
        None => {}
    }
    match file {
        Some(f) if f.trim().is_empty() => issue("keys.file", "must not be empty"),
        Some(f) => out.file = Some(PathBuf::from(f)),
        None => {}
    }
    match redis_url {
        Some(u) if !(u.starts_with("redis://") || u.starts_with("rediss://")) => issue(
            "keys.redis_url",
            "expected a URL like \"redis://127.0.0.1:6379\"",
        ),
        Some(u) if u.starts_with("rediss://") => issue(
            "keys.redis_url",
            "TLS (rediss://) is not built into this binary; use redis:// or a TLS sidecar",
        ),
        Some(u) => out.redis_url = Some(Secret::new(u)),
        None => {}
    }
    match prefix {
        Some(p) if p.is_empty() || p.contains(['{', '}', ' ']) => issue(
            "keys.redis_prefix",
            "must be non-empty, without spaces or braces",
        ),
        Some(p) => out.redis_prefix = p,
        None => {}
    }
    if let Some(d) = raw.redis_timeout {
        if d.0.is_zero() {
            issue("keys.redis_timeout", "must be greater than zero");
        } else {
            out.redis_timeout = d.0;
        }
    }
    if let Some(b) = raw.fail_open {
        out.fail_open = b;
    }
    if let Some(d) = raw.reservation_ttl {
        if d.0 < Duration::from_secs(1) {
            issue("keys.reservation_ttl", "must be at least one second");
        } else {
            out.reservation_ttl = d.0;
        }
    }
    if let Some(d) = raw.reload_interval {
        if d.0.is_zero() {
            issue("keys.reload_interval", "must be greater than zero");
        } else {
            out.reload_interval = d.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (KeysConfig, Vec<ConfigIssue>) {
        let raw: RawKeysConfig = toml::from_str(text).unwrap();
        let mut issues = Vec::new();
        let env = |k: &str| match k {
            "ADMIN" => Some("adm-0123456789abcdef".to_owned()),
            "REDIS_URL" => Some("redis://127.0.0.1:6379".to_owned()),
            _ => None,
        };
        let c = validate(&raw, &env, &mut issues);
        (c, issues)
    }

    #[test]
    fn reads_and_interpolates() {
        let (c, issues) = parse(
            "admin_key = \"${ADMIN}\"\nredis_url = \"${REDIS_URL}\"\nfile = \"k.json\"\nfail_open = false\nredis_timeout = \"100ms\"",
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            c.admin_key.as_ref().map(Secret::expose),
            Some("adm-0123456789abcdef")
        );
        assert!(!c.fail_open);
        assert_eq!(c.redis_timeout, Duration::from_millis(100));
        assert_eq!(c.file, Some(PathBuf::from("k.json")));
        assert!(format!("{c:?}").contains("Secret(***)"));
    }

    #[test]
    fn names_the_path_at_fault() {
        let (_, issues) = parse(
            "admin_key = \"short\"\nredis_url = \"http://x\"\nredis_prefix = \"{a}\"\nfile = \"${NOPE}\"",
        );
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "keys.file",
                "keys.admin_key",
                "keys.redis_url",
                "keys.redis_prefix"
            ]
        );
    }

    #[test]
    fn rejects_unknown_fields() {
        assert!(toml::from_str::<RawKeysConfig>("admin = \"x\"").is_err());
    }
}

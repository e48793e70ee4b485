//! The `[keys]` config section: key store, limits backend and its failure mode.

use serde::Deserialize;

use crate::config::ConfigIssue;

/// `[keys]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeysConfig {}

/// `[keys]` validated.
#[derive(Debug, Clone, Default)]
pub struct KeysConfig {}

pub fn validate(
    _raw: &RawKeysConfig,
    _env: &dyn Fn(&str) -> Option<String>,
    _issues: &mut Vec<ConfigIssue>,
) -> KeysConfig {
    KeysConfig {}
}

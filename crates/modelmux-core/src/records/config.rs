//! The `[store]` config section: where records go.

use serde::Deserialize;

use crate::config::ConfigIssue;

/// `[store]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreConfig {}

/// `[store]` validated.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {}

pub fn validate(
    _raw: &RawStoreConfig,
    _env: &dyn Fn(&str) -> Option<String>,
    _issues: &mut Vec<ConfigIssue>,
) -> StoreConfig {
    StoreConfig {}
}

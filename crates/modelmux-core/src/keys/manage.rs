//! Creating, revoking and rotating keys in a `KeyStore`: the operations behind both the
//! admin API and `modelmux keys`. `KeySpec` is what an operator writes for a new key; it is
//! checked here so both front ends report the same problems.

use serde::Deserialize;

use super::error::KeysError;
use super::key::{
    Budgets, KeyInfo, NewKey, StoredKey, generate_id, generate_key, hash_key, hint_of,
};
use super::store::KeyStore;

/// A new key as asked for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub allowed: Vec<String>,
    #[serde(default)]
    pub rpm: Option<u32>,
    #[serde(default)]
    pub tpm: Option<u64>,
    #[serde(default)]
    pub budgets: Budgets,
}

impl KeySpec {
    /// Every problem, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push("name: must not be empty".to_owned());
        }
        if self.team.as_deref().is_some_and(|t| t.trim().is_empty()) {
            out.push("team: must not be empty when given".to_owned());
        }
        for (i, a) in self.allowed.iter().enumerate() {
            if a.trim().is_empty() {
                out.push(format!("allowed[{i}]: must not be empty"));
            }
        }
        if self.rpm == Some(0) {
            out.push("rpm: must be at least 1 (leave it out for no limit)".to_owned());
        }
        if self.tpm == Some(0) {
            out.push("tpm: must be at least 1 (leave it out for no limit)".to_owned());
        }
        out.extend(self.budgets.problems());
        out
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Makes a key from `spec` and stores its hash; the plain key is in the result only.
pub async fn create(store: &dyn KeyStore, spec: KeySpec) -> Result<NewKey, KeysError> {
    let problems = spec.problems();
    if !problems.is_empty() {
        return Err(KeysError::Invalid(problems.join("; ")));
    }
    let key = generate_key()?;
    let stored = StoredKey {
        info: KeyInfo {
            id: generate_id()?,
            name: spec.name.trim().to_owned(),
            team: spec.team.map(|t| t.trim().to_owned()),
            allowed: spec.allowed,
            rpm: spec.rpm,
            tpm: spec.tpm,
            budgets: spec.budgets,
            revoked: false,
        },
        hash: hash_key(key.expose()),
        hint: hint_of(key.expose()),
        created_at: unix_now(),
        rotated_at: None,
        revoked_at: None,
    };
    store.insert(stored.clone()).await?;
    Ok(NewKey { key, stored })
}

/// Marks the key revoked; it no longer authenticates. Revoking twice is not an error.
pub async fn revoke(store: &dyn KeyStore, id: &str) -> Result<StoredKey, KeysError> {
    let now = unix_now();
    store
        .update(
            id,
            Box::new(move |k| {
                if !k.info.revoked {
                    k.info.revoked = true;
                    k.revoked_at = Some(now);
                }
                Ok(())
            }),
        )
        .await
}

/// Gives the key a new value, keeping its id, limits and spend; the old value stops working.
pub async fn rotate(store: &dyn KeyStore, id: &str) -> Result<NewKey, KeysError> {
    let key = generate_key()?;
    let (hash, hint, now) = (hash_key(key.expose()), hint_of(key.expose()), unix_now());
    let stored = store
        .update(
            id,
            Box::new(move |k| {
                if k.info.revoked {
                    return Err(KeysError::Invalid(format!(
                        "key {:?} is revoked; create a new one",
                        k.info.id
                    )));
                }
                k.hash = hash;
                k.hint = hint;
                k.rotated_at = Some(now);
                Ok(())
            }),
        )
        .await?;
    Ok(NewKey { key, stored })
}

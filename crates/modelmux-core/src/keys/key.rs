//! One virtual key: what it may do (`KeyInfo`: name, team, allowed routes, RPM/TPM limits,
//! budgets) and how it is kept (`StoredKey`: the SHA-256 of the key, never the key). A new
//! key is `mmx-` and 40 random characters from the operating system's generator; its plain
//! value exists only in the `NewKey` handed back once at creation or rotation.

use std::fmt;

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The prefix of every virtual key.
pub const KEY_PREFIX: &str = "mmx-";
/// Random characters after the prefix.
pub const KEY_RANDOM_LEN: usize = 40;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// What a key may do. Carries no secret, so it may be logged and returned by the admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Globs over route names (and `provider/model` for direct calls); empty allows all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    #[serde(default)]
    pub budgets: Budgets,
    #[serde(default)]
    pub revoked: bool,
}

/// Budgets in USD per UTC day, per UTC month and in total. Unknown fields are refused: a
/// misspelt cap must not leave a key without its budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    #[serde(default)]
    pub daily: Cap,
    #[serde(default)]
    pub monthly: Cap,
    #[serde(default)]
    pub total: Cap,
}

/// A soft and a hard cap on one period's spend. Hard: a request whose estimate would take
/// spend (settled + reserved) past it is refused. Soft: allowed, with a warning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard: Option<f64>,
}

/// The budget periods, in the order `Budgets` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Daily,
    Monthly,
    Total,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Daily, Period::Monthly, Period::Total];

    pub fn name(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Monthly => "monthly",
            Self::Total => "total",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Self::Daily => 0,
            Self::Monthly => 1,
            Self::Total => 2,
        }
    }
}

impl Budgets {
    pub fn cap(&self, p: Period) -> Cap {
        match p {
            Period::Daily => self.daily,
            Period::Monthly => self.monthly,
            Period::Total => self.total,
        }
    }

    pub fn any_hard(&self) -> bool {
        Period::ALL.iter().any(|p| self.cap(*p).hard.is_some())
    }

    /// Problems with the numbers, as messages naming the field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in Period::ALL {
            let c = self.cap(p);
            for (which, v) in [("soft", c.soft), ("hard", c.hard)] {
                if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                    out.push(format!(
                        "budgets.{}.{which}: must be a non-negative amount of USD",
                        p.name()
                    ));
                }
            }
            if let (Some(s), Some(h)) = (c.soft, c.hard)
                && s > h
            {
                out.push(format!(
                    "budgets.{}: the soft cap (${s}) is above the hard cap (${h})",
                    p.name()
                ));
            }
        }
        out
    }
}

/// A key as kept in a `KeyStore`: the hash of the key, never the key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKey {
    #[serde(flatten)]
    pub info: KeyInfo,
    /// `sha256:` and the hex SHA-256 of the plain key.
    pub hash: String,
    /// What an operator sees to recognise the key: `mmx-…` and its last four characters.
    pub hint: String,
    /// Unix seconds.
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("info", &self.info)
            .field("hint", &self.hint)
            .field("hash", &"sha256:***")
            .finish_non_exhaustive()
    }
}

/// A key just made: the plain value (shown once) and what was stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: Secret,
    pub stored: StoredKey,
}

/// The stored hash of a presented key.
pub fn hash_key(plain: &str) -> String {
    let d = digest::digest(&digest::SHA256, plain.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in d.as_ref() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `len` characters from `[A-Za-z0-9]`, uniformly, from the system's CSPRNG.
pub fn random_chars(len: usize) -> Result<String, ring::error::Unspecified> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.fill(&mut buf)?;
        // 62 * 4 = 248: bytes at or above it are dropped, so every character is equally likely.
        for b in buf {
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// A fresh plain key: `mmx-` and 40 random characters.
pub fn generate_key() -> Result<Secret, ring::error::Unspecified> {
    Ok(Secret::new(format!(
        "{KEY_PREFIX}{}",
        random_chars(KEY_RANDOM_LEN)?
    )))
}

/// A fresh key id: `key_` and 12 random characters.
pub fn generate_id() -> Result<String, ring::error::Unspecified> {
    Ok(format!("key_{}", random_chars(12)?))
}

/// `mmx-…abcd`: enough to tell keys apart, too little to guess one.
pub fn hint_of(plain: &str) -> String {
    let tail: String = plain
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{KEY_PREFIX}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_format() {
        let k = generate_key().unwrap();
        let v = k.expose();
        assert!(v.starts_with("mmx-"));
        assert_eq!(v.len(), 44);
        assert!(v[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(generate_key().unwrap().expose(), v);
        assert_eq!(format!("{k:?}"), "Secret(***)");
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_misspelt_cap_is_refused() {
        assert!(serde_json::from_str::<Budgets>(r#"{"daily": {"hadr": 5}}"#).is_err());
        assert!(serde_json::from_str::<Budgets>(r#"{"dayly": {"hard": 5}}"#).is_err());
        let b: Budgets = serde_json::from_str(r#"{"daily": {"hard": 5}}"#).unwrap();
        assert_eq!(b.daily.hard, Some(5.0));
    }

    #[test]
    fn budget_problems() {
        let b = Budgets {
            daily: Cap {
                soft: Some(5.0),
                hard: Some(1.0),
            },
            total: Cap {
                soft: None,
                hard: Some(-1.0),
            },
            ..Budgets::default()
        };
        assert_eq!(b.problems().len(), 2);
    }
}

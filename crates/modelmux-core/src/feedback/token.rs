//! Signed feedback tokens: what lets a browser widget post a thumbs-up for one answer
//! without holding an API key. Every answer carries one in `x-modelmux-feedback-token` when
//! `[feedback] secret` is set. A token names the tenant, the request id, the episode id (when
//! the request had one) and an expiry, and carries an HMAC-SHA256 over all four:
//!
//! `v1.<tenant>.<request id>.<episode id>.<expiry, unix ms>.<mac>` (each text part and the
//! MAC base64url without padding; an absent episode is an empty part).
//!
//! `Signer::verify` checks the MAC in constant time (`ring::hmac::verify`) before it believes
//! any part, then the expiry; the caller (`auth`) then holds a `Grant`, which the feedback
//! handler checks every item against: a token for request A posts feedback for A (or for
//! its episode) only. The key never shows in `Debug`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// The response header (and request header) a token travels in.
pub const HEADER: http::HeaderName = http::HeaderName::from_static("x-modelmux-feedback-token");

const VERSION: &str = "v1";

/// Signs and checks tokens with the `[feedback] secret`.
#[derive(Clone)]
pub struct Signer {
    key: hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

/// What a valid token allows: feedback for this request or this episode, of this tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub tenant: String,
    pub request_id: String,
    pub episode_id: Option<String>,
    /// Unix milliseconds.
    pub expires_ms: u64,
}

/// Why a token was refused; each says so to the client (401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("The feedback token is malformed.")]
    Malformed,
    #[error(
        "The feedback token's signature does not match: it was altered or signed with another secret."
    )]
    BadSignature,
    #[error("The feedback token has expired.")]
    Expired,
    #[error("Feedback tokens are off on this gateway ([feedback] secret is not set).")]
    Disabled,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The signer of `[feedback] secret`, when one is set. (Cheap: two SHA-256 blocks.)
    pub fn of(config: &crate::config::Config) -> Option<Self> {
        config
            .feedback
            .secret
            .as_ref()
            .map(|s| Self::new(s.expose().as_bytes()))
    }

    /// A token for `request_id` (and `episode_id`) of `tenant`, valid for `ttl` from `now`.
    pub fn sign(
        &self,
        tenant: &str,
        request_id: &str,
        episode_id: Option<&str>,
        now: SystemTime,
        ttl: Duration,
    ) -> String {
        let expires = unix_ms(now).saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(0));
        self.sign_grant(&Grant {
            tenant: tenant.to_owned(),
            request_id: request_id.to_owned(),
            episode_id: episode_id.map(str::to_owned),
            expires_ms: expires,
        })
    }

    /// The token of a grant (its expiry as given).
    pub fn sign_grant(&self, g: &Grant) -> String {
        let b = |s: &str| URL_SAFE_NO_PAD.encode(s.as_bytes());
        let payload = format!(
            "{VERSION}.{}.{}.{}.{}",
            b(&g.tenant),
            b(&g.request_id),
            b(g.episode_id.as_deref().unwrap_or("")),
            g.expires_ms
        );
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The grant of a genuine, unexpired token.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Grant, TokenError> {
        let token = token.trim();
        let (payload, mac) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| TokenError::Malformed)?;
        hmac::verify(&self.key, payload.as_bytes(), &mac).map_err(|_| TokenError::BadSignature)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let [version, tenant, request, episode, expires] = parts[..] else {
            return Err(TokenError::Malformed);
        };
        if version != VERSION {
            return Err(TokenError::Malformed);
        }
        let text = |s: &str| -> Result<String, TokenError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| TokenError::Malformed)?;
            String::from_utf8(bytes).map_err(|_| TokenError::Malformed)
        };
        let grant = Grant {
            tenant: text(tenant)?,
            request_id: text(request)?,
            episode_id: Some(text(episode)?).filter(|e| !e.is_empty()),
            expires_ms: expires.parse().map_err(|_| TokenError::Malformed)?,
        };
        if grant.request_id.is_empty() || grant.tenant.is_empty() {
            return Err(TokenError::Malformed);
        }
        if unix_ms(now) >= grant.expires_ms {
            return Err(TokenError::Expired);
        }
        Ok(grant)
    }
}

/// Gives an answer its feedback token: signed for the caller's tenant, the request id and
/// the episode in `meta`, valid for `[feedback] token_ttl`. Nothing when tokens are off or
/// the request has no id yet.
pub fn stamp(
    config: &crate::config::Config,
    caller: &crate::auth::Caller,
    meta: &mut crate::http::respond::Meta,
) {
    // The id the client knows the request by: its own, else the gateway's.
    let Some(id) = meta
        .client_request_id
        .clone()
        .or_else(|| meta.request_id.as_ref().map(|r| r.as_str().to_owned()))
    else {
        return;
    };
    let Some(signer) = Signer::of(config) else {
        return;
    };
    meta.feedback_token = Some(signer.sign(
        caller.tenant().as_str(),
        &id,
        meta.episode.as_deref(),
        SystemTime::now(),
        config.feedback.token_ttl,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_token_round_trips_and_names_its_scope() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let now = SystemTime::now();
        let t = s.sign("key:k1", "req_1", Some("ticket-9"), now, DAY);
        let g = s.verify(&t, now).unwrap();
        assert_eq!(g.tenant, "key:k1");
        assert_eq!(g.request_id, "req_1");
        assert_eq!(g.episode_id.as_deref(), Some("ticket-9"));
        let t = s.sign("open", "req_2", None, now, DAY);
        assert_eq!(s.verify(&t, now).unwrap().episode_id, None);
    }

    #[test]
    fn forged_expired_and_foreign_tokens_are_refused() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let other = Signer::new(b"another-secret-another-secret-xx");
        let now = SystemTime::now();
        let t = s.sign("master", "req_1", None, now, DAY);
        assert_eq!(other.verify(&t, now), Err(TokenError::BadSignature));
        // Flip one bit of every byte in turn: never accepted.
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] ^= 0x01;
            let Ok(forged) = String::from_utf8(b) else {
                continue;
            };
            assert!(s.verify(&forged, now).is_err(), "accepted a flip at {i}");
        }
        // A changed request id with the old MAC.
        let (payload, mac) = t.rsplit_once('.').unwrap();
        let swapped = payload.replace(
            &URL_SAFE_NO_PAD.encode("req_1"),
            &URL_SAFE_NO_PAD.encode("req_2"),
        );
        assert_eq!(
            s.verify(&format!("{swapped}.{mac}"), now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            s.verify(&t, now + DAY + Duration::from_secs(1)),
            Err(TokenError::Expired)
        );
        assert_eq!(s.verify("nonsense", now), Err(TokenError::Malformed));
        assert_eq!(format!("{s:?}"), "Signer(***)");
    }
}

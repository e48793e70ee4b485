//! Client authentication. When the config lists master keys, every API request must carry
//! one as `Authorization: Bearer <key>` (or `x-api-key`, `api-key`, the forms the Anthropic
//! and Azure SDKs send); without master keys the gateway is open, which suits a local
//! deployment. Keys are compared in constant time and never logged.

use http::HeaderMap;

use crate::error::GatewayError;
use crate::secret::Secret;

/// The key the client presented, from whichever header its SDK uses.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v);
        return Some(token.trim());
    }
    ["x-api-key", "api-key"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No master keys and no virtual keys: an open gateway.
    Open,
    Master,
    Key(Box<crate::keys::KeyInfo>),
}

/// Authenticates a request: a master key, else a virtual key when keys are in use.
pub async fn authenticate(
    state: &crate::state::AppState,
    headers: &HeaderMap,
) -> Result<Caller, GatewayError> {
    let masters = &state.config.server.master_keys;
    let keys = &state.keys;
    if masters.is_empty() && !keys.enabled() {
        return Ok(Caller::Open);
    }
    let presented = presented_key(headers)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            GatewayError::Unauthorized(
                "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.".into(),
            )
        })?;
    if masters.iter().any(|m| m.matches(presented)) {
        return Ok(Caller::Master);
    }
    if keys.enabled() {
        return keys
            .authenticate(presented)
            .await
            .map(|k| Caller::Key(Box::new(k)))
            .map_err(|e| GatewayError::Unauthorized(e.message()));
    }
    Err(GatewayError::Unauthorized(
        "Incorrect API key provided.".into(),
    ))
}

pub fn check(master_keys: &[Secret], headers: &HeaderMap) -> Result<(), GatewayError> {
    if master_keys.is_empty() {
        return Ok(());
    }
    match presented_key(headers) {
        None | Some("") => Err(GatewayError::Unauthorized(
            "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.".into(),
        )),
        Some(k) if master_keys.iter().any(|m| m.matches(k)) => Ok(()),
        Some(_) => Err(GatewayError::Unauthorized(
            "Incorrect API key provided.".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_forms() {
        let keys = [Secret::new("mk-1")];
        let mut h = HeaderMap::new();
        assert!(check(&keys, &h).is_err());
        h.insert("authorization", "Bearer mk-1".parse().unwrap());
        assert!(check(&keys, &h).is_ok());
        h.insert("authorization", "Bearer mk-2".parse().unwrap());
        assert!(check(&keys, &h).is_err());
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "mk-1".parse().unwrap());
        assert!(check(&keys, &h).is_ok());
        assert!(check(&[], &HeaderMap::new()).is_ok());
    }
}

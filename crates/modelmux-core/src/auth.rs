//! Client authentication: the one path every endpoint but `/healthz` and `/readyz` goes
//! through. `layer` is a middleware around the whole router: it reads the key from whichever
//! header the client's SDK uses (`Authorization: Bearer`, `x-api-key`, `api-key`), decides who
//! is calling, and puts the `Caller` into the request's extensions, where handlers take it
//! (`Extension<Caller>`). A refused request gets 401 in the wire format of the path it asked
//! for (Anthropic's shape under `/v1/messages`, OpenAI's elsewhere), after its body has been
//! read, so a keep-alive connection survives the refusal.
//!
//! Who may call what:
//! - client endpoints (`/v1/...`): a master key (`[server] master_keys`) or a live virtual key
//!   (`mmx-…`); with neither configured the gateway is open (`Caller::Open`);
//! - the admin API (`/admin/...`): the `[keys] admin_key` only (404 while it is unset),
//!   checked by `admin_layer`, which the admin router carries so it holds wherever the
//!   router is mounted.
//!
//! - `GET /v1/analytics`: the admin key (as `Caller::Admin`) or the read-only
//!   `[keys] analytics_key` (`Caller::Analytics`); no client key opens it (404 while neither
//!   is set).
//!
//! One exception for browser widgets: `POST /v1/feedback` without any key but with a signed
//! feedback token (`x-modelmux-feedback-token`, from the answer it is about) is let through
//! as `Caller::Token`, whose tenant is the token's; the handler holds every item to the
//! token's request and episode (`feedback::token`). A key, when one is sent, always wins.
//!
//! Keys are compared in constant time and never logged. Every caller has a `Tenant`: what it
//! stores (responses, feedback) only that tenant reads.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;

use std::sync::Arc;

use crate::error::{ClientFormat, GatewayError};
use crate::keys::{KeyInfo, Keys};
use crate::state::AppState;

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
    /// A master key: every route, no limits.
    Master,
    /// The `[keys] admin_key`, on the admin API (and analytics).
    Admin,
    /// The `[keys] analytics_key`, on `GET /v1/analytics` only.
    Analytics,
    /// A virtual key, within its allowed routes, limits and budgets.
    Key(Box<KeyInfo>),
    /// A feedback token, on `POST /v1/feedback` only: feedback about one request (and its
    /// episode), for the tenant that made the request.
    Token(Box<crate::feedback::token::Grant>),
}

/// Whose data a stored item is: `open`, `master`, `admin` or `key:<key id>` (the id, not
/// the secret, so a rotated key keeps what it stored).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

impl Tenant {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A tenant as stored (its `as_str`).
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Caller {
    pub fn tenant(&self) -> Tenant {
        Tenant(match self {
            Self::Open => "open".to_owned(),
            Self::Master => "master".to_owned(),
            Self::Admin => "admin".to_owned(),
            Self::Analytics => "analytics".to_owned(),
            Self::Key(k) => format!("key:{}", k.id),
            Self::Token(g) => g.tenant.clone(),
        })
    }

    /// The virtual key, when the caller holds one.
    pub fn key(&self) -> Option<&KeyInfo> {
        match self {
            Self::Key(k) => Some(k),
            _ => None,
        }
    }
}

/// What a path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Public,
    Client,
    Admin,
    Analytics,
}

/// The analytics endpoint (the admin or the analytics key).
pub const ANALYTICS_PATH: &str = "/v1/analytics";

fn access_of(path: &str) -> Access {
    match path {
        "/healthz" | "/readyz" => Access::Public,
        ANALYTICS_PATH => Access::Analytics,
        p if p == "/admin" || p.starts_with("/admin/") => Access::Admin,
        _ => Access::Client,
    }
}

/// The wire format a path answers errors in (unknown paths answer in OpenAI's).
pub fn format_of_path(path: &str) -> ClientFormat {
    if path.starts_with("/v1/messages") {
        ClientFormat::Anthropic
    } else if path.starts_with("/v1/responses") || path.starts_with("/responses") {
        ClientFormat::OpenAiResponses
    } else {
        ClientFormat::OpenAiChat
    }
}

const MISSING: &str = "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.";

/// Authenticates a client request: a master key, else a virtual key when keys are in use.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    let masters = &state.config.server.master_keys;
    let keys = &state.keys;
    if masters.is_empty() && !keys.enabled() {
        return Ok(Caller::Open);
    }
    let presented = presented_key(headers)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| GatewayError::Unauthorized(MISSING.into()))?;
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

/// The only path a feedback token opens.
pub const FEEDBACK_PATH: &str = "/v1/feedback";

/// A `/v1/feedback` caller holding no key but a feedback token: the token's grant, or why
/// not (malformed, forged, expired, tokens off), as a 401.
fn authenticate_token(state: &AppState, token: &str) -> Result<Caller, GatewayError> {
    use crate::feedback::token::TokenError;
    let signer = crate::feedback::token::Signer::of(&state.config)
        .ok_or_else(|| GatewayError::Unauthorized(TokenError::Disabled.to_string()))?;
    signer
        .verify(token, std::time::SystemTime::now())
        .map(|g| Caller::Token(Box::new(g)))
        .map_err(|e| GatewayError::Unauthorized(e.to_string()))
}

/// The feedback token of a key-less `/v1/feedback` request.
fn feedback_token<'a>(path: &str, headers: &'a HeaderMap) -> Option<&'a str> {
    if path != FEEDBACK_PATH || presented_key(headers).is_some_and(|k| !k.is_empty()) {
        return None;
    }
    headers
        .get(crate::feedback::token::HEADER)
        .map(|v| v.to_str().unwrap_or(""))
}

/// The admin API's caller: the admin key, or why not.
fn authenticate_admin(keys: &Keys, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    if !keys.admin_enabled() {
        return Err(GatewayError::NotFound(
            "The admin API is off: set [keys] admin_key to use it.".into(),
        ));
    }
    match presented_key(headers) {
        Some(k) if keys.is_admin(k) => Ok(Caller::Admin),
        Some(k) if !k.is_empty() => Err(GatewayError::Unauthorized(
            "Incorrect admin key provided.".into(),
        )),
        _ => Err(GatewayError::Unauthorized(
            "The admin API needs the admin key as `Authorization: Bearer <key>`.".into(),
        )),
    }
}

/// The analytics caller: the admin key, else the analytics key, or why not.
fn authenticate_analytics(state: &AppState, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    let analytics = state.config.keys.analytics_key.as_ref();
    if !state.keys.admin_enabled() && analytics.is_none() {
        return Err(GatewayError::NotFound(
            "Analytics are off: set [keys] analytics_key (or admin_key) to use them.".into(),
        ));
    }
    match presented_key(headers) {
        Some(k) if state.keys.is_admin(k) => Ok(Caller::Admin),
        Some(k) if analytics.is_some_and(|a| a.matches(k)) => Ok(Caller::Analytics),
        Some(k) if !k.is_empty() => Err(GatewayError::Unauthorized(
            "Incorrect analytics key provided: analytics need the admin or the analytics key."
                .into(),
        )),
        _ => Err(GatewayError::Unauthorized(
            "Analytics need the analytics (or admin) key as `Authorization: Bearer <key>`.".into(),
        )),
    }
}

/// The middleware of the gateway's router: authenticates every client request and hands
/// its `Caller` to the handler, or refuses it in the path's wire format. The admin API
/// carries `admin_layer` itself (it is also mounted on its own, without the gateway).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match access_of(req.uri().path()) {
        Access::Public | Access::Admin => next.run(req).await,
        Access::Analytics => {
            let caller = authenticate_analytics(&state, req.headers());
            admit(caller, req, next, ADMIN_BODY_LIMIT).await
        }
        Access::Client => {
            let caller = match feedback_token(req.uri().path(), req.headers()) {
                Some(token) => authenticate_token(&state, token),
                None => authenticate(&state, req.headers()).await,
            };
            admit(caller, req, next, state.config.server.max_body_bytes).await
        }
    }
}

/// The admin router's middleware: only the admin key passes.
pub async fn admin_layer(State(keys): State<Arc<Keys>>, req: Request, next: Next) -> Response {
    let caller = authenticate_admin(&keys, req.headers());
    admit(caller, req, next, ADMIN_BODY_LIMIT).await
}

/// The largest admin request body read before a refusal (key specs are small).
const ADMIN_BODY_LIMIT: usize = 1 << 20;

async fn admit(
    caller: Result<Caller, GatewayError>,
    mut req: Request,
    next: Next,
    body_limit: usize,
) -> Response {
    match caller {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            let format = format_of_path(req.uri().path());
            // Read (and drop) the body first: answering with it unread would make hyper
            // close a keep-alive connection the client means to reuse.
            let (parts, body) = req.into_parts();
            let _ = crate::http::read_body(&parts.headers, body, body_limit).await;
            crate::http::respond::error(&e, format, &crate::http::respond::Meta::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("authorization", "Bearer mk-1".parse().unwrap());
        assert_eq!(presented_key(&h), Some("mk-1"));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", " mk-2 ".parse().unwrap());
        assert_eq!(presented_key(&h), Some("mk-2"));
        let mut h = HeaderMap::new();
        h.insert("api-key", "mk-3".parse().unwrap());
        assert_eq!(presented_key(&h), Some("mk-3"));
    }

    #[test]
    fn paths() {
        assert_eq!(access_of("/healthz"), Access::Public);
        assert_eq!(access_of("/admin/keys"), Access::Admin);
        assert_eq!(access_of("/administrator"), Access::Client);
        assert_eq!(access_of("/v1/models"), Access::Client);
        assert_eq!(access_of("/v1/analytics"), Access::Analytics);
        assert_eq!(
            format_of_path("/v1/messages/count_tokens"),
            ClientFormat::Anthropic
        );
        assert_eq!(
            format_of_path("/v1/responses/resp_1"),
            ClientFormat::OpenAiResponses
        );
        assert_eq!(format_of_path("/v2/nothing"), ClientFormat::OpenAiChat);
    }
}

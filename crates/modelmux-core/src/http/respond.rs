//! Building responses: the `x-modelmux-*` headers every answer carries (request id, episode,
//! route, target, attempts) and the one function that turns a `GatewayError` into a response in the
//! client's wire format.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::error::{ClientFormat, GatewayError};
use crate::ids::RequestId;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-modelmux-request-id");
pub const ROUTE: HeaderName = HeaderName::from_static("x-modelmux-route");
pub const TARGET: HeaderName = HeaderName::from_static("x-modelmux-target");
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-modelmux-attempts");
pub const UPSTREAM_REQUEST_ID: HeaderName =
    HeaderName::from_static("x-modelmux-upstream-request-id");
pub const ALIAS: HeaderName = HeaderName::from_static("x-modelmux-alias");
pub const CLAMPED: HeaderName = HeaderName::from_static("x-modelmux-clamped");
pub const DECISION: HeaderName = HeaderName::from_static("x-modelmux-decision");
pub const EPISODE: HeaderName = crate::episode::EPISODE;
/// The gateway's own request id, when `x-modelmux-request-id` carries the client's.
pub const GATEWAY_REQUEST_ID: HeaderName = HeaderName::from_static("x-modelmux-gateway-request-id");

/// The error kind of an error response, for the record `unrecorded` writes.
#[derive(Debug, Clone)]
pub struct ErrorKindName(pub String);

/// What the gateway knows about a request when it answers.
#[derive(Debug, Default, Clone)]
pub struct Meta {
    pub request_id: Option<RequestId>,
    pub route: Option<String>,
    pub target: Option<String>,
    pub attempts: usize,
    pub upstream_request_id: Option<HeaderValue>,
    /// The route alias pattern the client's model name matched.
    pub alias: Option<String>,
    /// `max_tokens=<asked>-><sent>` when the output limit was lowered to the target's.
    pub clamped: Option<String>,
    /// The routing decision, compact.
    pub decision: Option<String>,
    /// The policy rule that chose the route.
    pub rule: Option<String>,
    /// The client key's id and team, when keys are in use.
    pub key: Option<String>,
    pub team: Option<String>,
    /// A soft budget cap the key has passed.
    pub budget_warning: Option<String>,
    /// The request's episode (`crate::episode`), once known.
    pub episode: Option<String>,
    /// Which request of its episode this is (`episode::turn`).
    pub episode_turn: Option<u32>,
    /// The client's own `x-modelmux-request-id`, once accepted (echoed instead of ours).
    pub client_request_id: Option<String>,
    /// The caller's tenant (`Caller::tenant`), for the record.
    pub tenant: Option<String>,
    /// The signed token that lets this answer's feedback be posted without a key
    /// (`feedback::token`), when `[feedback] secret` is set.
    pub feedback_token: Option<String>,
}

impl Meta {
    pub fn apply(&self, h: &mut HeaderMap) {
        let mut put = |name: HeaderName, v: &str| {
            if let Ok(v) = HeaderValue::try_from(v) {
                h.insert(name, v);
            }
        };
        match (&self.client_request_id, &self.request_id) {
            (Some(client), Some(ours)) => {
                put(REQUEST_ID, client);
                put(GATEWAY_REQUEST_ID, ours.as_str());
            }
            (Some(client), None) => put(REQUEST_ID, client),
            (None, Some(ours)) => put(REQUEST_ID, ours.as_str()),
            (None, None) => {}
        }
        if let Some(e) = &self.episode {
            put(EPISODE, e);
        }
        if let Some(r) = &self.route {
            put(ROUTE, r);
        }
        if let Some(t) = &self.target {
            put(TARGET, t);
        }
        if self.request_id.is_some() {
            put(ATTEMPTS, &self.attempts.to_string());
        }
        if let Some(a) = &self.alias {
            put(ALIAS, a);
        }
        if let Some(c) = &self.clamped {
            put(CLAMPED, c);
        }
        if let Some(d) = &self.decision {
            put(DECISION, d);
        }
        if let Some(w) = &self.budget_warning {
            put(HeaderName::from_static("x-modelmux-budget-warning"), w);
        }
        if let Some(t) = &self.feedback_token {
            put(crate::feedback::token::HEADER, t);
        }
        if let Some(u) = &self.upstream_request_id {
            h.insert(UPSTREAM_REQUEST_ID, u.clone());
        }
    }
}

pub fn json(status: StatusCode, body: impl Into<Body>, meta: &Meta) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    // Room for the content type and every `x-modelmux-*` header at once (no regrowth).
    resp.headers_mut().reserve(15);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    meta.apply(resp.headers_mut());
    resp
}

/// The error response in the client's format, with `Retry-After` when a provider gave one
/// and `x-should-retry: false` once the gateway has already retried and fallen back.
pub fn error(err: &GatewayError, format: ClientFormat, meta: &Meta) -> Response {
    let mut resp = json(err.status(), err.body(format), meta);
    resp.extensions_mut().insert(ErrorKindName(err.kind_name()));
    if let Some(ra) = err.retry_after() {
        let secs = ra.as_secs() + u64::from(ra.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::try_from(secs.to_string()) {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    if matches!(err, GatewayError::Limit(e) if !e.should_retry()) {
        resp.headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    if matches!(
        err,
        GatewayError::AllFailed { .. } | GatewayError::Deadline { .. }
    ) && meta.attempts > 1
    {
        resp.headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    resp
}

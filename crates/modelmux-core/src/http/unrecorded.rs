//! The record of every request no handler recorded: unknown paths (404), wrong methods
//! (405), and the rejections of endpoints that do not answer with a model (a bad key on
//! `/v1/models`, a malformed or too large body on `/v1/route/explain`, the admin API, axum's
//! own extractor rejections). A middleware around the whole router: a response that carries
//! `x-modelmux-request-id` was recorded by its handler (every model endpoint records, answered
//! or not); any other error response gets a record here with its status and error kind, and
//! the request id header so the client can quote it. Health probes (`/healthz`, `/readyz`)
//! and successful reads of the other endpoints leave no record.
//!
//! A client that goes away before its answer starts makes the server drop the handler, which
//! then never records: the middleware gives every request its id up front (`request_id`,
//! which the recording handlers use) and records a request dropped unanswered as
//! `client_gone` with status 499 under that id.

use std::time::{Instant, SystemTime};

use axum::Extension;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

use crate::http::respond::{ErrorKindName, REQUEST_ID};
use crate::ids::RequestId;
use crate::records::Record;
use crate::state::AppState;

pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    let format = crate::auth::format_of_path(path).name();
    let id = RequestId::generate();
    req.extensions_mut().insert(id.clone());
    let mut pending = Pending {
        state,
        id: Some(id),
        format,
        started: Instant::now(),
    };
    let mut resp = next.run(req).await;
    let Some(id) = pending.id.take() else {
        return resp;
    };
    let status = resp.status();
    if status.as_u16() < 400 || resp.headers().contains_key(REQUEST_ID) {
        return resp;
    }
    let kind = match resp.extensions().get::<ErrorKindName>() {
        Some(k) => k.0.clone(),
        None => kind_of(status).to_owned(),
    };
    pending.send(&id, status.as_u16(), kind);
    if let Ok(v) = HeaderValue::try_from(id.as_str()) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The request id this middleware gave the request (a fresh one without the middleware).
/// Handlers that record use it, so a `client_gone` record and theirs are one record.
pub fn request_id(ext: Option<Extension<RequestId>>) -> RequestId {
    ext.map_or_else(RequestId::generate, |Extension(id)| id)
}

/// A request whose handler has not answered yet. Dropped before it answers (the client went
/// away and the server dropped the handler), it records the request as `client_gone` (499)
/// under the request's own id: if the handler had recorded it already, the store keeps the
/// handler's record (the first one written for an id).
struct Pending {
    state: AppState,
    id: Option<RequestId>,
    format: &'static str,
    started: Instant,
}

impl Pending {
    fn send(&self, id: &RequestId, status: u16, kind: String) {
        let elapsed = self.started.elapsed();
        let mut r = Record::new(id.as_str(), SystemTime::now() - elapsed);
        r.client_format = self.format.to_owned();
        r.status = Some(status);
        r.error = Some(kind);
        r.latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.state.records.send(r);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.send(&id, 499, "client_gone".to_owned());
        }
    }
}

/// The error kind of a response that did not say (the admin API, axum's rejections).
fn kind_of(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 415 | 422 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        429 => "rate_limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "client_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            kind_of(http::StatusCode::UNSUPPORTED_MEDIA_TYPE),
            "invalid_request"
        );
        assert_eq!(kind_of(http::StatusCode::BAD_GATEWAY), "internal");
        assert_eq!(kind_of(http::StatusCode::IM_A_TEAPOT), "client_error");
    }
}

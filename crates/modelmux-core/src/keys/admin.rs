//! The admin API over virtual keys, guarded by `[keys] admin_key` (sent as
//! `Authorization: Bearer <admin key>`, or `x-api-key`). Mounted by the gateway under
//! `/admin`:
//!
//! | method and path | does |
//! |---|---|
//! | `GET /keys` | every key (hash never shown; `hint` is `mmx-…` and the last four) |
//! | `POST /keys` | create from a `KeySpec`; the answer carries the key, shown once |
//! | `POST /keys/{id}/revoke` | revoke |
//! | `POST /keys/{id}/rotate` | a new value for the key; the old one stops working |
//! | `GET /spend/keys` | spend per key (day, month, total, reserved) and what remains |
//! | `GET /spend/teams` | spend summed per team |
//! | `GET /limits` | what the limits did while Redis was unreachable |
//!
//! Errors are OpenAI-shaped JSON. Authentication is `auth::admin_layer`, on the router itself:
//! only the admin key gets here; without an admin key configured every path answers 404.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use modelmux_wire::openai::ErrorBody;
use serde_json::{Value, json};

use super::Keys;
use super::error::KeysError;
use super::key::{NewKey, StoredKey};
use super::manage::KeySpec;
use crate::auth::Caller;

/// The admin routes over `keys`, to be nested under `/admin`.
pub fn admin_router<S>(keys: Arc<Keys>) -> Router<S> {
    Router::new()
        .route("/keys", get(list).post(create))
        .route("/keys/{id}/revoke", post(revoke))
        .route("/keys/{id}/rotate", post(rotate))
        .route("/spend/keys", get(spend_keys))
        .route("/spend/teams", get(spend_teams))
        .route("/limits", get(limits))
        .route_layer(axum::middleware::from_fn_with_state(
            keys.clone(),
            crate::auth::admin_layer,
        ))
        .with_state(keys)
}

type Answer = Result<Response, AdminError>;

/// An admin API error: status, OpenAI `type` and `code`, message.
#[derive(Debug)]
pub struct AdminError(StatusCode, &'static str, &'static str, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.3, self.1, None, Some(self.2)).to_json();
        (
            self.0,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

fn error(
    status: StatusCode,
    kind: &'static str,
    code: &'static str,
    message: impl Into<String>,
) -> AdminError {
    AdminError(status, kind, code, message.into())
}

/// Defence in depth: `auth::admin_layer` lets only the admin key reach these routes.
fn guard(caller: &Caller) -> Result<(), AdminError> {
    match caller {
        Caller::Admin => Ok(()),
        _ => Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "The admin API needs the admin key as `Authorization: Bearer <key>`.",
        )),
    }
}

fn keys_error(e: &KeysError) -> AdminError {
    let (kind, code) = match e {
        KeysError::NotFound(_) => ("invalid_request_error", "key_not_found"),
        KeysError::Invalid(_) => ("invalid_request_error", "invalid_key_spec"),
        _ => ("server_error", "key_store_error"),
    };
    if e.status().is_server_error() {
        tracing::error!(error = %e, "admin API");
    }
    error(e.status(), kind, code, e.to_string())
}

fn ok(status: StatusCode, v: Value) -> Answer {
    Ok((status, axum::Json(v)).into_response())
}

/// A stored key as shown: everything but the hash.
pub fn view(k: &StoredKey) -> Value {
    let mut v = serde_json::to_value(&k.info).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("hint".into(), json!(k.hint));
        m.insert("created_at".into(), json!(k.created_at));
        if let Some(t) = k.rotated_at {
            m.insert("rotated_at".into(), json!(t));
        }
        if let Some(t) = k.revoked_at {
            m.insert("revoked_at".into(), json!(t));
        }
    }
    v
}

/// A key just made or rotated: the view and, once, the plain key.
pub fn new_key_view(k: &NewKey) -> Value {
    let mut v = view(&k.stored);
    if let Value::Object(m) = &mut v {
        m.insert("key".into(), json!(k.key.expose()));
        m.insert(
            "note".into(),
            json!("Store this key now: modelmux keeps only its hash and cannot show it again."),
        );
    }
    v
}

async fn list(State(keys): State<Arc<Keys>>, Extension(caller): Extension<Caller>) -> Answer {
    guard(&caller)?;
    let all = keys.list().await.map_err(|e| keys_error(&e))?;
    ok(
        StatusCode::OK,
        json!({ "object": "list", "data": all.iter().map(view).collect::<Vec<_>>() }),
    )
}

async fn create(
    State(keys): State<Arc<Keys>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Answer {
    guard(&caller)?;
    let spec: KeySpec = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_key_spec",
            format!("The body must be a key spec (name, team, allowed, rpm, tpm, budgets): {e}"),
        )
    })?;
    let k = keys.create(spec).await.map_err(|e| keys_error(&e))?;
    tracing::info!(
        id = k.stored.info.id,
        name = k.stored.info.name,
        "virtual key created"
    );
    ok(StatusCode::CREATED, new_key_view(&k))
}

async fn revoke(
    State(keys): State<Arc<Keys>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    guard(&caller)?;
    let k = keys.revoke(&id).await.map_err(|e| keys_error(&e))?;
    tracing::info!(id = k.info.id, "virtual key revoked");
    ok(StatusCode::OK, view(&k))
}

async fn rotate(
    State(keys): State<Arc<Keys>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    guard(&caller)?;
    let k = keys.rotate(&id).await.map_err(|e| keys_error(&e))?;
    tracing::info!(id = k.stored.info.id, "virtual key rotated");
    ok(StatusCode::OK, new_key_view(&k))
}

async fn spend_keys(State(keys): State<Arc<Keys>>, Extension(caller): Extension<Caller>) -> Answer {
    guard(&caller)?;
    let s = keys.spend_by_key().await.map_err(|e| keys_error(&e))?;
    ok(StatusCode::OK, json!({ "object": "list", "data": s }))
}

async fn spend_teams(
    State(keys): State<Arc<Keys>>,
    Extension(caller): Extension<Caller>,
) -> Answer {
    guard(&caller)?;
    let s = keys.spend_by_team().await.map_err(|e| keys_error(&e))?;
    ok(StatusCode::OK, json!({ "object": "list", "data": s }))
}

async fn limits(State(keys): State<Arc<Keys>>, Extension(caller): Extension<Caller>) -> Answer {
    guard(&caller)?;
    let s = keys.stats();
    ok(
        StatusCode::OK,
        json!({
            "redis_errors": s.redis_errors,
            "local_fallbacks": s.local_fallbacks,
            "unavailable": s.unavailable,
            "lost_settlements": s.lost_settlements,
        }),
    )
}

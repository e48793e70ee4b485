//! `POST /v1/feedback`: one feedback item (a bare object) or a batch (`{"feedback": [...]}`,
//! all-or-nothing, at most `feedback::MAX_BATCH` items), validated against `[[metrics]]`
//! (`feedback::parse`, 400 naming the field), held to a token caller's request and episode,
//! and queued on the record writer. The answer, 202 with the items' ids, means every row is
//! queued in memory or appended to the spill file: the writer stores it (replaying the
//! spill once the store is back), and shutdown drains the queue. The caller's tenant owns
//! the rows.

use std::time::SystemTime;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::auth::Caller;
use crate::error::{ClientFormat, GatewayError};
use crate::feedback::{self, Parsed};
use crate::http::{read_body, respond};
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let meta = respond::Meta::default();
    match accept(&state, &caller, &headers, body).await {
        Ok(ids) => {
            let body = json!({"object": "feedback.accepted", "count": ids.len(), "ids": ids});
            respond::json(StatusCode::ACCEPTED, body.to_string(), &meta)
        }
        Err(e) => respond::error(&e, ClientFormat::OpenAiChat, &meta),
    }
}

async fn accept(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<String>, GatewayError> {
    let raw = read_body(headers, body, state.config.server.max_body_bytes).await?;
    let tenant = caller.tenant();
    let parsed = feedback::parse(
        &raw,
        &state.config.metrics,
        tenant.as_str(),
        SystemTime::now(),
    )?;
    if let Caller::Token(grant) = caller {
        in_scope(&parsed, grant)?;
    }
    let ids: Vec<String> = parsed.rows.iter().map(|r| r.id.clone()).collect();
    state
        .records
        .send_feedback(parsed.rows)
        .map_err(|e| GatewayError::Internal(format!("The feedback could not be stored: {e}.")))?;
    Ok(ids)
}

/// A token posts feedback about its own request, or about its request's episode.
fn in_scope(parsed: &Parsed, grant: &feedback::token::Grant) -> Result<(), GatewayError> {
    for (i, row) in parsed.rows.iter().enumerate() {
        if let Some(r) = &row.request_id
            && *r != grant.request_id
        {
            return Err(GatewayError::Unauthorized(format!(
                "{}: this feedback token is for request {:?}, not {r:?}.",
                parsed.param(i, "request_id"),
                grant.request_id
            )));
        }
        if let Some(e) = &row.episode_id
            && grant.episode_id.as_ref() != Some(e)
        {
            let has = match &grant.episode_id {
                Some(g) => format!("is for episode {g:?}"),
                None => "names no episode".to_owned(),
            };
            return Err(GatewayError::Unauthorized(format!(
                "{}: this feedback token {has}, not {e:?}.",
                parsed.param(i, "episode_id")
            )));
        }
    }
    Ok(())
}

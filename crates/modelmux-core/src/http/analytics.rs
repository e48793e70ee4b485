//! `GET /v1/analytics`: the outcomes report as JSON (`crate::analytics`), with the grouping,
//! unit, metrics, window, filter and baseline as query parameters. Only the admin key or the
//! read-only `[keys] analytics_key` reach it (`auth::layer`); the numbers cover every
//! tenant. A bad parameter is a 400 naming it; a store that cannot answer is a 503.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;

use super::respond;
use crate::analytics::{self, AnalyticsError};
use crate::error::{ClientFormat, GatewayError};
use crate::state::AppState;

pub async fn get(
    State(state): State<AppState>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let meta = respond::Meta::default();
    let fail = |e: GatewayError| respond::error(&e, ClientFormat::OpenAiChat, &meta);
    let bad = |message: String| {
        fail(GatewayError::InvalidRequest {
            message,
            param: None,
            code: None,
        })
    };
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return bad(format!("The query string does not parse: {e}.")),
    };
    let query = match analytics::Query::from_params(&params, std::time::SystemTime::now()) {
        Ok(q) => q,
        Err(e) => return bad(e.to_string()),
    };
    let Some(store) = state.records.store() else {
        return fail(GatewayError::NotFound(
            "No record store runs here, so there are no analytics.".into(),
        ));
    };
    match analytics::run(store.as_ref(), &state.config.metrics, &query).await {
        Ok(a) => match serde_json::to_string(&a) {
            Ok(body) => respond::json(StatusCode::OK, body, &meta),
            Err(e) => fail(GatewayError::Internal(format!("analytics: {e}"))),
        },
        Err(AnalyticsError::Query(m)) => bad(m),
        Err(AnalyticsError::Store(e)) => {
            tracing::warn!("analytics: the record store failed: {e}");
            let mut resp = fail(GatewayError::Internal(format!(
                "The record store cannot answer: {e}."
            )));
            *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            resp
        }
    }
}

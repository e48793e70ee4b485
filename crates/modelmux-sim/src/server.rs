//! The HTTP side: the accept loop (TCP_NODELAY, HTTP/1.1 keep-alive, graceful stop on
//! shutdown), routing, the `/v1/models` and `/_sim/*` endpoints, API-key checks and the small
//! helpers that build responses and bodies. Model requests of every format are handed to
//! `exchange` with their format's wire; `/token` and `count_tokens` are answered here.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::anthropic::Anthropic;
use crate::bedrock::Bedrock;
use crate::behaviour::Behaviour;
use crate::exchange::exchange;
use crate::gemini::Gemini;
use crate::openai::OpenAi;
use crate::text::percent_decode;
use crate::{Inner, anthropic, gemini, openai};
use responses::Responses;

// `POST /v1/responses`; declared here to keep its registration in one place.
#[path = "responses.rs"]
mod responses;

/// Errors that make hyper drop the connection: that is how resets and cuts are simulated.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SimError {
    #[error("simulated connection reset")]
    Reset,
    #[error("simulated stream cut")]
    Cut,
    #[error("reading the request body: {0}")]
    Body(#[from] hyper::Error),
}

pub(crate) type SimBody = BoxBody<Bytes, SimError>;

pub(crate) async fn serve(listener: TcpListener, inner: Arc<Inner>) {
    let mut stop = inner.shutdown_signal();
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "sim accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "sim could not set TCP_NODELAY");
        }
        let inner = inner.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let svc_inner = inner.clone();
            let svc = service_fn(move |req| handle(svc_inner.clone(), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "sim connection ended with an error");
            }
        });
    }
}

/// Resolve once shutdown has been asked for (the guard `wait_for` returns is not `Send`).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Result<Response<SimBody>, SimError> {
    let path = req.uri().path().trim_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').collect();
    let state = &inner.state;
    match (req.method(), segments.as_slice()) {
        (&Method::POST, ["v1", "responses"] | ["responses"]) => {
            exchange(state, req, Responses).await
        }
        (&Method::POST, ["v1", "chat", "completions"] | ["chat", "completions"]) => {
            exchange(state, req, OpenAi { deployment: None }).await
        }
        (&Method::POST, ["openai", "deployments", deployment, "chat", "completions"]) => {
            let deployment = Some((*deployment).to_owned());
            exchange(state, req, OpenAi { deployment }).await
        }
        (&Method::POST, ["v1", "messages"]) => exchange(state, req, Anthropic).await,
        (&Method::POST, ["v1", "messages", "count_tokens"]) => {
            anthropic::count_tokens(state, req).await
        }
        (&Method::POST, ["v1" | "v1beta", "models", call]) => match gemini::Call::parse(call) {
            Some(call) => {
                exchange(
                    state,
                    req,
                    Gemini {
                        call,
                        vertex: false,
                    },
                )
                .await
            }
            None => Ok(not_found(req.method(), &path)),
        },
        (
            &Method::POST,
            [
                "v1" | "v1beta1",
                "projects",
                _,
                "locations",
                _,
                "publishers",
                "google",
                "models",
                call,
            ],
        ) => match gemini::Call::parse(call) {
            Some(call) => exchange(state, req, Gemini { call, vertex: true }).await,
            None => Ok(not_found(req.method(), &path)),
        },
        (&Method::POST, ["token"]) => gemini::token(state, req).await,
        (&Method::POST, ["model", model, op @ ("converse" | "converse-stream")]) => {
            let wire = Bedrock {
                model: percent_decode(model),
                stream: *op == "converse-stream",
            };
            exchange(state, req, wire).await
        }
        (&Method::GET, ["v1", "models"] | ["models"]) => {
            if !authorized(state.api_key.as_deref(), req.headers()) {
                return Ok(unauthorized());
            }
            let data: Vec<_> = state
                .listed_models()
                .into_iter()
                .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "modelmux-sim"}))
                .collect();
            Ok(json_response(
                200,
                Bytes::from(json!({"object": "list", "data": data}).to_string()),
            ))
        }
        (&Method::GET, ["_sim", "stats"]) => Ok(json_response(
            200,
            Bytes::from(state.stats_json().to_string()),
        )),
        (&Method::POST, ["_sim", "behaviour"]) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct SetBehaviour {
                model: String,
                #[serde(default)]
                behaviour: Behaviour,
            }
            let body = req.into_body().collect().await?.to_bytes();
            match serde_json::from_slice::<SetBehaviour>(&body) {
                Ok(set) => {
                    state.set_behaviour(&set.model, set.behaviour);
                    Ok(json_response(
                        200,
                        Bytes::from(json!({"ok": true, "model": set.model}).to_string()),
                    ))
                }
                Err(e) => Ok(error(
                    400,
                    &format!("invalid behaviour: {e}"),
                    "invalid_request_error",
                    None,
                )),
            }
        }
        _ => Ok(not_found(req.method(), &path)),
    }
}

fn not_found(method: &Method, path: &str) -> Response<SimBody> {
    error(
        404,
        &format!("Invalid URL ({method} /{path})"),
        "invalid_request_error",
        None,
    )
}

/// Whether the headers carry the key (`Authorization: Bearer <key>` or `api-key: <key>`).
pub(crate) fn authorized(key: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(key) = key else { return true };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    bearer == Some(key) || header("api-key") == Some(key)
}

pub(crate) fn unauthorized() -> Response<SimBody> {
    error(
        401,
        "Incorrect API key provided.",
        "invalid_request_error",
        Some("invalid_api_key"),
    )
}

pub(crate) fn full(bytes: Bytes) -> SimBody {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub(crate) fn response(
    status: u16,
    content_type: &'static str,
    body: SimBody,
) -> Response<SimBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    resp
}

pub(crate) fn json_response(status: u16, body: Bytes) -> Response<SimBody> {
    response(status, "application/json", full(body))
}

/// An OpenAI-shaped error response (`param` is always null here).
pub(crate) fn error(status: u16, message: &str, ty: &str, code: Option<&str>) -> Response<SimBody> {
    json_response(status, openai::error_body(message, ty, None, code))
}

/// Set a header whose value is known to be valid ASCII; an invalid one is skipped.
pub(crate) fn set_header(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// A response body fed chunk by chunk from a channel; an `Err` aborts the connection.
pub(crate) struct ChannelBody(pub(crate) mpsc::Receiver<Result<Bytes, SimError>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = SimError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, SimError>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

//! `POST /v1/chat/completions`: authenticate, read and decode the body, resolve the plan,
//! dispatch (JSON or stream), and answer with the `x-modelmux-*` headers. Every request,
//! answered or not, ends in one access log line with its outcome.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use http::{HeaderMap, HeaderValue, StatusCode};
use modelmux_wire::openai::{ChatBody, ChatSummary};
use tokio::sync::mpsc;

use crate::auth;
use crate::dispatch::stream::{self as dstream, StreamEnd};
use crate::dispatch::{self, Attempt, WalkError, Walked};
use crate::error::{ClientFormat, GatewayError, describe};
use crate::http::{read_body, respond};
use crate::ids::RequestId;
use crate::routing::{self, Plan};
use crate::state::AppState;

const FORMAT: ClientFormat = ClientFormat::OpenAiChat;

pub async fn completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut meta = respond::Meta {
        request_id: Some(RequestId::generate()),
        ..Default::default()
    };
    let (request, plan) = match prepare(&state, &headers, body).await {
        Ok(v) => v,
        Err((e, route)) => {
            meta.route = route;
            log_done(&meta, e.status(), started, false, &[], Some(&e), None);
            return respond::error(&e, FORMAT, &meta);
        }
    };
    meta.route = Some(plan.route.clone());
    if request.1.stream {
        stream_answer(state, request, plan, meta, started).await
    } else {
        json_answer(state, request, plan, meta, started).await
    }
}

type Decoded = (ChatBody, ChatSummary);

async fn prepare(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Decoded, Plan), (GatewayError, Option<String>)> {
    let cfg = &state.config;
    auth::check(&cfg.server.master_keys, headers).map_err(|e| (e, None))?;
    let bytes = read_body(headers, body, cfg.server.max_body_bytes)
        .await
        .map_err(|e| (e, None))?;
    let invalid = |e: modelmux_wire::openai::DecodeError| GatewayError::InvalidRequest {
        message: e.message,
        param: e.param,
        code: e.code,
    };
    let chat = ChatBody::parse(&bytes).map_err(|e| (invalid(e), None))?;
    let summary = chat.summary().map_err(|e| (invalid(e), None))?;
    let plan = routing::resolve(cfg, &summary.model).map_err(|e| (e, None))?;
    Ok(((chat, summary), plan))
}

async fn json_answer(
    state: AppState,
    (chat, summary): Decoded,
    plan: Plan,
    mut meta: respond::Meta,
    started: Instant,
) -> Response {
    let up = &state.upstreams;
    let result = dispatch::walk(&plan, &summary, |cand, remaining| {
        let body = dispatch::openai_body(&chat, &cand.target.model, false);
        let timeout = plan.settings.timeout.min(remaining);
        let target = cand.target.clone();
        async move {
            dispatch::call_json(up, &target, body, timeout)
                .await
                .map(|a| (a, None))
        }
    })
    .await;
    match result {
        Ok(Walked {
            answer,
            target,
            attempts,
        }) => {
            meta.target = Some(target.to_string());
            meta.attempts = attempts.len();
            meta.upstream_request_id = answer.upstream_request_id.clone();
            log_done(
                &meta,
                StatusCode::OK,
                started,
                false,
                &attempts,
                None,
                answer.usage,
            );
            respond::json(StatusCode::OK, answer.body, &meta)
        }
        Err(WalkError { error, attempts }) => failed(meta, error, attempts, started, false),
    }
}

async fn stream_answer(
    state: AppState,
    (chat, summary): Decoded,
    plan: Plan,
    mut meta: respond::Meta,
    started: Instant,
) -> Response {
    let up = &state.upstreams;
    let result = dispatch::walk(&plan, &summary, |cand, remaining| {
        let body = dispatch::openai_body(&chat, &cand.target.model, true);
        let timeout = plan.settings.timeout.min(remaining);
        let ttft = plan.settings.ttft_timeout.min(remaining);
        let target = cand.target.clone();
        async move {
            let t0 = tokio::time::Instant::now();
            dstream::open(up, &target, body, timeout, ttft)
                .await
                .map(|s| (s, Some(t0.elapsed())))
        }
    })
    .await;
    let Walked {
        answer: open,
        target,
        attempts,
    } = match result {
        Ok(w) => w,
        Err(WalkError { error, attempts }) => return failed(meta, error, attempts, started, true),
    };
    meta.target = Some(target.to_string());
    meta.attempts = attempts.len();
    meta.upstream_request_id = open.upstream_request_id.clone();

    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let idle = plan.settings.stream_idle_timeout;
    let wants_usage = summary.include_usage;
    let log_meta = meta.clone();
    tokio::spawn(async move {
        let outcome = dstream::relay(open, tx, wants_usage, idle).await;
        let cut = match &outcome.end {
            StreamEnd::Completed => None,
            StreamEnd::Cut { reason } => Some(reason.clone()),
            StreamEnd::ClientGone => Some("client disconnected".to_owned()),
        };
        tracing::info!(
            target: "modelmux::access",
            request_id = log_meta.request_id.as_ref().map_or("", |r| r.as_str()),
            route = log_meta.route.as_deref().unwrap_or(""),
            target = log_meta.target.as_deref().unwrap_or(""),
            status = 200,
            stream = true,
            attempts = attempts.len(),
            chunks = outcome.chunks,
            input_tokens = outcome.usage.map_or(0, |u| u.input),
            output_tokens = outcome.usage.map_or(0, |u| u.output),
            ms = started.elapsed().as_millis() as u64,
            ttft_ms = attempts.last().and_then(|a| a.ttft).map_or(0, |t| t.as_millis() as u64),
            cut = cut.as_deref().unwrap_or(""),
            "stream finished"
        );
    });
    let body = Body::from_stream(stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    }));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    meta.apply(h);
    resp
}

fn failed(
    mut meta: respond::Meta,
    err: GatewayError,
    attempts: Vec<Attempt>,
    started: Instant,
    stream: bool,
) -> Response {
    meta.attempts = attempts.len();
    meta.target = attempts.last().map(|a| a.target.to_string());
    log_done(
        &meta,
        err.status(),
        started,
        stream,
        &attempts,
        Some(&err),
        None,
    );
    respond::error(&err, FORMAT, &meta)
}

fn log_done(
    meta: &respond::Meta,
    status: StatusCode,
    started: Instant,
    stream: bool,
    attempts: &[Attempt],
    err: Option<&GatewayError>,
    usage: Option<modelmux_wire::Usage>,
) {
    tracing::info!(
        target: "modelmux::access",
        request_id = meta.request_id.as_ref().map_or("", |r| r.as_str()),
        route = meta.route.as_deref().unwrap_or(""),
        target = meta.target.as_deref().unwrap_or(""),
        status = status.as_u16(),
        stream,
        attempts = attempts.len(),
        input_tokens = usage.map_or(0, |u| u.input),
        output_tokens = usage.map_or(0, |u| u.output),
        ms = started.elapsed().as_millis() as u64,
        error = err.map(|e| error_summary(e, attempts)).unwrap_or_default(),
        "request finished"
    );
}

fn error_summary(e: &GatewayError, attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        e.to_string()
    } else {
        format!("{e}: {}", describe(attempts))
    }
}

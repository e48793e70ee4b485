//! Answering a decoded request, whatever its format: resolve the plan, walk the candidates
//! (JSON or stream), and respond in the client's format with the `x-modelmux-*` headers.
//! Every request, answered or not, ends in one access log line with its outcome.

use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::auth::Caller;
use crate::config::ProviderKind;
use crate::dispatch::bridge::{self, BodyOptions};
use crate::dispatch::stream::{self as dstream, StreamEnd};
use crate::dispatch::{self, Attempt, Hedging, WalkError, Walked};
use crate::error::{ClientFormat, GatewayError, describe};
use crate::http::respond;
use crate::ingress::Inbound;
use crate::keys::Admission;
use crate::routing::{self, Candidate, Plan};

use crate::state::AppState;

/// Output limit Anthropic targets get when neither the client nor the catalog gives one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Decides the route for `inbound` and answers it.
pub async fn answer(
    state: AppState,
    inbound: Inbound,
    caller: Caller,
    headers: &http::HeaderMap,
    mut meta: respond::Meta,
    started: Instant,
) -> Response {
    let format = inbound.format;
    let stream = inbound.summary.stream;
    let key = match &caller {
        Caller::Key(k) => Some(k),
        _ => None,
    };
    if let Some(k) = key {
        meta.key = Some(k.id.clone());
        meta.team = k.team.clone();
    }
    let budget = key.and_then(|k| state.keys.remaining_budget(k));
    let decided = routing::decide(
        &state.config,
        &state.rules,
        &state.health,
        &state.classifier,
        &inbound.summary,
        format,
        headers,
        budget,
    );
    let (plan, decision) = match decided {
        Ok(p) => p,
        Err(e) => return failed(&state, meta, e, Vec::new(), started, stream, format),
    };
    meta.route = Some(plan.route.clone());
    meta.alias = plan.alias.clone();
    meta.decision = Some(decision.compact());
    meta.rule = decision.rule.clone();
    // Whether some candidate speaks another format than the client.
    let translated = plan
        .candidates
        .iter()
        .any(|c| state.upstreams.format_for(&c.target.provider, format) != format);
    // Built-in Responses tools (web_search, ...) reach only Responses targets; say so.
    if format == modelmux_wire::WireFormat::OpenAiResponses
        && let Ok(req) = inbound.canonical()
    {
        let builtins = modelmux_wire::responses::builtin_tools(req);
        if !builtins.is_empty()
            && translated
            && let Some(d) = meta.decision.as_mut()
        {
            d.push_str(";dropped_tools=");
            d.push_str(&builtins.join(","));
        }
    }
    if let Some(k) = key
        && !state.keys.allows(k, &plan.route)
    {
        let e = GatewayError::ModelNotFound {
            model: inbound.summary.model.clone(),
            known: k.allowed.clone(),
        };
        return failed(&state, meta, e, Vec::new(), started, stream, format);
    }
    // A candidate of another format needs the canonical request: build it (and report a
    // client mistake in it) before any call is made.
    if translated && let Err(e) = inbound.canonical() {
        return failed(&state, meta, e, Vec::new(), started, stream, format);
    }
    // The key's limits and budget: the estimate (the priciest candidate, the whole requested
    // output) is reserved now and settled with the actual cost at the end.
    let admission = match key {
        Some(k) => {
            let est_tokens = inbound.summary.estimated_input_tokens
                + inbound.summary.max_output_tokens.unwrap_or(512);
            let est_cost = plan
                .candidates
                .iter()
                .filter_map(|c| c.info.price)
                .map(|p| {
                    (inbound.summary.estimated_input_tokens as f64 * p.input
                        + inbound.summary.max_output_tokens.unwrap_or(512) as f64 * p.output)
                        / 1e6
                })
                .fold(0.0, f64::max);
            match state.keys.admit(k, est_tokens, est_cost).await {
                Ok(a) => {
                    meta.budget_warning = a.warnings().first().cloned();
                    Some(a)
                }
                Err(e) => {
                    return failed(
                        &state,
                        meta,
                        GatewayError::Limit(e),
                        Vec::new(),
                        started,
                        stream,
                        format,
                    );
                }
            }
        }
        None => None,
    };
    // Boxed: each is a large state machine, and axum moves the handler's future (all of it
    // inlined otherwise) into a box of its own on every request.
    if stream {
        Box::pin(stream_answer(
            state, inbound, plan, meta, started, admission,
        ))
        .await
    } else {
        Box::pin(json_answer(state, inbound, plan, meta, started, admission)).await
    }
}

fn body_options(state: &AppState, cand: &Candidate) -> BodyOptions {
    let legacy = state
        .upstreams
        .config_of(&cand.target.provider)
        .is_some_and(|p| p.kind == ProviderKind::OpenAi && p.legacy_max_tokens);
    BodyOptions {
        default_max_tokens: DEFAULT_MAX_TOKENS,
        legacy_max_tokens: legacy,
        max_output_tokens: cand.info.max_output_tokens,
    }
}

type Forward = [(http::HeaderName, HeaderValue)];

/// The request body for `cand`, and the client headers it may carry.
fn prepare<'a>(
    state: &AppState,
    inbound: &'a Inbound,
    cand: &Candidate,
) -> Result<(Bytes, &'a Forward), crate::providers::ProviderError> {
    let to = state
        .upstreams
        .format_for(&cand.target.provider, inbound.format);
    let body = bridge::request_body(
        inbound,
        to,
        cand.target.model.as_str(),
        body_options(state, cand),
    )?;
    let forward = if to == inbound.format {
        inbound.forward.as_slice()
    } else {
        &[]
    };
    Ok((body, forward))
}

async fn json_answer(
    state: AppState,
    inbound: Inbound,
    plan: Plan,
    mut meta: respond::Meta,
    started: Instant,
    admission: Option<Admission>,
) -> Response {
    let up = &state.upstreams;
    let format = inbound.format;
    let inbound = &inbound;
    let hedging = Hedging::of(&plan.settings, &state.hedges, &plan.route, false);
    let result = dispatch::walk(
        &plan,
        &inbound.summary,
        &state.health,
        hedging,
        |cand, remaining| {
            let prepared = prepare(&state, inbound, cand);
            let timeout = plan.settings.timeout.min(remaining);
            let target = cand.target.clone();
            async move {
                let (body, forward) = prepared?;
                dispatch::call_json(up, &target, body, inbound, forward, timeout)
                    .await
                    .map(|a| (a, None))
            }
        },
    )
    .await;
    match result {
        Ok(Walked {
            answer,
            target,
            attempts,
        }) => {
            meta.clamped = clamp_note(&plan, &target, inbound.summary.max_output_tokens);
            if let (Some(c), Some(d)) = (&meta.clamped, meta.decision.as_mut()) {
                d.push_str(";clamped=");
                d.push_str(c);
            }
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
            crate::http::record::send(
                &state,
                &meta,
                format,
                &attempts,
                crate::http::record::Outcome {
                    status: 200,
                    error: None,
                    usage: answer.usage,
                    price: price_of(&plan, &target),
                    ttft: None,
                    stream: None,
                },
                started,
            );
            settle(admission, answer.usage, price_of(&plan, &target)).await;
            let body = crate::http::responses::finish_answer(&state, inbound, answer.body);
            respond::json(StatusCode::OK, body, &meta)
        }
        Err(WalkError { error, attempts }) => {
            settle(admission, None, None).await;
            failed(&state, meta, error, attempts, started, false, format)
        }
    }
}

/// Settles a key's reservation with what the request really used and cost.
async fn settle(
    admission: Option<Admission>,
    usage: Option<modelmux_wire::Usage>,
    price: Option<crate::catalog::Price>,
) {
    if let Some(a) = admission {
        let tokens = usage.map_or(0, |u| u.total());
        let cost = match (usage, price) {
            (Some(u), Some(p)) => p.cost(&u),
            _ => 0.0,
        };
        a.settle(tokens, cost).await;
    }
}

async fn stream_answer(
    state: AppState,
    inbound: Inbound,
    plan: Plan,
    mut meta: respond::Meta,
    started: Instant,
    admission: Option<Admission>,
) -> Response {
    let up = &state.upstreams;
    let format = inbound.format;
    let include_usage = inbound.summary.include_usage;
    let hedging = Hedging::of(&plan.settings, &state.hedges, &plan.route, true);
    let result = dispatch::walk(
        &plan,
        &inbound.summary,
        &state.health,
        hedging,
        |cand, remaining| {
            let prepared = prepare(&state, &inbound, cand);
            let timeout = plan.settings.timeout.min(remaining);
            let ttft = plan.settings.ttft_timeout.min(remaining);
            let target = cand.target.clone();
            let endpoint = up.format_for(&target.provider, format);
            let pipe = bridge::pipe(&inbound, endpoint, target.model.as_str(), include_usage);
            async move {
                let (body, forward) = prepared?;
                let t0 = tokio::time::Instant::now();
                let sent = up.send(&target, body, true, forward, endpoint);
                dstream::open(sent, pipe, timeout, ttft)
                    .await
                    .map(|s| (s, Some(t0.elapsed())))
            }
        },
    )
    .await;
    let Walked {
        answer: open,
        target,
        attempts,
    } = match result {
        Ok(w) => w,
        Err(WalkError { error, attempts }) => {
            settle(admission, None, None).await;
            return failed(&state, meta, error, attempts, started, true, format);
        }
    };
    meta.clamped = clamp_note(&plan, &target, inbound.summary.max_output_tokens);
    if let (Some(c), Some(d)) = (&meta.clamped, meta.decision.as_mut()) {
        d.push_str(";clamped=");
        d.push_str(c);
    }
    meta.target = Some(target.to_string());
    meta.attempts = attempts.len();
    meta.upstream_request_id = open.upstream_request_id.clone();

    let idle = plan.settings.stream_idle_timeout;
    let log_meta = meta.clone();
    let health = state.health.clone();
    let responses_meta = inbound.responses.clone().filter(|m| m.store);
    let price = price_of(&plan, &target);
    let store_state = state.clone();
    let on_complete: Option<dstream::OnComplete> = responses_meta.map(|meta| {
        let st = store_state.clone();
        Box::new(move |captured: &[u8]| crate::http::responses::store_stream(&st, &meta, captured))
            as dstream::OnComplete
    });
    let committed = tokio::time::Instant::now();
    let on_end: dstream::OnEnd = Box::new(move |outcome| {
        if admission.is_some() {
            // Settling may call Redis: it runs on its own, after the stream.
            store_state
                .tasks
                .spawn_if_running("settlement", settle(admission, outcome.usage, price));
        }
        if let (StreamEnd::Completed, Some(u)) = (&outcome.end, outcome.usage) {
            health.stream_done(&target, committed.elapsed(), u.output);
        }
        stream_finished(
            &store_state,
            &log_meta,
            format,
            &attempts,
            &outcome,
            price,
            started,
        );
    });
    let body = Body::from_stream(dstream::RelayBody::new(open, idle, on_complete, on_end));
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

/// The record and access log line of a stream that has ended.
fn stream_finished(
    state: &AppState,
    meta: &respond::Meta,
    format: ClientFormat,
    attempts: &[Attempt],
    outcome: &dstream::RelayOutcome,
    price: Option<crate::catalog::Price>,
    started: Instant,
) {
    let cut = match &outcome.end {
        StreamEnd::Completed => None,
        StreamEnd::Cut { reason } => Some(reason.clone()),
        StreamEnd::ClientGone => Some("client_gone".to_owned()),
    };
    let ttft = attempts.last().and_then(|a| a.ttft);
    crate::http::record::send(
        state,
        meta,
        format,
        attempts,
        crate::http::record::Outcome {
            status: 200,
            error: None,
            usage: outcome.usage,
            price,
            ttft,
            stream: Some(crate::records::StreamOutcome {
                completed: outcome.end == StreamEnd::Completed,
                cut_reason: cut.clone(),
                chunks_sent: outcome.chunks,
            }),
        },
        started,
    );
    tracing::info!(
        target: "modelmux::access",
        request_id = meta.request_id.as_ref().map_or("", |r| r.as_str()),
        format = ?format,
        route = meta.route.as_deref().unwrap_or(""),
        target = meta.target.as_deref().unwrap_or(""),
        status = 200,
        stream = true,
        attempts = attempts.len(),
        chunks = outcome.chunks,
        input_tokens = outcome.usage.map_or(0, |u| u.input),
        output_tokens = outcome.usage.map_or(0, |u| u.output),
        ms = started.elapsed().as_millis() as u64,
        ttft_ms = ttft.map_or(0, |t| t.as_millis() as u64),
        cut = match &outcome.end {
            StreamEnd::ClientGone => "client disconnected",
            _ => cut.as_deref().unwrap_or(""),
        },
        "stream finished"
    );
}

/// The answering candidate's price.
fn price_of(plan: &Plan, target: &crate::ids::TargetRef) -> Option<crate::catalog::Price> {
    plan.candidates
        .iter()
        .find(|c| c.target == *target)?
        .info
        .price
}

/// `max_tokens=<asked>-><limit>` when the answering target's output limit is below what the
/// request asked for (the body sent to it was clamped).
fn clamp_note(plan: &Plan, target: &crate::ids::TargetRef, asked: Option<u64>) -> Option<String> {
    let limit = plan
        .candidates
        .iter()
        .find(|c| c.target == *target)?
        .info
        .max_output_tokens?;
    let asked = asked?;
    (asked > limit).then(|| format!("max_tokens={asked}->{limit}"))
}

/// The error answer, logged.
pub fn failed(
    state: &AppState,
    mut meta: respond::Meta,
    err: GatewayError,
    attempts: Vec<Attempt>,
    started: Instant,
    stream: bool,
    format: ClientFormat,
) -> Response {
    meta.attempts = attempts.len();
    if meta.target.is_none() {
        meta.target = attempts.last().map(|a| a.target.to_string());
    }
    crate::http::record::send(
        state,
        &meta,
        format,
        &attempts,
        crate::http::record::Outcome {
            status: err.status().as_u16(),
            error: Some(err.kind_name()),
            usage: None,
            price: None,
            ttft: None,
            stream: None,
        },
        started,
    );
    log_done(
        &meta,
        err.status(),
        started,
        stream,
        &attempts,
        Some(&err),
        None,
    );
    respond::error(&err, format, &meta)
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
        alias = meta.alias.as_deref().unwrap_or(""),
        clamped = meta.clamped.as_deref().unwrap_or(""),
        status = status.as_u16(),
        stream,
        attempts = attempts.len(),
        input_tokens = usage.map_or(0, |u| u.input),
        output_tokens = usage.map_or(0, |u| u.output),
        ms = started.elapsed().as_millis() as u64,
        error = err.map(|e| if attempts.is_empty() { e.to_string() } else { format!("{e}: {}", describe(attempts)) }).unwrap_or_default(),
        "request finished"
    );
}

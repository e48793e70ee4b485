//! One chat completions request, start to end: read and record the body, check the key and
//! the Azure `api-version`, apply header overrides, draw the fault (header, script, then
//! chance), wait the latency, then answer with an error, a JSON body or an SSE stream whose
//! chunks a spawned task writes into a channel at the configured pace.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use crate::behaviour::Behaviour;
use crate::fault::{Fault, RetryAfter, status_error};
use crate::openai::{self, Answer};
use crate::server::{
    ChannelBody, SimBody, SimError, authorized, error, full, response, set_header, unauthorized,
};
use crate::stats::{RecordedRequest, State, Ticket};
use crate::text::alnum;

type Tx = mpsc::Sender<Result<Bytes, SimError>>;

/// Pause before a cut so hyper flushes the chunks already produced before it aborts.
const FLUSH_PAUSE: Duration = Duration::from_millis(5);

pub(crate) async fn chat(
    state: &State,
    req: Request<Incoming>,
    deployment: Option<String>,
) -> Result<Response<SimBody>, SimError> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.to_string());
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path_and_query,
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    let chat = match openai::parse(&body, deployment.as_deref()) {
        Ok(chat) => chat,
        Err(msg) => {
            state.count_unattributed();
            return Ok(error(400, &msg, "invalid_request_error", None));
        }
    };
    let header_fault: Result<Option<Fault>, ()> = match parts.headers.get("x-sim-fault") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or(()),
    };
    let ticket = state.record(
        &chat.model,
        recorded,
        chat.prompt_tokens,
        matches!(header_fault, Ok(None)),
    );
    let headers = answer_headers(&ticket);
    let with = |mut resp: Response<SimBody>| {
        resp.headers_mut().extend(headers.clone());
        Ok(resp)
    };
    if !authorized(state.api_key.as_deref(), &parts.headers) {
        return with(unauthorized());
    }
    if deployment.is_some() && !has_query(parts.uri.query(), "api-version") {
        return with(error(
            400,
            "Missing required query parameter: api-version",
            "invalid_request_error",
            Some("missing_api_version"),
        ));
    }
    let Ok(header_fault) = header_fault else {
        return with(error(
            400,
            "invalid x-sim-fault header",
            "invalid_request_error",
            None,
        ));
    };
    let mut b = ticket.behaviour;
    if let Err(msg) = b.apply_overrides(&parts.headers) {
        return with(error(400, &msg, "invalid_request_error", None));
    }
    let fault = header_fault
        .or(ticket.scripted)
        .or_else(|| b.roll_random_fault());

    sleep(Duration::from_millis(b.latency_ms)).await;
    let requested = chat.max_tokens.unwrap_or(0);
    match &fault {
        Some(Fault::Hang) => std::future::pending::<()>().await,
        Some(Fault::Reset) => return Err(SimError::Reset),
        Some(Fault::Status { code, retry_after }) => {
            let (message, ty, err_code) = status_error(*code);
            let mut resp = error(*code, message, ty, err_code);
            match retry_after {
                Some(RetryAfter::Seconds(s)) => set_header(resp.headers_mut(), "retry-after", s),
                Some(RetryAfter::Millis(ms)) => {
                    set_header(resp.headers_mut(), "retry-after-ms", ms)
                }
                None => {}
            }
            return with(resp);
        }
        Some(Fault::ContextLength) => {
            let window = b.context_window.unwrap_or(8192);
            let prompt = chat.prompt_tokens.max(window.saturating_add(1));
            return with(context_response(window, prompt, requested));
        }
        _ => {}
    }
    if let Some(window) = b.context_window {
        if u64::from(chat.prompt_tokens) + u64::from(requested) > u64::from(window) {
            return with(context_response(window, chat.prompt_tokens, requested));
        }
    }

    let answer = Answer::new(&chat, chat.output(&b));
    if chat.stream {
        let mut resp = response(
            200,
            "text/event-stream",
            SimBody::new(ChannelBody(spawn_stream(answer, b, fault))),
        );
        set_header(resp.headers_mut(), "cache-control", "no-cache");
        set_header(
            resp.headers_mut(),
            "openai-processing-ms",
            started.elapsed().as_millis(),
        );
        return with(resp);
    }
    sleep(b.token_delay() * answer.output.completion_tokens()).await;
    let body = answer.completion();
    let mut resp = match fault {
        Some(Fault::CutAfter(_)) => {
            let (tx, rx) = mpsc::channel(2);
            tokio::spawn(async move {
                if tx.send(Ok(body.slice(..body.len() / 2))).await.is_ok() {
                    sleep(FLUSH_PAUSE).await;
                    let _ = tx.send(Err(SimError::Cut)).await;
                }
            });
            response(200, "application/json", SimBody::new(ChannelBody(rx)))
        }
        Some(Fault::MalformedAfter(_)) => response(
            200,
            "application/json",
            full(Bytes::from_static(b"{not json")),
        ),
        Some(Fault::ErrorEventAfter(_)) => {
            response(200, "application/json", full(error_event_json()))
        }
        _ => response(200, "application/json", full(body)),
    };
    set_header(
        resp.headers_mut(),
        "openai-processing-ms",
        started.elapsed().as_millis(),
    );
    with(resp)
}

/// `x-request-id` plus, when the behaviour asks, OpenAI's `x-ratelimit-*` headers.
fn answer_headers(ticket: &Ticket) -> HeaderMap {
    let mut h = HeaderMap::new();
    set_header(&mut h, "x-request-id", format!("req_{}", alnum(32)));
    if ticket.behaviour.rate_limit_headers {
        set_header(&mut h, "x-ratelimit-limit-requests", 1000);
        set_header(
            &mut h,
            "x-ratelimit-remaining-requests",
            1000u64.saturating_sub(ticket.requests),
        );
        set_header(&mut h, "x-ratelimit-reset-requests", "60ms");
        set_header(&mut h, "x-ratelimit-limit-tokens", 1_000_000);
        set_header(
            &mut h,
            "x-ratelimit-remaining-tokens",
            1_000_000u64.saturating_sub(ticket.prompt_tokens),
        );
        set_header(&mut h, "x-ratelimit-reset-tokens", "1ms");
    }
    h
}

fn has_query(query: Option<&str>, key: &str) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|kv| kv.split('=').next() == Some(key) && kv.len() > key.len() + 1)
    })
}

fn context_response(window: u32, prompt: u32, completion: u32) -> Response<SimBody> {
    crate::server::json_response(400, openai::context_error(window, prompt, completion))
}

fn error_event_json() -> Bytes {
    openai::error_body(
        "simulated upstream error",
        "server_error",
        None,
        Some("simulated"),
    )
}

/// Spawn the task that writes the stream; it stops early when the client goes away.
fn spawn_stream(
    answer: Answer,
    b: Behaviour,
    fault: Option<Fault>,
) -> mpsc::Receiver<Result<Bytes, SimError>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let _ = write_stream(&tx, answer, &b, fault).await;
    });
    rx
}

/// Every event of a stream; `Err` means the client is gone.
async fn write_stream(
    tx: &Tx,
    answer: Answer,
    b: &Behaviour,
    fault: Option<Fault>,
) -> Result<(), ()> {
    let send = |bytes: Bytes| async move { tx.send(Ok(bytes)).await.map_err(|_| ()) };
    sleep(Duration::from_millis(b.ttft_ms)).await;
    if let Some(Fault::KeepAliveThenOk(n)) = fault {
        for _ in 0..n {
            send(Bytes::from_static(b": OPENROUTER PROCESSING\n\n")).await?;
        }
    }
    send(answer.role_event()).await?;
    let break_at = match fault {
        Some(Fault::CutAfter(n) | Fault::MalformedAfter(n) | Fault::ErrorEventAfter(n)) => Some(n),
        _ => None,
    };
    let mut sent = 0u32;
    for d in answer.deltas() {
        if d.content {
            if break_at == Some(sent) {
                return break_stream(tx, fault).await;
            }
            sleep(b.token_delay()).await;
            sent += 1;
        }
        send(answer.delta_event(&d.delta, None)).await?;
    }
    if break_at.is_some() {
        return break_stream(tx, fault).await;
    }
    send(answer.finish_event()).await?;
    if let Some(usage) = answer.usage_event() {
        send(usage).await?;
    }
    send(openai::sse("[DONE]")).await
}

/// End a stream the way a cut, malformed or error-event fault does.
async fn break_stream(tx: &Tx, fault: Option<Fault>) -> Result<(), ()> {
    let item = match fault {
        Some(Fault::CutAfter(_)) => {
            sleep(FLUSH_PAUSE).await;
            Err(SimError::Cut)
        }
        Some(Fault::MalformedAfter(_)) => Ok(Bytes::from_static(b"data: {not json\n\n")),
        _ => Ok(openai::sse(&String::from_utf8_lossy(&error_event_json()))),
    };
    tx.send(item).await.map_err(|_| ())
}

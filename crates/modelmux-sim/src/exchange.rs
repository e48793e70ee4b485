//! One model request, start to end, whatever its wire format: read and record the body, let the
//! format parse it into the neutral [`Request`], count it for its model, check auth and the
//! format's own rules, apply header overrides, draw the fault (header, script, then chance),
//! wait the latency, then answer with the format's error, JSON body or stream. A stream is a
//! list of pre-rendered [`Frame`]s that a spawned task writes into a channel at the configured
//! pace; faults cut, corrupt or break it after N content frames.

use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Request as HttpRequest, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Waits `d`; a zero delay does not wait at all (tokio's timer would round it up to the next
/// millisecond, which made a "zero-latency" model cost about 1 ms a call).
async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

use crate::behaviour::Behaviour;
use crate::fault::{Fault, RetryAfter};
use crate::plan::{Answer, Request};
use crate::server::{ChannelBody, SimBody, SimError, full, response, set_header};
use crate::stats::{RecordedRequest, State, Ticket};
use crate::text::alnum;

type Tx = mpsc::Sender<Result<Bytes, SimError>>;

/// Pause before a cut so hyper flushes the chunks already produced before it aborts.
const FLUSH_PAUSE: Duration = Duration::from_millis(5);

/// What a stream frame is, for pacing and faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// Before or between content: role, block starts and stops, pings.
    Head,
    /// One token's worth (a word, a reasoning piece, an argument fragment): paced, counted.
    Content,
    /// The end of the message: finish, usage, stop. A breaking fault comes before the first.
    Tail,
}

/// One pre-rendered piece of a stream body.
pub(crate) struct Frame {
    pub bytes: Bytes,
    pub kind: FrameKind,
}

impl Frame {
    pub(crate) fn new(kind: FrameKind, bytes: impl Into<Bytes>) -> Frame {
        Frame {
            bytes: bytes.into(),
            kind,
        }
    }
}

/// A request the format refuses before any fault: the model when known, and the answer.
pub(crate) struct Rejected {
    pub model: Option<String>,
    pub response: Response<SimBody>,
}

/// A wire format: how it reads a request and renders answers, errors and streams.
#[allow(
    clippy::result_large_err,
    reason = "a rejection is a whole HTTP response, built only on the error path"
)]
pub(crate) trait Wire {
    /// The neutral request, or the format's 400 (with the model when it is known).
    fn parse(&self, parts: &Parts, body: &[u8]) -> Result<Request, Rejected>;
    /// Check credentials (and format-specific required headers or query parameters).
    fn authorize(&self, state: &State, parts: &Parts, body: &[u8])
    -> Result<(), Response<SimBody>>;
    fn bad_request(&self, message: &str) -> Response<SimBody>;
    fn status_error(&self, code: u16, retry_after: Option<&RetryAfter>) -> Response<SimBody>;
    fn context_error(&self, window: u32, prompt: u32, completion: u32) -> Response<SimBody>;
    fn json(&self, answer: &Answer) -> Bytes;
    fn stream(&self, answer: &Answer, keepalives: u32) -> Vec<Frame>;
    fn stream_content_type(&self) -> &'static str {
        "text/event-stream"
    }
    /// The in-stream error an `error_event:N` fault sends.
    fn error_event(&self) -> Bytes;
    /// The 200 body an `error_event` fault answers a non-stream request with.
    fn error_body(&self) -> Bytes;
    /// The broken frame a `malformed:N` fault sends.
    fn malformed(&self) -> Bytes {
        Bytes::from_static(b"data: {not json\n\n")
    }
    /// Headers of a successful answer (processing time, request ids).
    fn decorate(&self, _headers: &mut HeaderMap, _elapsed_ms: u128) {}
}

pub(crate) async fn exchange<W: Wire>(
    state: &State,
    req: HttpRequest<Incoming>,
    wire: W,
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
    let header_fault: Result<Option<Fault>, ()> = match parts.headers.get("x-sim-fault") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or(()),
    };
    let pop = matches!(header_fault, Ok(None));
    let (request, ticket) = match wire.parse(&parts, &body) {
        Ok(r) => {
            let t = state.record(&r.model, recorded, r.prompt_tokens(), pop);
            (Ok(r), Some(t))
        }
        Err(Rejected {
            model: Some(m),
            response,
        }) => (Err(response), Some(state.record(&m, recorded, 0, false))),
        Err(Rejected {
            model: None,
            response,
        }) => (Err(response), None),
    };
    let headers = ticket.as_ref().map(answer_headers).unwrap_or_default();
    let with = |mut resp: Response<SimBody>| {
        resp.headers_mut().extend(headers.clone());
        Ok(resp)
    };
    if let Err(resp) = wire.authorize(state, &parts, &body) {
        if ticket.is_none() {
            state.count_unattributed();
        }
        return with(resp);
    }
    let (request, ticket) = match (request, ticket) {
        (Ok(r), Some(t)) => (r, t),
        (Err(resp), t) => {
            if t.is_none() {
                state.count_unattributed();
            }
            return with(resp);
        }
        (Ok(_), None) => return with(wire.bad_request("internal: request not recorded")),
    };
    let Ok(header_fault) = header_fault else {
        return with(wire.bad_request("invalid x-sim-fault header"));
    };
    let mut b = ticket.behaviour;
    if let Err(msg) = b.apply_overrides(&parts.headers) {
        return with(wire.bad_request(&msg));
    }
    let fault = header_fault
        .or(ticket.scripted)
        .or_else(|| b.roll_random_fault());

    sleep(Duration::from_millis(b.latency_ms)).await;
    let requested = request.max_tokens.unwrap_or(0);
    let prompt_tokens = request.prompt_tokens();
    match &fault {
        Some(Fault::Hang) => std::future::pending::<()>().await,
        Some(Fault::Reset) => return Err(SimError::Reset),
        Some(Fault::Status { code, retry_after }) => {
            let mut resp = wire.status_error(*code, retry_after.as_ref());
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
            let prompt = prompt_tokens.max(window.saturating_add(1));
            return with(wire.context_error(window, prompt, requested));
        }
        _ => {}
    }
    if let Some(window) = b.context_window
        && u64::from(prompt_tokens) + u64::from(requested) > u64::from(window)
    {
        return with(wire.context_error(window, prompt_tokens, requested));
    }

    let mut answer = request.answer(&b);
    let token_time = b.token_delay() * answer.completion_tokens();
    if request.stream {
        answer.latency_ms = (Duration::from_millis(b.latency_ms + b.ttft_ms) + token_time)
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX);
        let keepalives = match fault {
            Some(Fault::KeepAliveThenOk(n)) => n,
            _ => 0,
        };
        let frames = wire.stream(&answer, keepalives);
        let ending = Ending {
            error_event: wire.error_event(),
            malformed: wire.malformed(),
        };
        let mut resp = response(
            200,
            wire.stream_content_type(),
            SimBody::new(ChannelBody(spawn_stream(frames, b, fault, ending))),
        );
        set_header(resp.headers_mut(), "cache-control", "no-cache");
        wire.decorate(resp.headers_mut(), started.elapsed().as_millis());
        return with(resp);
    }
    sleep(token_time).await;
    answer.latency_ms = started.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
    let body = wire.json(&answer);
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
            response(200, "application/json", full(wire.error_body()))
        }
        _ => response(200, "application/json", full(body)),
    };
    wire.decorate(resp.headers_mut(), started.elapsed().as_millis());
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

/// The frames a breaking fault ends a stream with.
struct Ending {
    error_event: Bytes,
    malformed: Bytes,
}

/// Spawn the task that writes the stream; it stops early when the client goes away.
fn spawn_stream(
    frames: Vec<Frame>,
    b: Behaviour,
    fault: Option<Fault>,
    ending: Ending,
) -> mpsc::Receiver<Result<Bytes, SimError>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let _ = write_stream(&tx, frames, &b, fault, ending).await;
    });
    rx
}

/// Every frame of a stream; `Err` means the client is gone.
async fn write_stream(
    tx: &Tx,
    frames: Vec<Frame>,
    b: &Behaviour,
    fault: Option<Fault>,
    ending: Ending,
) -> Result<(), ()> {
    sleep(Duration::from_millis(b.ttft_ms)).await;
    let break_at = match fault {
        Some(Fault::CutAfter(n) | Fault::MalformedAfter(n) | Fault::ErrorEventAfter(n)) => Some(n),
        _ => None,
    };
    let mut sent = 0u32;
    for frame in frames {
        match frame.kind {
            FrameKind::Content => {
                if break_at == Some(sent) {
                    return break_stream(tx, fault, ending).await;
                }
                sleep(b.token_delay()).await;
                sent += 1;
            }
            FrameKind::Tail if break_at.is_some() => {
                return break_stream(tx, fault, ending).await;
            }
            _ => {}
        }
        tx.send(Ok(frame.bytes)).await.map_err(|_| ())?;
    }
    if break_at.is_some() {
        return break_stream(tx, fault, ending).await;
    }
    Ok(())
}

/// End a stream the way a cut, malformed or error-event fault does.
async fn break_stream(tx: &Tx, fault: Option<Fault>, ending: Ending) -> Result<(), ()> {
    let item = match fault {
        Some(Fault::CutAfter(_)) => {
            sleep(FLUSH_PAUSE).await;
            Err(SimError::Cut)
        }
        Some(Fault::MalformedAfter(_)) => Ok(ending.malformed),
        _ => Ok(ending.error_event),
    };
    tx.send(item).await.map_err(|_| ())
}

/// Whether a query string carries `key=<non-empty>`.
pub(crate) fn has_query(query: Option<&str>, key: &str) -> bool {
    query_value(query, key).is_some_and(|v| !v.is_empty())
}

/// The raw value of `key` in a query string.
pub(crate) fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| match kv.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        None if kv == key => Some(""),
        _ => None,
    })
}

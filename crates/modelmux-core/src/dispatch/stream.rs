//! Streams and their commit point. `open` sends the request and reads the upstream SSE
//! until the first chunk with content; until then any failure (an error status, a broken
//! connection, a malformed or error chunk, the time-to-first-token running out) is an
//! ordinary failed attempt and the dispatcher may fall back. Once content is there the
//! stream is committed: `relay` forwards every chunk to the client as it arrives and, if the
//! upstream breaks afterwards, ends with an error event in the client's format, never a
//! silently truncated stream.

use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use modelmux_wire::Usage;
use modelmux_wire::openai::{ChunkPeek, ErrorBody};
use modelmux_wire::sse::{self, SseItem, SseParser};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ids::TargetRef;
use crate::providers::classify::classify_stream_error;
use crate::providers::{ErrorKind, ProviderError, Upstreams, transport_error};

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// A stream that has produced content and is ready to be relayed.
pub struct OpenStream {
    /// Chunks read before the commit point, already framed as SSE events.
    held: Vec<(String, bool)>,
    parser: SseParser,
    bytes: ByteStream,
    pub upstream_request_id: Option<http::HeaderValue>,
    usage: Option<Usage>,
    finished: bool,
}

impl std::fmt::Debug for OpenStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStream")
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

/// Sends the request and reads until the first content chunk, within `timeout` for the
/// response headers and `ttft` for the first content.
pub async fn open(
    up: &Upstreams,
    target: &TargetRef,
    body: Bytes,
    timeout: Duration,
    ttft: Duration,
) -> Result<OpenStream, ProviderError> {
    let start = Instant::now();
    let ttft_deadline = start + ttft;
    let headers_deadline = (start + timeout).min(ttft_deadline);
    let resp = tokio::time::timeout_at(headers_deadline, up.send(target, body, true))
        .await
        .map_err(|_| ProviderError::new(ErrorKind::Timeout, "no response headers in time"))??;
    let upstream_request_id = resp.headers().get("x-request-id").cloned();
    let mut open = OpenStream {
        held: Vec::new(),
        parser: SseParser::new(),
        bytes: Box::pin(resp.bytes_stream()),
        upstream_request_id,
        usage: None,
        finished: false,
    };
    loop {
        while let Some(item) = open.parser.next_item() {
            let SseItem::Event(ev) = item else { continue };
            if ev.data.trim() == sse::DONE {
                return Err(ProviderError::new(
                    ErrorKind::StreamBroken,
                    "the stream ended before any content",
                ));
            }
            let Some(peek) = ChunkPeek::parse(&ev.data) else {
                return Err(ProviderError::new(
                    ErrorKind::StreamBroken,
                    "the provider sent a malformed stream chunk",
                ));
            };
            if let Some(e) = &peek.error {
                return Err(classify_stream_error(e.get()));
            }
            if let Some(u) = &peek.usage {
                open.usage = Some(u.to_canonical());
            }
            let content = peek.has_content();
            open.finished |= peek.finish_reason().is_some();
            open.held.push((ev.data, peek.is_usage_only()));
            if content {
                return Ok(open);
            }
        }
        match tokio::time::timeout_at(ttft_deadline, open.bytes.next()).await {
            Err(_) => {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("no first token within {}", humantime::format_duration(ttft)),
                ));
            }
            Ok(None) => {
                return Err(ProviderError::new(
                    ErrorKind::StreamBroken,
                    "the stream ended before any content",
                ));
            }
            Ok(Some(Err(e))) => {
                let mut err = transport_error(e);
                err.kind = ErrorKind::StreamBroken;
                return Err(err);
            }
            Ok(Some(Ok(chunk))) => open.parser.push(&chunk),
        }
    }
}

/// How a relayed stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// `[DONE]` (or a clean end after the finish chunk).
    Completed,
    /// The upstream broke after commit; the client got an error event.
    Cut { reason: String },
    /// The client went away.
    ClientGone,
}

/// The result of a relay, for records and logs.
#[derive(Debug, Clone)]
pub struct RelayOutcome {
    pub end: StreamEnd,
    pub usage: Option<Usage>,
    pub chunks: u64,
}

/// Relays a committed stream into `tx` as OpenAI SSE. `client_wants_usage` keeps or drops
/// the usage-only chunk (the gateway always asks the upstream for it, to price the call).
pub async fn relay(
    mut open: OpenStream,
    tx: mpsc::Sender<Bytes>,
    client_wants_usage: bool,
    idle: Duration,
) -> RelayOutcome {
    let mut chunks = 0u64;
    let mut out = BytesMut::new();
    for (data, usage_only) in std::mem::take(&mut open.held) {
        if !usage_only || client_wants_usage {
            sse::put_data(&mut out, &data);
            chunks += 1;
        }
    }
    if !out.is_empty() && tx.send(out.split().freeze()).await.is_err() {
        return RelayOutcome {
            end: StreamEnd::ClientGone,
            usage: open.usage,
            chunks,
        };
    }
    loop {
        while let Some(item) = open.parser.next_item() {
            let SseItem::Event(ev) = item else { continue };
            if ev.data.trim() == sse::DONE {
                let _ = tx.send(sse::data_event(sse::DONE)).await;
                return RelayOutcome {
                    end: StreamEnd::Completed,
                    usage: open.usage,
                    chunks,
                };
            }
            let Some(peek) = ChunkPeek::parse(&ev.data) else {
                return cut(
                    &tx,
                    open.usage,
                    chunks,
                    "the provider sent a malformed stream chunk",
                )
                .await;
            };
            if peek.error.is_some() {
                // Forward the provider's own error object: the client's format already.
                let _ = tx.send(sse::data_event(&ev.data)).await;
                return RelayOutcome {
                    end: StreamEnd::Cut {
                        reason: "the provider sent an error event".into(),
                    },
                    usage: open.usage,
                    chunks,
                };
            }
            if let Some(u) = &peek.usage {
                open.usage = Some(u.to_canonical());
            }
            open.finished |= peek.finish_reason().is_some();
            if peek.is_usage_only() && !client_wants_usage {
                continue;
            }
            sse::put_data(&mut out, &ev.data);
            chunks += 1;
        }
        if !out.is_empty() && tx.send(out.split().freeze()).await.is_err() {
            return RelayOutcome {
                end: StreamEnd::ClientGone,
                usage: open.usage,
                chunks,
            };
        }
        match tokio::time::timeout(idle, open.bytes.next()).await {
            Err(_) => {
                let why = format!(
                    "the provider sent nothing for {}",
                    humantime::format_duration(idle)
                );
                return cut(&tx, open.usage, chunks, &why).await;
            }
            Ok(Some(Ok(bytes))) => open.parser.push(&bytes),
            Ok(Some(Err(_))) => {
                return cut(
                    &tx,
                    open.usage,
                    chunks,
                    "the connection to the provider broke mid-stream",
                )
                .await;
            }
            Ok(None) if open.finished && !open.parser.has_partial() => {
                // Some OpenAI-compatible servers omit [DONE]; the finish chunk came, so the
                // answer is whole.
                let _ = tx.send(sse::data_event(sse::DONE)).await;
                return RelayOutcome {
                    end: StreamEnd::Completed,
                    usage: open.usage,
                    chunks,
                };
            }
            Ok(None) => {
                return cut(
                    &tx,
                    open.usage,
                    chunks,
                    "the provider's stream ended before the answer was complete",
                )
                .await;
            }
        }
    }
}

async fn cut(
    tx: &mpsc::Sender<Bytes>,
    usage: Option<Usage>,
    chunks: u64,
    reason: &str,
) -> RelayOutcome {
    let body = ErrorBody::new(
        format!("The stream was interrupted: {reason}."),
        "upstream_error",
        None,
        Some("stream_interrupted"),
    );
    let _ = tx.send(sse::data_event(&body.to_json())).await;
    RelayOutcome {
        end: StreamEnd::Cut {
            reason: reason.to_owned(),
        },
        usage,
        chunks,
    }
}

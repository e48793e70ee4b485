//! Streams and their commit point. `open` sends the request and feeds the provider's bytes
//! through a `Pipe` until the answer has started; until then any failure (an error status, a
//! broken connection, a malformed or error chunk, the time-to-first-token running out) is an
//! ordinary failed attempt and the dispatcher may fall back. Once content is there the
//! stream is committed: `relay` forwards the client bytes as they are produced and, if the
//! provider breaks afterwards, ends with an error event in the client's format, never a
//! silently truncated stream.

use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use modelmux_wire::Usage;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::pipe::Pipe;
use crate::providers::{ErrorKind, ProviderError, Sent};

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ProviderError>> + Send>>;

/// A stream whose answer has started, ready to be relayed.
pub struct OpenStream {
    pipe: Box<dyn Pipe>,
    /// Client bytes produced before the commit point.
    held: BytesMut,
    bytes: ByteStream,
    pub upstream_request_id: Option<http::HeaderValue>,
}

impl std::fmt::Debug for OpenStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStream")
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

/// Reads a sent stream until its answer starts, within `ttft` of `start`.
pub async fn open(
    sent: impl Future<Output = Result<Sent, ProviderError>>,
    mut pipe: Box<dyn Pipe>,
    timeout: Duration,
    ttft: Duration,
) -> Result<OpenStream, ProviderError> {
    let start = Instant::now();
    let ttft_deadline = start + ttft;
    let headers_deadline = (start + timeout).min(ttft_deadline);
    let sent = tokio::time::timeout_at(headers_deadline, sent)
        .await
        .map_err(|_| ProviderError::new(ErrorKind::Timeout, "no response headers in time"))??;
    let upstream_request_id = sent.upstream_request_id();
    let mut bytes: ByteStream = Box::pin(sent.response.bytes_stream());
    let mut held = BytesMut::new();
    loop {
        if let Some(e) = &pipe.state().error {
            return Err(e.clone());
        }
        if pipe.state().started {
            return Ok(OpenStream {
                pipe,
                held,
                bytes,
                upstream_request_id,
            });
        }
        match tokio::time::timeout_at(ttft_deadline, bytes.next()).await {
            Err(_) => {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("no first token within {}", humantime::format_duration(ttft)),
                ));
            }
            Ok(None) => {
                pipe.end(&mut held);
                return Err(pipe.state().error.clone().unwrap_or_else(|| {
                    ProviderError::new(
                        ErrorKind::StreamBroken,
                        "the stream ended before any content",
                    )
                }));
            }
            Ok(Some(Err(e))) => {
                let mut err = e;
                err.kind = ErrorKind::StreamBroken;
                return Err(err);
            }
            Ok(Some(Ok(chunk))) => pipe.push(&chunk, &mut held),
        }
    }
}

/// How a relayed stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// The terminal event arrived and was relayed.
    Completed,
    /// The provider broke after commit; the client got an error event.
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
    /// Everything sent to the client, when capture was asked for (up to 16 MiB).
    pub captured: Option<Bytes>,
}

const CAPTURE_LIMIT: usize = 16 << 20;

/// Relays a committed stream into `tx`, as the pipe produces client bytes; with `capture`,
/// also keeps a copy of them (the Responses API stores what the client received).
/// Called with everything the client received, just before the last bytes of a completed
/// stream are sent (so what it stores exists before the client can ask for it).
pub type OnComplete = Box<dyn FnOnce(&[u8]) + Send>;

pub async fn relay(
    mut open: OpenStream,
    tx: mpsc::Sender<Bytes>,
    idle: Duration,
    capture: bool,
    mut on_complete: Option<OnComplete>,
) -> RelayOutcome {
    let mut out = std::mem::take(&mut open.held);
    let pipe = &mut open.pipe;
    let mut copy = capture.then(BytesMut::new);
    let tx = |b: Bytes, copy: &mut Option<BytesMut>| {
        if let Some(c) = copy.as_mut()
            && c.len() + b.len() <= CAPTURE_LIMIT
        {
            c.extend_from_slice(&b);
        }
        tx.send(b)
    };
    let outcome = |pipe: &dyn Pipe, end: StreamEnd, copy: Option<BytesMut>| RelayOutcome {
        end,
        usage: pipe.state().usage,
        chunks: pipe.state().events,
        captured: copy.map(BytesMut::freeze),
    };
    loop {
        if let Some(e) = pipe.state().error.clone() {
            if !pipe.state().error_forwarded {
                pipe.fail(e.kind, &e.message, &mut out);
            }
            let _ = tx(out.split().freeze(), &mut copy).await;
            return outcome(pipe.as_ref(), StreamEnd::Cut { reason: e.message }, copy);
        }
        if pipe.state().complete
            && let Some(f) = on_complete.take()
        {
            let mut all = copy.clone().unwrap_or_default();
            all.extend_from_slice(&out);
            f(&all);
        }
        if !out.is_empty() && tx(out.split().freeze(), &mut copy).await.is_err() {
            return outcome(pipe.as_ref(), StreamEnd::ClientGone, copy);
        }
        if pipe.state().complete {
            return outcome(pipe.as_ref(), StreamEnd::Completed, copy);
        }
        let cut = match tokio::time::timeout(idle, open.bytes.next()).await {
            Ok(Some(Ok(bytes))) => {
                pipe.push(&bytes, &mut out);
                continue;
            }
            Ok(None) => {
                if pipe.end(&mut out) {
                    continue;
                }
                match &pipe.state().error {
                    Some(_) => continue,
                    None => "the provider's stream ended before the answer was complete".to_owned(),
                }
            }
            Err(_) => format!(
                "the provider sent nothing for {}",
                humantime::format_duration(idle)
            ),
            Ok(Some(Err(_))) => "the connection to the provider broke mid-stream".to_owned(),
        };
        pipe.fail(ErrorKind::StreamBroken, &cut, &mut out);
        let _ = tx(out.split().freeze(), &mut copy).await;
        return outcome(pipe.as_ref(), StreamEnd::Cut { reason: cut }, copy);
    }
}

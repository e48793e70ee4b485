//! Streams and their commit point. `open` sends the request and feeds the provider's bytes
//! through a `Pipe` until the answer has started; until then any failure (an error status, a
//! broken connection, a malformed or error chunk, the time-to-first-token running out) is an
//! ordinary failed attempt and the dispatcher may fall back. Once content is there the
//! stream is committed: `RelayBody` forwards the client bytes as they are produced and, if the
//! provider breaks afterwards, ends with an error event in the client's format, never a
//! silently truncated stream.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use modelmux_wire::Usage;
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

/// Called with everything the client received, just before the last bytes of a completed
/// stream are sent (so what it stores exists before the client can ask for it).
pub type OnComplete = Box<dyn FnOnce(&[u8]) + Send>;

/// Called once when a relay ends, however it ends (records, budget, logs).
pub type OnEnd = Box<dyn FnOnce(RelayOutcome) + Send>;

/// A committed stream as the client's response body: each poll reads the provider only as
/// fast as the client takes the bytes (no task or channel of its own per stream), and
/// translates through the pipe. If the provider breaks or goes quiet for `idle`, the body
/// ends with an error event in the client's format. `on_end` runs once: at the end of the
/// stream, or when the body is dropped first because the client went away.
pub struct RelayBody {
    open: OpenStream,
    out: BytesMut,
    idle: Duration,
    /// The idle deadline, armed while waiting on the provider.
    timer: Pin<Box<tokio::time::Sleep>>,
    armed: bool,
    copy: Option<BytesMut>,
    on_complete: Option<OnComplete>,
    on_end: Option<OnEnd>,
    done: bool,
}

impl std::fmt::Debug for RelayBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl RelayBody {
    /// With `on_complete`, a copy of what the client receives (up to 16 MiB) is kept for it.
    pub fn new(
        mut open: OpenStream,
        idle: Duration,
        on_complete: Option<OnComplete>,
        on_end: OnEnd,
    ) -> Self {
        let out = std::mem::take(&mut open.held);
        Self {
            open,
            out,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            armed: false,
            copy: on_complete.is_some().then(BytesMut::new),
            on_complete,
            on_end: Some(on_end),
            done: false,
        }
    }

    /// The pending client bytes (kept in the capture too).
    fn emit(&mut self) -> Bytes {
        let b = self.out.split().freeze();
        if let Some(c) = self.copy.as_mut()
            && c.len() + b.len() <= CAPTURE_LIMIT
        {
            c.extend_from_slice(&b);
        }
        b
    }

    fn finish(&mut self, end: StreamEnd) {
        self.done = true;
        if let Some(f) = self.on_end.take() {
            let state = self.open.pipe.state();
            f(RelayOutcome {
                end,
                usage: state.usage,
                chunks: state.events,
                captured: self.copy.take().map(BytesMut::freeze),
            });
        }
    }

    /// Ends the stream with `end`, sending what is left (an error event included).
    fn last(&mut self, end: StreamEnd) -> Poll<Option<Result<Bytes, Infallible>>> {
        let rest = self.emit();
        self.finish(end);
        Poll::Ready((!rest.is_empty()).then_some(Ok(rest)))
    }

    /// The provider broke off: an error event ends the client's stream.
    fn cut(&mut self, reason: String) -> Poll<Option<Result<Bytes, Infallible>>> {
        self.open
            .pipe
            .fail(ErrorKind::StreamBroken, &reason, &mut self.out);
        self.last(StreamEnd::Cut { reason })
    }
}

impl Stream for RelayBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(e) = this.open.pipe.state().error.clone() {
                if !this.open.pipe.state().error_forwarded {
                    this.open.pipe.fail(e.kind, &e.message, &mut this.out);
                }
                return this.last(StreamEnd::Cut { reason: e.message });
            }
            if this.open.pipe.state().complete {
                if let Some(f) = this.on_complete.take() {
                    let mut all = this.copy.clone().unwrap_or_default();
                    all.extend_from_slice(&this.out);
                    f(&all);
                }
                return this.last(StreamEnd::Completed);
            }
            if !this.out.is_empty() {
                return Poll::Ready(Some(Ok(this.emit())));
            }
            match this.open.bytes.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    this.armed = false;
                    this.open.pipe.push(&bytes, &mut this.out);
                }
                Poll::Ready(None) => {
                    this.armed = false;
                    if this.open.pipe.end(&mut this.out) || this.open.pipe.state().error.is_some() {
                        continue;
                    }
                    return this.cut(
                        "the provider's stream ended before the answer was complete".to_owned(),
                    );
                }
                Poll::Ready(Some(Err(_))) => {
                    return this.cut("the connection to the provider broke mid-stream".to_owned());
                }
                Poll::Pending => {
                    if !this.armed {
                        this.armed = true;
                        this.timer.as_mut().reset(Instant::now() + this.idle);
                    }
                    if this.timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let reason = format!(
                        "the provider sent nothing for {}",
                        humantime::format_duration(this.idle)
                    );
                    return this.cut(reason);
                }
            }
        }
    }
}

impl Drop for RelayBody {
    fn drop(&mut self) {
        if self.on_end.is_some() {
            self.finish(StreamEnd::ClientGone);
        }
    }
}

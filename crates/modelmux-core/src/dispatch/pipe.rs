//! Stream pipes: what turns a provider's stream bytes into the client's stream bytes, while
//! telling the dispatcher what it has seen (content started, usage, an in-band error).
//! `OpenAiPassthrough` relays an OpenAI-format stream to an OpenAI client event for event;
//! `RawPassthrough` relays a same-format stream byte for byte behind a peek; `Translate`
//! decodes the provider's format into canonical events and encodes them in the client's.

use bytes::BytesMut;
use modelmux_wire::codec::{StreamDecoder, StreamEncoder};
use modelmux_wire::openai::{ChunkPeek, ErrorBody};
use modelmux_wire::sse::{self, SseItem, SseParser};
use modelmux_wire::{StreamEvent, Usage};

use crate::providers::classify::classify_stream_error;
use crate::providers::{ErrorKind, ProviderError};

/// What a pipe has seen so far.
#[derive(Debug, Default)]
pub struct PipeState {
    /// The answer has started: the commit point once it reaches the client.
    pub started: bool,
    /// The terminal event arrived (`[DONE]`, `message_stop`, ...).
    pub complete: bool,
    pub usage: Option<Usage>,
    /// The provider reported an error, or sent something unreadable.
    pub error: Option<ProviderError>,
    /// Whether the client-visible output already carries that error (a same-format error
    /// event relayed as is); if not, the relay ends the stream with `fail`.
    pub error_forwarded: bool,
    /// Client-visible events written.
    pub events: u64,
}

pub trait Pipe: Send {
    /// Feeds provider bytes, appending client bytes to `out`.
    fn push(&mut self, bytes: &[u8], out: &mut BytesMut);
    /// The provider closed the stream; returns whether the answer was complete (and then
    /// the terminal event is in `out`).
    fn end(&mut self, out: &mut BytesMut) -> bool;
    /// Ends the client stream with an error event in its format.
    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut);
    fn state(&self) -> &PipeState;
}

/// OpenAI upstream → OpenAI client: chunks relayed unchanged (re-framed as canonical SSE),
/// keep-alive comments dropped, the usage chunk dropped unless the client asked for it.
pub struct OpenAiPassthrough {
    parser: SseParser,
    client_wants_usage: bool,
    finish_seen: bool,
    state: PipeState,
}

impl OpenAiPassthrough {
    pub fn new(client_wants_usage: bool) -> Self {
        Self {
            parser: SseParser::new(),
            client_wants_usage,
            finish_seen: false,
            state: PipeState::default(),
        }
    }
}

impl Pipe for OpenAiPassthrough {
    fn push(&mut self, bytes: &[u8], out: &mut BytesMut) {
        self.parser.push(bytes);
        while let Some(item) = self.parser.next_item() {
            if self.state.complete || self.state.error.is_some() {
                return;
            }
            let SseItem::Event(ev) = item else { continue };
            if ev.data.trim() == sse::DONE {
                if !self.state.started {
                    self.state.error = Some(ProviderError::new(
                        ErrorKind::StreamBroken,
                        "the stream ended before any content",
                    ));
                    return;
                }
                sse::put_data(out, sse::DONE);
                self.state.complete = true;
                return;
            }
            let Some(peek) = ChunkPeek::parse(&ev.data) else {
                self.state.error = Some(ProviderError::new(
                    ErrorKind::StreamBroken,
                    "the provider sent a malformed stream chunk",
                ));
                return;
            };
            if let Some(e) = &peek.error {
                self.state.error = Some(classify_stream_error(e.get()));
                if self.state.started {
                    sse::put_data(out, &ev.data);
                    self.state.error_forwarded = true;
                    self.state.events += 1;
                }
                return;
            }
            if let Some(u) = &peek.usage {
                self.state.usage = Some(u.to_canonical());
            }
            self.finish_seen |= peek.finish_reason().is_some();
            self.state.started |= peek.has_content();
            if peek.is_usage_only() && !self.client_wants_usage {
                continue;
            }
            sse::put_data(out, &ev.data);
            self.state.events += 1;
        }
    }

    fn end(&mut self, out: &mut BytesMut) -> bool {
        if self.state.complete {
            return true;
        }
        // Some OpenAI-compatible servers omit [DONE]; after the finish chunk the answer is whole.
        if self.finish_seen && !self.parser.has_partial() && self.state.error.is_none() {
            sse::put_data(out, sse::DONE);
            self.state.complete = true;
            return true;
        }
        false
    }

    fn fail(&mut self, _kind: ErrorKind, message: &str, out: &mut BytesMut) {
        openai_fail(message, out);
    }

    fn state(&self) -> &PipeState {
        &self.state
    }
}

/// The OpenAI in-band error event; no `[DONE]` follows it.
pub fn openai_fail(message: &str, out: &mut BytesMut) {
    let body = ErrorBody::new(
        format!("The stream was interrupted: {message}."),
        "upstream_error",
        None,
        Some("stream_interrupted"),
    );
    sse::put_data(out, &body.to_json());
}

/// Any provider format → any client format, through canonical events.
pub struct Translate {
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    events: Vec<StreamEvent>,
    state: PipeState,
}

impl Translate {
    pub fn new(decoder: Box<dyn StreamDecoder>, encoder: Box<dyn StreamEncoder>) -> Self {
        Self {
            decoder,
            encoder,
            events: Vec::new(),
            state: PipeState::default(),
        }
    }

    fn drain(&mut self, out: &mut BytesMut) {
        for ev in std::mem::take(&mut self.events) {
            if self.state.error.is_some() {
                break;
            }
            match &ev {
                StreamEvent::Error { kind, message } => {
                    self.state.error = Some(ProviderError::new(*kind, message.clone()));
                    break;
                }
                StreamEvent::Usage(u) => self.state.usage = Some(*u),
                StreamEvent::Start { usage: Some(u), .. } => self.state.usage = Some(*u),
                _ => {}
            }
            self.state.started |= ev.is_content();
            let before = out.len();
            self.encoder.encode(&ev, out);
            if out.len() > before {
                self.state.events += 1;
            }
        }
    }
}

impl Pipe for Translate {
    fn push(&mut self, bytes: &[u8], out: &mut BytesMut) {
        if self.state.error.is_some() {
            return;
        }
        if let Err(e) = self.decoder.push(bytes, &mut self.events) {
            self.drain(out);
            self.state
                .error
                .get_or_insert(ProviderError::new(ErrorKind::StreamBroken, e.message));
            return;
        }
        self.drain(out);
    }

    fn end(&mut self, out: &mut BytesMut) -> bool {
        if self.state.error.is_some() {
            return false;
        }
        let ok = self.decoder.finish(&mut self.events).is_ok();
        self.drain(out);
        if ok && self.state.error.is_none() && self.state.started {
            self.encoder.finish(out);
            self.state.complete = true;
            return true;
        }
        if self.state.error.is_none() {
            let why = if self.state.started {
                "the provider's stream ended before the answer was complete"
            } else {
                "the stream ended before any content"
            };
            self.state.error = Some(ProviderError::new(ErrorKind::StreamBroken, why));
        }
        false
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        self.encoder.fail(kind, message, out);
    }

    fn state(&self) -> &PipeState {
        &self.state
    }
}

//! How every request ends. `Trail` is what the gateway knows about a request at any stage
//! (its state, the `x-modelmux-*` meta so far, format, streaming, start time); it has the one
//! failure path, `fail` (record, access log line, the error in the client's format), and
//! the one finish path of an answer, `finish` (record, access log line, the route's observed
//! output length), which a JSON answer runs before it responds and a stream when it ends.

use std::time::{Duration, Instant};

use axum::response::Response;
use modelmux_wire::Usage;

use crate::catalog::Price;
use crate::dispatch::Attempt;
use crate::error::{ClientFormat, GatewayError, describe};
use crate::http::respond::{self, Meta};
use crate::pipeline::record::{self, Outcome};
use crate::records::StreamOutcome;
use crate::state::AppState;

/// A request as far as it got.
pub struct Trail {
    pub state: AppState,
    pub meta: Meta,
    pub format: ClientFormat,
    pub stream: bool,
    /// The request offers tools (its output is observed apart from prose answers).
    pub tools: bool,
    pub started: Instant,
}

/// What an answered request produced.
#[derive(Debug)]
pub struct Finished<'a> {
    pub attempts: &'a [Attempt],
    pub usage: Option<Usage>,
    pub price: Option<Price>,
    pub ttft: Option<Duration>,
    /// How a stream ended (`None` for a JSON answer).
    pub stream: Option<StreamOutcome>,
}

impl Trail {
    pub fn new(state: AppState, meta: Meta, format: ClientFormat, started: Instant) -> Self {
        Self {
            state,
            meta,
            format,
            stream: false,
            tools: false,
            started,
        }
    }

    /// The one failure path: the request is recorded and logged with its error, and
    /// answered with it in the client's format.
    pub fn fail(mut self, err: GatewayError, attempts: Vec<Attempt>) -> Response {
        self.meta.attempts = attempts.len();
        if self.meta.target.is_none() {
            self.meta.target = attempts.last().map(|a| a.target.to_string());
        }
        record::send(
            &self.state,
            &self.meta,
            self.format,
            &attempts,
            Outcome {
                status: err.status().as_u16(),
                error: Some(err.kind_name()),
                usage: None,
                price: None,
                ttft: None,
                stream: None,
            },
            self.started,
        );
        self.log(err.status().as_u16(), &attempts, Some(&err), None, None);
        respond::error(&err, self.format, &self.meta)
    }

    /// The one finish path of an answer: recorded, logged, and its output length observed
    /// for the route's expected output (complete answers only).
    pub fn finish(&self, f: Finished<'_>) {
        let complete = f.stream.as_ref().is_none_or(|s| s.completed);
        if complete && let (Some(u), Some(route)) = (f.usage, self.meta.route.as_deref()) {
            self.state.outputs.observe(route, self.tools, u.output);
        }
        let chunks = f
            .stream
            .as_ref()
            .map(|s| (s.chunks_sent, s.cut_reason.clone()));
        record::send(
            &self.state,
            &self.meta,
            self.format,
            f.attempts,
            Outcome {
                status: 200,
                error: None,
                usage: f.usage,
                price: f.price,
                ttft: f.ttft,
                stream: f.stream,
            },
            self.started,
        );
        self.log(200, f.attempts, None, f.usage, chunks);
    }

    /// The request's access log line.
    fn log(
        &self,
        status: u16,
        attempts: &[Attempt],
        err: Option<&GatewayError>,
        usage: Option<Usage>,
        stream: Option<(u64, Option<String>)>,
    ) {
        let m = &self.meta;
        let (chunks, cut) = stream.unwrap_or_default();
        tracing::info!(
            target: "modelmux::access",
            request_id = m.request_id.as_ref().map_or("", |r| r.as_str()),
            client_request_id = m.client_request_id.as_deref().unwrap_or(""),
            episode = m.episode.as_deref().unwrap_or(""),
            format = self.format.name(),
            route = m.route.as_deref().unwrap_or(""),
            target = m.target.as_deref().unwrap_or(""),
            alias = m.alias.as_deref().unwrap_or(""),
            clamped = m.clamped.as_deref().unwrap_or(""),
            status,
            stream = self.stream,
            attempts = attempts.len(),
            chunks,
            input_tokens = usage.map_or(0, |u| u.input),
            output_tokens = usage.map_or(0, |u| u.output),
            ms = self.started.elapsed().as_millis() as u64,
            ttft_ms = attempts.last().and_then(|a| a.ttft).map_or(0, |t| t.as_millis() as u64),
            cut = match cut.as_deref() {
                Some("client_gone") => "client disconnected",
                other => other.unwrap_or(""),
            },
            error = err
                .map(|e| if attempts.is_empty() {
                    e.to_string()
                } else {
                    format!("{e}: {}", describe(attempts))
                })
                .unwrap_or_default(),
            "request finished"
        );
    }
}

//! The Anthropic Messages wire format: request and answer translation in both directions,
//! the stream decoder and encoder, and error bodies.
//!
//! A Messages client's body enters through `from_anthropic` (validated, unknown fields kept
//! raw in `extra`); a canonical request leaves for an Anthropic provider through
//! `to_anthropic`. The provider's answer is read by `response_from_anthropic` or, streamed, by
//! `AnthropicStreamDecoder` (or only peeked at by `AnthropicPeek` when its bytes are relayed
//! unchanged); an answer from any provider goes back to a Messages client through
//! `response_to_anthropic` or `AnthropicStreamEncoder`. Provider errors are read by
//! `classify_error`; errors for Messages clients are written by `error_body` and
//! `error_status`. `estimate_input_tokens` answers `count_tokens` when no counter exists.

mod error;
mod mapping;
mod messages_decode;
mod request_decode;
mod request_encode;
mod response;
mod stream_decode;
mod stream_encode;

pub use crate::tokens::estimate_input_tokens;
pub use error::{classify_error, error_body, error_status, error_type};
pub use request_decode::from_anthropic;
pub use request_encode::to_anthropic;
pub use response::{response_from_anthropic, response_to_anthropic};
pub use stream_decode::{AnthropicPeek, AnthropicStreamDecoder};
pub use stream_encode::AnthropicStreamEncoder;

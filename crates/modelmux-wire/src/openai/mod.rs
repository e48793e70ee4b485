//! The OpenAI Chat Completions wire format, spoken by OpenAI, Azure OpenAI and every
//! OpenAI-compatible server. `chat` decodes and validates request bodies while keeping every
//! field raw (the checks are in `chat_check`, over the shapes in `chat_shapes`), `response`
//! peeks into answers and stream chunks for what the gateway needs (usage, finish, whether
//! content started), and `error` is the error body shape. When the
//! other side speaks another format, translation goes through the canonical model:
//! `request_in` (`from_openai`, with `messages_in`) and `request_out` (`to_openai`, with
//! `messages_out`) for requests, `translate_response` for complete answers,
//! `stream_decode` / `stream_encode` for streams, and `error_map` for error kinds and statuses.

pub mod chat;
mod chat_check;
mod chat_shapes;
pub mod error;
pub mod error_map;
mod messages_in;
mod messages_out;
pub mod request_in;
pub mod request_out;
pub mod response;
pub mod stream_decode;
pub mod stream_encode;
pub mod translate_response;

pub use chat::{ChatBody, ChatSummary, DecodeError};
pub use error::ErrorBody;
pub use error_map::{error_code, error_kind, error_status, error_type};
pub use request_in::from_openai;
pub use request_out::{OpenAiOptions, to_openai};
pub use response::{ChunkPeek, OpenAiUsage, ResponsePeek, UsagePeek};
pub use stream_decode::OpenAiStreamDecoder;
pub use stream_encode::OpenAiStreamEncoder;
pub use translate_response::{response_from_openai, response_to_openai};

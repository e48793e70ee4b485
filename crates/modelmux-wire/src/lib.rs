//! modelmux-wire: the data side of the gateway. It holds the wire types of each provider API,
//! the canonical types the gateway reasons about, and the SSE framing used to read and write
//! streams. Everything here is pure: no tokio, no HTTP client, no I/O. A request enters the
//! gateway as bytes, is decoded here (`openai::chat::ChatBody`), summarised for routing, and
//! leaves again as bytes built here; stream chunks are parsed and re-framed by `sse`.

pub mod anthropic;
pub mod bedrock;
pub mod canonical;
pub mod codec;
pub mod gemini;
pub mod openai;
pub mod responses;
pub mod sse;
pub mod tokens;

pub use canonical::{ChatRequest, ChatResponse, FinishReason, StreamEvent, Usage, WireFormat};
pub use codec::{StreamDecoder, StreamEncoder, TranslateError};

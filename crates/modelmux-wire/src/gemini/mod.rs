//! The Gemini generateContent wire format (AI Studio and Vertex AI): request translation,
//! answer and stream decoding, tool-schema cleaning and error bodies.
//!
//! A request leaves the gateway through [`to_gemini`] (`request`, with messages turned into
//! turns by `contents` and tool schemas cleaned by `schema`); the provider puts the model in
//! the URL. A complete answer comes back through [`response_from_gemini`] (`response`), a
//! `streamGenerateContent?alt=sse` stream through [`GeminiStreamDecoder`] (`stream`), and a
//! failed call's body through [`classify_error`] (`error`). Gemini is only ever a provider
//! format here, never a client format, so there is no decoder for requests or encoder for
//! answers.

mod contents;
pub mod error;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;

pub use error::classify_error;
pub use request::to_gemini;
pub use response::response_from_gemini;
pub use schema::clean_schema;
pub use stream::GeminiStreamDecoder;

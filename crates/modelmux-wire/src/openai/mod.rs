//! The OpenAI Chat Completions wire format, spoken by OpenAI, Azure OpenAI and every
//! OpenAI-compatible server. `chat` decodes and validates request bodies while keeping every
//! field raw, `response` peeks into answers and stream chunks for what the gateway needs
//! (usage, finish, whether content started), and `error` is the error body shape.

pub mod chat;
pub mod error;
pub mod response;

pub use chat::{ChatBody, ChatSummary, DecodeError};
pub use error::ErrorBody;
pub use response::{ChunkPeek, OpenAiUsage, ResponsePeek};

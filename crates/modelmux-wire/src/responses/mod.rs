//! The OpenAI Responses API wire format (`POST /v1/responses`), spoken by Codex CLI and the
//! OpenAI SDKs' `responses` clients. A same-format target (an OpenAI provider with
//! `/responses`) gets the client's body byte for byte; everything here is for translation
//! through the canonical model. `request_in` (`from_responses`, with `items_in` for input
//! items) reads a request; `names` flattens `namespace` tools and marks `custom` tools
//! ([`FlatNames`]); `items_out` turns an answer into output items (also for storing them,
//! `output_items`); `reasoning` carries thinking through reasoning items; `response` builds the
//! `Response` object (`response_to_responses`); `stream_encode` writes the event stream
//! ([`ResponsesStreamEncoder`]).

mod items_in;
mod items_out;
pub mod names;
mod reasoning;
pub mod request_in;
pub mod response;
pub mod stream_encode;

pub use items_in::items_to_messages;
pub use items_out::{output_items, output_items_with};
pub use names::FlatNames;
pub use reasoning::SIGNATURE_PREFIX;
pub use request_in::{builtin_tools, from_responses};
pub use response::{response_to_responses, usage_json};
pub use stream_encode::ResponsesStreamEncoder;

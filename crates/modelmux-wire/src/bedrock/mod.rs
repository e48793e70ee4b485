//! The AWS Bedrock Converse wire format: request translation, answer decoding, and the
//! ConverseStream event-stream decoder. A canonical request becomes a Converse body in
//! `request` (`to_bedrock`), sent to the path `path::model_path` builds; a complete answer is
//! read by `response` (`response_from_bedrock`); a streamed answer arrives as
//! `application/vnd.amazon.eventstream` frames, cut and checked in `frames` and turned into
//! canonical events by `stream` (`BedrockStreamDecoder`); failures, in the HTTP answer or as
//! exception frames inside a 200, are classified in `error`. `media` builds the image, document
//! and audio blocks of a request.

pub mod error;
pub mod frames;
mod media;
pub mod path;
pub mod request;
pub mod response;
pub mod stream;

pub use error::classify_error;
pub use frames::{encode_event, encode_exception};
pub use path::model_path;
pub use request::to_bedrock;
pub use response::response_from_bedrock;
pub use stream::BedrockStreamDecoder;

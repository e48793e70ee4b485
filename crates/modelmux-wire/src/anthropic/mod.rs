//! The Anthropic Messages wire format: request and answer translation in both directions,
//! the stream decoder and encoder, and error bodies.

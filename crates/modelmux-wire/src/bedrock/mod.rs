//! The AWS Bedrock Converse wire format: request translation, answer decoding, and the
//! ConverseStream event-stream decoder.

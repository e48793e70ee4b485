//! The `application/vnd.amazon.eventstream` framing of ConverseStream. A frame is
//! `total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | message_crc u32`
//! (big-endian, CRC-32 over the prelude and then over everything before the trailer); the
//! headers say whether it is an `event` or an `exception` and which one. Reading and writing
//! the bytes, CRCs included, is left to the maintained `aws-smithy-eventstream` crate; this file
//! only cuts complete frames off a growing buffer and names their headers. `encode_event` and
//! `encode_exception` write frames the way Bedrock does, for the simulator and for tests.

use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Buf, Bytes, BytesMut};

use crate::codec::TranslateError;

/// Prelude (12 bytes) plus the trailing message CRC (4 bytes).
const MIN_FRAME_LEN: usize = 16;
/// The event-stream limit on one message (16 MiB); a larger length means garbage.
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// One decoded frame: its protocol headers and its raw payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Frame {
    /// `:message-type`: `event`, `exception` or `error`.
    pub message_type: String,
    /// `:event-type` of an event (`messageStart`, `contentBlockDelta`, ...).
    pub event_type: String,
    /// `:exception-type` of an exception (`throttlingException`, ...).
    pub exception_type: String,
    /// `:error-code` / `:error-message` of a protocol-level `error` frame.
    pub error_code: String,
    pub error_message: String,
    pub payload: Bytes,
}

/// Cuts the next complete frame off the front of `buf`. `Ok(None)` means more bytes are
/// needed; an error means the bytes are not an event stream (bad length or CRC).
pub(crate) fn take_frame(buf: &mut BytesMut) -> Result<Option<Frame>, TranslateError> {
    if buf.len() < 12 {
        return Ok(None);
    }
    let total = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let headers = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total) || headers > total - MIN_FRAME_LEN {
        return Err(TranslateError::new(format!(
            "Bedrock event stream: invalid frame lengths (total {total}, headers {headers})"
        )));
    }
    if buf.len() < total {
        return Ok(None);
    }
    let message = read_message_from(&buf[..total])
        .map_err(|e| TranslateError::new(format!("Bedrock event stream: bad frame: {e}")))?;
    buf.advance(total);
    let mut frame = Frame {
        payload: message.payload().clone(),
        ..Frame::default()
    };
    for header in message.headers() {
        let Ok(value) = header.value().as_string() else {
            continue;
        };
        let value = value.as_str().to_owned();
        match header.name().as_str() {
            ":message-type" => frame.message_type = value,
            ":event-type" => frame.event_type = value,
            ":exception-type" => frame.exception_type = value,
            ":error-code" => frame.error_code = value,
            ":error-message" => frame.error_message = value,
            _ => {}
        }
    }
    Ok(Some(frame))
}

/// One `:message-type event` frame, as ConverseStream sends it: `:event-type`,
/// `:content-type: application/json`, `:message-type: event`, and the JSON payload. Returns
/// no bytes only if the event type is longer than a header may be (32 KiB).
pub fn encode_event(event_type: &str, payload: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_vec(payload).unwrap_or_else(|_| b"{}".to_vec());
    write_frame(
        vec![
            string_header(":event-type", event_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        body,
    )
}

/// One `:message-type exception` frame (`:exception-type` such as `throttlingException`)
/// with the payload `{"message": ...}`, as Bedrock sends mid-stream failures inside a 200.
pub fn encode_exception(exception_type: &str, message: &str) -> Vec<u8> {
    let body = serde_json::to_vec(&serde_json::json!({ "message": message }))
        .unwrap_or_else(|_| b"{}".to_vec());
    write_frame(
        vec![
            string_header(":exception-type", exception_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        body,
    )
}

fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

fn write_frame(headers: Vec<Header>, payload: Vec<u8>) -> Vec<u8> {
    let message = Message::new_from_parts(headers, payload);
    let mut out = Vec::new();
    match write_message_to(&message, &mut out) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_frame_round_trips() {
        let bytes = encode_event("messageStart", &serde_json::json!({"role": "assistant"}));
        let mut buf = BytesMut::from(&bytes[..]);
        let frame = take_frame(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty());
        assert_eq!(frame.message_type, "event");
        assert_eq!(frame.event_type, "messageStart");
        assert_eq!(&frame.payload[..], br#"{"role":"assistant"}"#);
    }

    #[test]
    fn partial_frame_waits_for_more() {
        let bytes = encode_exception("throttlingException", "slow down");
        let mut buf = BytesMut::from(&bytes[..bytes.len() - 1]);
        assert_eq!(take_frame(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), bytes.len() - 1);
    }

    #[test]
    fn bad_crc_is_an_error() {
        let mut bytes = encode_event(
            "messageStop",
            &serde_json::json!({"stopReason": "end_turn"}),
        );
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert!(take_frame(&mut BytesMut::from(&bytes[..])).is_err());
    }

    #[test]
    fn absurd_length_is_an_error_not_a_wait() {
        let mut buf = BytesMut::from(&[0xff_u8; 12][..]);
        assert!(take_frame(&mut buf).is_err());
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0][..]);
        assert!(take_frame(&mut buf).is_err());
    }
}

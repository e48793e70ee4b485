//! Server-sent events: an incremental parser for upstream streams and the writer for the
//! client side. Upstream bytes arrive in arbitrary pieces; `SseParser::push` buffers them and
//! `next_item` yields complete events (blank-line terminated) and comments. LF, CRLF and CR
//! line endings are all accepted, `data:` with or without the space. The writer always emits
//! `data: ` with a space and blank-line-terminated events, the form every SDK parses.

use bytes::{BufMut, Bytes, BytesMut};

/// One dispatched event. `data` joins multiple `data:` lines with `\n`, as the spec says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

/// What the parser yields: an event, or a comment line (keep-alives such as
/// `: OPENROUTER PROCESSING`), which callers skip rather than forward as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    Event(SseEvent),
    Comment(String),
}

/// Incremental SSE parser. Feed bytes with [`SseParser::push`], drain with
/// [`SseParser::next_item`].
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    pos: usize,
    current: SseEvent,
    has_fields: bool,
    data_started: bool,
    pending_cr: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes received but not yet part of a complete event: non-zero at the end of a stream
    /// means the upstream stopped mid-event.
    pub fn has_partial(&self) -> bool {
        self.has_fields || self.buf.len() > self.pos
    }

    /// The next complete item, or `None` until more bytes arrive.
    pub fn next_item(&mut self) -> Option<SseItem> {
        loop {
            let line = self.take_line()?;
            if line.is_empty() {
                if self.has_fields {
                    self.has_fields = false;
                    self.data_started = false;
                    return Some(SseItem::Event(std::mem::take(&mut self.current)));
                }
                continue;
            }
            if let Some(comment) = line.strip_prefix(':') {
                return Some(SseItem::Comment(comment.trim_start().to_owned()));
            }
            let (field, value) = match line.find(':') {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(' ').unwrap_or(v))
                }
                None => (line.as_str(), ""),
            };
            match field {
                "data" => {
                    if self.data_started {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_fields = true;
                    self.data_started = true;
                }
                "event" => {
                    self.current.event = Some(value.to_owned());
                    self.has_fields = true;
                }
                "id" => {
                    self.current.id = Some(value.to_owned());
                    self.has_fields = true;
                }
                // `retry` and unknown fields are ignored, as the spec says.
                _ => {}
            }
        }
    }

    /// Takes one line (without its terminator) from the buffer, if a whole line is there.
    fn take_line(&mut self) -> Option<String> {
        let rest = &self.buf[self.pos..];
        if self.pending_cr {
            if rest.is_empty() {
                return None;
            }
            self.pending_cr = false;
            if rest[0] == b'\n' {
                self.pos += 1;
            }
            return self.take_line();
        }
        let i = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
        let line = String::from_utf8_lossy(&rest[..i]).into_owned();
        if rest[i] == b'\r' {
            if i + 1 < rest.len() {
                if rest[i + 1] == b'\n' {
                    self.pos += 1;
                }
            } else {
                self.pending_cr = true;
            }
        }
        self.pos += i + 1;
        Some(line)
    }
}

/// Appends one `data:` event carrying `data` (split into several `data:` lines if it holds
/// newlines), terminated by a blank line.
pub fn put_data(out: &mut BytesMut, data: &str) {
    for line in data.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
}

/// Appends a named event (`event:` + `data:`), the framing Anthropic clients need.
pub fn put_event(out: &mut BytesMut, event: &str, data: &str) {
    out.put_slice(b"event: ");
    out.put_slice(event.as_bytes());
    out.put_u8(b'\n');
    put_data(out, data);
}

/// One `data:` event as its own buffer.
pub fn data_event(data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 8);
    put_data(&mut out, data);
    out.freeze()
}

/// The OpenAI end-of-stream marker.
pub const DONE: &str = "[DONE]";

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &mut SseParser) -> Vec<SseItem> {
        std::iter::from_fn(|| p.next_item()).collect()
    }

    #[test]
    fn parses_events_split_anywhere() {
        let input =
            b"data: {\"a\":1}\n\ndata:{\"b\":2}\r\n\r\n: keepalive\n\nevent: ping\ndata: x\n\n";
        for split in 0..input.len() {
            let mut p = SseParser::new();
            p.push(&input[..split]);
            let mut items = all(&mut p);
            p.push(&input[split..]);
            items.extend(all(&mut p));
            assert_eq!(
                items,
                vec![
                    SseItem::Event(SseEvent {
                        data: "{\"a\":1}".into(),
                        ..Default::default()
                    }),
                    SseItem::Event(SseEvent {
                        data: "{\"b\":2}".into(),
                        ..Default::default()
                    }),
                    SseItem::Comment("keepalive".into()),
                    SseItem::Event(SseEvent {
                        event: Some("ping".into()),
                        data: "x".into(),
                        id: None
                    }),
                ],
                "split at {split}"
            );
            assert!(!p.has_partial());
        }
    }

    #[test]
    fn multi_line_data_and_cr_only() {
        let mut p = SseParser::new();
        p.push(b"data: a\rdata: b\r\rdata: c\n");
        assert_eq!(
            p.next_item(),
            Some(SseItem::Event(SseEvent {
                data: "a\nb".into(),
                ..Default::default()
            }))
        );
        assert_eq!(p.next_item(), None);
        assert!(
            p.has_partial(),
            "an event without its blank line is partial"
        );
    }

    #[test]
    fn writer_round_trips() {
        let mut out = BytesMut::new();
        put_data(&mut out, "line1\nline2");
        put_event(&mut out, "message_stop", "{}");
        assert_eq!(
            &out[..],
            b"data: line1\ndata: line2\n\nevent: message_stop\ndata: {}\n\n"
        );
        let mut p = SseParser::new();
        p.push(&out);
        assert_eq!(all(&mut p).len(), 2);
    }
}

//! Chat Completions request bodies. The body is kept as an ordered map of raw JSON values so
//! that every field the gateway does not know reaches the provider unchanged, in its original
//! order and spelling; only the fields the gateway acts on (`model`, `stream`,
//! `stream_options`, token limits) are read or rewritten. `ChatBody::summary` validates every
//! field the gateway reads or translates (the checks live in `chat_check`) and returns the
//! errors a client should see, with the offending parameter named by its path.

use indexmap::IndexMap;
use serde_json::value::RawValue;

use super::chat_check;
use super::chat_shapes::{Str, StrOr};

/// A client mistake found while decoding a body: the message, the parameter at fault, and an
/// OpenAI-style error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl DecodeError {
    pub(super) fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: Some(param.to_owned()),
            code: None,
        }
    }

    pub(super) fn missing(param: &str) -> Self {
        Self {
            message: format!("Missing required parameter: '{param}'."),
            param: Some(param.to_owned()),
            code: Some("missing_required_parameter"),
        }
    }
}

/// A decoded Chat Completions body: every top-level field, raw, in order.
#[derive(Debug, Clone)]
pub struct ChatBody {
    fields: IndexMap<String, Box<RawValue>>,
}

/// What the gateway needs to know about a request, read once at ingress.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSummary {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    /// `max_completion_tokens`, or the deprecated `max_tokens`.
    pub max_output_tokens: Option<u64>,
    pub message_count: usize,
    /// Messages with role `assistant`: the answers the conversation already holds.
    pub assistant_count: usize,
    /// Characters of text content over all messages: the base of the token estimate.
    pub text_chars: usize,
    pub has_tools: bool,
    pub has_images: bool,
    /// `auto`, `none`, `required` or `named`, when the request says.
    pub tool_choice: Option<&'static str>,
    /// `response_format.type`: `text`, `json_object` or `json_schema`.
    pub output_format: Option<&'static str>,
    /// A reasoning effort other than `none` was asked for.
    pub reasoning: bool,
    /// The text of the last user message (for intent classification).
    pub last_user_text: String,
    /// `metadata` entries with string values.
    pub metadata: Vec<(String, String)>,
}

impl ChatSummary {
    /// The gateway's token estimate of the prompt (`crate::tokens`), from what the summary
    /// counted. Good enough to compare against context windows; not for billing.
    pub fn estimated_input_tokens(&self) -> u64 {
        crate::tokens::Counts {
            chars: self.text_chars as u64,
            messages: self.message_count as u64,
            tools: u64::from(self.has_tools),
            images: u64::from(self.has_images),
            documents: 0,
        }
        .tokens()
    }
}

impl ChatBody {
    /// Decodes a body. Fails when it is not JSON or not an object.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let fields: IndexMap<String, Box<RawValue>> =
            serde_json::from_slice(bytes).map_err(|e| DecodeError {
                message: if e.is_data() {
                    "The request body must be a JSON object.".to_owned()
                } else {
                    format!("We could not parse the JSON body of your request: {e}")
                },
                param: None,
                code: None,
            })?;
        Ok(Self { fields })
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields.get(key).map(|v| &**v)
    }

    /// Every top-level field, raw, in the order the client wrote them.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    /// Replaces (or appends) a field with a value serialised from `value`.
    pub fn set<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        if let Ok(raw) = serde_json::value::to_raw_value(value) {
            if let Some(slot) = self.fields.get_mut(key) {
                *slot = raw;
            } else {
                self.fields.insert(key.to_owned(), raw);
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        self.fields.shift_remove(key)
    }

    /// Serialises the body back; unknown fields come out exactly as they came in.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.fields
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 2,
        );
        out.push(b'{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Keys came from JSON, so serialising them as strings cannot fail.
            let _ = serde_json::to_writer(&mut out, k);
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
        out
    }

    /// The body serialised as `to_bytes` would after `set`ting each change: a change of a
    /// present field replaces it in place, one of an absent field is appended, in order. Each
    /// change is `(key, JSON text)`. Nothing is copied first, so one buffer is all it
    /// allocates.
    pub fn to_bytes_with(&self, changes: &[(&str, String)]) -> Vec<u8> {
        let change = |k: &str| {
            changes
                .iter()
                .find(|(c, _)| *c == k)
                .map(|(_, v)| v.as_str())
        };
        let mut out = Vec::with_capacity(
            self.fields
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .chain(changes.iter().map(|(k, v)| k.len() + v.len() + 4))
                .sum::<usize>()
                + 2,
        );
        out.push(b'{');
        let mut first = true;
        let mut field = |out: &mut Vec<u8>, k: &str, v: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            // Keys came from JSON (or the caller's literals): serialising them cannot fail.
            let _ = serde_json::to_writer(&mut *out, k);
            out.push(b':');
            out.extend_from_slice(v.as_bytes());
        };
        for (k, v) in &self.fields {
            field(&mut out, k, change(k).unwrap_or(v.get()));
        }
        for (k, v) in changes {
            if !self.fields.contains_key(*k) {
                field(&mut out, k, v);
            }
        }
        out.push(b'}');
        out
    }

    /// Validates every field the gateway reads or translates (see `chat_check`) and
    /// summarises the request.
    pub fn summary(&self) -> Result<ChatSummary, DecodeError> {
        let f = chat_check::read(self.fields())?;
        let model = f.model.ok_or_else(|| DecodeError::missing("model"))?;
        if model.trim().is_empty() {
            return Err(DecodeError::invalid("model", "'model' must not be empty."));
        }
        let messages = f.messages.ok_or_else(|| DecodeError::missing("messages"))?;
        let mut text_chars = 0;
        let mut has_images = false;
        let mut last_user: Option<usize> = None;
        let mut assistant_count = 0;
        for (i, m) in messages.iter().enumerate() {
            match m.role.as_ref().map(|r| r.as_str()) {
                Some("user") => last_user = Some(i),
                Some("assistant") => assistant_count += 1,
                _ => {}
            }
            match &m.content {
                Some(StrOr::Str(t)) => text_chars += t.len(),
                Some(StrOr::Other(parts)) => {
                    for p in parts {
                        if let Some("image_url" | "input_image" | "image") =
                            p.kind.as_ref().map(Str::as_str)
                        {
                            has_images = true;
                        }
                        text_chars += p.text.as_ref().map_or(0, |t| t.0.len());
                    }
                }
                None => {}
            }
        }
        let last_user_text = last_user
            .and_then(|i| messages[i].content.as_ref())
            .map(|c| match c {
                StrOr::Str(t) => t.to_string(),
                StrOr::Other(parts) => parts
                    .iter()
                    .filter_map(|p| p.text.as_ref().map(Str::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
            })
            .unwrap_or_default();
        Ok(ChatSummary {
            model: model.into_owned(),
            stream: f.stream,
            include_usage: f.include_usage,
            max_output_tokens: f.max_output_tokens,
            message_count: messages.len(),
            assistant_count,
            text_chars,
            has_tools: f.has_tools,
            has_images,
            tool_choice: f.tool_choice,
            output_format: f.output_format,
            reasoning: f.reasoning,
            last_user_text,
            metadata: f.metadata,
        })
    }
}

/// serde's messages end with "at line 1 column 123", which means nothing to a client.
pub(super) fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(body: &str) -> Result<ChatSummary, DecodeError> {
        ChatBody::parse(body.as_bytes())?.summary()
    }

    #[test]
    fn keeps_unknown_fields_in_order() {
        let src = r#"{"model":"m","x_custom":{"deep":[1,2,{"k":"v"}]},"messages":[{"role":"user","content":"hi"}],"zzz":null}"#;
        let mut body = ChatBody::parse(src.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(body.to_bytes()).unwrap(), src);
        body.set("model", "other");
        assert_eq!(
            String::from_utf8(body.to_bytes()).unwrap(),
            src.replace(r#""model":"m""#, r#""model":"other""#)
        );
    }

    #[test]
    fn to_bytes_with_matches_set_then_to_bytes() {
        let src = r#"{"model":"m","messages":[],"max_tokens":900,"we\"ird":1,"stream":true}"#;
        let body = ChatBody::parse(src.as_bytes()).unwrap();
        let changes = [
            ("model", r#""up/\"x\"""#.to_owned()),
            ("max_tokens", "100".to_owned()),
            ("stream_options", r#"{"include_usage":true}"#.to_owned()),
        ];
        let mut set = ChatBody::parse(src.as_bytes()).unwrap();
        for (k, v) in &changes {
            let value: serde_json::Value = serde_json::from_str(v).unwrap();
            set.set(k, &value);
        }
        assert_eq!(
            String::from_utf8(body.to_bytes_with(&changes)).unwrap(),
            String::from_utf8(set.to_bytes()).unwrap()
        );
        assert_eq!(body.to_bytes_with(&[]), body.to_bytes());
    }

    #[test]
    fn summary_reads_what_routing_needs() {
        let s = summary(
            r#"{"model":"chat","stream":true,"stream_options":{"include_usage":true},"max_tokens":7,
            "tools":[{"type":"function","function":{"name":"f"}}],
            "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
            {"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","tool_call_id":"c","content":"r"}]}"#,
        )
        .unwrap();
        assert_eq!(s.model, "chat");
        assert!(s.stream && s.include_usage && s.has_tools && s.has_images);
        assert_eq!(s.max_output_tokens, Some(7));
        assert_eq!(s.message_count, 4);
        assert_eq!(s.assistant_count, 1);
        assert_eq!(s.text_chars, 9 + 4 + 1);
    }

    #[test]
    fn client_mistakes_name_their_param() {
        let cases = [
            ("{", None),
            ("[1]", None),
            (
                r#"{"messages":[{"role":"user","content":"x"}]}"#,
                Some("model"),
            ),
            (
                r#"{"model":"","messages":[{"role":"user","content":"x"}]}"#,
                Some("model"),
            ),
            (r#"{"model":5,"messages":[]}"#, Some("model")),
            (r#"{"model":"m"}"#, Some("messages")),
            (r#"{"model":"m","messages":[]}"#, Some("messages")),
            (r#"{"model":"m","messages":"hi"}"#, Some("messages")),
            (
                r#"{"model":"m","messages":[{"content":"x"}]}"#,
                Some("messages[0].role"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
                Some("messages[0].role"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"user"}]}"#,
                Some("messages[0].content"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#,
                Some("messages[0].tool_call_id"),
            ),
            (
                r#"{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}"#,
                Some("stream"),
            ),
            (
                r#"{"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}"#,
                Some("max_tokens"),
            ),
            (
                r#"{"model":"m","max_completion_tokens":0,"messages":[{"role":"user","content":"x"}]}"#,
                Some("max_completion_tokens"),
            ),
            (
                r#"{"model":"m","tools":{},"messages":[{"role":"user","content":"x"}]}"#,
                Some("tools"),
            ),
        ];
        for (body, param) in cases {
            let err = summary(body).expect_err(body);
            assert_eq!(err.param.as_deref(), param, "{body}: {err}");
            // Positions help with malformed JSON; in a field error they are noise.
            if param.is_some() {
                assert!(!err.message.contains("line 1"), "{}", err.message);
            }
        }
    }
}

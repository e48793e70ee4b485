//! Reasoning between canonical parts and Responses `reasoning` items. A Responses client can
//! only hand reasoning back through a reasoning item's `summary` and `encrypted_content`, so
//! thinking from another provider rides in them: the text as one `summary_text` part, and a
//! thinking signature (Anthropic's, Gemini's) as `encrypted_content` behind the
//! [`SIGNATURE_PREFIX`] marker, which the way in strips to restore `Thinking { signature }`
//! exactly. Any other encrypted content (OpenAI's own, or Anthropic redacted data) is carried
//! as it is and read back as `RedactedThinking`.

use serde_json::{Value, json};

use crate::canonical::Part;

/// Marks `encrypted_content` that holds a thinking signature the gateway wrapped.
pub const SIGNATURE_PREFIX: &str = "modelmux.sig:";

/// Canonical parts for a reasoning item's text and encrypted content.
pub(super) fn unwrap_encrypted(text: String, encrypted: Option<&str>) -> Vec<Part> {
    match encrypted {
        Some(enc) => match enc.strip_prefix(SIGNATURE_PREFIX) {
            Some(sig) => vec![Part::Thinking {
                text,
                signature: Some(sig.to_owned()),
            }],
            None => {
                let mut parts = Vec::with_capacity(2);
                if !text.is_empty() {
                    parts.push(Part::Thinking {
                        text,
                        signature: None,
                    });
                }
                parts.push(Part::RedactedThinking {
                    data: enc.to_owned(),
                });
                parts
            }
        },
        None if text.is_empty() => Vec::new(),
        None => vec![Part::Thinking {
            text,
            signature: None,
        }],
    }
}

/// The `encrypted_content` for a thinking signature.
pub(super) fn wrap_signature(signature: &str) -> String {
    format!("{SIGNATURE_PREFIX}{signature}")
}

/// A complete reasoning item.
pub(super) fn reasoning_item(id: &str, text: &str, encrypted: Option<&str>) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{ "type": "summary_text", "text": text }])
    };
    let mut item =
        json!({ "id": id, "type": "reasoning", "summary": summary, "status": "completed" });
    if let (Some(enc), Some(obj)) = (encrypted, item.as_object_mut()) {
        obj.insert("encrypted_content".to_owned(), json!(enc));
    }
    item
}

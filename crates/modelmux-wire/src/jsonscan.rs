//! Finding one top-level member of a JSON object without decoding the rest. The scan follows
//! only what locates the member: strings (with their escapes) and nesting; numbers, literals
//! and nested values are stepped over, not parsed or validated. The gateway uses it to read
//! `usage` from answers it relays unchanged, where decoding the whole body cost several
//! times the rest of the peek.

/// The raw text of the top-level member `key` of the JSON object in `body`, or:
/// - `Some(None)`: `body` is an object without that member;
/// - `None`: `body` is not an object. That is, its first and last non-space bytes are not
///   `{` and `}`, its strings or nesting do not close, or a member is malformed around the key.
///
/// With a repeated key, the first occurrence wins.
pub fn top_level_member<'a>(body: &'a [u8], key: &str) -> Option<Option<&'a [u8]>> {
    let body = body.trim_ascii();
    if body.first() != Some(&b'{') || body.last() != Some(&b'}') {
        return None;
    }
    let mut depth = 0usize;
    let mut i = 0usize;
    // At depth 1, whether the next string is a member name.
    let mut expect_key = false;
    let mut found: Option<usize> = None;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let end = string_end(body, i + 1)?;
                if depth == 1 && expect_key {
                    expect_key = false;
                    if found.is_none() && &body[i + 1..end] == key.as_bytes() {
                        let colon = end + 1 + skip_space(&body[end + 1..]);
                        if body.get(colon) != Some(&b':') {
                            return None;
                        }
                        found = Some(colon + 1);
                    }
                }
                i = end + 1;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && body[i] == b'{';
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 1 || depth == 0 {
                    expect_key = false;
                }
                if depth == 0 {
                    if i != body.len() - 1 {
                        return None;
                    }
                    return Some(found.map(|start| body[start..i].trim_ascii()));
                }
            }
            b',' if depth == 1 => {
                if let Some(start) = found {
                    return Some(Some(body[start..i].trim_ascii()));
                }
                expect_key = true;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote that closes the string whose text starts at `from`.
fn string_end(body: &[u8], mut from: usize) -> Option<usize> {
    loop {
        // A plain loop: most strings are short keys, where a SIMD search costs more to set
        // up than it saves.
        let at = from
            + body
                .get(from..)?
                .iter()
                .position(|&b| b == b'"' || b == b'\\')?;
        if body[at] == b'"' {
            return Some(at);
        }
        from = at + 2;
    }
}

fn skip_space(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::top_level_member;

    fn member<'a>(body: &'a str, key: &str) -> Option<Option<&'a str>> {
        top_level_member(body.as_bytes(), key)
            .map(|m| m.map(|v| std::str::from_utf8(v).unwrap_or("<not utf-8>")))
    }

    #[test]
    fn finds_the_top_level_member_only() {
        let body = r#"{"id":"x","choices":[{"message":{"content":"a \"usage\": {} }","usage":1}}],
            "usage" : {"prompt_tokens":3,"completion_tokens":4} ,"tail":[1,{"usage":2}]}"#;
        assert_eq!(
            member(body, "usage"),
            Some(Some(r#"{"prompt_tokens":3,"completion_tokens":4}"#))
        );
        assert_eq!(member(body, "id"), Some(Some(r#""x""#)));
        assert_eq!(member(body, "tail"), Some(Some(r#"[1,{"usage":2}]"#)));
        assert_eq!(member(body, "missing"), Some(None));
    }

    #[test]
    fn last_member_and_literals() {
        assert_eq!(
            member(r#" {"a":1,"usage":null} "#, "usage"),
            Some(Some("null"))
        );
        assert_eq!(member(r#"{"usage":12}"#, "usage"), Some(Some("12")));
        assert_eq!(member("{}", "usage"), Some(None));
        // A value that looks like the key is not a key.
        assert_eq!(member(r#"{"a":"usage","b":2}"#, "usage"), Some(None));
        // Escaped backslash before a closing quote.
        assert_eq!(member(r#"{"a":"x\\","usage":5}"#, "usage"), Some(Some("5")));
        // The first of repeated keys wins.
        assert_eq!(member(r#"{"usage":1,"usage":2}"#, "usage"), Some(Some("1")));
    }

    #[test]
    fn not_an_object() {
        for body in [
            "",
            "[]",
            "<html>502</html>",
            r#"{"a":"unterminated}"#,
            r#"{"a":[1,2}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} {"b":2}"#,
            r#"{"usage" 1}"#,
        ] {
            assert_eq!(member(body, "usage"), None, "{body:?}");
        }
    }

    #[test]
    fn agrees_with_serde_on_real_answers() {
        let answers = [
            r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"{\"usage\": \"not this\"}","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":45,"completion_tokens":12,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"service_tier":"default","system_fingerprint":"fp"}"#,
            r#"{"choices":[],"usage":null}"#,
            r#"{"choices":[{"message":{"content":"é ü \u00e9 \\ \" ]]]}}}"}}]}"#,
        ];
        for a in answers {
            let v: serde_json::Value = serde_json::from_str(a).unwrap_or_default();
            let expected = v.get("usage").map(|u| u.to_string());
            let got = member(a, "usage").unwrap().map(|raw| {
                serde_json::from_str::<serde_json::Value>(raw)
                    .map(|u| u.to_string())
                    .unwrap_or_default()
            });
            assert_eq!(got, expected, "{a}");
        }
    }

    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z\\\\\"{}\\[\\],: \u{e9}]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec(("(usage|id|u\\\"s|[a-z]{1,3})", inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// The scan finds what a full decode finds, in compact and pretty text.
        #[test]
        fn agrees_with_a_full_decode(members in prop::collection::vec(("(usage|id|[a-z]{1,3})", json()), 0..6), pretty in any::<bool>()) {
            let object = Value::Object(members.into_iter().collect::<Map<_, _>>());
            let text = if pretty {
                serde_json::to_string_pretty(&object).unwrap_or_default()
            } else {
                object.to_string()
            };
            for key in ["usage", "id", "a"] {
                let got = top_level_member(text.as_bytes(), key)
                    .map(|m| m.map(|raw| serde_json::from_slice::<Value>(raw).ok()));
                prop_assert_eq!(got, Some(object.get(key).cloned().map(Some)), "{}", text);
            }
        }
    }
}

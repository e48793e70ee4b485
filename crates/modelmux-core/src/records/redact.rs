//! Redaction of secrets in captured prompts and answers: API-key-like strings (`sk-...`,
//! `AKIA...`, `AIza...`, `ghp_...`), bearer tokens, and the operator's own patterns from
//! `[store] redact`. The writer applies it to every capture before the record reaches the
//! spill file or the store, so the request path never runs these expressions.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex_lite::Regex;

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Built-in patterns and their replacements (`$1` keeps a prefix such as `Bearer `).
const BUILTIN: &[(&str, &str)] = &[
    // Bearer tokens in pasted headers or curl lines: keep the scheme, drop the token.
    (r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}", "${1}[REDACTED]"),
    // OpenAI / Anthropic / OpenRouter style keys: sk-..., sk-proj-..., sk-ant-...
    (r"\bsk-[A-Za-z0-9_-]{16,}", REDACTED),
    // AWS access key ids (long-lived and temporary).
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", REDACTED),
    // Google API keys.
    (r"\bAIza[0-9A-Za-z_-]{35}", REDACTED),
    // GitHub tokens.
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}", REDACTED),
];

fn builtin() -> &'static [(Regex, &'static str)] {
    static COMPILED: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        BUILTIN
            .iter()
            .filter_map(|(p, r)| match Regex::new(p) {
                Ok(re) => Some((re, *r)),
                Err(e) => {
                    tracing::error!("built-in redaction pattern {p:?} does not compile: {e}");
                    None
                }
            })
            .collect()
    })
}

/// `text` with every built-in secret shape and every match of `patterns` replaced by
/// `[REDACTED]`.
pub fn redact(text: &str, patterns: &[Regex]) -> String {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for (re, with) in builtin() {
        if let Cow::Owned(s) = re.replace_all(&out, *with) {
            out = Cow::Owned(s);
        }
    }
    for re in patterns {
        if let Cow::Owned(s) = re.replace_all(&out, REDACTED) {
            out = Cow::Owned(s);
        }
    }
    out.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_secret_shapes_are_redacted() {
        let text = "key sk-proj-abcdefghijklmnop1234 and AKIAIOSFODNN7EXAMPLE, \
                    Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig ok";
        let out = redact(text, &[]);
        assert_eq!(
            out,
            "key [REDACTED] and [REDACTED], Authorization: Bearer [REDACTED] ok"
        );
    }

    #[test]
    fn short_or_ordinary_words_are_kept() {
        let text = "ask-me a question; the sk-1 build; bearer of news";
        assert_eq!(redact(text, &[]), text);
    }

    #[test]
    fn configured_patterns_apply_after_builtins() {
        let re = Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").unwrap();
        assert_eq!(
            redact("ssn 123-45-6789, sk-abcdefghijklmnopqrst", &[re]),
            "ssn [REDACTED], [REDACTED]"
        );
    }
}

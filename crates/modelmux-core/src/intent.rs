//! Intent labels. A classifier looks at the request (the last user message, mostly) and
//! returns a label that policy rules can match on (`intent == "billing"`). The built-in one
//! matches configured keywords (case-insensitive) and regular expressions, first intent
//! first; a learned classifier plugs into the same trait later.

use std::borrow::Cow;

use crate::config::Intent;

pub trait IntentClassifier: Send + Sync {
    fn classify(&self, last_user_text: &str) -> Option<String>;
}

/// Keyword and pattern rules from `[[intents]]`.
#[derive(Debug, Clone, Default)]
pub struct RuleClassifier {
    intents: Vec<Intent>,
}

impl RuleClassifier {
    pub fn new(intents: Vec<Intent>) -> Self {
        Self { intents }
    }

    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
    }
}

impl IntentClassifier for RuleClassifier {
    fn classify(&self, text: &str) -> Option<String> {
        if self.intents.is_empty() || text.is_empty() {
            return None;
        }
        // Keywords are lower case. ASCII text lowers byte by byte, and needs no copy when it
        // has no capitals (the same text `to_lowercase` gives).
        let lower: Cow<'_, str> = if !text.is_ascii() {
            Cow::Owned(text.to_lowercase())
        } else if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        };
        self.intents
            .iter()
            .find(|i| {
                i.keywords.iter().any(|k| lower.contains(k.as_str()))
                    || i.patterns.iter().any(|p| p.is_match(text))
            })
            .map(|i| i.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_intent_wins() {
        let c = RuleClassifier::new(vec![
            Intent {
                name: "billing".into(),
                keywords: vec!["invoice".into(), "refund".into()],
                patterns: vec![],
            },
            Intent {
                name: "policy".into(),
                keywords: vec![],
                patterns: vec![
                    regex_lite::Regex::new(r"(?i)\b(gdpr|terms of service|privacy)\b").unwrap(),
                ],
            },
        ]);
        assert_eq!(
            c.classify("Where is my INVOICE?").as_deref(),
            Some("billing")
        );
        assert_eq!(
            c.classify("Does the GDPR apply to refunds?").as_deref(),
            Some("billing")
        );
        assert_eq!(
            c.classify("What does our privacy policy allow?").as_deref(),
            Some("policy")
        );
        assert_eq!(c.classify("hello"), None);
    }
}

//! The `[episodes]` config section: where a request's episode id may come from when the
//! client does not send `x-modelmux-episode` (which always wins), in the order tried. Each
//! alias is `header:<name>` (a request header), `metadata:<key>` (a string in the body's
//! `metadata`, any of the three formats) or `conversation` (the Responses API's
//! `conversation`, a string or an object with `id`). The `episode` module reads them.
//!
//! ```toml
//! [episodes]
//! aliases = ["metadata:episode_id", "conversation", "header:x-claude-code-session-id",
//!            "header:helicone-session-id", "header:x-session-id"]   # the default
//! ```

use http::HeaderName;
use serde::Deserialize;

use super::ConfigIssue;

/// `[episodes]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEpisodesConfig {
    pub aliases: Option<Vec<String>>,
}

/// One place an episode id may be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpisodeAlias {
    /// A request header (lower case).
    Header(HeaderName),
    /// A string entry of the body's `metadata`.
    Metadata(String),
    /// The Responses API's `conversation` (a string, or an object with `id`).
    Conversation,
}

impl EpisodeAlias {
    /// The alias as written in the config, which is also how a 400 names it.
    pub fn describe(&self) -> String {
        match self {
            Self::Header(h) => h.as_str().to_owned(),
            Self::Metadata(k) => format!("metadata.{k}"),
            Self::Conversation => "conversation".to_owned(),
        }
    }
}

/// `[episodes]` validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodesConfig {
    /// Tried in order after `x-modelmux-episode`.
    pub aliases: Vec<EpisodeAlias>,
}

/// The default aliases, in order.
pub const DEFAULT_ALIASES: [&str; 5] = [
    "metadata:episode_id",
    "conversation",
    "header:x-claude-code-session-id",
    "header:helicone-session-id",
    "header:x-session-id",
];

impl Default for EpisodesConfig {
    fn default() -> Self {
        Self {
            aliases: DEFAULT_ALIASES
                .iter()
                .filter_map(|a| parse_alias(a).ok())
                .collect(),
        }
    }
}

/// One alias from its config text.
pub fn parse_alias(s: &str) -> Result<EpisodeAlias, String> {
    if s == "conversation" {
        return Ok(EpisodeAlias::Conversation);
    }
    if let Some(name) = s.strip_prefix("header:") {
        return HeaderName::try_from(name.to_ascii_lowercase())
            .map(EpisodeAlias::Header)
            .map_err(|_| format!("{name:?} is not a valid header name"));
    }
    if let Some(key) = s.strip_prefix("metadata:") {
        if key.is_empty() {
            return Err("metadata: needs a key, as in \"metadata:episode_id\"".into());
        }
        return Ok(EpisodeAlias::Metadata(key.to_owned()));
    }
    Err(format!(
        "unknown alias {s:?}: expected \"header:<name>\", \"metadata:<key>\" or \"conversation\""
    ))
}

pub fn validate(raw: &RawEpisodesConfig, issues: &mut Vec<ConfigIssue>) -> EpisodesConfig {
    let Some(list) = &raw.aliases else {
        return EpisodesConfig::default();
    };
    let mut aliases = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let path = format!("episodes.aliases[{i}]");
        match parse_alias(a) {
            Ok(x) if aliases.contains(&x) => issues.push(ConfigIssue {
                path,
                message: format!("{a:?} is listed twice"),
            }),
            Ok(x) => aliases.push(x),
            Err(message) => issues.push(ConfigIssue { path, message }),
        }
    }
    EpisodesConfig { aliases }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (EpisodesConfig, Vec<ConfigIssue>) {
        let raw: RawEpisodesConfig = toml::from_str(text).unwrap();
        let mut issues = Vec::new();
        let c = validate(&raw, &mut issues);
        (c, issues)
    }

    #[test]
    fn default_order() {
        let (c, issues) = parse("");
        assert!(issues.is_empty());
        assert_eq!(c.aliases.len(), 5);
        assert_eq!(
            c.aliases[0],
            EpisodeAlias::Metadata("episode_id".to_owned())
        );
        assert_eq!(c.aliases[1], EpisodeAlias::Conversation);
        assert_eq!(c.aliases[4].describe(), "x-session-id");
    }

    #[test]
    fn names_the_path_at_fault() {
        let (c, issues) = parse(
            "aliases = [\"header:X-Thread\", \"cookie:a\", \"metadata:\", \"header:bad header\", \"header:x-thread\"]",
        );
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "episodes.aliases[1]",
                "episodes.aliases[2]",
                "episodes.aliases[3]",
                "episodes.aliases[4]"
            ]
        );
        assert!(issues[0].message.contains("unknown alias"));
        assert_eq!(c.aliases.len(), 1);
        assert_eq!(c.aliases[0].describe(), "x-thread");
    }

    #[test]
    fn empty_list_turns_aliases_off() {
        let (c, issues) = parse("aliases = []");
        assert!(issues.is_empty());
        assert!(c.aliases.is_empty());
    }

    #[test]
    fn rejects_unknown_fields() {
        assert!(toml::from_str::<RawEpisodesConfig>("alias = []").is_err());
    }
}

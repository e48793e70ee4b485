//! `[[metrics]]` and `[feedback]` config: errors name their exact path (duplicate names,
//! unknown types, levels and directions, inverted ranges, categories without values, short
//! secrets), and a valid config reads into typed metrics with the secret hidden.

#![allow(clippy::unwrap_used, clippy::panic, reason = "a test")]

use std::time::Duration;

use modelmux_core::Config;
use modelmux_core::config::ConfigSource;
use modelmux_core::config::feedback::{MetricLevel, MetricType, Optimize};

fn parse(toml: &str) -> Result<Config, String> {
    let env = |k: &str| match k {
        "FB_SECRET" => Some("a-feedback-secret-of-32-characters".to_owned()),
        _ => None,
    };
    Config::from_toml(toml, ConfigSource::Inline, &env).map_err(|e| e.to_string())
}

fn metric(body: &str) -> String {
    format!(
        "[[metrics]]\nname = \"ok\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\"\n[[metrics]]\n{body}\n"
    )
}

#[test]
fn metric_errors_name_their_path() {
    let cases = [
        (
            metric("name = \"ok\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\""),
            "metrics[1].name: duplicate metric name \"ok\"",
        ),
        (
            metric("name = \"b\"\ntype = \"bool\"\nlevel = \"request\"\noptimize = \"max\""),
            "metrics[1].type: unknown type \"bool\" (expected boolean, float, category or comment)",
        ),
        (
            metric("name = \"b\"\nlevel = \"request\"\noptimize = \"max\""),
            "metrics[1].type: missing",
        ),
        (
            metric("name = \"b\"\ntype = \"boolean\"\nlevel = \"ticket\"\noptimize = \"max\""),
            "metrics[1].level: unknown level \"ticket\"",
        ),
        (
            metric("name = \"b\"\ntype = \"boolean\"\noptimize = \"max\""),
            "metrics[1].level: missing",
        ),
        (
            metric("name = \"b\"\ntype = \"boolean\"\nlevel = \"episode\"\noptimize = \"up\""),
            "metrics[1].optimize: unknown direction \"up\"",
        ),
        (
            metric("name = \"b\"\ntype = \"boolean\"\nlevel = \"episode\""),
            "metrics[1].optimize: missing",
        ),
        (
            metric("name = \"c\"\ntype = \"comment\"\nlevel = \"request\"\noptimize = \"max\""),
            "metrics[1].optimize: a comment metric has no direction",
        ),
        (
            metric(
                "name = \"f\"\ntype = \"float\"\nlevel = \"request\"\noptimize = \"max\"\nmin = 5\nmax = 1",
            ),
            "metrics[1].min: min (5) is greater than max (1)",
        ),
        (
            metric(
                "name = \"f\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\"\nmax = 1",
            ),
            "metrics[1].max: only a float metric has a range",
        ),
        (
            metric("name = \"k\"\ntype = \"category\"\nlevel = \"request\"\noptimize = \"max\""),
            "metrics[1].values: a category metric needs at least one value",
        ),
        (
            metric(
                "name = \"k\"\ntype = \"category\"\nlevel = \"request\"\noptimize = \"max\"\nvalues = []",
            ),
            "metrics[1].values: a category metric needs at least one value",
        ),
        (
            metric(
                "name = \"k\"\ntype = \"category\"\nlevel = \"request\"\noptimize = \"max\"\nvalues = [\"a\", \"a\"]",
            ),
            "metrics[1].values[1]: duplicate value \"a\"",
        ),
        (
            metric(
                "name = \"k\"\ntype = \"float\"\nlevel = \"request\"\noptimize = \"max\"\nvalues = [\"a\"]",
            ),
            "metrics[1].values: only a category metric lists values",
        ),
        (
            metric("name = \"\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\""),
            "metrics[1].name: must not be empty",
        ),
        (
            metric(
                "name = \"has space\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\"",
            ),
            "metrics[1].name: use at most 64 letters",
        ),
        (
            metric(
                "name = \"b\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\"\ncolour = 1",
            ),
            "metrics[1].colour: unknown field `colour`",
        ),
        (
            "[feedback]\nsecret = \"short\"".to_owned(),
            "feedback.secret: must be at least 32 characters long",
        ),
        (
            "[feedback]\nsecret = \"${NOPE}\"".to_owned(),
            "feedback.secret: environment variable NOPE is not set",
        ),
        (
            "[feedback]\ntoken_ttl = \"0s\"".to_owned(),
            "feedback.token_ttl: must be at least 1s",
        ),
        (
            "[feedback]\nttl = \"1d\"".to_owned(),
            "feedback.ttl: unknown field `ttl`",
        ),
    ];
    for (toml, want) in cases {
        let err = parse(&toml)
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{toml}"));
        assert!(err.contains(want), "{toml}\nwant: {want}\ngot: {err}");
    }
}

#[test]
fn metrics_and_feedback_read_into_typed_values() {
    let config = parse(
        r#"
[[metrics]]
name = "resolved"
type = "boolean"
level = "episode"
optimize = "max"

[[metrics]]
name = "rating"
type = "float"
level = "request"
optimize = "min"
min = 1
max = 5

[[metrics]]
name = "label"
type = "category"
level = "request"
optimize = "max"
values = ["good", "bad"]

[[metrics]]
name = "note"
type = "comment"
level = "request"

[feedback]
secret = "${FB_SECRET}"
token_ttl = "7d"
"#,
    )
    .unwrap();
    let m = &config.metrics;
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].level, MetricLevel::Episode);
    assert_eq!(m[0].kind, MetricType::Boolean);
    assert_eq!(
        m[1].kind,
        MetricType::Float {
            min: Some(1.0),
            max: Some(5.0)
        }
    );
    assert_eq!(m[1].optimize, Some(Optimize::Min));
    assert_eq!(
        m[2].kind,
        MetricType::Category {
            values: vec!["good".into(), "bad".into()]
        }
    );
    assert_eq!(m[3].optimize, None);
    assert_eq!(config.feedback.token_ttl, Duration::from_secs(7 * 86_400));
    assert!(config.feedback.secret.is_some());
    let shown = format!("{:?}", config.feedback);
    assert!(!shown.contains("a-feedback-secret"), "{shown}");
    // Without the sections: no metrics, no tokens, a week's ttl.
    let plain = parse("").unwrap();
    assert!(plain.metrics.is_empty());
    assert!(plain.feedback.secret.is_none());
}

//! Feedback: quality signals about answers (a thumbs-up, a 1–5 rating, "ticket resolved", a
//! judge's score), posted to `POST /v1/feedback` and kept next to the records so routes can
//! be compared by quality and cost per resolved episode.
//!
//! A body is one item (a bare object) or a batch, `{"feedback": [item, ...]}` (at most
//! `MAX_BATCH` items; all-or-nothing: one bad item refuses the whole batch, and nothing is
//! stored). An item:
//!
//! ```json
//! {"request_id": "req_…", "metric": "thumbs_up", "value": true,
//!  "source": "user", "comment": "…", "id": "my-idempotency-key", "tags": ["widget"]}
//! ```
//!
//! `parse` checks every item against the `[[metrics]]` config and answers 400 naming the
//! field at fault (`value`, or `feedback[2].value` in a batch); the handler
//! (`http::feedback`) then checks a token caller's scope (`token`) and queues the rows on
//! the record writer (`RecordSink::send_feedback`). Ids are not looked up: feedback may name
//! a request the store has not written yet, and is joined at query time.

pub mod token;

use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::config::feedback::{Metric, MetricLevel, MetricType};
use crate::error::GatewayError;
use crate::records::Feedback;
use crate::records::record::to_unix_ms;

/// The most items one request may carry.
pub const MAX_BATCH: usize = 1000;
/// The longest id (request, episode, idempotency key, tag).
pub const MAX_ID: usize = 128;
/// The longest comment (and comment-metric value), in bytes.
pub const MAX_COMMENT: usize = 8 * 1024;
/// The most tags on one item.
pub const MAX_TAGS: usize = 16;

const FIELDS: [&str; 8] = [
    "request_id",
    "episode_id",
    "metric",
    "value",
    "source",
    "comment",
    "id",
    "tags",
];
const SOURCES: [&str; 4] = ["user", "human", "judge", "code"];

/// A parsed body: its rows, and how to name a field of item `i` in an error.
#[derive(Debug)]
pub struct Parsed {
    pub rows: Vec<Feedback>,
    batch: bool,
}

impl Parsed {
    /// `field` of item `i`: `feedback[i].field` in a batch, `field` for a bare item.
    pub fn param(&self, i: usize, field: &str) -> String {
        param(self.batch, i, field)
    }
}

fn param(batch: bool, i: usize, field: &str) -> String {
    if batch {
        format!("feedback[{i}].{field}")
    } else {
        field.to_owned()
    }
}

fn bad(param: String, message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest {
        message: message.into(),
        param: Some(param),
        code: None,
    }
}

/// Decodes and validates a body into rows owned by `tenant`, stamped `now`.
pub fn parse(
    body: &[u8],
    metrics: &[Metric],
    tenant: &str,
    now: SystemTime,
) -> Result<Parsed, GatewayError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| GatewayError::InvalidRequest {
        message: format!("The request body is not valid JSON: {e}"),
        param: None,
        code: None,
    })?;
    let (items, batch) = match value {
        Value::Object(mut m) if m.contains_key("feedback") => {
            if let Some(k) = m.keys().find(|k| *k != "feedback") {
                return Err(bad(
                    k.clone(),
                    format!(
                        "Unknown field `{k}` next to `feedback` (a batch holds only `feedback`)."
                    ),
                ));
            }
            match m.remove("feedback") {
                Some(Value::Array(items)) => (items, true),
                _ => {
                    return Err(bad(
                        "feedback".into(),
                        "`feedback` must be an array of feedback items.",
                    ));
                }
            }
        }
        v @ Value::Object(_) => (vec![v], false),
        _ => {
            return Err(GatewayError::InvalidRequest {
                message: "The body must be a feedback item (an object) or {\"feedback\": [items]}."
                    .into(),
                param: None,
                code: None,
            });
        }
    };
    if items.is_empty() {
        return Err(bad("feedback".into(), "The batch is empty."));
    }
    if items.len() > MAX_BATCH {
        return Err(bad(
            "feedback".into(),
            format!(
                "A batch holds at most {MAX_BATCH} items; this one has {}.",
                items.len()
            ),
        ));
    }
    let time_ms = to_unix_ms(now);
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let p = |field: &str| param(batch, i, field);
        let Value::Object(map) = item else {
            return Err(bad(
                format!("feedback[{i}]"),
                "A feedback item must be an object.",
            ));
        };
        rows.push(item_of(&map, metrics, tenant, time_ms, &p)?);
    }
    Ok(Parsed { rows, batch })
}

/// An optional string field of at most `max` bytes (`null` is absent; empty is refused).
fn string(
    map: &Map<String, Value>,
    field: &str,
    max: usize,
    p: &dyn Fn(&str) -> String,
) -> Result<Option<String>, GatewayError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err(bad(p(field), format!("`{field}` must not be empty.")))
        }
        Some(Value::String(s)) if s.len() > max => Err(bad(
            p(field),
            format!("`{field}` is longer than {max} bytes."),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(p(field), format!("`{field}` must be a string."))),
    }
}

fn item_of(
    map: &Map<String, Value>,
    metrics: &[Metric],
    tenant: &str,
    time_ms: i64,
    p: &dyn Fn(&str) -> String,
) -> Result<Feedback, GatewayError> {
    if let Some(k) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad(
            p(k),
            format!(
                "Unknown field `{k}`; a feedback item has {}.",
                FIELDS.join(", ")
            ),
        ));
    }
    let name = string(map, "metric", MAX_ID, p)?
        .ok_or_else(|| bad(p("metric"), "`metric` is required."))?;
    let metric = metrics.iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        let hint = if known.is_empty() {
            "no metrics are configured ([[metrics]])".to_owned()
        } else {
            format!("known metrics: {}", known.join(", "))
        };
        bad(p("metric"), format!("Unknown metric {name:?} ({hint})."))
    })?;
    let request_id = string(map, "request_id", MAX_ID, p)?;
    let episode_id = string(map, "episode_id", MAX_ID, p)?;
    match (&request_id, &episode_id, metric.level) {
        (Some(_), Some(_), _) => {
            return Err(bad(
                p("episode_id"),
                "Send either `request_id` or `episode_id`, not both.",
            ));
        }
        (None, None, MetricLevel::Request) => {
            return Err(bad(
                p("request_id"),
                format!("`request_id` is required: {name:?} is a request-level metric."),
            ));
        }
        (None, None, MetricLevel::Episode) => {
            return Err(bad(
                p("episode_id"),
                format!("`episode_id` is required: {name:?} is an episode-level metric."),
            ));
        }
        (None, Some(_), MetricLevel::Request) => {
            return Err(bad(
                p("episode_id"),
                format!("{name:?} is a request-level metric: send `request_id`, not `episode_id`."),
            ));
        }
        (Some(_), None, MetricLevel::Episode) => {
            return Err(bad(
                p("request_id"),
                format!(
                    "{name:?} is an episode-level metric: send `episode_id`, not `request_id`."
                ),
            ));
        }
        _ => {}
    }
    let (value_num, value_text) = value_of(map.get("value"), metric, p)?;
    let source = match map.get("source") {
        None | Some(Value::Null) => "user".to_owned(),
        Some(Value::String(s)) if SOURCES.contains(&s.as_str()) => s.clone(),
        Some(v) => {
            return Err(bad(
                p("source"),
                format!(
                    "Unknown source {v}; expected one of {}.",
                    SOURCES.join(", ")
                ),
            ));
        }
    };
    let comment = string(map, "comment", MAX_COMMENT, p)?;
    let id = string(map, "id", MAX_ID, p)?.unwrap_or_else(generated_id);
    let tags = match map.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() > MAX_TAGS => {
            return Err(bad(
                p("tags"),
                format!("At most {MAX_TAGS} tags; got {}.", a.len()),
            ));
        }
        Some(Value::Array(a)) => {
            let mut tags = Vec::with_capacity(a.len());
            for (j, t) in a.iter().enumerate() {
                match t {
                    Value::String(s) if !s.is_empty() && s.len() <= MAX_ID => tags.push(s.clone()),
                    _ => {
                        return Err(bad(
                            p(&format!("tags[{j}]")),
                            format!("A tag is a string of 1 to {MAX_ID} bytes."),
                        ));
                    }
                }
            }
            tags
        }
        Some(_) => return Err(bad(p("tags"), "`tags` must be an array of strings.")),
    };
    Ok(Feedback {
        tenant: tenant.to_owned(),
        id,
        request_id,
        episode_id,
        metric: metric.name.clone(),
        value_num,
        value_text,
        source,
        comment,
        tags,
        time_ms,
    })
}

/// The value as stored: a number (booleans as 1 or 0, floats) or a text (categories,
/// comments), checked against the metric's type and range.
fn value_of(
    v: Option<&Value>,
    metric: &Metric,
    p: &dyn Fn(&str) -> String,
) -> Result<(Option<f64>, Option<String>), GatewayError> {
    let name = &metric.name;
    let wrong = |expected: &str| {
        bad(
            p("value"),
            format!(
                "{name:?} is a {} metric: `value` must be {expected}.",
                metric.kind.name()
            ),
        )
    };
    let v = match v {
        None | Some(Value::Null) => return Err(bad(p("value"), "`value` is required.")),
        Some(v) => v,
    };
    match &metric.kind {
        MetricType::Boolean => match v {
            Value::Bool(b) => Ok((Some(if *b { 1.0 } else { 0.0 }), None)),
            _ => Err(wrong("true or false")),
        },
        MetricType::Float { min, max } => {
            let x = v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| wrong("a number"))?;
            if min.is_some_and(|lo| x < lo) || max.is_some_and(|hi| x > hi) {
                let range = |b: &Option<f64>| b.map_or("…".to_owned(), |b| b.to_string());
                return Err(bad(
                    p("value"),
                    format!(
                        "{x} is out of range for {name:?} ({} to {}).",
                        range(min),
                        range(max)
                    ),
                ));
            }
            Ok((Some(x), None))
        }
        MetricType::Category { values } => match v {
            Value::String(s) if values.contains(s) => Ok((None, Some(s.clone()))),
            Value::String(s) => Err(bad(
                p("value"),
                format!(
                    "{s:?} is not a value of {name:?} (one of {}).",
                    values.join(", ")
                ),
            )),
            _ => Err(wrong("a string")),
        },
        MetricType::Comment => match v {
            Value::String(s) if s.is_empty() => Err(bad(p("value"), "`value` must not be empty.")),
            Value::String(s) if s.len() > MAX_COMMENT => Err(bad(
                p("value"),
                format!("`value` is longer than {MAX_COMMENT} bytes."),
            )),
            Value::String(s) => Ok((None, Some(s.clone()))),
            _ => Err(wrong("a string")),
        },
    }
}

/// An idempotency key for an item that brought none (unique enough: 24 random characters).
fn generated_id() -> String {
    let mut s = String::from("fb_");
    s.extend(std::iter::repeat_with(fastrand::alphanumeric).take(24));
    s
}

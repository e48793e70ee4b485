//! Maps an OpenAI-format error answer (status, headers, body) to an `ErrorKind`, and reads
//! the provider's requested wait from `retry-after-ms` / `retry-after` (seconds or an HTTP
//! date). Context-length and content-policy errors are recognised by the signatures the
//! OpenAI-compatible servers actually send, so fallbacks fire on them.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use modelmux_wire::openai::ErrorBody;

use super::error::{ErrorKind, ProviderError};

const CONTENT_FILTER_SIGNATURES: &[&str] = &[
    "content_policy_violation",
    "content_filter",
    "responsibleaipolicyviolation",
    "rejected as a result of our safety system",
];

const QUOTA_SIGNATURES: &[&str] = &[
    "insufficient_quota",
    "billing",
    "exceeded your current quota",
];

/// Classifies an error answer from an OpenAI-format provider.
pub fn classify_openai(status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    let parsed = ErrorBody::parse_lenient(body);
    let haystack = parsed
        .as_ref()
        .map(|b| {
            format!(
                "{} {} {}",
                b.error.message,
                b.error.code.as_deref().unwrap_or(""),
                b.error.kind
            )
            .to_lowercase()
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(2048)]).to_lowercase());
    let has = |sigs: &[&str]| sigs.iter().any(|s| haystack.contains(s));
    let kind = match status {
        400 | 413 | 422 if modelmux_wire::codec::is_context_length(&haystack) => {
            ErrorKind::ContextLengthExceeded
        }
        400 | 403 if has(CONTENT_FILTER_SIGNATURES) => ErrorKind::ContentFilter,
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        409 => ErrorKind::UpstreamError,
        429 if has(QUOTA_SIGNATURES) => ErrorKind::QuotaExceeded,
        429 => ErrorKind::RateLimited,
        402 => ErrorKind::QuotaExceeded,
        503 | 529 => ErrorKind::Overloaded,
        504 => ErrorKind::Timeout,
        500..=599 => ErrorKind::UpstreamError,
        _ => ErrorKind::BadRequest,
    };
    let message = parsed
        .as_ref()
        .map(|b| b.error.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    ProviderError {
        kind,
        status: Some(status),
        retry_after: retry_after(headers),
        message,
        body: parsed.map(Box::new),
    }
}

/// Classifies an in-band stream error object (`data: {"error": {...}}`).
pub fn classify_stream_error(error_json: &str) -> ProviderError {
    let wrapped = format!("{{\"error\":{error_json}}}");
    let parsed = ErrorBody::parse_lenient(wrapped.as_bytes());
    // The same rule the translating stream decoder applies (`openai::error_kind`), so a
    // provider's error event is classified alike whether its stream is translated or not.
    let kind = match &parsed {
        Some(b) => modelmux_wire::openai::error_kind(
            Some(b.error.kind.as_str()).filter(|k| !k.is_empty()),
            b.error.code.as_deref(),
            &b.error.message,
        ),
        None => ErrorKind::StreamBroken,
    };
    let message = parsed
        .as_ref()
        .map(|b| b.error.message.clone())
        .unwrap_or_else(|| "error event in stream".into());
    ProviderError {
        kind,
        status: None,
        retry_after: None,
        message,
        body: parsed.map(Box::new),
    }
}

/// The wait a provider asked for: `retry-after-ms`, else `retry-after` in seconds or as an
/// HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers.get("retry-after-ms").and_then(|v| v.to_str().ok())
        && let Ok(ms) = ms.trim().parse::<f64>()
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate(v)?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn httpdate(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s)
        .ok()
        .or_else(|| parse_imf_fixdate(s))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf_fixdate(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    let iso = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        hms[0], hms[1], hms[2]
    );
    humantime::parse_rfc3339(&iso).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn kinds_from_status_and_body() {
        let none = HeaderMap::new();
        let cases: &[(u16, &str, ErrorKind)] = &[
            (
                429,
                r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
                ErrorKind::RateLimited,
            ),
            (
                429,
                r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
                ErrorKind::QuotaExceeded,
            ),
            (
                400,
                r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
                ErrorKind::ContextLengthExceeded,
            ),
            (
                400,
                r#"{"error":{"message":"Input tokens exceed the configured limit of 272000 tokens.","type":"invalid_request_error"}}"#,
                ErrorKind::ContextLengthExceeded,
            ),
            (
                400,
                r#"{"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","code":400}"#,
                ErrorKind::ContextLengthExceeded,
            ),
            (
                400,
                r#"{"error":{"message":"Your request was rejected as a result of our safety system.","code":"content_policy_violation"}}"#,
                ErrorKind::ContentFilter,
            ),
            (
                400,
                r#"{"error":{"message":"Unsupported parameter","type":"invalid_request_error"}}"#,
                ErrorKind::BadRequest,
            ),
            (
                401,
                r#"{"error":{"message":"Incorrect API key"}}"#,
                ErrorKind::Auth,
            ),
            (404, "not found", ErrorKind::NotFound),
            (408, "", ErrorKind::Timeout),
            (409, "", ErrorKind::UpstreamError),
            (500, "<html>oops</html>", ErrorKind::UpstreamError),
            (502, "", ErrorKind::UpstreamError),
            (503, "", ErrorKind::Overloaded),
            (
                529,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                ErrorKind::Overloaded,
            ),
            (504, "", ErrorKind::Timeout),
            (422, r#"{"detail":"bad"}"#, ErrorKind::BadRequest),
        ];
        for (status, body, kind) in cases {
            assert_eq!(
                classify_openai(*status, &none, body.as_bytes()).kind,
                *kind,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")])),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1.5")])),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Sun, 06 Nov 1994 08:49:37 GMT"
            )])),
            Some(Duration::ZERO)
        );
        let future = SystemTime::now() + Duration::from_secs(120);
        let d = retry_after(&headers(&[("retry-after", &httpdate_fmt(future))])).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    fn httpdate_fmt(t: SystemTime) -> String {
        // Render as IMF-fixdate through RFC 3339.
        let iso = humantime::format_rfc3339_seconds(t).to_string(); // 2026-12-01T21:00:00Z
        let (date, time) = iso.trim_end_matches('Z').split_once('T').unwrap();
        let mut d = date.split('-');
        let (y, m, day) = (d.next().unwrap(), d.next().unwrap(), d.next().unwrap());
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "Mon, {day} {} {y} {time} GMT",
            months[m.parse::<usize>().unwrap() - 1]
        )
    }
}

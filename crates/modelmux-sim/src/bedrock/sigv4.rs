//! Bedrock authentication. A Bearer API key is compared with `api_key`; a SigV4
//! `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header needs
//! `x-amz-date`, and when `aws_secret_access_key` is configured its signature is recomputed with
//! the `aws-sigv4` crate from the request exactly as received (method, `http://host` + the raw
//! path and query, the signed headers' values, the body, the time of `x-amz-date` and the scope's
//! region and service) and compared.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::request::Parts;

use crate::stats::State;

type Denied = (&'static str, String);

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

fn unrecognized(message: &str) -> Denied {
    ("UnrecognizedClientException", message.to_owned())
}

/// The fields of a SigV4 `Authorization` header.
struct SigV4<'a> {
    access_key: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_header(value: &str) -> Option<SigV4<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let (k, v) = field.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    match scope.as_slice() {
        [access_key, _date, region, service, "aws4_request"] => Some(SigV4 {
            access_key,
            region,
            service,
            signed_headers: signed_headers?,
            signature: signature?,
        }),
        _ => None,
    }
}

/// Accept the request or say why not: `(x-amzn-ErrorType, message)` of a 403.
pub(crate) fn authorize(state: &State, parts: &Parts, body: &[u8]) -> Result<(), Denied> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let Some(auth) = header("authorization") else {
        return Err(unrecognized("Missing Authentication Token"));
    };
    if let Some(key) = auth.strip_prefix("Bearer ") {
        return match state.api_key.as_deref() {
            Some(k) if k != key.trim() => Err(unrecognized(INVALID_TOKEN)),
            _ => Ok(()),
        };
    }
    let Some(sig) = parse_header(auth) else {
        return Err(unrecognized(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        ));
    };
    let Some(date) = header("x-amz-date") else {
        return Err(unrecognized(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    if state
        .aws_access_key_id
        .as_deref()
        .is_some_and(|id| id != sig.access_key)
    {
        return Err(unrecognized(INVALID_TOKEN));
    }
    let Some(secret) = state.aws_secret_access_key.as_deref() else {
        return Ok(());
    };
    let mismatch = || {
        (
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_owned(),
        )
    };
    let expected = expected_signature(parts, body, &sig, date, secret).ok_or_else(mismatch)?;
    if expected == sig.signature {
        Ok(())
    } else {
        Err(mismatch())
    }
}

/// The signature the request should carry, or `None` when it cannot be rebuilt.
fn expected_signature(
    parts: &Parts,
    body: &[u8],
    sig: &SigV4<'_>,
    date: &str,
    secret: &str,
) -> Option<String> {
    let host = parts.headers.get("host")?.to_str().ok()?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://{host}{path}");
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for name in sig.signed_headers.split(';') {
        for value in parts.headers.get_all(name) {
            headers.push((name, value.to_str().ok()?));
        }
    }
    let token = parts
        .headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let identity: Identity = Credentials::new(sig.access_key, secret, token, None, "sim").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(sig.region)
        .name(sig.service)
        .time(amz_date(date)?)
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    let unsigned = parts
        .headers
        .get("x-amz-content-sha256")
        .is_some_and(|v| v == "UNSIGNED-PAYLOAD");
    let body = if unsigned {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(body)
    };
    let request =
        SignableRequest::new(parts.method.as_str(), url, headers.into_iter(), body).ok()?;
    Some(sign(request, &params).ok()?.signature().to_owned())
}

/// `YYYYMMDDTHHMMSSZ` as a time.
fn amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_parse() {
        let t = amz_date("20240229T123456Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_709_210_096
        );
        assert_eq!(amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        assert!(amz_date("2024-02-29T12:34:56Z").is_none());
    }

    #[test]
    fn header_fields_parse() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let s = parse_header(h).unwrap();
        assert_eq!(
            (
                s.access_key,
                s.region,
                s.service,
                s.signed_headers,
                s.signature
            ),
            ("AKID", "us-east-1", "bedrock", "host;x-amz-date", "abc")
        );
        assert!(parse_header("AWS4-HMAC-SHA256 Credential=AKID/x").is_none());
    }
}

//! `POST /token`, Google's OAuth 2 token endpoint for service accounts: a form body with
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and `assertion=<JWT>`. The JWT
//! payload is decoded (the signature is not checked) and must carry `iss`, a `scope` with
//! cloud-platform, `aud`, and `exp` after `iat`; the answer is a fresh `sim-token-<n>` that
//! Vertex paths then accept.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::server::{SimBody, SimError, json_response};
use crate::stats::State;
use crate::text::percent_decode;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub(crate) async fn token(
    state: &State,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, SimError> {
    let body = req.into_body().collect().await?.to_bytes();
    let form = String::from_utf8_lossy(&body);
    let field = |name: &str| {
        form.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| percent_decode(&v.replace('+', " ")))
        })
    };
    let result = match field("grant_type") {
        Some(g) if g == JWT_BEARER => field("assertion")
            .ok_or_else(|| {
                (
                    "invalid_request",
                    "Missing required parameter: assertion".to_owned(),
                )
            })
            .and_then(|jwt| check_assertion(&jwt).map_err(|m| ("invalid_grant", m))),
        Some(g) => Err(("unsupported_grant_type", format!("Invalid grant_type: {g}"))),
        None => Err((
            "invalid_request",
            "Missing required parameter: grant_type".to_owned(),
        )),
    };
    Ok(match result {
        Ok(()) => {
            let token = state.issue_token(true).unwrap_or_default();
            let body = json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"});
            json_response(200, Bytes::from(body.to_string()))
        }
        Err((error, description)) => {
            state.issue_token(false);
            let body = json!({"error": error, "error_description": description});
            json_response(400, Bytes::from(body.to_string()))
        }
    })
}

/// Decode the JWT's payload and check the claims a service-account assertion must carry.
fn check_assertion(jwt: &str) -> Result<(), String> {
    let mut segments = jwt.split('.');
    let (Some(_header), Some(payload), Some(_sig), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err("Invalid JWT: expected three dot-separated segments.".into());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("Invalid JWT payload encoding: {e}"))?;
    let claims: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("Invalid JWT payload: {e}"))?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if text("iss").is_none() {
        return Err("Invalid JWT: No valid issuer (iss).".into());
    }
    if !text("scope").is_some_and(|s| s.contains("cloud-platform")) {
        return Err(
            "Invalid JWT: scope must include https://www.googleapis.com/auth/cloud-platform."
                .into(),
        );
    }
    if claims.get("aud").is_none_or(Value::is_null) {
        return Err("Invalid JWT: No audience (aud).".into());
    }
    let num = |k: &str| claims.get(k).and_then(Value::as_i64);
    match (num("iat"), num("exp")) {
        (Some(iat), Some(exp)) if exp > iat => Ok(()),
        _ => Err("Invalid JWT: Token must be a short-lived token (exp after iat).".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn assertion_claims_are_checked() {
        let good = json!({"iss": "sa@p.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": "https://oauth2.googleapis.com/token", "iat": 100, "exp": 3700});
        assert!(check_assertion(&jwt(good.clone())).is_ok());
        for (k, v) in [
            ("scope", json!("email")),
            ("exp", json!(50)),
            ("iss", json!("")),
        ] {
            let mut bad = good.clone();
            bad[k] = v;
            assert!(check_assertion(&jwt(bad)).is_err(), "{k}");
        }
        assert!(check_assertion("a.b").is_err());
    }
}

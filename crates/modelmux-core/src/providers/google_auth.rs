//! Vertex AI access tokens. A configured token is used as is; a service-account key is
//! exchanged at its token endpoint with the OAuth 2.0 JWT-bearer grant (RFC 7523): a JWT
//! signed RS256 with the key (ring), posted as `assertion`. Tokens are cached until a
//! minute before they expire; concurrent requests during a refresh may each refresh once.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::HeaderValue;

use crate::config::{ServiceAccount, VertexSettings};

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

pub(super) struct TokenSource {
    fixed: Option<HeaderValue>,
    account: Option<ServiceAccount>,
    cached: Mutex<Option<(HeaderValue, Instant)>>,
}

impl TokenSource {
    pub(super) fn new(v: &VertexSettings) -> Self {
        let fixed = v.access_token.as_ref().and_then(|t| bearer(t.expose()));
        Self {
            fixed,
            account: v.service_account.clone(),
            cached: Mutex::new(None),
        }
    }

    /// An `Authorization` value (`Bearer ...`).
    pub(super) async fn token(&self, client: &super::HttpClient) -> Result<HeaderValue, String> {
        if let Some(t) = &self.fixed {
            return Ok(t.clone());
        }
        if let Ok(guard) = self.cached.lock()
            && let Some((t, until)) = guard.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let account = self
            .account
            .as_ref()
            .ok_or("no Vertex AI credentials are configured")?;
        let (token, ttl) = exchange(client, account).await?;
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((
                token.clone(),
                Instant::now() + ttl.saturating_sub(Duration::from_secs(60)),
            ));
        }
        Ok(token)
    }
}

fn bearer(token: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(format!("Bearer {token}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// Signs the JWT assertion for `account`, valid for an hour from `now`.
pub(super) fn assertion(account: &ServiceAccount, now: u64) -> Result<String, String> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": account.client_email,
        "scope": SCOPE,
        "aud": account.token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let der = pem_to_der(account.private_key.expose())
        .ok_or("the service-account private_key is not a PEM key")?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|_| "the service-account private_key is not a PKCS#8 RSA key")?;
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "signing the token request failed")?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).ok()
}

async fn exchange(
    client: &super::HttpClient,
    account: &ServiceAccount,
) -> Result<(HeaderValue, Duration), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let jwt = assertion(account, now)?;
    let form =
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}");
    let request = super::UpRequest::post(&account.token_uri)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form);
    let resp = client
        .send(request)
        .await
        .map_err(|_| "the token endpoint could not be reached".to_owned())?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|_| "the token endpoint's answer broke off".to_owned())?;
    if !status.is_success() {
        return Err(format!(
            "the token endpoint refused the service account (HTTP {status})"
        ));
    }
    #[derive(serde::Deserialize)]
    struct Token {
        access_token: String,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    let t: Token = serde_json::from_slice(&body)
        .map_err(|_| "the token endpoint's answer is not a token".to_owned())?;
    let value = bearer(&t.access_token).ok_or("the token endpoint returned an unusable token")?;
    Ok((value, Duration::from_secs(t.expires_in.unwrap_or(3600))))
}

//! The Gemini adapter, for AI Studio (`{base}/models/{model}:generateContent`, key in
//! `x-goog-api-key`) and Vertex AI (`{base}/projects/{p}/locations/{l}/publishers/google/
//! models/{model}:generateContent`, OAuth bearer token). Streams use
//! `:streamGenerateContent?alt=sse`. Vertex tokens come from config, or from a service-account
//! key exchanged at its token endpoint (`google_auth`), cached until shortly before expiry.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::error::{ErrorKind, ProviderError};
use super::google_auth::TokenSource;
use super::{HttpClient, UpRequest};
use crate::config::{ProviderConfig, ProviderKind};
use crate::ids::ModelId;

pub(super) struct GeminiProvider {
    /// Everything before `{model}:generateContent`.
    models_url: String,
    auth: Auth,
    headers: Vec<(HeaderName, HeaderValue)>,
}

enum Auth {
    Key(HeaderValue),
    Token(TokenSource),
    None,
}

impl GeminiProvider {
    pub(super) fn new(config: &ProviderConfig) -> Self {
        let (models_url, auth) = match (&config.kind, &config.vertex) {
            (ProviderKind::Vertex, Some(v)) => (
                format!(
                    "{}/projects/{}/locations/{}/publishers/google/models/",
                    config.base_url, v.project, v.location
                ),
                Auth::Token(TokenSource::new(v)),
            ),
            _ => {
                let auth = config
                    .api_key
                    .as_ref()
                    .and_then(|k| HeaderValue::try_from(k.expose()).ok())
                    .map_or(Auth::None, |mut v| {
                        v.set_sensitive(true);
                        Auth::Key(v)
                    });
                (format!("{}/models/", config.base_url), auth)
            }
        };
        Self {
            models_url,
            auth,
            headers: config.headers.clone(),
        }
    }

    pub(super) async fn request(
        &self,
        client: &HttpClient,
        model: &ModelId,
        body: Bytes,
        stream: bool,
    ) -> Result<UpRequest, ProviderError> {
        let url = if stream {
            format!("{}{}:streamGenerateContent?alt=sse", self.models_url, model)
        } else {
            format!("{}{}:generateContent", self.models_url, model)
        };
        let mut req = UpRequest::post(&url).header(http::header::CONTENT_TYPE, "application/json");
        match &self.auth {
            Auth::Key(k) => req = req.header(HeaderName::from_static("x-goog-api-key"), k.clone()),
            Auth::Token(t) => {
                let token = t
                    .token(client)
                    .await
                    .map_err(|e| ProviderError::new(ErrorKind::Auth, e))?;
                req = req.header(http::header::AUTHORIZATION, token);
            }
            Auth::None => {}
        }
        for (name, value) in &self.headers {
            req = req.header(name.clone(), value.clone());
        }
        Ok(req.body(body))
    }

    pub(super) fn classify(status: u16, body: &[u8]) -> ProviderError {
        let info = modelmux_wire::gemini::classify_error(status, body);
        ProviderError {
            kind: info.kind,
            status: Some(status),
            retry_after: info.retry_after,
            message: info.message,
            body: None,
        }
    }
}

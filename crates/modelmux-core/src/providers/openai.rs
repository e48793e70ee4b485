//! The OpenAI Chat Completions adapter, for OpenAI itself, every OpenAI-compatible server
//! (vLLM, Ollama, Groq, Mistral, DeepSeek, Together, OpenRouter, ...) and Azure OpenAI.
//! Azure differs only in its URL (a deployment path and `api-version`, or the v1 API when
//! no version is set) and its `api-key` header.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};

use super::UpRequest;

use crate::config::{ProviderConfig, ProviderKind};
use crate::ids::ModelId;

pub(super) struct OpenAiProvider {
    config: ProviderConfig,
    chat_url: String,
    /// The chat and Responses URLs parsed once, when they do not depend on the model
    /// (parsing a URL per request is a measurable share of a request's cost).
    parsed: Option<(Uri, Uri)>,
    auth: Option<(HeaderName, HeaderValue)>,
}

impl OpenAiProvider {
    pub(super) fn new(config: &ProviderConfig) -> Self {
        let auth = config.api_key.as_ref().and_then(|k| {
            let (name, value) = match config.kind {
                ProviderKind::Azure => (HeaderName::from_static("api-key"), k.expose().to_owned()),
                _ => (
                    http::header::AUTHORIZATION,
                    format!("Bearer {}", k.expose()),
                ),
            };
            let mut v = HeaderValue::try_from(value).ok()?;
            v.set_sensitive(true);
            Some((name, v))
        });
        let chat_url = format!("{}/chat/completions", config.base_url);
        let per_model = config.kind == ProviderKind::Azure && config.api_version.is_some();
        let parsed = match (
            Uri::try_from(chat_url.as_str()),
            Uri::try_from(format!("{}/responses", config.base_url)),
        ) {
            (Ok(chat), Ok(responses)) if !per_model => Some((chat, responses)),
            _ => None,
        };
        Self {
            chat_url,
            parsed,
            config: config.clone(),
            auth,
        }
    }

    fn url(&self, model: &ModelId) -> String {
        match (self.config.kind, &self.config.api_version) {
            (ProviderKind::Azure, Some(version)) => format!(
                "{}/openai/deployments/{}/chat/completions?api-version={}",
                self.config.base_url,
                urlencode(model.as_str()),
                urlencode(version)
            ),
            _ => self.chat_url.clone(),
        }
    }

    pub(super) fn chat_request(
        &self,
        model: &ModelId,
        body: Bytes,
        stream: bool,
        responses: bool,
    ) -> UpRequest {
        let req = match (&self.parsed, responses) {
            (Some((_, url)), true) | (Some((url, _)), false) => UpRequest::post_uri(Some(url)),
            (None, true) => UpRequest::post(&format!("{}/responses", self.config.base_url)),
            (None, false) => UpRequest::post(&self.url(model)),
        };
        let mut req = req
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            );
        if let Some((name, value)) = &self.auth {
            req = req.header(name.clone(), value.clone());
        }
        for (name, value) in &self.config.headers {
            req = req.header(name.clone(), value.clone());
        }
        req.body(body)
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

//! The Anthropic Messages adapter: `POST {base}/messages` with `x-api-key` and
//! `anthropic-version`. A client's own `anthropic-version` and `anthropic-beta` headers
//! (forwarded only from Anthropic-format clients) win over the configured default, so
//! Claude Code's betas reach the provider unchanged.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::error::ProviderError;
use crate::config::ProviderConfig;

const DEFAULT_VERSION: &str = "2023-06-01";

pub(super) struct AnthropicProvider {
    url: String,
    count_url: String,
    key: Option<HeaderValue>,
    version: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl AnthropicProvider {
    pub(super) fn new(config: &ProviderConfig) -> Self {
        let key = config.api_key.as_ref().and_then(|k| {
            let mut v = HeaderValue::try_from(k.expose()).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        let version = config
            .anthropic_version
            .as_deref()
            .and_then(|v| HeaderValue::try_from(v).ok())
            .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
        Self {
            url: format!("{}/messages", config.base_url),
            count_url: format!("{}/messages/count_tokens", config.base_url),
            key,
            version,
            headers: config.headers.clone(),
        }
    }

    /// `POST {base}/messages/count_tokens`, with the same headers as a Messages call.
    pub(super) fn count_request(
        &self,
        client: &reqwest::Client,
        body: Bytes,
        forward: &[(HeaderName, HeaderValue)],
    ) -> reqwest::RequestBuilder {
        let req = self.request(client, body, false, forward);
        match req.try_clone().and_then(|r| r.build().ok()) {
            Some(mut built) => {
                if let Ok(url) = reqwest::Url::parse(&self.count_url) {
                    *built.url_mut() = url;
                }
                reqwest::RequestBuilder::from_parts(client.clone(), built)
            }
            None => req,
        }
    }

    pub(super) fn request(
        &self,
        client: &reqwest::Client,
        body: Bytes,
        stream: bool,
        forward: &[(HeaderName, HeaderValue)],
    ) -> reqwest::RequestBuilder {
        let mut req = client
            .post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            );
        if let Some(k) = &self.key {
            req = req.header("x-api-key", k.clone());
        }
        if !forward.iter().any(|(n, _)| n == "anthropic-version") {
            req = req.header("anthropic-version", self.version.clone());
        }
        for (name, value) in self.headers.iter().chain(forward) {
            req = req.header(name.clone(), value.clone());
        }
        req.body(body)
    }

    pub(super) fn classify(status: u16, body: &[u8]) -> ProviderError {
        let info = modelmux_wire::anthropic::classify_error(status, body);
        ProviderError {
            kind: info.kind,
            status: Some(status),
            retry_after: info.retry_after,
            message: info.message,
            body: None,
        }
    }
}

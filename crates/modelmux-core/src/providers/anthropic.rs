//! The Anthropic Messages adapter: `POST {base}/messages` with `x-api-key` and
//! `anthropic-version`. A client's own `anthropic-version` and `anthropic-beta` headers
//! (forwarded only from Anthropic-format clients) win over the configured default, so
//! Claude Code's betas reach the provider unchanged.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};

use super::UpRequest;
use super::client::parse_uri;
use super::error::ProviderError;
use crate::config::ProviderConfig;

const DEFAULT_VERSION: &str = "2023-06-01";

pub(super) struct AnthropicProvider {
    url: Option<Uri>,
    count_url: Option<Uri>,
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
            url: parse_uri(&format!("{}/messages", config.base_url)),
            count_url: parse_uri(&format!("{}/messages/count_tokens", config.base_url)),
            key,
            version,
            headers: config.headers.clone(),
        }
    }

    /// `POST {base}/messages/count_tokens`, with the same headers as a Messages call.
    pub(super) fn count_request(
        &self,
        body: Bytes,
        forward: &[(HeaderName, HeaderValue)],
    ) -> UpRequest {
        self.headers_of(UpRequest::post_uri(self.count_url.as_ref()), false, forward)
            .body(body)
    }

    pub(super) fn request(
        &self,
        body: Bytes,
        stream: bool,
        forward: &[(HeaderName, HeaderValue)],
    ) -> UpRequest {
        self.headers_of(UpRequest::post_uri(self.url.as_ref()), stream, forward)
            .body(body)
    }

    fn headers_of(
        &self,
        mut req: UpRequest,
        stream: bool,
        forward: &[(HeaderName, HeaderValue)],
    ) -> UpRequest {
        req = req
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
            req = req.header(HeaderName::from_static("x-api-key"), k.clone());
        }
        if !forward.iter().any(|(n, _)| n == "anthropic-version") {
            req = req.header(
                HeaderName::from_static("anthropic-version"),
                self.version.clone(),
            );
        }
        for (name, value) in self.headers.iter().chain(forward) {
            req = req.header(name.clone(), value.clone());
        }
        req
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

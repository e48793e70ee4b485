//! Provider adapters: one pooled HTTP client shared by all providers, and per provider the
//! URL, auth, signing and error reading of its wire format (`openai` also serves Azure and
//! every OpenAI-compatible server; `anthropic`; `gemini` serves AI Studio and Vertex AI;
//! `bedrock`). `Upstreams::send` makes one call and returns the answer, or a
//! `ProviderError` already classified for the dispatcher.

mod anthropic;
mod bedrock;
pub mod classify;
pub mod client;
pub mod error;
mod gemini;
mod google_auth;
mod openai;

use std::sync::Arc;

use bytes::Bytes;
use foldhash::HashMap;
use http::{HeaderName, HeaderValue};
use modelmux_wire::WireFormat;

pub use client::{HttpClient, UpRequest, UpResponse};
pub use error::{ErrorKind, ProviderError};

use crate::config::{Config, ProviderConfig};
use crate::ids::{ModelId, ProviderId, TargetRef};

/// A 2xx answer whose body is still to be read, so streams can be relayed as they arrive.
#[derive(Debug)]
pub struct Sent {
    pub response: UpResponse,
}

impl Sent {
    /// The provider's own id for the request (`x-request-id`, or Anthropic's `request-id`).
    pub fn upstream_request_id(&self) -> Option<HeaderValue> {
        const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
        const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
        let h = self.response.headers();
        h.get(X_REQUEST_ID).or_else(|| h.get(REQUEST_ID)).cloned()
    }
}

/// One provider's adapter.
enum Adapter {
    OpenAi(Box<openai::OpenAiProvider>),
    Anthropic(anthropic::AnthropicProvider),
    Gemini(gemini::GeminiProvider),
    Bedrock(bedrock::BedrockProvider),
}

impl Adapter {
    fn new(p: &ProviderConfig) -> Result<Self, String> {
        use crate::config::ProviderKind as K;
        match p.kind {
            K::OpenAi | K::Azure => Ok(Self::OpenAi(Box::new(openai::OpenAiProvider::new(p)))),
            K::Anthropic => Ok(Self::Anthropic(anthropic::AnthropicProvider::new(p))),
            K::Gemini | K::Vertex => Ok(Self::Gemini(gemini::GeminiProvider::new(p))),
            K::Bedrock => Ok(Self::Bedrock(bedrock::BedrockProvider::new(p))),
        }
    }

    fn format(&self) -> WireFormat {
        match self {
            Self::OpenAi(_) => WireFormat::OpenAiChat,
            Self::Anthropic(_) => WireFormat::Anthropic,
            Self::Gemini(_) => WireFormat::Gemini,
            Self::Bedrock(_) => WireFormat::Bedrock,
        }
    }

    async fn request(
        &self,
        client: &HttpClient,
        model: &ModelId,
        body: Bytes,
        stream: bool,
        forward: &[(HeaderName, HeaderValue)],
        endpoint: WireFormat,
    ) -> Result<UpRequest, ProviderError> {
        match self {
            Self::OpenAi(p) => {
                let mut req =
                    p.chat_request(model, body, stream, endpoint == WireFormat::OpenAiResponses);
                for (name, value) in forward {
                    req = req.header(name.clone(), value.clone());
                }
                Ok(req)
            }
            Self::Anthropic(p) => Ok(p.request(body, stream, forward)),
            Self::Gemini(p) => p.request(client, model, body, stream).await,
            Self::Bedrock(p) => p.request(model, body, stream),
        }
    }

    fn classify(&self, status: u16, headers: &http::HeaderMap, body: &[u8]) -> ProviderError {
        match self {
            Self::OpenAi(_) => classify::classify_openai(status, headers, body),
            Self::Anthropic(_) => anthropic::AnthropicProvider::classify(status, body),
            Self::Gemini(_) => gemini::GeminiProvider::classify(status, body),
            Self::Bedrock(_) => bedrock::BedrockProvider::classify(status, headers, body),
        }
    }
}

struct Provider {
    config: ProviderConfig,
    adapter: Adapter,
}

/// The provider side of the gateway: the shared client and every configured provider.
#[derive(Clone)]
pub struct Upstreams {
    client: HttpClient,
    providers: Arc<HashMap<ProviderId, Provider>>,
    health: Arc<crate::health::Health>,
}

impl Upstreams {
    pub fn new(config: &Config, health: Arc<crate::health::Health>) -> Result<Self, String> {
        let client = HttpClient::new()?;
        let mut providers = HashMap::default();
        for p in config.providers.values() {
            providers.insert(
                p.id.clone(),
                Provider {
                    config: p.clone(),
                    adapter: Adapter::new(p)?,
                },
            );
        }
        Ok(Self {
            client,
            providers: Arc::new(providers),
            health,
        })
    }

    pub fn config_of(&self, id: &ProviderId) -> Option<&ProviderConfig> {
        self.providers.get(id).map(|p| &p.config)
    }

    /// The wire format a provider speaks.
    pub fn format_of(&self, id: &ProviderId) -> WireFormat {
        self.providers
            .get(id)
            .map_or(WireFormat::OpenAiChat, |p| p.adapter.format())
    }

    /// The format a provider is spoken to in for a client of `client` format: a Responses
    /// client reaches a provider with `responses_api` in the Responses format itself.
    pub fn format_for(&self, id: &ProviderId, client: WireFormat) -> WireFormat {
        match self.providers.get(id) {
            Some(p) if client == WireFormat::OpenAiResponses && p.config.responses_api => {
                WireFormat::OpenAiResponses
            }
            Some(p) => p.adapter.format(),
            None => WireFormat::OpenAiChat,
        }
    }

    /// Sends one chat request to `target`, with `forward` headers from the client (only
    /// ever passed for a provider of the client's own format). Error answers are read and
    /// classified; a 2xx answer comes back with its body unread.
    pub async fn send(
        &self,
        target: &TargetRef,
        body: Bytes,
        stream: bool,
        forward: &[(HeaderName, HeaderValue)],
        endpoint: WireFormat,
    ) -> Result<Sent, ProviderError> {
        let provider = self.providers.get(&target.provider).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("unknown provider {}", target.provider),
            )
        })?;
        let request = provider
            .adapter
            .request(&self.client, &target.model, body, stream, forward, endpoint)
            .await?;
        let response = self.client.send(request).await?;
        let status = response.status().as_u16();
        if let Some(limits) = crate::health::RateLimits::from_headers(response.headers()) {
            self.health.rate_limits(target, limits);
        }
        if (200..300).contains(&status) {
            return Ok(Sent { response });
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        let mut err = provider.adapter.classify(status, &headers, &body);
        err.retry_after = err.retry_after.or_else(|| classify::retry_after(&headers));
        Err(err)
    }
}

impl Upstreams {
    /// Counts tokens exactly where the provider offers it (Anthropic's
    /// `/messages/count_tokens`); `None` for providers without a counter.
    pub async fn count_tokens(
        &self,
        target: &TargetRef,
        body: Bytes,
        forward: &[(HeaderName, HeaderValue)],
    ) -> Option<Result<Bytes, ProviderError>> {
        let provider = self.providers.get(&target.provider)?;
        let Adapter::Anthropic(p) = &provider.adapter else {
            return None;
        };
        let result = async {
            let resp = self.client.send(p.count_request(body, forward)).await?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await?;
            if (200..300).contains(&status) {
                Ok(bytes)
            } else {
                Err(anthropic::AnthropicProvider::classify(status, &bytes))
            }
        };
        Some(result.await)
    }
}

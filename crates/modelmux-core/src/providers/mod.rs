//! Provider adapters: one pooled HTTP client shared by all providers, and per provider the
//! URL, auth and headers of its wire format. `Upstreams::send` makes one call and returns the
//! answer, or a `ProviderError` already classified for the dispatcher.

pub mod classify;
pub mod error;
mod openai;

use std::collections::HashMap;
use std::sync::{Arc, Once};
use std::time::Duration;

use bytes::Bytes;

pub use error::{ErrorKind, ProviderError};

use crate::config::{Config, ProviderConfig};
use crate::ids::{ProviderId, TargetRef};

/// The provider side of the gateway: the shared client and every configured provider.
#[derive(Clone)]
pub struct Upstreams {
    client: reqwest::Client,
    providers: Arc<HashMap<ProviderId, openai::OpenAiProvider>>,
}

/// A successful upstream answer whose status is 2xx; the body is still to be read.
pub type UpstreamResponse = reqwest::Response;

static CRYPTO: Once = Once::new();

/// Builds the pooled HTTP client: rustls with the ring provider, keep-alive, `TCP_NODELAY`,
/// HTTP/2 where the server offers it through ALPN.
pub fn http_client() -> Result<reqwest::Client, String> {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("modelmux/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

impl Upstreams {
    pub fn new(config: &Config) -> Result<Self, String> {
        let client = http_client()?;
        let providers = config
            .providers
            .values()
            .map(|p| (p.id.clone(), openai::OpenAiProvider::new(p)))
            .collect();
        Ok(Self {
            client,
            providers: Arc::new(providers),
        })
    }

    pub fn config_of(&self, id: &ProviderId) -> Option<&ProviderConfig> {
        self.providers.get(id).map(|p| &p.config)
    }

    /// Sends one chat request to `target`. Errors are classified; a 2xx answer is returned
    /// with its body unread so streams can be relayed as they arrive.
    pub async fn send(
        &self,
        target: &TargetRef,
        body: Bytes,
        stream: bool,
    ) -> Result<UpstreamResponse, ProviderError> {
        let provider = self.providers.get(&target.provider).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("unknown provider {}", target.provider),
            )
        })?;
        let request = provider.chat_request(&self.client, &target.model, body, stream);
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        Err(classify::classify_openai(status, &headers, &body))
    }
}

/// A transport failure as a `ProviderError`. reqwest's messages can hold the URL, which may
/// hold a key in its query (Gemini's `?key=`): only the kind of failure is kept.
pub fn transport_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::new(ErrorKind::Timeout, "the request timed out")
    } else if e.is_connect() {
        ProviderError::new(ErrorKind::Connect, "could not connect to the provider")
    } else if e.is_body() || e.is_decode() {
        ProviderError::new(
            ErrorKind::Connect,
            "the connection broke while reading the answer",
        )
    } else {
        ProviderError::new(
            ErrorKind::Connect,
            "the connection failed before an answer arrived",
        )
    }
}

//! The gateway's HTTP client for provider calls: hyper-util's pooled client over rustls
//! (ring, the platform's trust store, HTTP/2 where the server offers it through ALPN), used
//! directly. An `UpRequest` carries a URI that adapters parse once at load where they can,
//! so a call does no URL parsing, no redirect following and no retry layer of its own (the
//! dispatcher owns retries and fallback). Transport failures become classified
//! `ProviderError`s whose messages never hold the URL (a key can sit in its query).

use std::sync::Once;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::{ErrorKind, ProviderError};

static CRYPTO: Once = Once::new();

/// The pooled client all providers share (cheap to clone).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    user_agent: HeaderValue,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Keep-alive pool (90 s idle, up to 1,024 idle connections per host), `TCP_NODELAY`,
    /// TCP keep-alive, a 10 s connect timeout.
    pub fn new() -> Result<Self, String> {
        CRYPTO.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(30)));
        tcp.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let inner = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build(https);
        Ok(Self {
            inner,
            user_agent: HeaderValue::from_static(concat!("modelmux/", env!("CARGO_PKG_VERSION"))),
        })
    }

    /// Sends `req`; the answer comes back with its body unread.
    pub async fn send(&self, req: UpRequest) -> Result<UpResponse, ProviderError> {
        let uri = req.uri.map_err(|()| {
            ProviderError::new(ErrorKind::Connect, "the provider URL is not a valid URL")
        })?;
        let mut request = Request::new(Full::new(req.body));
        *request.method_mut() = req.method;
        *request.uri_mut() = uri;
        let mut headers = req.headers;
        if !headers.contains_key(http::header::USER_AGENT) {
            headers.insert(http::header::USER_AGENT, self.user_agent.clone());
        }
        if !headers.contains_key(http::header::ACCEPT) {
            headers.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        *request.headers_mut() = headers;
        match self.inner.request(request).await {
            Ok(resp) => Ok(UpResponse(resp)),
            Err(e) if e.is_connect() => Err(ProviderError::new(
                ErrorKind::Connect,
                "could not connect to the provider",
            )),
            Err(_) => Err(ProviderError::new(
                ErrorKind::Connect,
                "the connection failed before an answer arrived",
            )),
        }
    }
}

/// A request to a provider, built like reqwest's builder: headers are appended in order.
#[derive(Debug)]
pub struct UpRequest {
    method: Method,
    uri: Result<Uri, ()>,
    headers: HeaderMap,
    body: Bytes,
}

impl UpRequest {
    /// A POST to a URI parsed ahead of time (`None`: the configured URL did not parse, and
    /// the send fails).
    pub fn post_uri(uri: Option<&Uri>) -> Self {
        Self {
            method: Method::POST,
            uri: uri.cloned().ok_or(()),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// A POST to `url`, parsed now (a malformed URL fails the send, not the build).
    pub fn post(url: &str) -> Self {
        Self::post_uri(parse_uri(url).as_ref())
    }

    pub fn header<V>(mut self, name: impl Into<HeaderName>, value: V) -> Self
    where
        HeaderValue: TryFrom<V>,
    {
        if let Ok(v) = HeaderValue::try_from(value) {
            self.headers.append(name.into(), v);
        }
        self
    }

    /// Appends a header whose name is only known as text; an invalid name is skipped.
    pub fn header_str(self, name: &str, value: HeaderValue) -> Self {
        match HeaderName::try_from(name) {
            Ok(n) => self.header(n, value),
            Err(_) => self,
        }
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

/// `url` as a URI, once (at load, for URLs that do not depend on the model).
pub fn parse_uri(url: &str) -> Option<Uri> {
    Uri::try_from(url).ok()
}

/// A provider's answer, its body still to be read.
#[derive(Debug)]
pub struct UpResponse(Response<Incoming>);

impl UpResponse {
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.0.headers()
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, ProviderError> {
        self.0
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|_| body_error())
    }

    /// The body's data frames as they arrive.
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send {
        self.0
            .into_body()
            .into_data_stream()
            .map(|r| r.map_err(|_| body_error()))
    }
}

fn body_error() -> ProviderError {
    ProviderError::new(
        ErrorKind::Connect,
        "the connection broke while reading the answer",
    )
}

//! mock-proxy LISTEN_ADDR UPSTREAM_BASE: the floor any gateway stands on. A reverse proxy that
//! does nothing but relay: each request's body is read whole and sent to `UPSTREAM_BASE` +
//! the request's path over a pooled keep-alive client (hyper-util's), and the answer's body
//! is read whole and returned with the upstream's status and content type. No parsing,
//! routing, records or metrics. One thread, TCP_NODELAY, as the gateway runs on one core.
//! bench/run.sh measures it on the gateway's core in the same run, so the gateway's CPU and
//! latency can be compared with what relaying alone costs on the machine.
//! Prints `mock-proxy listening on http://ADDR/v1`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Upstream = Client<HttpConnector, Full<Bytes>>;

async fn relay(
    req: Request<Incoming>,
    client: Upstream,
    base: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().trim_start_matches("/v1");
    let uri: Uri = match format!("{base}{path}").parse() {
        Ok(u) => u,
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let mut up = Request::new(Full::new(body));
    *up.method_mut() = parts.method;
    *up.uri_mut() = uri;
    if let Some(ct) = parts.headers.get(hyper::header::CONTENT_TYPE) {
        up.headers_mut().insert(hyper::header::CONTENT_TYPE, ct.clone());
    }
    let Ok(resp) = client.request(up).await else {
        return Ok(status(StatusCode::BAD_GATEWAY));
    };
    let (parts, body) = resp.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(status(StatusCode::BAD_GATEWAY));
    };
    let mut out = Response::new(Full::new(body));
    *out.status_mut() = parts.status;
    if let Some(ct) = parts.headers.get(hyper::header::CONTENT_TYPE) {
        out.headers_mut().insert(hyper::header::CONTENT_TYPE, ct.clone());
    }
    Ok(out)
}

fn status(s: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = s;
    r
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let base = args
        .next()
        .expect("usage: mock-proxy LISTEN_ADDR UPSTREAM_BASE (e.g. http://127.0.0.1:8080/v1)");
    let base = base.trim_end_matches('/').to_owned();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build(connector);
    let listener = TcpListener::bind(&addr).await?;
    println!("mock-proxy listening on http://{}/v1", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let client = client.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| relay(req, client.clone(), base.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

//! Running the gateway: `serve` takes a bound listener, a config and a shutdown future,
//! sets `TCP_NODELAY` on accepted sockets, and on shutdown stops accepting, reports not
//! ready, and drains in-flight requests (streams included) before returning. `spawn` runs
//! it in the background for tests and the demo.

use std::future::Future;
use std::net::SocketAddr;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::app;
use crate::records::RecordWriter;
use crate::state::AppState;

/// Serves `config` on `listener` until `shutdown` resolves, then drains in-flight requests
/// and the record writer.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (state, writer) = build(config).await?;
    let result = serve_state(listener, state, shutdown).await;
    writer.shutdown().await;
    result
}

/// Opens the record store, starts its writer, and builds the state over it.
async fn build(config: Config) -> std::io::Result<(AppState, RecordWriter)> {
    let (store, responses) = crate::records::open_shared(&config.store)
        .await
        .map_err(|e| {
            std::io::Error::other(format!(
                "cannot open the record store ({}): {e}",
                config.store.kind.name()
            ))
        })?;
    let keys = crate::keys::Keys::new(&config.keys)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot open the key store: {e}")))?;
    let (writer, sink) = RecordWriter::start(store, &config.store);
    let state = AppState::new(config, sink, keys, responses).map_err(std::io::Error::other)?;
    Ok((state, writer))
}

async fn serve_state(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let router = app(state.clone());
    let drain_state = state.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            drain_state.set_ready(false);
            tracing::info!("shutting down: draining in-flight requests");
        })
        .await
}

/// A gateway running in the background.
#[derive(Debug)]
pub struct RunningGateway {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts the graceful shutdown and waits until in-flight requests are drained.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Binds 127.0.0.1:0 and serves `config` in the background.
pub async fn spawn(config: Config) -> std::io::Result<RunningGateway> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (state, writer) = build(config).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = serve_state(listener, state, async move {
            let _ = rx.await;
        })
        .await;
        writer.shutdown().await;
        result
    });
    Ok(RunningGateway {
        addr,
        stop: Some(tx),
        task,
    })
}

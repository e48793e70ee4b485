//! Running the gateway: `serve` takes a bound listener, a config and a shutdown future,
//! sets `TCP_NODELAY` on accepted sockets, and on shutdown stops accepting, reports not
//! ready, and drains in-flight requests (streams included) and then the background tasks
//! (`Tasks::shutdown_by`), both within `server.shutdown_grace` of the signal, and last the
//! record writer (with a grace of its own) before returning. `spawn` runs it in the background for tests and the demo.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Config;
use crate::http::app;
use crate::records::RecordWriter;
use crate::state::AppState;
use crate::tasks::Tasks;

/// Serves `config` on `listener` until `shutdown` resolves, then drains in-flight requests
/// and the background tasks until `server.shutdown_grace` after the signal, and the record
/// writer (with a grace of its own) after them.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let built = build(config).await?;
    let (result, since) = serve_state(listener, built.state.clone(), shutdown).await;
    built.stop(since).await;
    result
}

/// A gateway's parts, built before it serves.
struct Built {
    state: AppState,
    writer: RecordWriter,
    tasks: Tasks,
}

/// Opens the record store, starts its writer, and builds the state over it, every
/// background task on one `Tasks`.
async fn build(config: Config) -> std::io::Result<Built> {
    let tasks = Tasks::new();
    let (store, responses) = crate::records::open_shared(&config.store, &tasks)
        .await
        .map_err(|e| {
            std::io::Error::other(format!(
                "cannot open the record store ({}): {e}",
                config.store.kind.name()
            ))
        })?;
    let keys = crate::keys::Keys::new(&config.keys, &tasks)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot open the key store: {e}")))?;
    let (writer, sink) = RecordWriter::start(store, &config.store, &tasks);
    let grace = config.server.shutdown_grace;
    let state = match AppState::new(config, sink, keys, responses, tasks.clone()) {
        Ok(s) => s,
        Err(e) => {
            // Nothing was served; the writer and the loops started so far stop at once.
            tasks.shutdown(grace).await;
            return Err(std::io::Error::other(e));
        }
    };
    Ok(Built {
        state,
        writer,
        tasks,
    })
}

impl Built {
    /// After the requests drained (or the grace ran out): background work until the grace
    /// counted from `since` (the signal; loops cancelled, finite work such as settlements
    /// awaited), then the record writer, which writes what is queued.
    async fn stop(self, since: Instant) {
        let grace = self.state.config.server.shutdown_grace;
        let left = self.tasks.shutdown_by(since + grace, grace).await;
        if left.last == 0 {
            self.writer.shutdown().await;
        }
    }
}

/// Serves until `shutdown`, then drains in-flight requests until the grace after it runs
/// out (requests still running then are left to end with the process). Returns when the
/// shutdown started.
async fn serve_state(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (std::io::Result<()>, Instant) {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let grace = state.config.server.shutdown_grace;
    let router = app(state.clone());
    let drain_state = state.clone();
    let (signalled, mut since) = watch::channel(None::<Instant>);
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            signalled.send_replace(Some(Instant::now()));
            drain_state.set_ready(false);
            tracing::info!("shutting down: draining in-flight requests");
        })
        .into_future();
    let grace_over = async {
        // The instant is copied out: the watch's guard must not live across the sleep.
        let at = since
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|at| *at);
        match at {
            Some(at) => tokio::time::sleep_until(at + grace).await,
            None => std::future::pending::<()>().await,
        }
    };
    let result = tokio::select! {
        r = server => r,
        () = grace_over => {
            tracing::warn!(?grace, "shutdown grace ran out with requests still in flight");
            Ok(())
        }
    };
    let at = (*since.borrow()).unwrap_or_else(Instant::now);
    (result, at)
}

/// A gateway running in the background.
#[derive(Debug)]
pub struct RunningGateway {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    tasks: Tasks,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway's background tasks (shutdown waits for them within the grace).
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// Starts the graceful shutdown and waits until in-flight requests, background tasks
    /// (within the grace) and the record writer are drained.
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
    let built = build(config).await?;
    let tasks = built.tasks.clone();
    let (tx, rx) = oneshot::channel::<()>();
    let task = crate::tasks::spawn_owned("gateway", async move {
        let (result, since) = serve_state(listener, built.state.clone(), async move {
            let _ = rx.await;
        })
        .await;
        built.stop(since).await;
        result
    });
    Ok(RunningGateway {
        addr,
        stop: Some(tx),
        tasks,
        task,
    })
}

//! Shutdown signals: the first SIGINT or SIGTERM starts a graceful shutdown; a second one,
//! or the grace period running out, ends the process at once.

use std::time::Duration;

use modelmux_core::Tasks;
use tokio::sync::watch;

/// Counts SIGINT/SIGTERM signals into the watch, on a loop of `tasks` (it stops when
/// `tasks` shuts down).
pub fn install(tasks: &Tasks) -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0u32);
    tasks.spawn_loop("signals", |stop| async move {
        let mut count = 0;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = wait_one() => {}
            }
            count += 1;
            if tx.send(count).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits until the count reaches `n`.
pub async fn reached(mut rx: watch::Receiver<u32>, n: u32) {
    let _ = rx.wait_for(|c| *c >= n).await;
}

#[cfg(unix)]
async fn wait_one() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_one() {
    let _ = tokio::signal::ctrl_c().await;
}

/// The grace period after which a drain is abandoned.
pub fn grace_timer(grace: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(grace)
}

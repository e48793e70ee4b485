//! Shutdown signals: the first SIGINT or SIGTERM starts a graceful shutdown; a second one,
//! or the grace period running out, ends the process at once.

use std::time::Duration;

use tokio::sync::watch;

/// Resolves on the first SIGINT/SIGTERM; later signals are reported through the watch.
pub fn install() -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0u32);
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            wait_one().await;
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

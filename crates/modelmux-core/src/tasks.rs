//! Background work, all of it: one `Tasks` handle (a `tokio_util` `TaskTracker` and the
//! cancellation tokens that stop its loops) is built with the app state and cloned into
//! whatever spawns (the key store's reloads and its admissions' releases, the shared-health
//! loops, the record writer and its PostgreSQL connections, the settlement at the end of a
//! stream). Three kinds of task:
//!
//! - `spawn`: finite work (a settlement, a shadow call): shutdown waits for it, within the
//!   grace.
//! - `spawn_loop`: a loop that runs until it is told to stop: it gets a token, cancelled when
//!   shutdown starts.
//! - `spawn_last`: what must outlive the rest (the record writer: records from finite work
//!   still get written); its token is cancelled only once the others have ended (or the
//!   grace ran out), and it gets a grace of its own.
//!
//! `Tasks::shutdown` runs those steps and reports what was still running. This module is
//! the one place that calls `tokio::spawn` (clippy's `disallowed-methods` bans it elsewhere);
//! `spawn_owned` is for a task whose handle its spawner keeps and awaits (not background).

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// The handle to the gateway's background work; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    work: TaskTracker,
    last: TaskTracker,
    loops: CancellationToken,
    sinks: CancellationToken,
}

/// What a shutdown left running when its grace ran out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Leftover {
    /// Finite work and loops still running at the end of the grace.
    pub work: usize,
    /// `spawn_last` tasks still running at the end of their own grace.
    pub last: usize,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs finite work in the background; shutdown waits for it within the grace. Must be
    /// called inside a tokio runtime (as `tokio::spawn`); see `spawn_if_running`.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.work.spawn(task.instrument(span(name)))
    }

    /// `spawn` from where there may be no runtime (a `Drop`): false, and nothing runs, when
    /// there is none.
    pub fn spawn_if_running<F>(&self, name: &'static str, task: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                self.work.spawn_on(task.instrument(span(name)), &h);
                true
            }
            Err(_) => false,
        }
    }

    /// Runs a loop until its token is cancelled (shutdown starts, or it was already over).
    pub fn spawn_loop<F, Fut>(&self, name: &'static str, task: F) -> JoinHandle<Fut::Output>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let fut = task(self.loops.child_token());
        self.work.spawn(fut.instrument(span(name)))
    }

    /// Runs a task that must outlive the others; its token is cancelled once they ended.
    pub fn spawn_last<F, Fut>(&self, name: &'static str, task: F) -> JoinHandle<Fut::Output>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let fut = task(self.sinks.child_token());
        self.last.spawn(fut.instrument(span(name)))
    }

    /// Tasks running now, of every kind.
    pub fn len(&self) -> usize {
        self.work.len() + self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the background work: cancels the loops and waits for them and for finite work
    /// until `grace` from now; then cancels the `spawn_last` tasks and waits for them, with a
    /// grace of their own. Whatever is still running then is logged, counted and left to the
    /// runtime (it ends with the process). A task spawned while it waits is waited for too;
    /// one spawned after it returned still runs, but nothing waits for it.
    pub async fn shutdown(&self, grace: Duration) -> Leftover {
        self.shutdown_by(Instant::now() + grace, grace).await
    }

    /// `shutdown` with the loops and finite work given until `deadline` (the gateway counts
    /// the grace from the shutdown signal), and the `spawn_last` tasks `last_grace` after.
    pub async fn shutdown_by(&self, deadline: Instant, last_grace: Duration) -> Leftover {
        let mut left = Leftover::default();
        self.loops.cancel();
        self.work.close();
        if tokio::time::timeout_at(deadline, self.work.wait())
            .await
            .is_err()
        {
            left.work = self.work.len();
            tracing::warn!(
                tasks = left.work,
                "shutdown grace ran out with background tasks still running"
            );
        }
        self.sinks.cancel();
        self.last.close();
        if tokio::time::timeout(last_grace, self.last.wait())
            .await
            .is_err()
        {
            left.last = self.last.len();
            tracing::warn!(
                tasks = left.last,
                grace = ?last_grace,
                "shutdown grace ran out with the record writer still running"
            );
        }
        left
    }
}

/// Runs `task` as `tokio::spawn` does, for a task whose handle its spawner keeps and awaits
/// (the gateway `spawn` runs, the demo's clients): not background work, so not tracked.
pub fn spawn_owned<F>(name: &'static str, task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that spawns: its handle is kept and awaited by the caller"
    )]
    tokio::spawn(task.instrument(span(name)))
}

fn span(name: &'static str) -> tracing::Span {
    tracing::debug_span!("task", name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_finite_work_within_the_grace() {
        let tasks = Tasks::new();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        tasks.spawn("slow", async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            d.store(true, Ordering::SeqCst);
        });
        let left = tasks.shutdown(Duration::from_secs(5)).await;
        assert_eq!(left, Leftover::default());
        assert!(done.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_past_the_grace_does_not_hang_shutdown() {
        let tasks = Tasks::new();
        tasks.spawn("stuck", std::future::pending::<()>());
        let started = Instant::now();
        let left = tasks.shutdown(Duration::from_secs(3)).await;
        assert_eq!(left.work, 1);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn loops_stop_then_the_last_tasks() {
        let tasks = Tasks::new();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let o = order.clone();
        tasks.spawn_loop("loop", |cancel| async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
            }
            o.lock().unwrap().push("loop");
        });
        let o = order.clone();
        tasks.spawn("work", async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            o.lock().unwrap().push("work");
        });
        let o = order.clone();
        tasks.spawn_last("writer", |stop| async move {
            stop.cancelled().await;
            o.lock().unwrap().push("writer");
        });
        assert_eq!(tasks.len(), 3);
        let left = tasks.shutdown(Duration::from_secs(5)).await;
        assert_eq!(left, Leftover::default());
        assert_eq!(*order.lock().unwrap(), ["loop", "work", "writer"]);
        assert!(tasks.is_empty());
    }

    #[test]
    fn without_a_runtime_nothing_is_spawned() {
        assert!(!Tasks::new().spawn_if_running("x", async {}));
    }
}

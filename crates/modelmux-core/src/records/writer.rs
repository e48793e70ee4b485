//! The record writer, off the request path. `RecordSink::send` puts a record on a bounded
//! channel with `try_send` and returns at once; when the channel is full (or closed after
//! shutdown) the record is appended to the spill file instead, so a slow store slows nothing
//! and loses nothing. One task drains the channel in batches (`batch_size` records or
//! `flush_interval`, whichever comes first), redacts captures, and writes each batch with a
//! `write_timeout`. A failed or timed-out write marks the store down and spills the batch;
//! while down, batches go straight to the spill, and every `retry_interval` the task replays
//! the spill, which is also how it finds the store back. `RecordWriter::shutdown` closes the
//! channel, writes what is queued, and tries one last replay. The task runs on the gateway's
//! `Tasks` as a `spawn_last` task: `Tasks::shutdown` stops it the same way, after the other
//! background work (whose records still get written) has ended.
//!
//! Feedback rows (`RecordSink::send_feedback`) take the same way: the same channel, batches,
//! spill file and replay, each kind written with its own store call (`Store::write`,
//! `Store::write_feedback`). Both writes are idempotent, so a batch spilled after half of it
//! was written is simply written again. The counters count items of both kinds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use regex_lite::Regex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::client_ids::ClientIds;
use super::config::StoreConfig;
use super::feedback::Feedback;
use super::record::Record;
use super::redact::redact;
use super::spill::{Item, Spill, SpillReader, split};
use super::store::{Store, StoreError};
use crate::tasks::Tasks;

/// Counters for metrics. After a clean shutdown with the store up,
/// `written + replayed == sent - lost` (replays of an earlier run's spill add to `replayed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// `RecordSink::send` calls.
    pub sent: u64,
    /// Records written to the store from the channel.
    pub written: u64,
    /// Records appended to the spill file (failed writes and channel overflow).
    pub spilled: u64,
    /// Of those, records sent while the channel was full or closed.
    pub overflowed: u64,
    /// Records written to the store from the spill file.
    pub replayed: u64,
    /// Records that reached neither the store nor the spill file (the spill file could not
    /// be written, or a spill line did not decode).
    pub lost: u64,
    /// Failed or timed-out store writes.
    pub store_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    written: AtomicU64,
    spilled: AtomicU64,
    overflowed: AtomicU64,
    replayed: AtomicU64,
    lost: AtomicU64,
    store_errors: AtomicU64,
}

fn add(c: &AtomicU64, n: usize) {
    c.fetch_add(n as u64, Ordering::Relaxed);
}

#[derive(Debug)]
struct Shared {
    spill: Spill,
    redact: Vec<Regex>,
    counters: Counters,
}

impl Shared {
    fn stats(&self) -> RecordStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RecordStats {
            sent: get(&c.sent),
            written: get(&c.written),
            spilled: get(&c.spilled),
            overflowed: get(&c.overflowed),
            replayed: get(&c.replayed),
            lost: get(&c.lost),
            store_errors: get(&c.store_errors),
        }
    }

    /// Redacts captures in place: before anything reaches the spill or the store.
    fn redact(&self, records: &mut [Record]) {
        for r in records {
            if let Some(c) = r.capture.as_mut() {
                c.prompt = redact(&c.prompt, &self.redact);
                c.response = redact(&c.response, &self.redact);
            }
        }
    }

    /// Appends redacted records (and feedback rows) to the spill file, counting them
    /// spilled or lost; `false` when they were lost.
    fn spill(&self, records: &[Record], feedback: &[Feedback]) -> bool {
        let n = records.len() + feedback.len();
        match self.spill.append(records, feedback) {
            Ok(()) => {
                add(&self.counters.spilled, n);
                true
            }
            Err(e) => {
                add(&self.counters.lost, n);
                tracing::error!(
                    file = %self.spill.path().display(),
                    records = records.len(),
                    feedback = feedback.len(),
                    "cannot write the record spill file; records lost: {e}"
                );
                false
            }
        }
    }
}

/// The request path's handle: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct RecordSink {
    tx: Option<mpsc::Sender<Item>>,
    shared: Arc<Shared>,
    /// Client request ids taken (recent ones here, older ones in the store).
    client_ids: Arc<ClientIds>,
}

/// Feedback the sink could not keep: no writer runs (a discarding sink), or the spill file
/// could not be written while the channel was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} feedback rows could not be queued")]
pub struct FeedbackLost(pub usize);

impl RecordSink {
    /// Hands a record to the writer. Never blocks or awaits: a full (or, after shutdown,
    /// closed) channel sends the record to the spill file, to be replayed.
    pub fn send(&self, record: Record) {
        let Some(tx) = &self.tx else {
            return;
        };
        add(&self.shared.counters.sent, 1);
        if let Err(
            mpsc::error::TrySendError::Full(Item::Record(r))
            | mpsc::error::TrySendError::Closed(Item::Record(r)),
        ) = tx.try_send(Item::Record(record))
        {
            add(&self.shared.counters.overflowed, 1);
            let mut one = [r];
            self.shared.redact(&mut one);
            self.shared.spill(&one, &[]);
        }
    }

    /// Hands feedback rows to the writer, like `send`: never blocks; rows the channel has no
    /// room for go to the spill file at once (in one write). `Ok` means every row is queued
    /// in memory or appended to the spill file, so it reaches the store unless the process
    /// dies before a queued row is written (shutdown drains the queue).
    pub fn send_feedback(&self, rows: Vec<Feedback>) -> Result<(), FeedbackLost> {
        let Some(tx) = &self.tx else {
            return Err(FeedbackLost(rows.len()));
        };
        add(&self.shared.counters.sent, rows.len());
        let mut over = Vec::new();
        for f in rows {
            match tx.try_send(Item::Feedback { feedback: f }) {
                Ok(()) => {}
                Err(
                    mpsc::error::TrySendError::Full(item) | mpsc::error::TrySendError::Closed(item),
                ) => {
                    if let Item::Feedback { feedback } = item {
                        over.push(feedback);
                    }
                }
            }
        }
        if over.is_empty() {
            return Ok(());
        }
        add(&self.shared.counters.overflowed, over.len());
        if self.shared.spill(&[], &over) {
            Ok(())
        } else {
            Err(FeedbackLost(over.len()))
        }
    }

    /// Claims a client request id for `tenant` (see `client_ids`): `false` for a duplicate.
    pub async fn claim_client_id(&self, tenant: &str, id: &str) -> bool {
        self.client_ids.claim(tenant, id).await
    }

    /// A sink that drops every record (for tests and setups without records).
    pub fn discard() -> Self {
        Self {
            tx: None,
            shared: Arc::new(Shared {
                spill: Spill::new(std::path::PathBuf::new()),
                redact: Vec::new(),
                counters: Counters::default(),
            }),
            client_ids: Arc::new(ClientIds::new(None, Duration::ZERO)),
        }
    }

    /// The record store behind the writer, for reads (`GET /v1/analytics`); `None` for a
    /// discarding sink.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.client_ids.store()
    }

    pub fn stats(&self) -> RecordStats {
        self.shared.stats()
    }
}

/// The writer task's handle; `shutdown` drains it.
#[derive(Debug)]
pub struct RecordWriter {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl RecordWriter {
    /// Starts the writer task on the current runtime. Records left in the spill file by an
    /// earlier run are replayed first.
    pub fn start(
        store: Arc<dyn Store>,
        config: &StoreConfig,
        tasks: &Tasks,
    ) -> (RecordWriter, RecordSink) {
        let shared = Arc::new(Shared {
            spill: Spill::new(config.spill_path()),
            redact: config.redact.clone(),
            counters: Counters::default(),
        });
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let (stop_tx, stop_rx) = oneshot::channel();
        let client_ids = Arc::new(ClientIds::new(
            Some(Arc::clone(&store)),
            config.write_timeout,
        ));
        let task = Task {
            store,
            rx,
            shared: Arc::clone(&shared),
            batch_size: config.batch_size.max(1),
            flush_interval: config.flush_interval,
            write_timeout: config.write_timeout,
            retry_interval: config.retry_interval,
            down: false,
            replay_offset: 0,
        };
        let task = tasks.spawn_last("record writer", |last| task.run(stop_rx, last));
        let sink = RecordSink {
            tx: Some(tx),
            shared: Arc::clone(&shared),
            client_ids,
        };
        (
            RecordWriter {
                stop: Some(stop_tx),
                task,
                shared,
            },
            sink,
        )
    }

    pub fn stats(&self) -> RecordStats {
        self.shared.stats()
    }

    /// Closes the channel (later sends go to the spill file), writes every queued record,
    /// then tries once to replay the spill. Each store call is bounded by `write_timeout`,
    /// so a hung store delays shutdown by about that much, and its records wait in the spill
    /// file for the next start.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::error!("the record writer task failed: {e}");
        }
    }
}

struct Task {
    store: Arc<dyn Store>,
    rx: mpsc::Receiver<Item>,
    shared: Arc<Shared>,
    batch_size: usize,
    flush_interval: Duration,
    write_timeout: Duration,
    retry_interval: Duration,
    /// The last write failed; batches go to the spill until a replay succeeds.
    down: bool,
    /// How far into the replay file this run has written back.
    replay_offset: u64,
}

/// How many spill rotations one replay handles before going back to the channel.
const MAX_ROTATIONS: usize = 4;

impl Task {
    async fn run(mut self, mut stop: oneshot::Receiver<()>, last: CancellationToken) {
        let mut buf: Vec<Item> = Vec::with_capacity(self.batch_size);
        let mut deadline: Option<Instant> = None;
        let mut retry = tokio::time::interval(self.retry_interval);
        retry.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let room = self.batch_size - buf.len();
            tokio::select! {
                biased;
                _ = &mut stop => break,
                () = last.cancelled() => break,
                _ = retry.tick() => {
                    if self.shared.spill.pending() {
                        self.replay().await;
                    } else {
                        // Nothing to replay (the spill itself may have failed): try the
                        // store directly again.
                        self.down = false;
                    }
                }
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)),
                    if deadline.is_some() =>
                {
                    deadline = None;
                    self.flush(&mut buf).await;
                }
                n = self.rx.recv_many(&mut buf, room) => {
                    if n == 0 {
                        break;
                    }
                    if buf.len() >= self.batch_size {
                        deadline = None;
                        self.flush(&mut buf).await;
                    } else if deadline.is_none() {
                        deadline = Some(Instant::now() + self.flush_interval);
                    }
                }
            }
        }
        // Drain: nothing new gets in, everything queued gets written (or spilled).
        self.rx.close();
        loop {
            let room = self.batch_size - buf.len();
            if self.rx.recv_many(&mut buf, room).await == 0 {
                break;
            }
            if buf.len() >= self.batch_size {
                self.flush(&mut buf).await;
            }
        }
        self.flush(&mut buf).await;
        if self.shared.spill.pending() {
            self.replay().await;
        }
    }

    /// Writes records, then feedback rows (each kind only when there is some), within one
    /// `write_timeout`.
    async fn write(&self, records: &[Record], feedback: &[Feedback]) -> Result<(), StoreError> {
        let both = async {
            if !records.is_empty() {
                self.store.write(records).await?;
            }
            if !feedback.is_empty() {
                self.store.write_feedback(feedback).await?;
            }
            Ok(())
        };
        match tokio::time::timeout(self.write_timeout, both).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        }
    }

    fn failed(&mut self, e: &StoreError, what: &str) {
        add(&self.shared.counters.store_errors, 1);
        if !self.down {
            tracing::warn!(
                store = self.store.kind(),
                "record store {what} failed, spilling until it is back: {e}"
            );
        }
        self.down = true;
    }

    async fn flush(&mut self, buf: &mut Vec<Item>) {
        if buf.is_empty() {
            return;
        }
        let n = buf.len();
        let (mut records, feedback) = split(buf.drain(..));
        self.shared.redact(&mut records);
        if !self.down {
            match self.write(&records, &feedback).await {
                Ok(()) => {
                    add(&self.shared.counters.written, n);
                    return;
                }
                Err(e) => self.failed(&e, "write"),
            }
        }
        self.shared.spill(&records, &feedback);
    }

    /// Writes the spill back to the store. Returns with the store marked down at the first
    /// failure; the rest stays in the file for the next try.
    async fn replay(&mut self) {
        for _ in 0..MAX_ROTATIONS {
            let path = match self.shared.spill.take_for_replay() {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.down = false;
                    return;
                }
                Err(e) => {
                    tracing::error!("cannot rotate the record spill file: {e}");
                    self.shared.spill.replay_interrupted();
                    return;
                }
            };
            let mut reader = match SpillReader::open(&path, self.replay_offset) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(file = %path.display(), "cannot read the record spill file: {e}");
                    self.shared.spill.replay_interrupted();
                    return;
                }
            };
            loop {
                let batch = match reader.next_batch(self.batch_size) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(file = %path.display(), "cannot read the record spill file: {e}");
                        self.shared.spill.replay_interrupted();
                        return;
                    }
                };
                add(&self.shared.counters.lost, batch.corrupt as usize);
                let n = batch.records.len() + batch.feedback.len();
                if n == 0 && batch.eof {
                    break;
                }
                if let Err(e) = self.write(&batch.records, &batch.feedback).await {
                    self.failed(&e, "replay");
                    self.shared.spill.replay_interrupted();
                    return;
                }
                add(&self.shared.counters.replayed, n);
                self.replay_offset = batch.end;
                if batch.eof {
                    break;
                }
            }
            if self.down {
                tracing::info!(store = self.store.kind(), "record store is back");
            }
            self.down = false;
            self.replay_offset = 0;
            if let Err(e) = self.shared.spill.finish_replay(&path) {
                tracing::error!(file = %path.display(), "cannot remove the replayed spill file: {e}");
                return;
            }
            if !self.shared.spill.pending() {
                return;
            }
        }
    }
}

//! The spill file: an append-only JSON-lines file (`spill.jsonl` in the data directory) that
//! takes the records the store could not: batches whose write failed or timed out, and
//! records sent while the channel was full. For replay the writer rotates it to
//! `spill.replay.jsonl` and writes that back to the store in batches; new spills keep going
//! to a fresh `spill.jsonl` meanwhile. A torn last line (a crash mid-append) is skipped.
//! Two kinds of line share the file: a record (its JSON, as ever) and a feedback row
//! (`{"feedback": {...}}`); `Item` tells them apart when the file is read back.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::feedback::Feedback;
use super::record::Record;

/// What the writer carries, on its channel and in the spill file.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "records, the common item, stay unboxed: no extra allocation per request"
)]
pub(crate) enum Item {
    Feedback { feedback: Feedback },
    Record(Record),
}

/// A spill line of a feedback row: `{"feedback": {...}}`, told apart by its first bytes
/// (a record line starts with its `request_id`).
#[derive(Serialize)]
struct FeedbackLine<'a> {
    feedback: &'a Feedback,
}

#[derive(Deserialize)]
struct OwnedFeedbackLine {
    feedback: Feedback,
}

const FEEDBACK_LINE: &str = "{\"feedback\":";

fn decode(line: &str) -> serde_json::Result<Item> {
    if line.starts_with(FEEDBACK_LINE) {
        serde_json::from_str::<OwnedFeedbackLine>(line).map(|l| Item::Feedback {
            feedback: l.feedback,
        })
    } else {
        serde_json::from_str::<Record>(line).map(Item::Record)
    }
}

/// Splits items into their records and feedback rows, in order.
pub(crate) fn split(items: impl IntoIterator<Item = Item>) -> (Vec<Record>, Vec<Feedback>) {
    let mut records = Vec::new();
    let mut feedback = Vec::new();
    for i in items {
        match i {
            Item::Record(r) => records.push(r),
            Item::Feedback { feedback: f } => feedback.push(f),
        }
    }
    (records, feedback)
}

#[derive(Debug)]
pub(crate) struct Spill {
    path: PathBuf,
    replay_path: PathBuf,
    file: Mutex<Option<File>>,
    /// Something was appended (or left by an earlier run) and not yet replayed.
    pending: AtomicBool,
}

impl Spill {
    pub fn new(path: PathBuf) -> Self {
        let replay_path = path.with_extension("replay.jsonl");
        let left = [&path, &replay_path]
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
        Self {
            path,
            replay_path,
            file: Mutex::new(None),
            pending: AtomicBool::new(left),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Appends records and feedback rows as JSON lines in one write. Cheap enough for the
    /// request path's overflow case: serialisation and one `write` to the page cache, no
    /// fsync.
    pub fn append(&self, records: &[Record], feedback: &[Feedback]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(records.len() * 512 + feedback.len() * 256);
        for r in records {
            serde_json::to_writer(&mut buf, r)?;
            buf.push(b'\n');
        }
        for f in feedback {
            serde_json::to_writer(&mut buf, &FeedbackLine { feedback: f })?;
            buf.push(b'\n');
        }
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&self.path)?;
            // A crash mid-append leaves a torn last line; start on a fresh one so the next
            // record is not glued to it.
            if ends_torn(&mut f)? {
                f.write_all(b"\n")?;
            }
            *guard = Some(f);
        }
        if let Some(f) = guard.as_mut() {
            f.write_all(&buf)?;
        }
        self.pending.store(true, Ordering::Release);
        Ok(())
    }

    /// The file to replay: a rotation left by an earlier replay, or the active file rotated
    /// now. `None` when there is nothing to replay.
    pub fn take_for_replay(&self) -> io::Result<Option<PathBuf>> {
        if std::fs::metadata(&self.replay_path).is_ok_and(|m| m.len() > 0) {
            return Ok(Some(self.replay_path.clone()));
        }
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        *guard = None;
        let has = std::fs::metadata(&self.path).is_ok_and(|m| m.len() > 0);
        self.pending.store(false, Ordering::Release);
        if !has {
            return Ok(None);
        }
        std::fs::rename(&self.path, &self.replay_path)?;
        Ok(Some(self.replay_path.clone()))
    }

    /// The replay file was written back whole.
    pub fn finish_replay(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// A replay stopped early: the file is still there to finish later.
    pub fn replay_interrupted(&self) {
        self.pending.store(true, Ordering::Release);
    }
}

fn ends_torn(f: &mut File) -> io::Result<bool> {
    use std::io::Read;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Reads a spill file from a byte offset, a batch at a time.
pub(crate) struct SpillReader {
    reader: BufReader<File>,
    offset: u64,
}

/// One batch read from a spill file.
pub(crate) struct SpillBatch {
    pub records: Vec<Record>,
    pub feedback: Vec<Feedback>,
    /// Lines that did not decode (a torn write); skipped.
    pub corrupt: u64,
    /// The offset just past this batch: where to resume once it is written.
    pub end: u64,
    /// The file ends here.
    pub eof: bool,
}

impl SpillReader {
    pub fn open(path: &Path, offset: u64) -> io::Result<Self> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Self {
            reader: BufReader::with_capacity(256 * 1024, f),
            offset,
        })
    }

    /// Up to `max` items (records and feedback rows); an empty batch at the end of the file.
    pub fn next_batch(&mut self, max: usize) -> io::Result<SpillBatch> {
        let mut records = Vec::with_capacity(max.min(1024));
        let mut feedback = Vec::new();
        let mut corrupt = 0;
        let mut line = String::new();
        let mut eof = false;
        while records.len() + feedback.len() < max {
            line.clear();
            let n = self.reader.read_line(&mut line)?;
            if n == 0 {
                eof = true;
                break;
            }
            self.offset += n as u64;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            match decode(text) {
                Ok(Item::Record(r)) => records.push(r),
                Ok(Item::Feedback { feedback: f }) => feedback.push(f),
                Err(e) => {
                    tracing::warn!("skipping an unreadable spill line: {e}");
                    corrupt += 1;
                }
            }
        }
        Ok(SpillBatch {
            records,
            feedback,
            corrupt,
            end: self.offset,
            eof,
        })
    }
}

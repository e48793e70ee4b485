//! `FileStore`: virtual keys in one JSON file (`[keys] file`), shared by the gateway and the
//! `modelmux keys` command. Every change takes a lock file (`<file>.lock`, created
//! exclusively; one older than 10 s is taken as left by a crash), re-reads the file, changes
//! it and replaces it by rename, so the CLI and a running gateway never lose each other's
//! changes. The file holds hashes only and is created readable by its owner alone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::error::KeysError;
use super::key::StoredKey;
use super::store::{Edit, KeyStore, apply_edit, check_new};

const LOCK_STALE: Duration = Duration::from_secs(10);
const LOCK_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContents {
    version: u32,
    keys: Vec<StoredKey>,
}

pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: impl Into<String>) -> KeysError {
        KeysError::Store {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    fn read(&self) -> Result<Vec<StoredKey>, KeysError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(format!("cannot read: {e}"))),
        };
        let c: FileContents = serde_json::from_str(&text)
            .map_err(|e| self.error(format!("not a modelmux key file: {e}")))?;
        if c.version != 1 {
            return Err(self.error(format!("unknown key file version {}", c.version)));
        }
        Ok(c.keys)
    }

    fn write(&self, keys: Vec<StoredKey>) -> Result<(), KeysError> {
        let text = serde_json::to_string_pretty(&FileContents { version: 1, keys })
            .map_err(|e| self.error(format!("cannot encode: {e}")))?;
        let tmp = self.sibling("tmp");
        let mut f = open_private(&tmp, false)
            .map_err(|e| self.error(format!("cannot write {}: {e}", tmp.display())))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| self.error(format!("cannot write: {e}")))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.error(format!("cannot replace: {e}")))
    }

    fn sibling(&self, ext: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".");
        name.push(ext);
        self.path.with_file_name(name)
    }

    /// Runs `f` on the keys under the lock file, writing back what it leaves.
    fn locked<T>(
        &self,
        f: impl FnOnce(&mut Vec<StoredKey>) -> Result<T, KeysError>,
    ) -> Result<T, KeysError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| self.error(format!("cannot create {}: {e}", dir.display())))?;
        }
        let lock = self.sibling("lock");
        let started = std::time::Instant::now();
        loop {
            match open_private(&lock, true) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > LOCK_STALE);
                    if stale {
                        let _ = std::fs::remove_file(&lock);
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(self.error(format!(
                            "{} is held by another process; remove it if none is running",
                            lock.display()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(self.error(format!("cannot lock: {e}"))),
            }
        }
        let r = self.read().and_then(|mut keys| {
            let out = f(&mut keys)?;
            self.write(keys)?;
            Ok(out)
        });
        let _ = std::fs::remove_file(&lock);
        r
    }
}

#[cfg(unix)]
fn open_private(path: &Path, exclusive: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).mode(0o600);
    if exclusive {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    o.open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path, exclusive: bool) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if exclusive {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    o.open(path)
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeysError> + Send + 'static,
) -> Result<T, KeysError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KeysError::Store {
            path: String::new(),
            message: format!("file task failed: {e}"),
        })?
}

impl KeyStore for FileStore {
    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredKey>, KeysError>> {
        let me = Self::new(self.path.clone());
        Box::pin(blocking(move || me.read()))
    }

    fn insert(&self, key: StoredKey) -> BoxFuture<'_, Result<(), KeysError>> {
        let me = Self::new(self.path.clone());
        Box::pin(blocking(move || {
            me.locked(|keys| {
                check_new(keys, &key)?;
                keys.push(key);
                Ok(())
            })
        }))
    }

    fn update<'a>(
        &'a self,
        id: &'a str,
        edit: Edit,
    ) -> BoxFuture<'a, Result<StoredKey, KeysError>> {
        let me = Self::new(self.path.clone());
        let id = id.to_owned();
        Box::pin(blocking(move || {
            me.locked(|keys| apply_edit(keys, &id, edit))
        }))
    }

    fn generation(&self) -> BoxFuture<'_, Result<u64, KeysError>> {
        let path = self.path.clone();
        Box::pin(blocking(move || {
            Ok(match std::fs::metadata(&path) {
                Ok(m) => {
                    let t = m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos() as u64);
                    t ^ m.len().rotate_left(32)
                }
                Err(_) => 0,
            })
        }))
    }
}

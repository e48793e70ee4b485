//! The `KeyStore` trait, where virtual keys are kept (hashed: a `StoredKey` never holds the
//! plain key), and `MemoryStore`, its in-process implementation. The JSON file store is in
//! `file_store`; the records store (SQLite/PostgreSQL) is meant to implement this trait too.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;

use super::error::KeysError;
use super::key::StoredKey;

/// A change to one stored key, applied under the store's lock.
pub type Edit = Box<dyn FnOnce(&mut StoredKey) -> Result<(), KeysError> + Send>;

/// Keeps virtual keys. Every method is one atomic step, safe across processes for stores
/// that are shared (the file store locks the file).
pub trait KeyStore: Send + Sync {
    /// Every key, revoked ones included.
    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredKey>, KeysError>>;

    /// Adds a key; fails if its id or hash is taken.
    fn insert(&self, key: StoredKey) -> BoxFuture<'_, Result<(), KeysError>>;

    /// Changes the key `id` with `edit` and returns it as stored.
    fn update<'a>(&'a self, id: &'a str, edit: Edit)
    -> BoxFuture<'a, Result<StoredKey, KeysError>>;

    /// A number that changes whenever the contents may have (spurious changes are allowed):
    /// the gateway reloads its index when it moves.
    fn generation(&self) -> BoxFuture<'_, Result<u64, KeysError>>;
}

/// Checks that `key` can join `keys`.
pub(crate) fn check_new(keys: &[StoredKey], key: &StoredKey) -> Result<(), KeysError> {
    if keys.iter().any(|k| k.info.id == key.info.id) {
        return Err(KeysError::Invalid(format!(
            "a key with id {:?} exists",
            key.info.id
        )));
    }
    if keys.iter().any(|k| k.hash == key.hash) {
        return Err(KeysError::Invalid("a key with this value exists".into()));
    }
    Ok(())
}

/// Applies `edit` to the key `id` in `keys`.
pub(crate) fn apply_edit(
    keys: &mut [StoredKey],
    id: &str,
    edit: Edit,
) -> Result<StoredKey, KeysError> {
    let k = keys
        .iter_mut()
        .find(|k| k.info.id == id)
        .ok_or_else(|| KeysError::NotFound(id.to_owned()))?;
    let mut changed = k.clone();
    edit(&mut changed)?;
    changed.info.id = k.info.id.clone();
    *k = changed.clone();
    Ok(changed)
}

/// Keys in memory: gone when the process ends. Clones do not share; wrap it in an `Arc`.
#[derive(Default)]
pub struct MemoryStore {
    keys: Mutex<Vec<StoredKey>>,
    generation: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn locked<T>(
        &self,
        f: impl FnOnce(&mut Vec<StoredKey>) -> Result<T, KeysError>,
    ) -> Result<T, KeysError> {
        let mut keys = self.keys.lock().map_err(|_| KeysError::Store {
            path: "memory".into(),
            message: "lock poisoned".into(),
        })?;
        let r = f(&mut keys);
        if r.is_ok() {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
}

impl KeyStore for MemoryStore {
    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredKey>, KeysError>> {
        let r = self.locked(|k| Ok(k.clone()));
        Box::pin(async move { r })
    }

    fn insert(&self, key: StoredKey) -> BoxFuture<'_, Result<(), KeysError>> {
        let r = self.locked(|keys| {
            check_new(keys, &key)?;
            keys.push(key);
            Ok(())
        });
        Box::pin(async move { r })
    }

    fn update<'a>(
        &'a self,
        id: &'a str,
        edit: Edit,
    ) -> BoxFuture<'a, Result<StoredKey, KeysError>> {
        let r = self.locked(|keys| apply_edit(keys, id, edit));
        Box::pin(async move { r })
    }

    fn generation(&self) -> BoxFuture<'_, Result<u64, KeysError>> {
        let g = self.generation.load(Ordering::SeqCst);
        Box::pin(async move { Ok(g) })
    }
}

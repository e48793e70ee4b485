//! Stored responses in the SQLite record store: the `responses` table of `records.sqlite`
//! (created by the records migrations), on the record store's own connection. Every call
//! runs on tokio's blocking pool through `SqliteStore::with`, never on a runtime worker.

use rusqlite::{OptionalExtension, params};

use super::backend::{ResponseBackend, ResponseRow};
use crate::records::sqlite::query_err;
use crate::records::{SqliteStore, StoreFuture};

impl ResponseBackend for SqliteStore {
    fn put<'a>(&'a self, row: &'a ResponseRow) -> StoreFuture<'a, ()> {
        let row = row.clone();
        Box::pin(self.with(move |conn| {
            conn.prepare_cached(
                "INSERT INTO responses (id, owner, created_ms, expires_ms, response, input_items)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET created_ms = excluded.created_ms,
                   expires_ms = excluded.expires_ms, response = excluded.response,
                   input_items = excluded.input_items
                 WHERE responses.owner = excluded.owner",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    row.id,
                    row.owner,
                    row.created_ms,
                    row.expires_ms,
                    row.response,
                    row.input_items
                ])
            })
            .map(drop)
            .map_err(query_err)
        }))
    }

    fn get<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<ResponseRow>> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        Box::pin(self.with(move |conn| {
            conn.prepare_cached(
                "SELECT created_ms, expires_ms, response, input_items FROM responses
                 WHERE id = ?1 AND owner = ?2 AND expires_ms > ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![id, owner, now_ms], |r| {
                    Ok(ResponseRow {
                        id: id.clone(),
                        owner: owner.clone(),
                        created_ms: r.get(0)?,
                        expires_ms: r.get(1)?,
                        response: r.get(2)?,
                        input_items: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(query_err)
        }))
    }

    fn exists<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        Box::pin(self.with(move |conn| {
            conn.prepare_cached(
                "SELECT 1 FROM responses WHERE id = ?1 AND owner = ?2 AND expires_ms > ?3",
            )
            .and_then(|mut stmt| stmt.exists(params![id, owner, now_ms]))
            .map_err(query_err)
        }))
    }

    fn delete<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        Box::pin(self.with(move |conn| {
            conn.execute(
                "DELETE FROM responses WHERE id = ?1 AND owner = ?2 AND expires_ms > ?3",
                params![id, owner, now_ms],
            )
            .map(|n| n > 0)
            .map_err(query_err)
        }))
    }

    fn purge(&self, now_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(self.with(move |conn| {
            conn.execute(
                "DELETE FROM responses WHERE expires_ms <= ?1",
                params![now_ms],
            )
            .map(|n| n as u64)
            .map_err(query_err)
        }))
    }
}

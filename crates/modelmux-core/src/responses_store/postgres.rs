//! Stored responses in the PostgreSQL record store: the `responses` table next to
//! `records` (same schema, created by the records migrations), on the record store's one
//! shared connection, so several gateway instances see the same conversations.

use super::backend::{ResponseBackend, ResponseRow};
use crate::records::postgres::query_err;
use crate::records::{PostgresStore, StoreFuture};

impl ResponseBackend for PostgresStore {
    fn put<'a>(&'a self, row: &'a ResponseRow) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO {p}responses (id, owner, created_ms, expires_ms, response, input_items)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET created_ms = excluded.created_ms,
                   expires_ms = excluded.expires_ms, response = excluded.response,
                   input_items = excluded.input_items
                 WHERE {p}responses.owner = excluded.owner",
                p = self.prefix()
            );
            let client = self.client().await?;
            client
                .execute(
                    &sql,
                    &[
                        &row.id,
                        &row.owner,
                        &row.created_ms,
                        &row.expires_ms,
                        &row.response,
                        &row.input_items,
                    ],
                )
                .await
                .map_err(query_err)?;
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<ResponseRow>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT created_ms, expires_ms, response, input_items FROM {}responses
                 WHERE id = $1 AND owner = $2 AND expires_ms > $3",
                self.prefix()
            );
            let client = self.client().await?;
            let row = client
                .query_opt(&sql, &[&id, &owner, &now_ms])
                .await
                .map_err(query_err)?;
            row.map(|r| {
                Ok(ResponseRow {
                    id: id.to_owned(),
                    owner: owner.to_owned(),
                    created_ms: r.try_get(0).map_err(query_err)?,
                    expires_ms: r.try_get(1).map_err(query_err)?,
                    response: r.try_get(2).map_err(query_err)?,
                    input_items: r.try_get(3).map_err(query_err)?,
                })
            })
            .transpose()
        })
    }

    fn exists<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let sql = format!(
                "SELECT 1 FROM {}responses WHERE id = $1 AND owner = $2 AND expires_ms > $3",
                self.prefix()
            );
            let client = self.client().await?;
            let row = client
                .query_opt(&sql, &[&id, &owner, &now_ms])
                .await
                .map_err(query_err)?;
            Ok(row.is_some())
        })
    }

    fn delete<'a>(&'a self, id: &'a str, owner: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let sql = format!(
                "DELETE FROM {}responses WHERE id = $1 AND owner = $2 AND expires_ms > $3",
                self.prefix()
            );
            let client = self.client().await?;
            let n = client
                .execute(&sql, &[&id, &owner, &now_ms])
                .await
                .map_err(query_err)?;
            Ok(n > 0)
        })
    }

    fn purge(&self, now_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let sql = format!(
                "DELETE FROM {}responses WHERE expires_ms <= $1",
                self.prefix()
            );
            let client = self.client().await?;
            client.execute(&sql, &[&now_ms]).await.map_err(query_err)
        })
    }
}

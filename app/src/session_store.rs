//! tower-sessions store in Kino's own database, through the same `Any` pool as everything else.
//! (tower-sessions-sqlx-store needs a typed pool per backend; one pool and one schema serve both.)

use crate::dates::now_ms;
use crate::db::Db;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// A stored session: its data as JSON and when it expires (epoch ms).
#[derive(Debug, sqlx::FromRow)]
struct SessionRow {
    data: String,
    expires_at: i64,
}

fn expiry_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

impl DbSessionStore {
    /// Inserts `record`, doing `on_conflict` (a fixed SQL fragment) when its id exists already.
    /// Returns the number of rows written.
    async fn upsert(&self, record: &Record, on_conflict: &str) -> session_store::Result<u64> {
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let written = sqlx::query(&format!(
            "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) {on_conflict}"
        ))
        .bind(record.id.to_string())
        .bind(&data)
        .bind(expiry_ms(record))
        .execute(&self.db.pool)
        .await
        .map_err(backend)?;
        Ok(written.rows_affected())
    }
}

#[async_trait::async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id collides with probability ~2^-128; still, never overwrite one.
        while self.upsert(record, "DO NOTHING").await? == 0 {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.upsert(
            record,
            "DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query_as::<_, SessionRow>(
            "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(now_ms())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(backend)?;
        let Some(SessionRow { data, expires_at }) = row else {
            return Ok(None);
        };
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at) * 1_000_000)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

//! The database: one sqlx `Any` pool that speaks to SQLite (the embedded default) or PostgreSQL
//! through the same query text (`$1` placeholders, flags as INTEGER, times as BIGINT epoch ms).

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://path or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot create the database directory {dir}: {source}")]
    CreateDir { dir: String, source: std::io::Error },
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("a database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Connects, creating the SQLite file (and its directory) when missing.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(DbError::UnsupportedUrl(url.to_owned()));
            }
            if let Some(dir) = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                    dir: dir.display().to_string(),
                    source,
                })?;
            }
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };

        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; the busy timeout makes a writer
                        // wait for another instead of failing with SQLITE_BUSY.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await.map_err(DbError::Connect)?;
        Ok(Self { pool, backend })
    }

    /// Applies the migrations in `migrations/`; the caller stops the process when this fails.
    pub async fn migrate(&self) -> Result<(), DbError> {
        sqlx::migrate!("../migrations").run(&self.pool).await?;
        Ok(())
    }
}

/// An INTEGER 0/1 flag as a row field (the `Any` driver cannot decode SQLite booleans): decodes
/// like an `i64`, and any value but 0 is true. A NULL or a non-integer is a decoding error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl sqlx::Type<sqlx::Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Flag(
            <i64 as sqlx::Decode<'r, sqlx::Any>>::decode(value)? != 0,
        ))
    }
}

/// A job that one node of several runs at a time: a row of `table` (with `id`, `claimed_by` and
/// `claimed_until`) that a node claims for `ms` with a conditional UPDATE, so that of two nodes
/// asking at once exactly one gets it, and a node that died loses it when the lease runs out.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub table: &'static str,
    pub id: i64,
    pub ms: i64,
}

impl Lease {
    /// Claims the job at `now` if nobody holds it. A node that already holds it gets it again
    /// (renewed) when `renew`, and otherwise does not — a second run on the same node waits too.
    pub async fn claim(
        &self,
        db: &Db,
        node: &str,
        now: i64,
        renew: bool,
    ) -> Result<bool, sqlx::Error> {
        self.claim_when(db, node, now, renew, None).await
    }

    /// As `claim`, and only while `condition` holds: SQL on the job's row with `$4` bound to
    /// the value given with it (say, "not built since $4").
    pub async fn claim_when(
        &self,
        db: &Db,
        node: &str,
        now: i64,
        renew: bool,
        condition: Option<(&str, i64)>,
    ) -> Result<bool, sqlx::Error> {
        let ours = if renew { " OR claimed_by = $1" } else { "" };
        let also = condition.map_or(String::new(), |(sql, _)| format!(" AND ({sql})"));
        let sql = format!(
            "UPDATE {} SET claimed_by = $1, claimed_until = $2 \
             WHERE id = {} AND (claimed_until IS NULL OR claimed_until < $3{ours}){also}",
            self.table, self.id
        );
        let mut query = sqlx::query(&sql).bind(node).bind(now + self.ms).bind(now);
        if let Some((_, value)) = condition {
            query = query.bind(value);
        }
        Ok(query.execute(&db.pool).await?.rows_affected() == 1)
    }

    /// Lets the job go (if this node holds it), so the next tick here or elsewhere may run it.
    pub async fn release(&self, db: &Db, node: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE {} SET claimed_by = NULL, claimed_until = NULL \
             WHERE id = {} AND claimed_by = $1",
            self.table, self.id
        ))
        .bind(node)
        .execute(&db.pool)
        .await?;
        Ok(())
    }
}

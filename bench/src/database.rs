//! A fresh database for one run: a SQLite file in a temporary directory, or a new PostgreSQL
//! database created from an admin URL and dropped at the end.

use crate::Result;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor};

pub enum FreshDatabase {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
    },
}

impl FreshDatabase {
    /// `postgres_admin_url` is where `CREATE DATABASE` runs, e.g.
    /// `postgres://postgres@127.0.0.1:5432/test`; without one the database is SQLite.
    pub async fn create(postgres_admin_url: Option<&str>) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let Some(admin_url) = postgres_admin_url else {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("kino.db").display());
            return Ok(Self::Sqlite { url, _dir: dir });
        };
        let name = format!("kino_bench_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::AnyConnection::connect(admin_url)
            .await
            .map_err(|e| format!("cannot reach PostgreSQL at {admin_url}: {e}"))?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&name);
        Ok(Self::Postgres {
            url: url.to_string(),
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }

    /// A pool for seeding the database beside the running server.
    pub async fn connect(&self, max_connections: u32) -> Result<AnyPool> {
        let is_sqlite = matches!(self, Self::Sqlite { .. });
        Ok(AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if is_sqlite {
                        // The server holds the same file open; wait for it rather than fail.
                        conn.execute("PRAGMA busy_timeout = 5000;").await?;
                    }
                    Ok(())
                })
            })
            .connect(self.url())
            .await?)
    }

    /// Removes the database (a SQLite file goes with its temporary directory).
    pub async fn remove(self) -> Result {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
        {
            let mut admin = sqlx::AnyConnection::connect(&admin_url).await?;
            admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await?;
        }
        Ok(())
    }
}

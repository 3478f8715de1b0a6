//! What the tests of PostgreSQL-backed code share, here and in the
//! binary's end-to-end tests: the database they may use
//! (`TRENT_TEST_POSTGRES_URL`, or a plain message that they are skipped)
//! and a fresh schema per test, dropped at its end. Not for production use.

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

pub const SKIPPED: &str = "PostgreSQL tests skipped: TRENT_TEST_POSTGRES_URL is not set";

pub fn test_url() -> Option<String> {
    let url = std::env::var("TRENT_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty());
    if url.is_none() {
        eprintln!("{SKIPPED}");
    }
    url
}

/// A fresh schema's name, and the schema dropped (with everything in it)
/// when this goes out of scope, also when the test fails.
pub struct Schema {
    pub url: String,
    pub name: String,
}

impl Schema {
    pub fn fresh(url: &str) -> Self {
        Self {
            url: url.into(),
            name: format!("trent_test_{}", Uuid::new_v4().simple()),
        }
    }

    /// Tables in the schema named `table`'s rows: the migrations applied.
    pub async fn count(&self, table: &str) -> i64 {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
        let n = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{}\".{table}", self.name))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        n
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // A destructor cannot await, and the test's runtime may be the one
        // unwinding: a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("schema {} not dropped: {e}", self.name),
            Err(_) => eprintln!("schema {} not dropped: the thread panicked", self.name),
        }
    }
}

impl Schema {
    /// The database URL with this schema as every connection's
    /// `search_path`, as an operator would give `--database-url`.
    pub fn database_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options[search_path]={}", self.url, self.name)
    }

    /// Creates the schema (a node opening the URL expects it to exist).
    pub async fn create(&self) {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA \"{}\"", self.name))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

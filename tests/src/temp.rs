//! Temporary directories and databases: each removed again when its test passes and kept
//! (named on stderr) when it fails, so a failure can be looked at.

use std::path::{Path, PathBuf};

use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::*;

#[derive(Debug)]
/// A directory under `<target>/test-tmp` (traversable by the `postgres` user, unlike /tmp
/// in some sandboxes). Removed on drop unless the test is failing.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = env()
            .tmp_root
            .join(format!("{prefix}-{}", Uuid::new_v4().simple()));
        make_traversable_dir(&path);
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[derive(Debug)]
/// A fresh database on the test cluster. Dropped (WITH FORCE) when the test passes.
pub struct TestDb {
    pub name: String,
    /// The URL the server gets as DATABASE_URL.
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let env = env();
        let name = format!("vf_test_{}", Uuid::new_v4().simple());
        let mut admin = connect(&env.admin_url).await;
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        Self {
            url: with_database(&env.admin_url, &name),
            name,
        }
    }

    /// A connection to this database as the admin (a superuser: RLS does not apply, which
    /// is what assertions about "nothing changed" want).
    pub async fn connect(&self) -> PgConnection {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: kept database {}", self.name);
            return;
        }
        let admin_url = env().admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = connect(&admin_url).await;
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await;
                let _ = admin.close().await;
            });
            Some(())
        })
        .join();
    }
}

//! [`PgStore`] against a real PostgreSQL: `TRENT_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`) names a database the tests
//! may create schemas in. Each test works in a fresh schema of its own
//! (`trent_test_<uuid>`), dropped at its end, so they run in parallel and
//! leave nothing behind. Without the variable they are skipped, saying so.

use crate::PgStore;
use crate::test_support::{Schema, test_url};
use trent_core::audit::read;
use trent_core::{IdentityStore, KeyStore, StoreError};

async fn open(schema: &Schema) -> PgStore {
    PgStore::open_in_schema(&schema.url, &schema.name, 4)
        .await
        .unwrap()
}

/// The store suite through two stores on one schema (two processes' pools),
/// then a third opened on it again: the migrations found applied, the data
/// there.
#[tokio::test]
async fn postgres_passes_the_store_suite_and_survives_reopen() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    let (a, b) = (open(&schema).await, open(&schema).await);
    crate::tests::suite(&a, &b).await;
    let before = a
        .list_keys("111122223333", "us-east-1", None, 100)
        .await
        .unwrap();
    assert!(!before.is_empty());
    drop((a, b));
    let reopened = open(&schema).await;
    assert_eq!(
        reopened
            .list_keys("111122223333", "us-east-1", None, 100)
            .await
            .unwrap(),
        before
    );
    assert_eq!(read::events(&reopened, 0, 100).await.unwrap().len(), 11);
    assert_eq!(schema.count("_sqlx_migrations").await, 1);
}

/// Two audit writers (two nodes) appending to one trail at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_writers_share_one_trail() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    let (a, b) = (open(&schema).await, open(&schema).await);
    crate::tests::two_writers_share_one_trail(std::sync::Arc::new(a), std::sync::Arc::new(b)).await;
}

/// Calls from another runtime (as the audit writer's thread makes them),
/// several at once so that it needs connections of its own; then, while
/// that runtime's thread is busy (its I/O not polled) and after it has
/// ended, calls from the first runtime go on: a connection waits for its
/// I/O on the runtime that opened it, so each runtime has a pool of its own.
#[tokio::test]
async fn postgres_store_calls_do_not_wait_for_another_runtime() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    let store = std::sync::Arc::new(open(&schema).await);
    store.insert_account("111122223333", None).await.unwrap();
    let (called, busy) = std::sync::mpsc::channel();
    let other = store.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            eight_calls(&other).await;
            called.send(()).unwrap();
            // Busy: this runtime polls no I/O for a while.
            std::thread::sleep(std::time::Duration::from_secs(3));
        });
    });
    busy.recv().unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(2), eight_calls(&store))
        .await
        .expect("calls waited for the other runtime's thread");
    thread.join().unwrap();
    eight_calls(&store).await;
}

/// Eight calls at once: as many connections as the pool allows.
async fn eight_calls(store: &PgStore) {
    let calls = (0..8).map(|_| store.account_exists("111122223333"));
    for exists in futures_util::future::join_all(calls).await {
        assert!(exists.unwrap());
    }
}

/// Nodes starting together: each open runs the migrations, one at a time
/// under sqlx's advisory lock; all succeed, the schema made once. A store
/// opened by URL alone (`options[search_path]=...`, as an operator would
/// point Trent at a schema) shares it.
#[tokio::test]
async fn postgres_stores_opened_at_once_all_succeed() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    let opened = futures_util::future::join_all(
        (0..4).map(|_| PgStore::open_in_schema(&url, &schema.name, 2)),
    )
    .await;
    let stores: Vec<PgStore> = opened
        .into_iter()
        .map(|s| s.map_err(|e| e.to_string()).unwrap())
        .collect();
    assert_eq!(schema.count("_sqlx_migrations").await, 1);
    stores[0]
        .insert_account("111122223333", None)
        .await
        .unwrap();
    for store in &stores {
        assert!(store.account_exists("111122223333").await.unwrap());
    }
    let by_url = PgStore::open(&schema.database_url(), 1).await.unwrap();
    assert!(by_url.account_exists("111122223333").await.unwrap());
    assert!(matches!(
        by_url.insert_account("111122223333", None).await,
        Err(StoreError::Conflict(_))
    ));
}

/// A server that is not there: the error names where (host, port,
/// database) and why, never the password. Needs no PostgreSQL.
#[tokio::test]
async fn postgres_unreachable_names_the_server_not_the_password() {
    let Err(e) = PgStore::open("postgres://postgres:hunter2@127.0.0.1:1/test", 2).await else {
        panic!("a connection to port 1");
    };
    let message = e.to_string();
    assert!(matches!(e, StoreError::Backend(_)), "{message}");
    assert!(
        message.contains("PostgreSQL at 127.0.0.1:1/test: "),
        "{message}"
    );
    assert!(message.contains("refused"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    // Nor does a URL that does not parse show itself.
    let Err(e) = PgStore::open("postgres://postgres:hunter2@127.0.0.1:99999/test", 2).await else {
        panic!("port 99999");
    };
    assert!(!e.to_string().contains("hunter2"), "{e}");

    // A schema name that would need quoting is refused before connecting.
    let Err(e) = PgStore::open_in_schema("postgres://postgres@127.0.0.1:1/test", "a\"b", 2).await
    else {
        panic!("schema a\"b");
    };
    assert!(e.to_string().contains("not a plain"), "{e}");
}

//! [`PgStore`] against a real PostgreSQL: `TRENT_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`) names a database the tests
//! may create schemas in. Each test works in a fresh schema of its own
//! (`trent_test_<uuid>`), dropped at its end, so they run in parallel and
//! leave nothing behind. Without the variable they are skipped, saying so.

use crate::PgStore;
use crate::test_support::{Schema, test_url};
use crate::tests::NO_LIMIT;
use sqlx::Connection;
use std::time::{Duration, Instant};
use trent_core::audit::read;
use trent_core::{ChangeStore, Credential, IdentityStore, KeyStore, StoreError};

/// The files in `migrations/postgres/`.
const MIGRATIONS: i64 = 7;

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
    assert_eq!(schema.count("_sqlx_migrations").await, MIGRATIONS);
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
    assert_eq!(schema.count("_sqlx_migrations").await, MIGRATIONS);
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

/// A commit through one store ends another store's `wait_for_change` at
/// once (LISTEN/NOTIFY), not at its timeout. Other tests' commits (in other
/// schemas of the database: one channel for all) may end a wait too: the
/// waiter waits until it sees the change, and the time from the commit to
/// that is what must be short.
#[tokio::test]
async fn postgres_wait_for_change_ends_at_another_stores_commit() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    let (waiter, writer) = (open(&schema).await, open(&schema).await);
    // The first call opens the LISTEN connection.
    waiter
        .wait_for_change(Duration::from_millis(500))
        .await
        .unwrap();
    for round in 0..3 {
        let last = waiter.last_change().await.unwrap();
        let write = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            writer
                .insert_account(&format!("10000000000{round}"), None)
                .await
                .unwrap();
            Instant::now()
        };
        let wait = async {
            loop {
                waiter
                    .wait_for_change(Duration::from_secs(5))
                    .await
                    .unwrap();
                let seen = Instant::now();
                if !waiter.changes_after(last, 10).await.unwrap().is_empty() {
                    return seen;
                }
            }
        };
        let (written, seen) = tokio::join!(write, wait);
        let lag = seen.saturating_duration_since(written);
        assert!(
            lag < Duration::from_secs(1),
            "round {round}: woken {lag:?} after the commit"
        );
    }
}

/// The LISTEN connection dropped (its server process ended): the wait in
/// progress ends at once (what was notified meanwhile is lost, so the
/// caller should look), and the next waits are woken by commits again, on
/// a connection made again.
#[tokio::test]
async fn postgres_wait_for_change_survives_its_connection_dropping() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    // A name of its own, to find its connections by.
    let name = schema.name.replace("trent_test_", "trent_listen_");
    let separator = if url.contains('?') { '&' } else { '?' };
    let named = format!("{url}{separator}application_name={name}");
    let waiter = PgStore::open_in_schema(&named, &schema.name, 2)
        .await
        .unwrap();
    let writer = open(&schema).await;
    waiter
        .wait_for_change(Duration::from_millis(500))
        .await
        .unwrap();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let terminate = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND query LIKE 'LISTEN%'",
        )
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(ended, [true], "the LISTEN connection");
        Instant::now()
    };
    let wait = async {
        waiter
            .wait_for_change(Duration::from_secs(5))
            .await
            .unwrap();
        Instant::now()
    };
    let (ended, woken) = tokio::join!(terminate, wait);
    let lag = woken.saturating_duration_since(ended);
    assert!(
        lag < Duration::from_secs(1),
        "woken {lag:?} after the connection ended"
    );

    let last = waiter.last_change().await.unwrap();
    let write = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        writer.insert_account("100000000009", None).await.unwrap();
        Instant::now()
    };
    let wait = async {
        loop {
            waiter
                .wait_for_change(Duration::from_secs(5))
                .await
                .unwrap();
            let seen = Instant::now();
            if !waiter.changes_after(last, 10).await.unwrap().is_empty() {
                return seen;
            }
        }
    };
    let (written, seen) = tokio::join!(write, wait);
    let lag = seen.saturating_duration_since(written);
    assert!(
        lag < Duration::from_secs(1),
        "woken {lag:?} after the commit"
    );
}

/// Ids become visible in commit order: while feeding transactions commit
/// at once through several stores (each several at a time), a reader that
/// follows the feed from the last id it saw never misses one (a smaller id
/// committed after it read past it would never be read) and sees them in
/// increasing order. Without the trigger's advisory lock, ids drawn in one
/// order commit in another, and this fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_change_ids_are_visible_in_commit_order() {
    const WRITERS: usize = 3;
    const TASKS: usize = 4;
    const ROUNDS: usize = 25;
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        writers.push(open(&schema).await);
    }
    let reader = open(&schema).await;
    let start = reader.last_change().await.unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);

    // Each round: a key's row rewritten (one entry), an account with its
    // root key (two, in one transaction).
    let write = |w: usize, t: usize| {
        let store = &writers[w];
        async move {
            let key = crate::tests::key("111122223333");
            store
                .insert_key(&key, &crate::tests::material(1), NO_LIMIT)
                .await
                .unwrap();
            for round in 0..ROUNDS {
                store.update_key(&key, &key).await.unwrap();
                let account = format!("{w}{t:02}{round:09}");
                let root = Credential {
                    access_key_id: format!("AKIA{account}"),
                    account: account.clone(),
                    principal_arn: format!("arn:aws:iam::{account}:root"),
                    sealed_secret: vec![1; 40],
                    user_name: None,
                    active: true,
                    created_ms: 1,
                    session: None,
                };
                store.insert_account(&account, Some(&root)).await.unwrap();
            }
        }
    };
    let writing = async {
        let all = (0..WRITERS).flat_map(|w| (0..TASKS).map(move |t| (w, t)));
        futures_util::future::join_all(all.map(|(w, t)| write(w, t))).await;
        done.store(true, std::sync::atomic::Ordering::Release);
    };
    let reading = async {
        let (mut seen, mut last, mut polls) = (Vec::new(), start, 0);
        loop {
            // Read once more after the writers are done: then all is in.
            let finished = done.load(std::sync::atomic::Ordering::Acquire);
            let page = reader.changes_after(last, 1000).await.unwrap();
            polls += 1;
            for change in &page {
                assert!(change.id > last, "id {} after {last}", change.id);
                last = change.id;
                seen.push(change.id);
            }
            if finished && page.is_empty() {
                return (seen, polls);
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), (seen, polls)) = tokio::join!(writing, reading);
    let all: Vec<i64> = reader
        .changes_after(start, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(all.len(), WRITERS * TASKS * ROUNDS * 3);
    // `seen` is increasing (checked as read) and a subset of `all`.
    let missed: Vec<i64> = all
        .iter()
        .copied()
        .filter(|id| seen.binary_search(id).is_err())
        .collect();
    assert!(
        missed.is_empty(),
        "the reader missed {missed:?}, committed after it read past them"
    );
    assert_eq!(seen, all);
    assert!(polls > 10, "the reader polled {polls} times only");
}

/// A LISTEN connection that cannot be made: each wait ends at its timeout
/// (not later, and not with an error), while the connection is tried
/// again. Needs no PostgreSQL.
#[tokio::test]
async fn postgres_wait_for_change_without_a_server_sleeps_out_its_timeout() {
    let listener = crate::postgres::ChangeListener::default();
    let options: sqlx::postgres::PgConnectOptions =
        "postgres://postgres@127.0.0.1:1/test".parse().unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        listener.wait(&options, Duration::from_millis(300)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(290) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }
}

/// Feeding transactions that lock the same rows in different orders do
/// not deadlock on the feed's lock: a rotation (a material row, then the
/// key's row) against updates of that key (the key's row alone), through
/// two stores at once. (With the feed's lock taken at each statement
/// instead of at commit, the rotation would hold it while waiting for the
/// key's row, which the update holds while waiting for the lock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_feeding_writes_do_not_deadlock() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    let (a, b) = (open(&schema).await, open(&schema).await);
    let mut key = crate::tests::key("111122223333");
    a.insert_key(&key, &crate::tests::material(1), NO_LIMIT)
        .await
        .unwrap();
    let before = a.last_change().await.unwrap();
    let mut applied = 0;
    for version in 2..=21 {
        key.current_material = version;
        let rotation = trent_core::RotationRecord {
            key_id: key.id,
            version,
            rotated_ms: 1,
            on_demand: true,
        };
        let material = crate::tests::material(version);
        let rotate = a.rotate_key(&key, &material, &rotation);
        let updates = futures_util::future::join_all((0..3).map(|_| b.update_key(&key, &key)));
        let (rotated, updated) = tokio::join!(rotate, updates);
        rotated.unwrap();
        // An update that read the key before the rotation is refused (the
        // row changed under it); none fails any other way.
        assert!(
            updated
                .iter()
                .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))),
            "{updated:?}"
        );
        applied += updated.iter().filter(|r| r.is_ok()).count();
    }
    // Each round: two entries of the rotation, one per update applied.
    let fed = a.changes_after(before, 1000).await.unwrap();
    assert_eq!(fed.len(), 20 * 2 + applied);
}

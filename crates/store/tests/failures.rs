//! What goes wrong between a node and its bucket: wrong credentials, a missing bucket, a server
//! that dies mid-upload, a writer killed mid-write. Each is a clear error, and nothing
//! half-written is ever read as valid.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use gradient_identity::Keypair;
use gradient_store::{Expect, Kind, Location, S3Credentials, Store, StoreConfig, StoreError};
use support::{BUCKET, KEY, READ_KEY, READ_SECRET, SECRET, s3_endpoint, s3_store_at};

fn put_small(
    store: &Store,
) -> impl std::future::Future<Output = Result<gradient_store::Header, StoreError>> + '_ {
    store.put_envelope(
        "x",
        Keypair::dev("k").leak(),
        Kind::Submission,
        [0; 32],
        1,
        [0; 32],
        Bytes::from_static(b"hello"),
        false,
    )
}

trait Leak {
    fn leak(self) -> &'static Keypair;
}

impl Leak for Keypair {
    fn leak(self) -> &'static Keypair {
        Box::leak(Box::new(self))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_name_the_bucket_and_the_credential() {
    let endpoint = tokio::task::spawn_blocking(s3_endpoint).await.unwrap();
    let config = StoreConfig::default;
    let auth = |result: Result<gradient_store::Header, StoreError>| match result {
        Err(StoreError::Auth {
            bucket,
            endpoint: at,
            why,
        }) => {
            assert_eq!(bucket, BUCKET);
            assert_eq!(at, endpoint);
            why
        }
        other => panic!("expected an authentication error, got {other:?}"),
    };
    let wrong_secret = s3_store_at(&endpoint, KEY, "not-the-secret", config());
    let why = auth(put_small(&wrong_secret).await);
    assert!(why.contains("AWS_SECRET_ACCESS_KEY"), "{why}");

    let wrong_key = s3_store_at(&endpoint, "nobody", SECRET, config());
    let why = auth(put_small(&wrong_key).await);
    assert!(
        why.contains("AWS_ACCESS_KEY_ID") && why.contains("nobody"),
        "{why}"
    );

    // The read-only key a miner commits on chain can read but not write.
    let reader = s3_store_at(&endpoint, READ_KEY, READ_SECRET, config());
    let why = auth(put_small(&reader).await);
    assert!(why.contains("may not put"), "{why}");
    assert_eq!(reader.size("nothing-here").await.unwrap(), None);

    let no_credentials = Location::parse("s3://some-bucket", &S3Credentials::default()).unwrap();
    let err = Store::open(&no_credentials, config())
        .unwrap_err()
        .to_string();
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_upload_gives_a_clear_error_and_nothing_valid() {
    let mut server = tokio::task::spawn_blocking(support::S3Server::start)
        .await
        .unwrap();
    let config = StoreConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        ..StoreConfig::default()
    };
    let store = s3_store_at(&server.endpoint, KEY, SECRET, config);
    let key = Keypair::dev("miner");
    let payload = Bytes::from(vec![7u8; 400 << 20]);
    let upload = {
        let store = store.clone();
        let key = key.clone();
        tokio::spawn(async move {
            store
                .put_envelope(
                    "big",
                    &key,
                    Kind::Submission,
                    [0; 32],
                    1,
                    [0; 32],
                    payload,
                    true,
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.kill();
    let err = upload
        .await
        .unwrap()
        .expect_err("the upload cannot finish without a server");
    let text = err.to_string();
    assert!(text.contains("big") && text.contains("multipart"), "{text}");

    let server = tokio::task::spawn_blocking(move || {
        server.spawn();
        server
    })
    .await
    .unwrap();
    // Whatever the server kept of the upload, no reader takes it for a valid object.
    match store
        .get_envelope("big", &Expect::default(), u64::MAX)
        .await
    {
        Err(StoreError::NotFound { .. }) | Err(StoreError::Envelope { .. }) => {}
        other => panic!(
            "a half-written object was readable: {other:?}\n{}",
            server.log()
        ),
    }
    // And the store works again.
    store
        .put_envelope(
            "small",
            &key,
            Kind::Submission,
            [0; 32],
            1,
            [0; 32],
            Bytes::from_static(b"ok"),
            true,
        )
        .await
        .unwrap();
}

#[test]
fn a_writer_killed_mid_write_leaves_nothing_valid() {
    let dir = tempfile::tempdir().unwrap();
    for delay_ms in [50, 150, 400] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writer", "--ignored", "--nocapture"])
            .env("GRADIENT_STORE_WRITER_DIR", dir.path())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        check_all_valid(dir.path());
    }
}

fn check_all_valid(root: &Path) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(
        &Location::File {
            root: root.to_path_buf(),
        },
        StoreConfig::default(),
    )
    .unwrap();
    runtime.block_on(async {
        for listed in store.list("").await.unwrap() {
            let opened = store
                .get_envelope(&listed.key, &Expect::default(), u64::MAX)
                .await
                .unwrap_or_else(|e| panic!("{} is listed but not valid: {e}", listed.key));
            assert_eq!(opened.payload.len(), 300 << 20);
        }
    });
}

/// Writes large envelopes until killed; run by `a_writer_killed_mid_write_leaves_nothing_valid`.
#[test]
#[ignore]
fn writer() {
    let Ok(dir) = std::env::var("GRADIENT_STORE_WRITER_DIR") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(&Location::File { root: dir.into() }, StoreConfig::default()).unwrap();
    let key = Keypair::dev("writer");
    runtime.block_on(async {
        for i in 0.. {
            let payload = Bytes::from(vec![i as u8; 300 << 20]);
            store
                .put_envelope(
                    &format!("obj{i}"),
                    &key,
                    Kind::Submission,
                    [0; 32],
                    1,
                    [0; 32],
                    payload,
                    false,
                )
                .await
                .unwrap();
        }
    });
}

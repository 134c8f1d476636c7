//! One storage test suite, run against a local directory and against a real S3 server
//! (SeaweedFS with authentication enforced).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use gradient_identity::Keypair;
use gradient_store::{EnvelopeError, Expect, HEADER_LEN, Kind, Store, StoreConfig, StoreError};
use object_store::PutPayload;

const RUN: [u8; 32] = [7; 32];
const BASE: [u8; 32] = [3; 32];

fn miner() -> Keypair {
    Keypair::dev("miner")
}

fn expect() -> Expect {
    Expect {
        kind: Some(Kind::Submission),
        run: Some(RUN),
        window: Some(4),
        base: Some(BASE),
        signer: Some(miner().account()),
    }
}

/// Deterministic bytes that are not all alike, so a misplaced range shows.
fn payload(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out.into()
}

async fn put(store: &Store, key: &str, data: Bytes) {
    store
        .put_envelope(key, &miner(), Kind::Submission, RUN, 4, BASE, data, true)
        .await
        .unwrap();
}

async fn round_trip(store: Store, len: usize) {
    let data = payload(len);
    put(&store, "sub/a", data.clone()).await;
    assert_eq!(
        store.size("sub/a").await.unwrap(),
        Some((HEADER_LEN + len) as u64)
    );
    let opened = store
        .get_envelope("sub/a", &expect(), u64::MAX)
        .await
        .unwrap();
    assert_eq!(opened.header.payload_len, len as u64);
    assert!(opened.payload == data, "payload differs");
    let listed = store.list("sub").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, "sub/a");
    store.delete("sub/a").await.unwrap();
    assert!(matches!(
        store.get_envelope("sub/a", &expect(), u64::MAX).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn small_round_trip(store: Store) {
    round_trip(store, 1000).await;
}

async fn large_round_trip(store: Store) {
    // 300 MB: multipart upload in 16 MB parts, parallel ranged download.
    round_trip(store, 300 << 20).await;
}

async fn tampered_payload(store: Store) {
    put(&store, "sub/t", payload(5000)).await;
    let mut bytes = store.get("sub/t", u64::MAX).await.unwrap().to_vec();
    bytes[HEADER_LEN + 1234] ^= 1;
    store
        .put("sub/t", PutPayload::from(bytes), false)
        .await
        .unwrap();
    let err = store
        .get_envelope("sub/t", &expect(), u64::MAX)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Envelope {
                source: EnvelopeError::PayloadHash,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("sub/t"), "{err}");
}

async fn wrong_signer(store: Store) {
    let eve = Keypair::dev("eve");
    store
        .put_envelope(
            "sub/e",
            &eve,
            Kind::Submission,
            RUN,
            4,
            BASE,
            payload(100),
            true,
        )
        .await
        .unwrap();
    let err = store
        .get_envelope("sub/e", &expect(), u64::MAX)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("signer") && text.contains(&eve.account().to_ss58()),
        "{text}"
    );
    // A header re-signed by nobody: the signature names the miner but was made by eve.
    let mut bytes = store.get("sub/e", u64::MAX).await.unwrap().to_vec();
    bytes[88..120].copy_from_slice(&miner().account().0);
    store
        .put("sub/e", PutPayload::from(bytes), false)
        .await
        .unwrap();
    let err = store
        .get_envelope("sub/e", &expect(), u64::MAX)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Envelope {
                source: EnvelopeError::BadSignature(_),
                ..
            }
        ),
        "{err}"
    );
}

async fn oversized_refused_unread(store: Store) {
    put(&store, "sub/big", payload(3 << 20)).await;
    let counting = Arc::new(support::CountingStore {
        inner: store.inner().clone(),
        content_gets: AtomicUsize::new(0),
    });
    // The same objects, seen through a store that counts content GETs.
    let watched = Store::with_inner(counting.clone(), "watched", StoreConfig::default());
    let key = full_key(&store, "sub/big").await;
    let err = watched
        .get_envelope(&key, &Expect::default(), 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::TooLarge { size, cap: 1048576, .. } if size == (3 << 20) + HEADER_LEN as u64),
        "{err}"
    );
    assert!(err.to_string().contains("not downloaded"));
    assert_eq!(counting.content_gets.load(Ordering::SeqCst), 0);
    // Under the cap it is read (and that is counted).
    watched
        .get_envelope(&key, &expect(), 4 << 20)
        .await
        .unwrap();
    assert!(counting.content_gets.load(Ordering::SeqCst) > 0);
}

/// The key of `key` as seen by the underlying object store (with the store's prefix).
async fn full_key(store: &Store, key: &str) -> String {
    let metas: Vec<object_store::ObjectMeta> =
        futures::TryStreamExt::try_collect(store.inner().list(None))
            .await
            .unwrap();
    metas
        .into_iter()
        .map(|m| m.location.to_string())
        .find(|l| l.ends_with(key))
        .unwrap()
}

async fn truncated(store: Store) {
    put(&store, "sub/cut", payload(40_000)).await;
    let bytes = store.get("sub/cut", u64::MAX).await.unwrap();
    for cut in [HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 39_999] {
        store
            .put("sub/cut", PutPayload::from(bytes.slice(..cut)), false)
            .await
            .unwrap();
        let err = store
            .get_envelope("sub/cut", &expect(), u64::MAX)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Envelope {
                    source: EnvelopeError::Truncated { .. },
                    ..
                }
            ),
            "cut at {cut}: {err}"
        );
    }
}

async fn written_once(store: Store) {
    put(&store, "sub/once", payload(10)).await;
    let err = store
        .put_envelope(
            "sub/once",
            &miner(),
            Kind::Submission,
            RUN,
            4,
            BASE,
            payload(11),
            true,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let opened = store
        .get_envelope("sub/once", &expect(), u64::MAX)
        .await
        .unwrap();
    assert_eq!(opened.payload.len(), 10);
}

/// Publishing is idempotent for the same contents and refuses different ones.
async fn published_once(store: Store) {
    let publish = |data: Bytes, window: u64| {
        let store = store.clone();
        async move {
            store
                .publish_envelope("agg/0", &miner(), Kind::Aggregate, RUN, window, BASE, data)
                .await
        }
    };
    let same = Bytes::from_static(b"the same aggregate");
    publish(same.clone(), 0).await.unwrap();
    publish(same.clone(), 0).await.unwrap();
    let other = publish(Bytes::from_static(b"another aggregate!"), 0)
        .await
        .unwrap_err();
    assert!(matches!(other, StoreError::Conflict { .. }), "{other}");
    assert!(other.to_string().contains("already holds something other"));
    let longer = publish(Bytes::from_static(b"a longer aggregate than that"), 0)
        .await
        .unwrap_err();
    assert!(matches!(longer, StoreError::Conflict { .. }), "{longer}");
    // Same bytes under another window are not the same envelope.
    assert!(publish(same, 1).await.is_err());
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::file_store()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = tokio::task::spawn_blocking(super::support::s3_store).await.unwrap();
                    super::$name(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    small_round_trip,
    large_round_trip,
    tampered_payload,
    wrong_signer,
    oversized_refused_unread,
    truncated,
    written_once,
    published_once,
);

/// A node killed in the middle of writing to a directory store leaves the write's staging file
/// (`KEY#N`) behind. It is not an object: listing skips it and the write, done again after the
/// restart, publishes the key as if nothing had happened.
#[tokio::test]
async fn a_write_cut_short_leaves_nothing_that_counts() {
    let dir = tempfile::tempdir().unwrap();
    let location = gradient_store::Location::File {
        root: dir.path().to_path_buf(),
    };
    let store = Store::open(&location, StoreConfig::default()).unwrap();
    std::fs::create_dir_all(dir.path().join("agg")).unwrap();
    std::fs::write(dir.path().join("agg/0#1"), b"half an agg").unwrap();
    assert!(store.list("agg").await.unwrap().is_empty());

    let data = Bytes::from_static(b"the whole aggregate");
    store
        .publish_envelope(
            "agg/0",
            &miner(),
            Kind::Aggregate,
            RUN,
            0,
            BASE,
            data.clone(),
        )
        .await
        .unwrap();
    let listed = store.list("agg").await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
        vec!["agg/0"]
    );
    let expect = Expect {
        kind: Some(Kind::Aggregate),
        window: Some(0),
        ..expect()
    };
    let opened = store
        .get_envelope("agg/0", &expect, u64::MAX)
        .await
        .unwrap();
    assert_eq!(opened.payload, data);
}

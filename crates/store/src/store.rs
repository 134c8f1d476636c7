//! [`Store`]: one bucket (or directory) with bounded, verified reads and robust writes.
//!
//! Writes of large objects go up as multipart uploads with parts in parallel; an upload that
//! fails is aborted and never becomes visible. Reads check the size first (HEAD) and refuse an
//! object over the caller's cap without downloading it; large objects come down as parallel
//! ranged GETs, never more bytes than HEAD reported. Every request has a timeout, and transient
//! failures are retried with exponential backoff and jitter (object_store's retry policy).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use gradient_identity::Keypair;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};

use crate::envelope::{Expect, HEADER_LEN, Hash, Header, Kind};
use crate::error::StoreError;
use crate::location::Location;

/// Sizes, parallelism and time limits of a store's transfers.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Objects larger than this go up as multipart uploads.
    pub multipart_threshold: u64,
    /// Size of one multipart part or one ranged GET.
    pub part_size: usize,
    /// Parts or ranges in flight at once.
    pub concurrency: usize,
    /// One HTTP request, including its body.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries of one failed request, and the time after which no retry starts.
    pub max_retries: usize,
    pub retry_timeout: Duration,
    /// A whole put or get, all parts and retries included.
    pub operation_timeout: Duration,
    /// Sign S3 requests without hashing their bodies (`UNSIGNED-PAYLOAD`). Envelopes carry
    /// their own signed blake3, so SigV4's SHA-256 of every byte adds CPU and no protection.
    pub unsigned_payload: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            multipart_threshold: 32 << 20,
            part_size: 8 << 20,
            concurrency: 16,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
            operation_timeout: Duration::from_secs(600),
            unsigned_payload: true,
        }
    }
}

/// A verified envelope: its signed header and its payload, which matched the header's hash.
#[derive(Debug, Clone)]
pub struct Opened {
    pub header: Header,
    pub payload: Bytes,
}

/// An object found by [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    root: Path,
    url: String,
    /// (bucket, endpoint) for S3, to name them in authentication errors.
    bucket: Option<(String, String)>,
    access_key_id: Option<String>,
    config: StoreConfig,
}

impl Store {
    pub fn open(location: &Location, config: StoreConfig) -> Result<Store, StoreError> {
        let url = location.url();
        let config_error = |why: String| StoreError::Config {
            url: url.clone(),
            why,
        };
        match location {
            Location::File { root } => {
                std::fs::create_dir_all(root)
                    .map_err(|e| config_error(format!("cannot create {}: {e}", root.display())))?;
                let fs = LocalFileSystem::new_with_prefix(root)
                    .map_err(|e| config_error(e.to_string()))?
                    .with_automatic_cleanup(true);
                Ok(Store {
                    inner: Arc::new(fs),
                    root: Path::default(),
                    url,
                    bucket: None,
                    access_key_id: None,
                    config,
                })
            }
            Location::S3 {
                bucket,
                prefix,
                credentials,
            } => {
                let (Some(key_id), Some(secret)) =
                    (&credentials.access_key_id, &credentials.secret_access_key)
                else {
                    return Err(config_error(
                        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                         (in the environment or a .env file)"
                            .into(),
                    ));
                };
                let endpoint = credentials.endpoint.clone();
                let region = credentials
                    .region
                    .clone()
                    .unwrap_or_else(|| "us-east-1".to_string());
                let retry = RetryConfig {
                    backoff: BackoffConfig {
                        init_backoff: Duration::from_millis(100),
                        max_backoff: Duration::from_secs(5),
                        base: 2.0,
                    },
                    max_retries: config.max_retries,
                    retry_timeout: config.retry_timeout,
                };
                let plain_http = endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://"));
                let client = ClientOptions::new()
                    .with_timeout(config.request_timeout)
                    .with_connect_timeout(config.connect_timeout)
                    .with_allow_http(plain_http);
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&region)
                    .with_access_key_id(key_id)
                    .with_secret_access_key(secret)
                    .with_retry(retry)
                    .with_unsigned_payload(config.unsigned_payload)
                    .with_client_options(client);
                if let Some(token) = &credentials.session_token {
                    builder = builder.with_token(token);
                }
                if let Some(endpoint) = &endpoint {
                    // Path-style requests work on every S3-compatible server.
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false)
                        .with_allow_http(plain_http);
                }
                let s3 = builder.build().map_err(|e| config_error(e.to_string()))?;
                let endpoint = endpoint.unwrap_or_else(|| format!("s3.{region}.amazonaws.com"));
                Ok(Store {
                    inner: Arc::new(s3),
                    root: Path::from(prefix.as_str()),
                    url,
                    bucket: Some((bucket.clone(), endpoint)),
                    access_key_id: Some(key_id.clone()),
                    config,
                })
            }
        }
    }

    /// Wraps another `ObjectStore` (a throttled or instrumented one, say) under the same rules.
    pub fn with_inner(inner: Arc<dyn ObjectStore>, url: &str, config: StoreConfig) -> Store {
        Store {
            inner,
            root: Path::default(),
            url: url.to_string(),
            bucket: None,
            access_key_id: None,
            config,
        }
    }

    /// The underlying object store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    fn path(&self, key: &str) -> Path {
        let mut path = self.root.clone();
        for part in key.split('/').filter(|p| !p.is_empty()) {
            path = path.clone().join(part);
        }
        path
    }

    /// Writes `payload` at `key`. With `once`, refuses to replace an existing object where the
    /// server supports it (correctness never depends on that: readers verify everything).
    pub async fn put(&self, key: &str, payload: PutPayload, once: bool) -> Result<(), StoreError> {
        let path = self.path(key);
        let len = payload.content_length() as u64;
        let work = async {
            if len > self.config.multipart_threshold {
                self.put_multipart(key, &path, payload).await
            } else {
                let mode = if once {
                    PutMode::Create
                } else {
                    PutMode::Overwrite
                };
                let options = PutOptions {
                    mode,
                    ..Default::default()
                };
                self.inner
                    .put_opts(&path, payload, options)
                    .await
                    .map(|_| ())
                    .map_err(|e| self.backend(key, "put", e))
            }
        };
        self.timed(key, "put", work).await
    }

    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        payload: PutPayload,
    ) -> Result<(), StoreError> {
        let upload = self
            .inner
            .put_multipart(path)
            .await
            .map_err(|e| self.backend(key, "multipart start", e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.config.part_size);
        for chunk in payload.iter() {
            let mut chunk = chunk.clone();
            while !chunk.is_empty() {
                if let Err(e) = writer.wait_for_capacity(self.config.concurrency).await {
                    let _ = writer.abort().await;
                    return Err(self.backend(key, "multipart upload", e));
                }
                let take = chunk.len().min(self.config.part_size);
                writer.put(chunk.split_to(take));
            }
        }
        writer
            .finish()
            .await
            .map(|_| ())
            .map_err(|e| self.backend(key, "multipart upload", e))
    }

    /// Seals `payload` in an envelope signed by `signer` and writes it at `key`.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_envelope(
        &self,
        key: &str,
        signer: &Keypair,
        kind: Kind,
        run: Hash,
        window: u64,
        base: Hash,
        payload: Bytes,
        once: bool,
    ) -> Result<Header, StoreError> {
        let (header, head) = Header::seal(signer, kind, run, window, base, &payload);
        let body = PutPayload::from_iter([Bytes::from(head), payload]);
        self.put(key, body, once).await?;
        Ok(header)
    }

    /// Writes an envelope once, idempotently: when `key` already holds the same envelope
    /// contents (signer, kind, run, window, base and payload) that is success, as when a
    /// restarted node redoes its work; when it holds anything else, [`StoreError::Conflict`].
    #[allow(clippy::too_many_arguments)]
    pub async fn publish_envelope(
        &self,
        key: &str,
        signer: &Keypair,
        kind: Kind,
        run: Hash,
        window: u64,
        base: Hash,
        payload: Bytes,
    ) -> Result<(), StoreError> {
        let hash = blake3::hash(&payload);
        let size = (HEADER_LEN + payload.len()) as u64;
        match self
            .put_envelope(key, signer, kind, run, window, base, payload, true)
            .await
        {
            Err(StoreError::AlreadyExists { .. }) => {}
            other => return other.map(|_| ()),
        }
        let conflict = || StoreError::Conflict {
            store: self.url.clone(),
            key: key.to_string(),
        };
        if self.size(key).await? != Some(size) {
            return Err(conflict());
        }
        let expect = Expect {
            kind: Some(kind),
            run: Some(run),
            window: Some(window),
            base: Some(base),
            signer: Some(signer.account()),
        };
        let existing = self.get_envelope(key, &expect, size).await?;
        if blake3::hash(&existing.payload) == hash {
            Ok(())
        } else {
            Err(conflict())
        }
    }

    /// The size of the object at `key`, or `None` if there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let path = self.path(key);
        let work = async {
            match self.inner.head(&path).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.backend(key, "head", e)),
            }
        };
        self.timed(key, "head", work).await
    }

    /// The size of the object at `key` and when the server says it was written (Unix ms).
    pub async fn stat(&self, key: &str) -> Result<Option<(u64, u64)>, StoreError> {
        let path = self.path(key);
        let work = async {
            match self.inner.head(&path).await {
                Ok(meta) => Ok(Some((
                    meta.size,
                    meta.last_modified.timestamp_millis().max(0) as u64,
                ))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.backend(key, "head", e)),
            }
        };
        self.timed(key, "head", work).await
    }

    /// Reads the object at `key`, refusing it unread if it is over `cap` bytes.
    pub async fn get(&self, key: &str, cap: u64) -> Result<Bytes, StoreError> {
        let work = async {
            let size = self.checked_size(key, cap).await?;
            self.get_range(key, 0, size).await
        };
        self.timed(key, "get", work).await
    }

    /// Reads and verifies an envelope: size against `cap` before anything is downloaded, then
    /// the header's signature and `expect`, then the payload's length and hash.
    pub async fn get_envelope(
        &self,
        key: &str,
        expect: &Expect,
        cap: u64,
    ) -> Result<Opened, StoreError> {
        let work = async {
            let size = self.checked_size(key, cap).await?;
            let envelope = |source| StoreError::Envelope {
                store: self.url.clone(),
                key: key.to_string(),
                source,
            };
            // Small objects in one request; large ones header first, so a stranger's or a
            // stale object costs 224 bytes, not its payload.
            let first = if size <= self.config.part_size as u64 {
                size
            } else {
                HEADER_LEN as u64
            };
            let head = self.get_range(key, 0, first.min(size)).await?;
            let header = Header::open(&head, expect).map_err(envelope)?;
            if header.object_len() != size {
                return Err(envelope(crate::error::EnvelopeError::Truncated {
                    got: size,
                    need: header.object_len(),
                }));
            }
            let payload = if first == size {
                head.slice(HEADER_LEN..)
            } else {
                self.get_range(key, HEADER_LEN as u64, size).await?
            };
            header.check_payload(&payload).map_err(envelope)?;
            Ok(Opened { header, payload })
        };
        self.timed(key, "get", work).await
    }

    async fn checked_size(&self, key: &str, cap: u64) -> Result<u64, StoreError> {
        let size = self.size(key).await?.ok_or_else(|| StoreError::NotFound {
            store: self.url.clone(),
            key: key.to_string(),
        })?;
        if size > cap {
            return Err(StoreError::TooLarge {
                store: self.url.clone(),
                key: key.to_string(),
                size,
                cap,
            });
        }
        Ok(size)
    }

    /// Bytes `start..end`, in parallel ranges when large; exactly that many or an error. Each
    /// range streams straight into its own slice of one buffer, so the bytes are copied once.
    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Bytes, StoreError> {
        let path = self.path(key);
        let part = self.config.part_size as u64;
        let mut buffer = BytesMut::zeroed((end - start) as usize);
        let mut slots = Vec::new();
        for s in (start..end).step_by(part as usize) {
            let len = part.min(end - s) as usize;
            slots.push((s, buffer.split_to(len)));
        }
        let filled: Vec<BytesMut> = futures::stream::iter(slots)
            .map(|(s, slot)| self.fill_range(key, &path, s, slot))
            .buffered(self.config.concurrency)
            .try_collect()
            .await?;
        let mut out = BytesMut::new();
        for slot in filled {
            // Adjacent splits of one allocation: unsplit joins them without copying.
            out.unsplit(slot);
        }
        Ok(out.freeze())
    }

    async fn fill_range(
        &self,
        key: &str,
        path: &Path,
        start: u64,
        mut slot: BytesMut,
    ) -> Result<BytesMut, StoreError> {
        let want = slot.len();
        let options = object_store::GetOptions {
            range: Some((start..start + want as u64).into()),
            ..Default::default()
        };
        let result = self
            .inner
            .get_opts(path, options)
            .await
            .map_err(|e| self.backend(key, "get", e))?;
        let mut stream = result.into_stream();
        let mut filled = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.backend(key, "get", e))?;
            if filled + chunk.len() > want {
                return Err(self.truncated(key, (filled + chunk.len()) as u64, want as u64));
            }
            slot[filled..filled + chunk.len()].copy_from_slice(&chunk);
            filled += chunk.len();
        }
        if filled != want {
            return Err(self.truncated(key, filled as u64, want as u64));
        }
        Ok(slot)
    }

    fn truncated(&self, key: &str, got: u64, need: u64) -> StoreError {
        StoreError::Envelope {
            store: self.url.clone(),
            key: key.to_string(),
            source: crate::error::EnvelopeError::Truncated { got, need },
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key);
        match self.inner.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend(key, "delete", e)),
        }
    }

    /// Every object under `prefix`, with keys relative to the store's root.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        let path = self.path(prefix);
        let root_parts = self.root.parts().count();
        let metas: Vec<_> = self
            .inner
            .list(Some(&path))
            .try_collect()
            .await
            .map_err(|e| self.backend(prefix, "list", e))?;
        let mut listed: Vec<Listed> = metas
            .into_iter()
            .map(|meta| Listed {
                key: meta
                    .location
                    .parts()
                    .skip(root_parts)
                    .map(|p| p.as_ref().to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
                size: meta.size,
            })
            .collect();
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    async fn timed<T>(
        &self,
        key: &str,
        op: &'static str,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.config.operation_timeout, work)
            .await
            .map_err(|_| StoreError::Timeout {
                store: self.url.clone(),
                key: key.to_string(),
                op,
                secs: self.config.operation_timeout.as_secs(),
            })?
    }

    /// Names the bucket and the credential at fault when a server refuses us.
    fn backend(&self, key: &str, op: &'static str, error: object_store::Error) -> StoreError {
        match error {
            object_store::Error::NotFound { .. } => {
                return StoreError::NotFound {
                    store: self.url.clone(),
                    key: key.to_string(),
                };
            }
            object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. } => {
                return StoreError::AlreadyExists {
                    store: self.url.clone(),
                    key: key.to_string(),
                };
            }
            _ => {}
        }
        let text = error.to_string();
        if let Some((bucket, endpoint)) = &self.bucket {
            let key_id = self.access_key_id.as_deref().unwrap_or("?");
            let why = if text.contains("InvalidAccessKeyId") {
                Some(format!(
                    "the access key id {key_id:?} (AWS_ACCESS_KEY_ID) is not known to the server"
                ))
            } else if text.contains("SignatureDoesNotMatch") {
                Some(format!(
                    "the secret (AWS_SECRET_ACCESS_KEY) is wrong for access key id {key_id:?}"
                ))
            } else if text.contains("NoSuchBucket") {
                Some("the bucket does not exist; create it or fix the name".to_string())
            } else if text.contains("AccessDenied") {
                Some(format!("access key id {key_id:?} may not {op} here"))
            } else {
                None
            };
            if let Some(why) = why {
                return StoreError::Auth {
                    bucket: bucket.clone(),
                    endpoint: endpoint.clone(),
                    why,
                };
            }
        }
        StoreError::Backend {
            store: self.url.clone(),
            key: key.to_string(),
            op,
            source: Box::new(error),
        }
    }
}

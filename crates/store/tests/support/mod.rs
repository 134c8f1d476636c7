//! Test backends: a temporary directory, and a real S3 server (SeaweedFS with authentication).
//! `.ci/run` starts SeaweedFS and exports `GRADIENT_TEST_S3_*`; without them, the tests start a
//! private instance that dies with the test process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gradient_store::{Location, S3Credentials, Store, StoreConfig};

pub const BUCKET: &str = "gradient-test";
pub const KEY: &str = "gradient-test";
pub const SECRET: &str = "gradient-test-secret";
pub const READ_KEY: &str = "gradient-reader";
pub const READ_SECRET: &str = "gradient-reader-secret";

pub struct S3Server {
    pub endpoint: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
    pub data: Option<PathBuf>,
    pub base_port: u16,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl S3Server {
    /// Starts a private SeaweedFS; it is killed when dropped or when this process dies.
    pub fn start() -> S3Server {
        // A server that does not answer within a minute (once in a CI run, under load, without
        // a trace) is replaced by one on other ports; the third failure shows its log.
        for attempt in 1..=3 {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().to_path_buf();
            let base = free_port_block();
            let mut server = S3Server {
                endpoint: format!("http://127.0.0.1:{}", base + 6),
                child: None,
                _dir: Some(dir),
                data: Some(data),
                base_port: base,
            };
            server.launch();
            if is_ready(&server.endpoint) {
                return server;
            }
            assert!(
                attempt < 3,
                "SeaweedFS at {} did not come up; its log:\n{}",
                server.endpoint,
                server.log()
            );
            server.kill();
        }
        unreachable!()
    }

    /// (Re)starts the server process on the same directory and ports.
    pub fn spawn(&mut self) {
        self.launch();
        assert!(
            is_ready(&self.endpoint),
            "SeaweedFS at {} did not come up; its log:\n{}",
            self.endpoint,
            self.log()
        );
    }

    fn launch(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/seaweedfs.sh");
        let log = std::fs::File::create(self.data.as_ref().unwrap().join("weed.log")).unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .arg("run")
            .arg(self.data.as_ref().unwrap())
            .arg(self.base_port.to_string())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        // The server must not outlive the tests, however they end.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // PR_SET_PDEATHSIG fires when the spawning *thread* ends: spawn from one that never does.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            tx.send(cmd.spawn()).unwrap();
            loop {
                std::thread::park();
            }
        });
        self.child = Some(rx.recv().unwrap().expect("start SeaweedFS"));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.as_ref().unwrap().join("weed.log")).unwrap_or_default()
    }

    /// Kills the server process (SIGKILL), keeping its data.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port_block() -> u16 {
    // Twelve consecutive free ports, starting somewhere this process is unlikely to collide.
    let seed = std::process::id() as u64 * 7919 + Instant::now().elapsed().as_nanos() as u64;
    for attempt in 0..200u64 {
        let base = 20_000 + ((seed + attempt * 1237) % 1_800) as u16 * 20;
        if (0..12).all(|k| std::net::TcpListener::bind(("127.0.0.1", base + k)).is_ok()) {
            return base;
        }
    }
    panic!("no block of 12 free ports");
}

/// Whether the server answers an authenticated request within a minute.
fn is_ready(endpoint: &str) -> bool {
    let store = s3_store_at(endpoint, KEY, SECRET, StoreConfig::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if runtime.block_on(store.size("ready-probe")).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The shared S3 server: the one `.ci/run` started, or a private one.
pub fn s3_endpoint() -> String {
    static SERVER: OnceLock<(String, Option<S3Server>)> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("GRADIENT_TEST_S3_ENDPOINT") {
            Ok(endpoint) => (endpoint, None),
            Err(_) => {
                let server = S3Server::start();
                (server.endpoint.clone(), Some(server))
            }
        })
        .0
        .clone()
}

pub fn s3_store_at(endpoint: &str, key: &str, secret: &str, config: StoreConfig) -> Store {
    let credentials = S3Credentials {
        endpoint: Some(endpoint.to_string()),
        region: Some("us-east-1".into()),
        access_key_id: Some(key.into()),
        secret_access_key: Some(secret.into()),
        session_token: None,
    };
    // Each test writes under its own prefix, so tests share the bucket safely.
    let prefix = format!("t{}-{}", std::process::id(), unique());
    let location = Location::parse(&format!("s3://{BUCKET}/{prefix}"), &credentials).unwrap();
    Store::open(&location, config).unwrap()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

pub fn s3_store() -> Store {
    s3_store_with(StoreConfig::default())
}

pub fn s3_store_with(config: StoreConfig) -> Store {
    s3_store_at(&s3_endpoint(), KEY, SECRET, config)
}

/// A file store in a fresh temporary directory (kept alive for the test process).
pub fn file_store() -> Store {
    file_store_with(StoreConfig::default())
}

pub fn file_store_with(config: StoreConfig) -> Store {
    static DIRS: OnceLock<std::sync::Mutex<Vec<tempfile::TempDir>>> = OnceLock::new();
    let dir = tempfile::tempdir().unwrap();
    let location = Location::File {
        root: dir.path().to_path_buf(),
    };
    DIRS.get_or_init(Default::default).lock().unwrap().push(dir);
    Store::open(&location, config).unwrap()
}

/// Forwards to another store, counting the GETs that fetch content (not HEADs).
#[derive(Debug)]
pub struct CountingStore {
    pub inner: std::sync::Arc<dyn object_store::ObjectStore>,
    pub content_gets: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Display for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        if !options.head {
            self.content_gets
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &object_store::path::Path,
        to: &object_store::path::Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

//! The embedded chain over HTTP/JSON, for devnets that span hosts: [`serve`] exposes a
//! [`LocalChain`], [`RemoteChain`] implements [`Chain`] against it. Reads are plain GETs;
//! the one write is `POST /v1/submit` with a [`SignedCall`], which the chain verifies itself, so
//! the server holds no keys and trusts no client.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::call::{MAX_CALL_BYTES, SignedCall};
use crate::chain::EmbeddedChain;
use crate::error::ChainError;
use crate::keys::AccountId;
use crate::local::LocalChain;
use crate::types::{Commitment, EpochRecord, Head, Metagraph, Receipt, SubnetParams};

/// The largest response a client reads: a metagraph of 4096 neurons with full rows fits.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;
const MAX_REQUEST_BYTES: usize = MAX_CALL_BYTES * 2 + 4096;
const WORKERS: usize = 4;

#[derive(Serialize, Deserialize)]
struct ChainInfo {
    chain_id: String,
    params: SubnetParams,
}

#[derive(Serialize, Deserialize)]
struct ErrorBody {
    kind: String,
    error: String,
}

/// A running chain server; dropping it stops the server.
pub struct ChainServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl ChainServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Blocks until the server stops (it runs until the process ends).
    pub fn join(mut self) {
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for ChainServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        for _ in 1..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Serves `chain` on `listen` (such as `127.0.0.1:9944`; port 0 picks a free one).
pub fn serve(chain: Arc<LocalChain>, listen: &str) -> Result<ChainServer, ChainError> {
    let server = tiny_http::Server::http(listen).map_err(|e| ChainError::Remote {
        url: listen.to_string(),
        why: format!("cannot listen: {e}"),
    })?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| ChainError::Remote {
            url: listen.to_string(),
            why: "not an IP address".into(),
        })?;
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = (0..WORKERS)
        .map(|_| {
            let server = server.clone();
            let chain = chain.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match server.recv() {
                        Ok(request) => handle(&chain, request),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    tracing::info!(%addr, "chain server listening");
    Ok(ChainServer {
        addr,
        server,
        stop,
        workers,
    })
}

fn handle(chain: &LocalChain, mut request: tiny_http::Request) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let result = match (request.method(), path) {
        (tiny_http::Method::Post, "/v1/submit") => read_call(&mut request)
            .and_then(|call| chain.submit(&call))
            .map(|r| to_json(&r)),
        (tiny_http::Method::Get, path) => get(chain, path, query),
        _ => Err(ChainError::Malformed(format!("no route {path}"))),
    };
    let (status, body) = match result {
        Ok(body) => (200, body),
        Err(e) => {
            let status = match &e {
                ChainError::Db { .. } => 500,
                ChainError::RateLimited { .. } => 429,
                ChainError::BadSignature(_) => 401,
                _ => 400,
            };
            if status == 500 {
                tracing::error!(error = %e, "chain request failed");
            }
            let body = ErrorBody {
                kind: kind_of(&e).into(),
                error: e.to_string(),
            };
            (status, to_json(&body))
        }
    };
    let header = tiny_http::Header::from_bytes("Content-Type", "application/json")
        .expect("a static header is valid");
    let response = tiny_http::Response::from_string(body)
        .with_status_code(status)
        .with_header(header);
    let _ = request.respond(response);
}

fn get(chain: &LocalChain, path: &str, query: &str) -> Result<String, ChainError> {
    let account =
        |text: &str| AccountId::from_ss58(text).map_err(|e| ChainError::Malformed(e.to_string()));
    Ok(match path {
        "/v1/chain" => to_json(&ChainInfo {
            chain_id: chain.chain_id()?,
            params: chain.params()?,
        }),
        "/v1/head" => to_json(&chain.head()?),
        "/v1/metagraph" => to_json(&chain.metagraph()?),
        "/v1/commitments" => to_json(&chain.commitments()?),
        "/v1/epochs" => {
            let since = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("since="))
                .unwrap_or("0")
                .parse::<u64>()
                .map_err(|_| ChainError::Malformed("since must be a block number".into()))?;
            to_json(&chain.epochs(since)?)
        }
        _ => {
            if let Some(who) = path.strip_prefix("/v1/commitment/") {
                to_json(&chain.commitment(&account(who)?)?)
            } else if let Some(block) = path.strip_prefix("/v1/block_hash/") {
                let block = block
                    .parse::<u64>()
                    .map_err(|_| ChainError::Malformed("not a block number".into()))?;
                to_json(&hex::encode(chain.block_hash(block)?))
            } else if let Some(who) = path.strip_prefix("/v1/nonce/") {
                to_json(&chain.nonce(&account(who)?)?)
            } else {
                return Err(ChainError::Malformed(format!("no route {path}")));
            }
        }
    })
}

fn read_call(request: &mut tiny_http::Request) -> Result<SignedCall, ChainError> {
    if request.body_length().is_some_and(|n| n > MAX_REQUEST_BYTES) {
        return Err(ChainError::Malformed(format!(
            "request body over {MAX_REQUEST_BYTES} bytes"
        )));
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ChainError::Malformed(format!("reading the request: {e}")))?;
    if body.len() > MAX_REQUEST_BYTES {
        return Err(ChainError::Malformed(format!(
            "request body over {MAX_REQUEST_BYTES} bytes"
        )));
    }
    serde_json::from_slice(&body).map_err(|e| ChainError::Malformed(e.to_string()))
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("chain types always serialise")
}

/// A short, stable name for each refusal, so a remote client can tell them apart.
fn kind_of(e: &ChainError) -> &'static str {
    match e {
        ChainError::NotRegistered(_) => "not_registered",
        ChainError::NoPermit(_) => "no_permit",
        ChainError::InvalidWeights(_) => "invalid_weights",
        ChainError::RateLimited { .. } => "rate_limited",
        ChainError::Version { .. } => "version",
        ChainError::CommitmentTooLarge(_) => "commitment_too_large",
        ChainError::SubnetFull(..) => "subnet_full",
        ChainError::BadSignature(_) => "bad_signature",
        ChainError::Replay { .. } => "replay",
        ChainError::WrongChain { .. } => "wrong_chain",
        ChainError::Malformed(_) => "malformed",
        ChainError::Invalid(_) => "invalid",
        ChainError::Db { .. } => "internal",
        ChainError::Remote { .. } | ChainError::Refused { .. } => "remote",
    }
}

/// A chain served by `gradient chain serve`, reached over HTTP with timeouts and size limits.
pub struct RemoteChain {
    url: String,
    agent: ureq::Agent,
    info: ChainInfo,
}

impl RemoteChain {
    /// Connects to `url` (such as `http://127.0.0.1:9944`) and reads its id and parameters.
    pub fn connect(url: &str) -> Result<Self, ChainError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        let url = url.trim_end_matches('/').to_string();
        let mut chain = RemoteChain {
            url,
            agent,
            info: ChainInfo {
                chain_id: String::new(),
                params: SubnetParams::devnet(0),
            },
        };
        chain.info = chain.get("/v1/chain")?;
        Ok(chain)
    }

    fn remote(&self, why: impl std::fmt::Display) -> ChainError {
        ChainError::Remote {
            url: self.url.clone(),
            why: why.to_string(),
        }
    }

    fn answer<T: for<'de> Deserialize<'de>>(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ChainError> {
        let mut response = response.map_err(|e| self.remote(e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| self.remote(e))?;
        if status != 200 {
            let (kind, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(e) => (e.kind, e.error),
                Err(_) => (
                    "http".to_string(),
                    format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    ),
                ),
            };
            return Err(ChainError::Refused {
                url: self.url.clone(),
                kind,
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| self.remote(format!("unreadable answer: {e}")))
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ChainError> {
        self.answer(self.agent.get(format!("{}{path}", self.url)).call())
    }
}

impl std::fmt::Debug for RemoteChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteChain")
            .field("url", &self.url)
            .finish()
    }
}

impl EmbeddedChain for RemoteChain {
    fn chain_id(&self) -> Result<String, ChainError> {
        Ok(self.info.chain_id.clone())
    }

    fn params(&self) -> Result<SubnetParams, ChainError> {
        Ok(self.info.params.clone())
    }

    fn head(&self) -> Result<Head, ChainError> {
        self.get("/v1/head")
    }

    fn metagraph(&self) -> Result<Metagraph, ChainError> {
        self.get("/v1/metagraph")
    }

    fn commitment(&self, hotkey: &AccountId) -> Result<Option<Commitment>, ChainError> {
        self.get(&format!("/v1/commitment/{hotkey}"))
    }

    fn commitments(&self) -> Result<Vec<Commitment>, ChainError> {
        self.get("/v1/commitments")
    }

    fn epochs(&self, since_block: u64) -> Result<Vec<EpochRecord>, ChainError> {
        self.get(&format!("/v1/epochs?since={since_block}"))
    }

    fn nonce(&self, hotkey: &AccountId) -> Result<u64, ChainError> {
        self.get(&format!("/v1/nonce/{hotkey}"))
    }

    fn block_hash(&self, block: u64) -> Result<[u8; 32], ChainError> {
        let text: String = self.get(&format!("/v1/block_hash/{block}"))?;
        hex::decode(&text)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| self.remote("malformed block hash"))
    }

    fn submit(&self, call: &SignedCall) -> Result<Receipt, ChainError> {
        let body = to_json(call);
        self.answer(
            self.agent
                .post(format!("{}/v1/submit", self.url))
                .header("Content-Type", "application/json")
                .send(body.as_str()),
        )
    }
}

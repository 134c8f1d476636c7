//! [`Subtensor`]: one connection to a subtensor node, every call bounded in time, with call and
//! storage shapes read from the metadata the node serves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gradient_chain::{AccountId, Keypair};
use subxt::OnlineClient;
use subxt::config::{Header, RpcConfigFor};
use subxt::dynamic::{self, Value};
use subxt::ext::scale_value::Composite;
use subxt::rpcs::{LegacyRpcMethods, RpcClient};
use subxt::utils::H256;

use crate::config::{ChainConfig, RuntimeVersion};
use crate::error::SubtensorError;
use crate::network::Endpoint;
use crate::signer::Signer;
use crate::value;

type Client = OnlineClient<ChainConfig>;
type AtBlock = subxt::OnlineClientAtBlock<ChainConfig>;
type Rpc = LegacyRpcMethods<RpcConfigFor<ChainConfig>>;

/// A finalized block: its number, hash and the time the chain recorded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub number: u64,
    pub hash: [u8; 32],
    /// `Timestamp.Now` at this block.
    pub timestamp_ms: u64,
}

/// A bucket location as committed on chain, and the block it was committed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedData {
    pub block: u64,
    pub data: Vec<u8>,
}

/// How long to wait: for one answer, and for a transaction to be finalized.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub answer: Duration,
    pub inclusion: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // Finney finalizes in about two 12 s blocks; a minute is a few blocks of slack.
        Timeouts {
            answer: Duration::from_secs(30),
            inclusion: Duration::from_secs(60),
        }
    }
}

/// The finalized head as last read: the client at it and its [`Block`]. Nodes ask for the head
/// several times a second; while it stands, one cheap call (its hash) answers them.
#[derive(Clone)]
struct HeadAt {
    at: AtBlock,
    block: Block,
}

#[derive(Clone)]
pub struct Subtensor {
    client: Client,
    rpc: Rpc,
    config: ChainConfig,
    head: Arc<Mutex<Option<HeadAt>>>,
    url: String,
    timeouts: Timeouts,
}

impl Subtensor {
    pub async fn connect(endpoint: &Endpoint, timeouts: Timeouts) -> Result<Self, SubtensorError> {
        let url = endpoint.url.clone();
        let config = ChainConfig::default();
        let connect = async {
            let rpc = RpcClient::from_insecure_url(&url)
                .await
                .map_err(|e| e.to_string())?;
            let client = Client::from_rpc_client_with_config(config.clone(), rpc.clone())
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((client, Rpc::new(rpc)))
        };
        let (client, rpc) = tokio::time::timeout(timeouts.answer, connect)
            .await
            .map_err(|_| SubtensorError::Connect {
                url: url.clone(),
                why: format!("no answer within {:?}", timeouts.answer),
            })?
            .map_err(|why| SubtensorError::Connect {
                url: url.clone(),
                why,
            })?;
        Ok(Subtensor {
            client,
            rpc,
            config,
            head: Arc::default(),
            url,
            timeouts,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn genesis_hash(&self) -> [u8; 32] {
        self.client.genesis_hash().0
    }

    pub(crate) async fn bounded<T, E: std::fmt::Display>(
        &self,
        what: &str,
        future: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, SubtensorError> {
        tokio::time::timeout(self.timeouts.answer, future)
            .await
            .map_err(|_| SubtensorError::Timeout {
                what: what.to_string(),
                after: self.timeouts.answer,
            })?
            .map_err(|e| SubtensorError::rpc(what, e))
    }

    pub(crate) async fn at(&self, number: Option<u64>) -> Result<AtBlock, SubtensorError> {
        match number {
            None => Ok(self.head_at().await?.at),
            Some(n) => {
                let hash = self
                    .bounded(
                        &format!("block {n}"),
                        self.rpc.chain_get_block_hash(Some(n.into())),
                    )
                    .await?
                    .ok_or_else(|| SubtensorError::shape(format!("block {n}"), "no such block"))?;
                self.at_hash(hash, n).await
            }
        }
    }

    /// The client at the finalized head, read again only once the head has moved.
    async fn head_at(&self) -> Result<HeadAt, SubtensorError> {
        let hash = self
            .bounded("the finalized head", self.rpc.chain_get_finalized_head())
            .await?;
        let cached = self.head.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(head) = cached.filter(|h| h.block.hash == hash.0) {
            return Ok(head);
        }
        let header = self
            .bounded("the finalized head", self.rpc.chain_get_header(Some(hash)))
            .await?
            .ok_or_else(|| SubtensorError::shape("the finalized head", "no header for its hash"))?;
        let at = self.at_hash(hash, header.number()).await?;
        let block = self.block_at(&at).await?;
        let head = HeadAt { at, block };
        *self.head.lock().unwrap_or_else(|e| e.into_inner()) = Some(head.clone());
        Ok(head)
    }

    /// The client at block `number` whose hash is `hash`, its runtime version asked of the
    /// node's cache rather than of the runtime ([`ChainConfig`]).
    async fn at_hash(&self, hash: H256, number: u64) -> Result<AtBlock, SubtensorError> {
        if self.config.known(number).is_none() {
            let version = self
                .bounded(
                    &format!("the runtime version at block {number}"),
                    self.rpc.state_get_runtime_version(Some(hash)),
                )
                .await?;
            self.config.remember(
                number,
                RuntimeVersion {
                    spec_version: version.spec_version,
                    transaction_version: version.transaction_version,
                },
            );
        }
        self.bounded(
            &format!("block {number}"),
            self.client.at_block_hash_and_number(hash, number),
        )
        .await
    }

    /// The last finalized block, or block `number`.
    pub async fn block(&self, number: Option<u64>) -> Result<Block, SubtensorError> {
        match number {
            None => Ok(self.head_at().await?.block),
            Some(_) => self.block_at(&self.at(number).await?).await,
        }
    }

    async fn block_at(&self, at: &AtBlock) -> Result<Block, SubtensorError> {
        let now = dynamic::storage::<(), u64>("Timestamp", "Now");
        let stored = self
            .bounded("Timestamp.Now", at.storage().fetch(now, ()))
            .await?;
        let timestamp_ms = stored
            .decode()
            .map_err(|e| SubtensorError::shape("Timestamp.Now", e))?;
        Ok(Block {
            number: at.block_number(),
            hash: at.block_hash().0,
            timestamp_ms,
        })
    }

    pub async fn spec_version(&self) -> Result<u32, SubtensorError> {
        Ok(self.at(None).await?.spec_version())
    }

    /// A storage value at the head as a dynamic value, `None` where nothing is stored.
    pub async fn storage(
        &self,
        pallet: &str,
        entry: &str,
        keys: Vec<Value>,
    ) -> Result<Option<Value>, SubtensorError> {
        let at = self.at(None).await?;
        let address = dynamic::storage::<Vec<Value>, Value>(pallet, entry);
        let what = format!("{pallet}.{entry}");
        let found = self
            .bounded(&what, at.storage().try_fetch(address, keys))
            .await?;
        found
            .map(|v| v.decode().map_err(|e| SubtensorError::shape(&what, e)))
            .transpose()
    }

    /// A storage value at the head, or its default where nothing is stored.
    pub async fn storage_or_default(
        &self,
        pallet: &str,
        entry: &str,
        keys: Vec<Value>,
    ) -> Result<Value, SubtensorError> {
        let at = self.at(None).await?;
        let address = dynamic::storage::<Vec<Value>, Value>(pallet, entry);
        let what = format!("{pallet}.{entry}");
        let found = self
            .bounded(&what, at.storage().fetch(address, keys))
            .await?;
        found.decode().map_err(|e| SubtensorError::shape(&what, e))
    }

    /// A storage value at the head decoded into `T` by the metadata's type, or its default
    /// where nothing is stored: for shapes a dynamic value leaves ambiguous (a one-item
    /// `Vec<(u16, u16)>` reads like a wrapped pair).
    pub async fn storage_or_default_as<T>(
        &self,
        pallet: &str,
        entry: &str,
        keys: Vec<Value>,
    ) -> Result<T, SubtensorError>
    where
        T: subxt::ext::scale_decode::DecodeAsType,
    {
        let at = self.at(None).await?;
        let address = dynamic::storage::<Vec<Value>, T>(pallet, entry);
        let what = format!("{pallet}.{entry}");
        let found = self
            .bounded(&what, at.storage().fetch(address, keys))
            .await?;
        found.decode().map_err(|e| SubtensorError::shape(&what, e))
    }

    /// The names of a call's arguments in the runtime the node runs.
    pub async fn call_fields(
        &self,
        pallet: &str,
        call: &str,
    ) -> Result<Vec<String>, SubtensorError> {
        let at = self.at(None).await?;
        let metadata = at.metadata();
        let variant = metadata
            .pallet_by_name(pallet)
            .and_then(|p| p.call_variant_by_name(call))
            .ok_or_else(|| {
                SubtensorError::shape(format!("{pallet}.{call}"), "no such call in this runtime")
            })?;
        Ok(variant
            .fields
            .iter()
            .map(|f| f.name.clone().unwrap_or_default())
            .collect())
    }

    pub async fn free_balance(&self, account: &AccountId) -> Result<u128, SubtensorError> {
        let info = self
            .storage_or_default("System", "Account", vec![Value::from_bytes(account.0)])
            .await?;
        value::number(value::field(value::field(&info, "data")?, "free")?)
    }

    /// Signs `call` with `signer`, submits it and waits until it is in a finalized block; a
    /// call the chain refused comes back as [`SubtensorError::Refused`] with the pallet's
    /// error by name.
    pub async fn submit(
        &self,
        signer: &Keypair,
        pallet: &str,
        call: &str,
        args: Composite<()>,
    ) -> Result<Events, SubtensorError> {
        let name = format!("{pallet}.{call}");
        let payload = dynamic::tx(pallet, call, args);
        let at = self.at(None).await?;
        let progress = self
            .bounded(
                &format!("submitting {name}"),
                at.tx()
                    .sign_and_submit_then_watch_default(&payload, &Signer(signer)),
            )
            .await
            .map_err(|e| refused_in_pool(&name, e))?;
        let events = tokio::time::timeout(
            self.timeouts.inclusion,
            progress.wait_for_finalized_success(),
        )
        .await
        .map_err(|_| SubtensorError::NotIncluded {
            call: name.clone(),
            after: self.timeouts.inclusion,
        })?
        .map_err(|e| refused(&name, e))?;
        Events::read(&events)
    }
}

/// The events a finalized call raised, decoded as dynamic values.
#[derive(Debug, Clone, Default)]
pub struct Events {
    pub events: Vec<(String, String, Composite<()>)>,
}

impl Events {
    fn read(
        events: &subxt::extrinsics::ExtrinsicEvents<ChainConfig>,
    ) -> Result<Events, SubtensorError> {
        let mut out = Vec::new();
        for event in events.iter() {
            let event = event.map_err(|e| SubtensorError::shape("event", e))?;
            let fields = event
                .decode_fields_unchecked_as::<Composite<()>>()
                .map_err(|e| SubtensorError::shape("event", e))?;
            out.push((
                event.pallet_name().to_string(),
                event.event_name().to_string(),
                fields,
            ));
        }
        Ok(Events { events: out })
    }

    pub fn find(&self, pallet: &str, name: &str) -> Option<&Composite<()>> {
        self.events
            .iter()
            .find(|(p, n, _)| p == pallet && n == name)
            .map(|(_, _, fields)| fields)
    }
}

/// Words for what a refusal means, where we know what to do about it.
fn hint(error: &str) -> &'static str {
    match error {
        e if e.contains("NotEnoughBalance") || e.contains("Inability to pay") => {
            ": the coldkey's free balance does not cover it; fund the coldkey and try again"
        }
        e if e.contains("HotKeyNotRegisteredInSubNet") => {
            ": register the hotkey on this subnet first"
        }
        e if e.contains("SettingWeightsTooFast") => {
            ": weights were set too recently; wait for the subnet's weights rate limit"
        }
        e if e.contains("CommitmentSetRateLimitExceeded") => {
            ": this hotkey committed too recently; wait for the commitments rate limit"
        }
        e if e.contains("BadOrigin") || e.contains("Bad origin") => {
            ": only the subnet's owner may do this, and some settings (the tempo on older \
             runtimes) only root; sign with the owner's coldkey, or ask the chain's sudo"
        }
        e if e.contains("CommitRevealEnabled") => {
            ": this subnet has commit-reveal on; weights must be committed timelocked"
        }
        _ => "",
    }
}

fn refused(call: &str, e: impl std::fmt::Display) -> SubtensorError {
    let text = e.to_string();
    // subxt wraps a pallet error in three sentences; the name is what a user can look up.
    // Other dispatch errors (a bad origin) come as one sentence; its end is the name.
    let error = match (
        text.split_once("Pallet error: "),
        text.split_once("dispatch error: "),
    ) {
        (Some((_, name)), _) => name.to_string(),
        (None, Some((_, name))) => name.trim_end_matches('.').to_string(),
        _ => text,
    };
    let hint = hint(&error).to_string();
    SubtensorError::Refused {
        call: call.to_string(),
        error,
        hint,
    }
}

/// A transaction the pool would not take (bad fees, stale nonce) is a refusal too.
fn refused_in_pool(call: &str, e: SubtensorError) -> SubtensorError {
    match e {
        SubtensorError::Rpc { why, .. } => refused(call, why),
        other => other,
    }
}

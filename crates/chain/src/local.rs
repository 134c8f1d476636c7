//! The embedded chain: one SQLite file that several processes on one machine share. Every
//! change runs in an immediate (write-locked) transaction, so concurrent registrations get
//! distinct uids and nothing is applied twice; WAL lets readers go on while one process writes.
//!
//! Epochs are run lazily: before any read or write, every epoch whose block has passed is run
//! in order, each inside its own transaction, so the results do not depend on who looked first.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::call::{Call, CallPayload, SignedCall};
use crate::chain::EmbeddedChain;
use crate::clock::{Clock, SystemClock};
use crate::error::ChainError;
use crate::fixed::max_upscale_u16;
use crate::keys::AccountId;
use crate::types::{
    Commitment, EpochNeuron, EpochRecord, Head, Metagraph, Neuron, Receipt, SubnetParams, Uid,
};
use crate::yuma::{self, YumaNeuron, YumaParams};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS neurons (
    uid INTEGER PRIMARY KEY, hotkey BLOB NOT NULL UNIQUE, coldkey BLOB NOT NULL,
    registered_at INTEGER NOT NULL, last_update INTEGER NOT NULL,
    validator_permit INTEGER NOT NULL DEFAULT 0,
    trust INTEGER NOT NULL DEFAULT 0,
    validator_trust INTEGER NOT NULL DEFAULT 0, consensus INTEGER NOT NULL DEFAULT 0,
    incentive INTEGER NOT NULL DEFAULT 0, dividends INTEGER NOT NULL DEFAULT 0,
    emission INTEGER NOT NULL DEFAULT 0, total_emission INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS stakes (hotkey BLOB PRIMARY KEY, amount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS weights (uid INTEGER NOT NULL, dest INTEGER NOT NULL,
    value INTEGER NOT NULL, PRIMARY KEY (uid, dest));
CREATE TABLE IF NOT EXISTS bonds (uid INTEGER NOT NULL, dest INTEGER NOT NULL,
    value INTEGER NOT NULL, PRIMARY KEY (uid, dest));
CREATE TABLE IF NOT EXISTS commitments (hotkey BLOB PRIMARY KEY, block INTEGER NOT NULL,
    data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (hotkey BLOB PRIMARY KEY, nonce INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS epochs (block INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS epoch_neurons (block INTEGER NOT NULL, uid INTEGER NOT NULL,
    hotkey BLOB NOT NULL, stake INTEGER NOT NULL, trust INTEGER NOT NULL,
    validator_trust INTEGER NOT NULL, consensus INTEGER NOT NULL, incentive INTEGER NOT NULL,
    dividends INTEGER NOT NULL, emission INTEGER NOT NULL, PRIMARY KEY (block, uid));
";

/// A chain in one SQLite file.
pub struct LocalChain {
    path: PathBuf,
    conn: Mutex<Connection>,
    params: SubnetParams,
    chain_id: String,
    /// Secret randomness drawn when the chain was created; block hashes derive from it.
    salt: [u8; 32],
    clock: Arc<dyn Clock>,
}

impl LocalChain {
    /// Opens the chain at `path`, creating it with `params` if the file holds none. When it
    /// already exists its own parameters are kept and `params` is ignored.
    pub fn open_or_create(path: &Path, params: &SubnetParams) -> Result<Self, ChainError> {
        Self::open_with(path, Some(params), Arc::new(SystemClock))
    }

    /// Opens an existing chain.
    pub fn open(path: &Path) -> Result<Self, ChainError> {
        Self::open_with(path, None, Arc::new(SystemClock))
    }

    pub fn open_with(
        path: &Path,
        create: Option<&SubnetParams>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ChainError> {
        if create.is_none() && !path.exists() {
            return Err(ChainError::Invalid(format!(
                "no chain at {}; create one with `gradient chain init --db {}`",
                path.display(),
                path.display()
            )));
        }
        if let Some(params) = create {
            params.check().map_err(ChainError::Invalid)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ChainError::Invalid(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let db = |source| ChainError::Db {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute_batch(SCHEMA).map_err(db)?;
        let stored: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'params'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        let params: SubnetParams = match (stored, create) {
            (Some(json), _) => serde_json::from_str(&json).map_err(|e| {
                ChainError::Invalid(format!("{}: corrupt chain parameters: {e}", path.display()))
            })?,
            (None, Some(params)) => {
                let json = serde_json::to_string(params).expect("params serialise");
                let id = chain_id_of(&json);
                tx.execute("INSERT INTO meta VALUES ('params', ?1)", [&json])
                    .map_err(db)?;
                tx.execute("INSERT INTO meta VALUES ('chain_id', ?1)", [&id])
                    .map_err(db)?;
                tx.execute("INSERT INTO meta VALUES ('last_epoch', '0')", [])
                    .map_err(db)?;
                params.clone()
            }
            (None, None) => {
                return Err(ChainError::Invalid(format!(
                    "{} is not a chain database (no parameters)",
                    path.display()
                )));
            }
        };
        let chain_id: String = tx
            .query_row("SELECT value FROM meta WHERE key = 'chain_id'", [], |r| {
                r.get(0)
            })
            .map_err(db)?;
        let salt: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'salt'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        let salt = match salt
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        {
            Some(salt) => salt,
            None => {
                let mut salt = [0u8; 32];
                getrandom::fill(&mut salt)
                    .map_err(|e| ChainError::Invalid(format!("no randomness: {e}")))?;
                tx.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('salt', ?1)",
                    [hex::encode(salt)],
                )
                .map_err(db)?;
                salt
            }
        };
        tx.commit().map_err(db)?;
        Ok(LocalChain {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            params,
            chain_id,
            salt,
            clock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> ChainError + '_ {
        |source| ChainError::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn current_block(&self) -> u64 {
        self.params.block_at(self.clock.now_ms())
    }

    /// Runs `f` in an immediate transaction after every due epoch has run.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, u64) -> Result<T, ChainError>,
    ) -> Result<T, ChainError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up(&mut conn)?;
        let block = self.current_block();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.db())?;
        let out = f(&tx, block)?;
        tx.commit().map_err(self.db())?;
        Ok(out)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection, u64) -> Result<T, ChainError>,
    ) -> Result<T, ChainError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up(&mut conn)?;
        let block = self.current_block();
        let tx = conn.transaction().map_err(self.db())?;
        let out = f(&tx, block)?;
        tx.commit().map_err(self.db())?;
        Ok(out)
    }

    /// Runs every epoch whose block has been reached, one transaction each.
    fn catch_up(&self, conn: &mut Connection) -> Result<(), ChainError> {
        let tempo = self.params.tempo;
        loop {
            let block = self.current_block();
            let last = last_epoch(conn).map_err(self.db())?;
            if last + tempo > block {
                return Ok(());
            }
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(self.db())?;
            // Another process may have run it while we waited for the lock.
            let last = last_epoch(&tx).map_err(self.db())?;
            if last + tempo <= block {
                self.run_epoch(&tx, last + tempo, last)?;
            }
            tx.commit().map_err(self.db())?;
        }
    }

    fn run_epoch(&self, tx: &Transaction<'_>, block: u64, last: u64) -> Result<(), ChainError> {
        let db = self.db();
        let neurons = load_neurons(tx).map_err(&db)?;
        let inputs: Vec<YumaNeuron> = neurons
            .iter()
            .map(|n| YumaNeuron {
                stake: n.stake,
                last_update: n.last_update,
                registered_at: n.registered_at,
                validator_permit: n.validator_permit,
                weights: n.weights.clone(),
                bonds: n.bonds.clone(),
            })
            .collect();
        let p = &self.params;
        let yuma_params = YumaParams::new(
            p.kappa,
            p.bonds_penalty,
            p.bonds_moving_average,
            p.activity_cutoff,
            p.max_allowed_validators,
        );
        // Bonds to neurons registered since the previous epoch start from zero.
        let last_tempo = if last == 0 {
            block.saturating_sub(p.tempo)
        } else {
            last + 1
        };
        let out = yuma::epoch(&yuma_params, block, last_tempo, &inputs);
        // The owner's cut is kept off the neurons; the rest splits by the epoch's shares.
        let total = p.tempo as u128 * p.emission_per_block as u128;
        let to_neurons = (total - total * p.owner_cut as u128 / 65535) as u64;
        tx.execute("INSERT INTO epochs VALUES (?1)", [block as i64])
            .map_err(&db)?;
        tx.execute("DELETE FROM bonds", []).map_err(&db)?;
        for (neuron, result) in neurons.iter().zip(&out) {
            let emission = result.emission.of_amount(to_neurons);
            tx.execute(
                "UPDATE neurons SET validator_permit = ?2, trust = ?3,
                 validator_trust = ?4, consensus = ?5, incentive = ?6, dividends = ?7,
                 emission = ?8, total_emission = total_emission + ?8 WHERE uid = ?1",
                params![
                    neuron.uid,
                    result.validator_permit,
                    result.trust,
                    result.validator_trust,
                    result.consensus,
                    result.incentive,
                    result.dividends,
                    emission as i64
                ],
            )
            .map_err(&db)?;
            for &(dest, value) in &result.bonds {
                tx.execute(
                    "INSERT INTO bonds VALUES (?1, ?2, ?3)",
                    params![neuron.uid, dest, value],
                )
                .map_err(&db)?;
            }
            tx.execute(
                "INSERT INTO epoch_neurons VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    block as i64,
                    neuron.uid,
                    neuron.hotkey.0.as_slice(),
                    neuron.stake as i64,
                    result.trust,
                    result.validator_trust,
                    result.consensus,
                    result.incentive,
                    result.dividends,
                    emission as i64
                ],
            )
            .map_err(&db)?;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'last_epoch'",
            [block.to_string()],
        )
        .map_err(&db)?;
        tracing::debug!(block, neurons = neurons.len(), "epoch");
        Ok(())
    }

    /// Sets a hotkey's stake in rao (a devnet's stand-in for staking TAO). The stake counts from
    /// the next epoch, which also hands out validator permits.
    pub fn set_stake(&self, hotkey: &AccountId, rao: u64) -> Result<(), ChainError> {
        self.write(|tx, _| {
            tx.execute(
                "INSERT INTO stakes VALUES (?1, ?2)
                 ON CONFLICT(hotkey) DO UPDATE SET amount = excluded.amount",
                params![hotkey.0.as_slice(), rao as i64],
            )
            .map_err(self.db())?;
            Ok(())
        })
    }

    fn apply(
        &self,
        tx: &Transaction<'_>,
        block: u64,
        payload: &CallPayload,
    ) -> Result<Receipt, ChainError> {
        let db = self.db();
        let hotkey = payload.hotkey;
        let last: u64 = tx
            .query_row(
                "SELECT nonce FROM nonces WHERE hotkey = ?1",
                [hotkey.0.as_slice()],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(&db)?
            .unwrap_or(0) as u64;
        if payload.nonce <= last {
            return Err(ChainError::Replay {
                hotkey: hotkey.to_ss58(),
                nonce: payload.nonce,
                last,
            });
        }
        let uid = uid_of(tx, &hotkey).map_err(&db)?;
        let receipt = match &payload.call {
            Call::Register { coldkey } => {
                let uid = match uid {
                    Some(uid) => uid,
                    None => self.register(tx, block, &hotkey, coldkey)?,
                };
                Receipt {
                    block,
                    uid: Some(uid),
                }
            }
            Call::SetWeights {
                uids,
                weights,
                version_key,
            } => {
                let uid = uid.ok_or_else(|| ChainError::NotRegistered(hotkey.to_ss58()))?;
                self.set_weights(tx, block, uid, &hotkey, uids, weights, *version_key)?;
                Receipt {
                    block,
                    uid: Some(uid),
                }
            }
            Call::Commit { data } => {
                let uid = uid.ok_or_else(|| ChainError::NotRegistered(hotkey.to_ss58()))?;
                tx.execute(
                    "INSERT INTO commitments VALUES (?1, ?2, ?3)
                     ON CONFLICT(hotkey) DO UPDATE SET block = excluded.block, data = excluded.data",
                    params![hotkey.0.as_slice(), block as i64, data],
                )
                .map_err(&db)?;
                Receipt {
                    block,
                    uid: Some(uid),
                }
            }
        };
        tx.execute(
            "INSERT INTO nonces VALUES (?1, ?2)
             ON CONFLICT(hotkey) DO UPDATE SET nonce = excluded.nonce",
            params![hotkey.0.as_slice(), payload.nonce as i64],
        )
        .map_err(&db)?;
        Ok(receipt)
    }

    fn register(
        &self,
        tx: &Transaction<'_>,
        block: u64,
        hotkey: &AccountId,
        coldkey: &AccountId,
    ) -> Result<Uid, ChainError> {
        let db = self.db();
        let n: i64 = tx
            .query_row("SELECT COUNT(*) FROM neurons", [], |r| r.get(0))
            .map_err(&db)?;
        if (n as u64) < self.params.max_uids as u64 {
            let uid = n as Uid;
            tx.execute(
                "INSERT INTO neurons (uid, hotkey, coldkey, registered_at, last_update)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![uid, hotkey.0.as_slice(), coldkey.0.as_slice(), block as i64],
            )
            .map_err(&db)?;
            return Ok(uid);
        }
        // Full: replace the neuron with the lowest pruning score (its last emission) among
        // those past their immunity period; the oldest registration breaks ties.
        let immunity = self.params.immunity_period;
        let mut stmt = tx
            .prepare("SELECT uid, registered_at, emission FROM neurons")
            .map_err(&db)?;
        let rows: Vec<(Uid, u64, u64)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Uid>(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(&db)?
            .collect::<Result<_, _>>()
            .map_err(&db)?;
        let victim = rows
            .iter()
            .filter(|(_, registered, _)| block.saturating_sub(*registered) >= immunity)
            .min_by_key(|(uid, registered, emission)| (*emission, *registered, *uid));
        let Some(&(uid, _, _)) = victim else {
            let free_at = rows.iter().map(|r| r.1 + immunity).min().unwrap_or(block);
            return Err(ChainError::SubnetFull(rows.len(), free_at));
        };
        let old: Vec<u8> = tx
            .query_row("SELECT hotkey FROM neurons WHERE uid = ?1", [uid], |r| {
                r.get(0)
            })
            .map_err(&db)?;
        tx.execute("DELETE FROM commitments WHERE hotkey = ?1", [&old])
            .map_err(&db)?;
        tx.execute("DELETE FROM weights WHERE uid = ?1", [uid])
            .map_err(&db)?;
        tx.execute("DELETE FROM bonds WHERE uid = ?1", [uid])
            .map_err(&db)?;
        tx.execute(
            "UPDATE neurons SET hotkey = ?2, coldkey = ?3, registered_at = ?4, last_update = ?4,
             validator_permit = 0, trust = 0, validator_trust = 0, consensus = 0,
             incentive = 0, dividends = 0, emission = 0, total_emission = 0 WHERE uid = ?1",
            params![uid, hotkey.0.as_slice(), coldkey.0.as_slice(), block as i64],
        )
        .map_err(&db)?;
        tracing::info!(uid, hotkey = %hotkey, "replaced a neuron");
        Ok(uid)
    }

    #[allow(clippy::too_many_arguments)]
    fn set_weights(
        &self,
        tx: &Transaction<'_>,
        block: u64,
        uid: Uid,
        hotkey: &AccountId,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<(), ChainError> {
        let db = self.db();
        let (permit, last_update): (bool, i64) = tx
            .query_row(
                "SELECT validator_permit, last_update FROM neurons WHERE uid = ?1",
                [uid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&db)?;
        if !permit {
            return Err(ChainError::NoPermit(hotkey.to_ss58()));
        }
        if version_key < self.params.weights_version_key {
            return Err(ChainError::Version {
                got: version_key,
                need: self.params.weights_version_key,
            });
        }
        if uids.len() != weights.len() {
            return Err(ChainError::InvalidWeights(format!(
                "{} uids but {} weights",
                uids.len(),
                weights.len()
            )));
        }
        if uids.is_empty() {
            return Err(ChainError::InvalidWeights("no weights given".into()));
        }
        let n: i64 = tx
            .query_row("SELECT COUNT(*) FROM neurons", [], |r| r.get(0))
            .map_err(&db)?;
        let mut seen = std::collections::BTreeSet::new();
        for &dest in uids {
            if dest as i64 >= n {
                return Err(ChainError::InvalidWeights(format!(
                    "uid {dest} does not exist; the subnet has {n} neurons"
                )));
            }
            if !seen.insert(dest) {
                return Err(ChainError::InvalidWeights(format!(
                    "uid {dest} appears twice"
                )));
            }
        }
        let last = last_update as u64;
        let limit = self.params.weights_rate_limit;
        if block < last + limit {
            return Err(ChainError::RateLimited {
                hotkey: hotkey.to_ss58(),
                last,
                next: last + limit,
            });
        }
        tx.execute("DELETE FROM weights WHERE uid = ?1", [uid])
            .map_err(&db)?;
        // Stored as subtensor stores them: scaled so the largest weight is 65535.
        for (&dest, &value) in uids.iter().zip(&max_upscale_u16(weights)) {
            if value > 0 {
                tx.execute(
                    "INSERT INTO weights VALUES (?1, ?2, ?3)",
                    params![uid, dest, value],
                )
                .map_err(&db)?;
            }
        }
        tx.execute(
            "UPDATE neurons SET last_update = ?2 WHERE uid = ?1",
            params![uid, block as i64],
        )
        .map_err(&db)?;
        Ok(())
    }
}

impl std::fmt::Debug for LocalChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalChain")
            .field("path", &self.path)
            .field("chain_id", &self.chain_id)
            .finish()
    }
}

impl EmbeddedChain for LocalChain {
    fn chain_id(&self) -> Result<String, ChainError> {
        Ok(self.chain_id.clone())
    }

    fn params(&self) -> Result<SubnetParams, ChainError> {
        Ok(self.params.clone())
    }

    fn head(&self) -> Result<Head, ChainError> {
        let block = self.current_block();
        Ok(Head {
            block,
            timestamp_ms: self.params.timestamp_of(block),
        })
    }

    fn metagraph(&self) -> Result<Metagraph, ChainError> {
        self.read(|conn, block| {
            let neurons = load_neurons(conn).map_err(self.db())?;
            Ok(Metagraph {
                netuid: self.params.netuid,
                head: Head {
                    block,
                    timestamp_ms: self.params.timestamp_of(block),
                },
                neurons,
            })
        })
    }

    fn commitment(&self, hotkey: &AccountId) -> Result<Option<Commitment>, ChainError> {
        self.read(|conn, _| {
            conn.query_row(
                "SELECT block, data FROM commitments WHERE hotkey = ?1",
                [hotkey.0.as_slice()],
                |r| {
                    Ok(Commitment {
                        hotkey: *hotkey,
                        block: r.get::<_, i64>(0)? as u64,
                        data: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(self.db())
        })
    }

    fn commitments(&self) -> Result<Vec<Commitment>, ChainError> {
        self.read(|conn, _| {
            let mut stmt = conn
                .prepare(
                    "SELECT c.hotkey, c.block, c.data FROM commitments c
                     JOIN neurons n ON n.hotkey = c.hotkey ORDER BY n.uid",
                )
                .map_err(self.db())?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(Commitment {
                        hotkey: account(r.get(0)?)?,
                        block: r.get::<_, i64>(1)? as u64,
                        data: r.get(2)?,
                    })
                })
                .map_err(self.db())?;
            rows.collect::<Result<_, _>>().map_err(self.db())
        })
    }

    fn epochs(&self, since_block: u64) -> Result<Vec<EpochRecord>, ChainError> {
        self.read(|conn, _| {
            let mut stmt = conn
                .prepare("SELECT block FROM epochs WHERE block >= ?1 ORDER BY block")
                .map_err(self.db())?;
            let blocks: Vec<i64> = stmt
                .query_map([since_block as i64], |r| r.get(0))
                .map_err(self.db())?
                .collect::<Result<_, _>>()
                .map_err(self.db())?;
            let mut stmt = conn
                .prepare(
                    "SELECT uid, hotkey, stake, trust, validator_trust, consensus,
                     incentive, dividends, emission FROM epoch_neurons WHERE block = ?1
                     ORDER BY uid",
                )
                .map_err(self.db())?;
            let mut records = Vec::with_capacity(blocks.len());
            for block in blocks {
                let neurons = stmt
                    .query_map([block], |r| {
                        Ok(EpochNeuron {
                            uid: r.get(0)?,
                            hotkey: account(r.get(1)?)?,
                            stake: r.get::<_, i64>(2)? as u64,
                            trust: r.get(3)?,
                            validator_trust: r.get(4)?,
                            consensus: r.get(5)?,
                            incentive: r.get(6)?,
                            dividends: r.get(7)?,
                            emission: r.get::<_, i64>(8)? as u64,
                        })
                    })
                    .map_err(self.db())?
                    .collect::<Result<_, _>>()
                    .map_err(self.db())?;
                records.push(EpochRecord {
                    block: block as u64,
                    neurons,
                });
            }
            Ok(records)
        })
    }

    fn block_hash(&self, block: u64) -> Result<[u8; 32], ChainError> {
        let head = self.current_block();
        if block > head {
            return Err(ChainError::Invalid(format!(
                "block {block} is not produced yet (head is {head})"
            )));
        }
        let mut hasher = blake3::Hasher::new_keyed(&self.salt);
        hasher.update(self.chain_id.as_bytes());
        hasher.update(&block.to_le_bytes());
        Ok(*hasher.finalize().as_bytes())
    }

    fn nonce(&self, hotkey: &AccountId) -> Result<u64, ChainError> {
        self.read(|conn, _| {
            Ok(conn
                .query_row(
                    "SELECT nonce FROM nonces WHERE hotkey = ?1",
                    [hotkey.0.as_slice()],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map_err(self.db())?
                .unwrap_or(0) as u64)
        })
    }

    fn submit(&self, call: &SignedCall) -> Result<Receipt, ChainError> {
        let payload = call.open(&self.chain_id)?;
        self.write(|tx, block| self.apply(tx, block, &payload))
    }
}

fn chain_id_of(params_json: &str) -> String {
    let hash = blake3::hash(format!("gradient-chain genesis {params_json}").as_bytes());
    hash.to_hex()[..32].to_string()
}

fn last_epoch(conn: &Connection) -> rusqlite::Result<u64> {
    let value: String =
        conn.query_row("SELECT value FROM meta WHERE key = 'last_epoch'", [], |r| {
            r.get(0)
        })?;
    Ok(value.parse().unwrap_or(0))
}

fn account(bytes: Vec<u8>) -> rusqlite::Result<AccountId> {
    let key: [u8; 32] = bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "an account id is 32 bytes".into(),
        )
    })?;
    Ok(AccountId(key))
}

fn uid_of(conn: &Connection, hotkey: &AccountId) -> rusqlite::Result<Option<Uid>> {
    conn.query_row(
        "SELECT uid FROM neurons WHERE hotkey = ?1",
        [hotkey.0.as_slice()],
        |r| r.get(0),
    )
    .optional()
}

fn load_neurons(conn: &Connection) -> rusqlite::Result<Vec<Neuron>> {
    let mut stmt = conn.prepare(
        "SELECT n.uid, n.hotkey, n.coldkey, COALESCE(s.amount, 0), n.validator_permit,
         n.last_update, n.registered_at, n.trust, n.validator_trust, n.consensus,
         n.incentive, n.dividends, n.emission, n.total_emission
         FROM neurons n LEFT JOIN stakes s ON s.hotkey = n.hotkey ORDER BY n.uid",
    )?;
    let mut neurons: Vec<Neuron> = stmt
        .query_map([], |r| {
            Ok(Neuron {
                uid: r.get(0)?,
                hotkey: account(r.get(1)?)?,
                coldkey: account(r.get(2)?)?,
                stake: r.get::<_, i64>(3)? as u64,
                validator_permit: r.get(4)?,
                last_update: r.get::<_, i64>(5)? as u64,
                registered_at: r.get::<_, i64>(6)? as u64,
                trust: r.get(7)?,
                validator_trust: r.get(8)?,
                consensus: r.get(9)?,
                incentive: r.get(10)?,
                dividends: r.get(11)?,
                emission: r.get::<_, i64>(12)? as u64,
                total_emission: r.get::<_, i64>(13)? as u64,
                weights: Vec::new(),
                bonds: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    for (table, is_bonds) in [("weights", false), ("bonds", true)] {
        let mut stmt = conn.prepare(&format!(
            "SELECT uid, dest, value FROM {table} ORDER BY uid, dest"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Uid>(0)?,
                r.get::<_, Uid>(1)?,
                r.get::<_, u16>(2)?,
            ))
        })?;
        for row in rows {
            let (uid, dest, value) = row?;
            if let Some(neuron) = neurons.get_mut(uid as usize) {
                let target = if is_bonds {
                    &mut neuron.bonds
                } else {
                    &mut neuron.weights
                };
                target.push((dest, value));
            }
        }
    }
    Ok(neurons)
}

//! The calls and reads a subnet's owner, miners and validators make on subtensor.

use gradient_chain::{AccountId, Keypair};
use subxt::dynamic::Value;
use subxt::ext::scale_value::{Composite, ValueDef};

use crate::client::{CommittedData, Events, Subtensor};
use crate::error::SubtensorError;
use crate::value;

pub(crate) const MODULE: &str = "SubtensorModule";

fn account(a: &AccountId) -> Value {
    Value::from_bytes(a.0)
}

fn netuid(n: u16) -> Value {
    Value::u128(n.into())
}

/// Rao as TAO, for messages.
pub fn tao(rao: u128) -> String {
    format!("{}.{:09} TAO", rao / 1_000_000_000, rao % 1_000_000_000)
}

/// One neuron of a subnet, as `NeuronInfoRuntimeApi.get_neurons_lite` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeuronLite {
    pub uid: u16,
    pub hotkey: AccountId,
    pub coldkey: AccountId,
    /// Stake on this hotkey in rao, over all coldkeys, as the runtime API reports it (spec 218
    /// reports 0 for alpha staked on a dynamic subnet: `TotalHotkeyAlpha` has it).
    pub stake: u64,
    pub incentive: u16,
    pub dividends: u16,
    pub consensus: u16,
    pub trust: u16,
    pub validator_trust: u16,
    pub validator_permit: bool,
    pub emission: u64,
    pub last_update: u64,
}

/// One weight a validator set, as stored on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weight {
    pub uid: u16,
    pub weight: u16,
}

/// How staking on a subnet prices its alpha, where the runtime lets its creator choose
/// (spec 218's `mechid`; later runtimes make every subnet dynamic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// One alpha per TAO staked.
    Stable,
    /// A TAO/alpha pool. On spec 218 a new pool holds 1 rao of alpha, so stake buys none and
    /// the subnet's validators all weigh zero until emissions fill it.
    Dynamic,
}

impl Subtensor {
    /// Creates a subnet owned by `coldkey` with `hotkey` as its owner hotkey; answers its netuid.
    pub async fn register_network(
        &self,
        coldkey: &Keypair,
        hotkey: &AccountId,
        mechanism: Mechanism,
    ) -> Result<u16, SubtensorError> {
        // Spec 218 takes (hotkey, mechid), later runtimes (hotkey): fill what this one asks.
        let fields = self.call_fields(MODULE, "register_network").await?;
        let mechid = match mechanism {
            Mechanism::Stable => 0,
            Mechanism::Dynamic => 1,
        };
        let args = fields.iter().map(|name| match name.as_str() {
            "mechid" => (name.clone(), Value::u128(mechid)),
            _ => (name.clone(), account(hotkey)),
        });
        let events = self
            .submit(coldkey, MODULE, "register_network", Composite::named(args))
            .await?;
        let added = events
            .find(MODULE, "NetworkAdded")
            .ok_or_else(|| SubtensorError::shape("register_network", "no NetworkAdded event"))?;
        let first = added
            .values()
            .next()
            .ok_or_else(|| SubtensorError::shape("NetworkAdded", "no fields"))?;
        u16::try_from(value::number(first)?)
            .map_err(|_| SubtensorError::shape("NetworkAdded", "netuid out of range"))
    }

    /// Whether `netuid` names a subnet on this chain.
    pub async fn subnet_exists(&self, netuid: u16) -> Result<bool, SubtensorError> {
        let added = self
            .storage_or_default(MODULE, "NetworksAdded", vec![self::netuid(netuid)])
            .await?;
        value::boolean(&added)
    }

    /// A clear refusal for a netuid with no subnet, before anything is signed.
    pub async fn check_subnet(&self, netuid: u16) -> Result<(), SubtensorError> {
        if self.subnet_exists(netuid).await? {
            return Ok(());
        }
        Err(SubtensorError::Config(format!(
            "there is no subnet {netuid} on {}: check --netuid",
            self.url()
        )))
    }

    /// What registering on `netuid` burns now, in rao.
    pub async fn burn(&self, netuid: u16) -> Result<u64, SubtensorError> {
        let burn = self
            .storage_or_default(MODULE, "Burn", vec![self::netuid(netuid)])
            .await?;
        Ok(value::number(&burn)? as u64)
    }

    /// Registers `hotkey` on `netuid`, paid by `coldkey`; answers its uid. The cost is
    /// [`Subtensor::burn`]; a coldkey that cannot pay gets the chain's error in words.
    pub async fn burned_register(
        &self,
        coldkey: &Keypair,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<u16, SubtensorError> {
        self.check_subnet(netuid).await?;
        if let Some(uid) = self.uid(netuid, hotkey).await? {
            return Ok(uid);
        }
        let burn = self.burn(netuid).await?;
        let balance = self.free_balance(&coldkey.account()).await?;
        if balance < burn as u128 {
            return Err(SubtensorError::Refused {
                call: format!("registering on subnet {netuid}"),
                error: format!(
                    "not enough balance to register: {} has {}, the burn is {}",
                    coldkey.account().to_ss58(),
                    tao(balance),
                    tao(burn as u128)
                ),
                hint: "; fund the coldkey and try again".into(),
            });
        }
        let args = Composite::named([
            ("netuid".to_string(), self::netuid(netuid)),
            ("hotkey".to_string(), account(hotkey)),
        ]);
        self.submit(coldkey, MODULE, "burned_register", args)
            .await?;
        self.uid(netuid, hotkey).await?.ok_or_else(|| {
            SubtensorError::shape("burned_register", "the hotkey has no uid after registering")
        })
    }

    pub async fn uid(
        &self,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<Option<u16>, SubtensorError> {
        let found = self
            .storage(MODULE, "Uids", vec![self::netuid(netuid), account(hotkey)])
            .await?;
        found.map(|v| Ok(value::number(&v)? as u16)).transpose()
    }

    /// The weights `uid` last set on `netuid`, as the chain keeps them: (target uid, weight)
    /// with the largest scaled to 65535.
    pub async fn weights(&self, netuid: u16, uid: u16) -> Result<Vec<Weight>, SubtensorError> {
        let stored: Vec<(u16, u16)> = self
            .storage_or_default_as(
                MODULE,
                "Weights",
                vec![self::netuid(netuid), Value::u128(uid.into())],
            )
            .await?;
        Ok(stored
            .into_iter()
            .map(|(uid, weight)| Weight { uid, weight })
            .collect())
    }

    /// Each neuron's emission of the subnet's last epoch, in rao of its alpha, by uid.
    pub async fn emission(&self, netuid: u16) -> Result<Vec<u64>, SubtensorError> {
        let stored = self
            .storage_or_default(MODULE, "Emission", vec![self::netuid(netuid)])
            .await?;
        value::items(&stored)?
            .into_iter()
            .map(|v| Ok(value::number(v)? as u64))
            .collect()
    }

    /// Commits `data` (at most 128 bytes) for `hotkey` on `netuid`, as one `Raw` field.
    pub async fn set_commitment(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        data: &[u8],
    ) -> Result<Events, SubtensorError> {
        let info = Value::named_composite([(
            "fields",
            Value::unnamed_composite([value::raw_data(data)?]),
        )]);
        let args = Composite::named([
            ("netuid".to_string(), self::netuid(netuid)),
            ("info".to_string(), info),
        ]);
        self.submit(hotkey, "Commitments", "set_commitment", args)
            .await
    }

    /// What `hotkey` committed on `netuid`, if it committed raw bytes.
    pub async fn commitment(
        &self,
        netuid: u16,
        hotkey: &AccountId,
    ) -> Result<Option<CommittedData>, SubtensorError> {
        let Some(found) = self
            .storage(
                "Commitments",
                "CommitmentOf",
                vec![self::netuid(netuid), account(hotkey)],
            )
            .await?
        else {
            return Ok(None);
        };
        let block = value::number(value::field(&found, "block")?)? as u64;
        let data = value::first_raw(value::field(&found, "info")?)?;
        Ok(data.map(|data| CommittedData { block, data }))
    }

    /// Sets `hotkey`'s weights on `netuid`, as u16 values (the chain normalises them).
    pub async fn set_weights(
        &self,
        hotkey: &Keypair,
        netuid: u16,
        uids: &[u16],
        weights: &[u16],
        version_key: u64,
    ) -> Result<Events, SubtensorError> {
        let list = |xs: &[u16]| Value::unnamed_composite(xs.iter().map(|&x| Value::u128(x.into())));
        let args = Composite::named([
            ("netuid".to_string(), self::netuid(netuid)),
            ("dests".to_string(), list(uids)),
            ("weights".to_string(), list(weights)),
            ("version_key".to_string(), Value::u128(version_key.into())),
        ]);
        self.submit(hotkey, MODULE, "set_weights", args).await
    }

    /// Stakes `amount` rao from `coldkey` on `hotkey` in `netuid`.
    pub async fn add_stake(
        &self,
        coldkey: &Keypair,
        hotkey: &AccountId,
        netuid: u16,
        amount: u64,
    ) -> Result<Events, SubtensorError> {
        let args = Composite::named([
            ("hotkey".to_string(), account(hotkey)),
            ("netuid".to_string(), self::netuid(netuid)),
            ("amount_staked".to_string(), Value::u128(amount.into())),
        ]);
        self.submit(coldkey, MODULE, "add_stake", args).await
    }

    /// Sends `amount` rao from `from` to `to`.
    pub async fn transfer(
        &self,
        from: &Keypair,
        to: &AccountId,
        amount: u128,
    ) -> Result<Events, SubtensorError> {
        let args = Composite::named([
            (
                "dest".to_string(),
                Value::unnamed_variant("Id", [account(to)]),
            ),
            ("value".to_string(), Value::u128(amount)),
        ]);
        self.submit(from, "Balances", "transfer_keep_alive", args)
            .await
    }

    /// Runs `pallet.call(args)` as root through `Sudo.sudo`, signed by the sudo key; a refusal
    /// of the inner call is an error too (the outer one succeeds either way).
    pub async fn sudo(
        &self,
        sudo_key: &Keypair,
        pallet: &str,
        call: &str,
        args: Composite<()>,
    ) -> Result<Events, SubtensorError> {
        let inner = subxt::dynamic::tx(pallet, call, args).into_value();
        let events = self
            .submit(
                sudo_key,
                "Sudo",
                "sudo",
                Composite::named([("call".to_string(), inner)]),
            )
            .await?;
        let result = events
            .find("Sudo", "Sudid")
            .and_then(|fields| fields.values().next())
            .ok_or_else(|| SubtensorError::shape("Sudo.sudo", "no Sudid event"))?;
        match &result.value {
            ValueDef::Variant(v) if v.name == "Ok" => Ok(events),
            _ => Err(SubtensorError::Refused {
                call: format!("{pallet}.{call} (as root)"),
                error: result.to_string(),
                hint: String::new(),
            }),
        }
    }

    /// The alpha staked on `hotkey` in `netuid`, in rao (`TotalHotkeyAlpha`): what spec 218's
    /// `get_neurons_lite` reports as 0.
    pub async fn alpha_stake(
        &self,
        hotkey: &AccountId,
        netuid: u16,
    ) -> Result<u64, SubtensorError> {
        let found = self
            .storage_or_default(
                MODULE,
                "TotalHotkeyAlpha",
                vec![account(hotkey), self::netuid(netuid)],
            )
            .await?;
        Ok(value::number(&found)? as u64)
    }

    /// Writes storage values directly, as root (`System.set_storage` through `Sudo.sudo`):
    /// for development chains only, where no call sets what a test or devnet needs (spec
    /// 218's empty alpha pool). Each item is (pallet, entry, keys, SCALE-encoded value).
    pub async fn sudo_set_storage(
        &self,
        sudo_key: &Keypair,
        items: Vec<(&str, &str, Vec<Value>, Vec<u8>)>,
    ) -> Result<Events, SubtensorError> {
        let at = self.at(None).await?;
        let mut pairs = Vec::new();
        for (pallet, entry, keys, value) in items {
            let what = format!("{pallet}.{entry}");
            let address = subxt::dynamic::storage::<Vec<Value>, Value>(pallet, entry);
            let key = at
                .storage()
                .entry(address)
                .and_then(|e| e.fetch_key(keys))
                .map_err(|e| SubtensorError::shape(&what, e))?;
            pairs.push(Value::unnamed_composite([
                Value::from_bytes(key),
                Value::from_bytes(value),
            ]));
        }
        let args = Composite::named([("items".to_string(), Value::unnamed_composite(pairs))]);
        self.sudo(sudo_key, "System", "set_storage", args).await
    }

    /// What creating a subnet locks now, in rao (the runtime's own reckoning: it doubles with
    /// each new subnet and decays over blocks).
    pub async fn network_lock_cost(&self) -> Result<u128, SubtensorError> {
        let payload = subxt::dynamic::runtime_api_call::<_, Value>(
            "SubnetRegistrationRuntimeApi",
            "get_network_registration_cost",
            (),
        );
        let at = self.at(None).await?;
        let cost = self
            .bounded(
                "get_network_registration_cost",
                at.runtime_apis().call(payload),
            )
            .await?;
        value::number(&cost)
    }

    /// Every neuron of `netuid`, by uid.
    pub async fn neurons(&self, netuid: u16) -> Result<Vec<NeuronLite>, SubtensorError> {
        let payload = subxt::dynamic::runtime_api_call::<_, Value>(
            "NeuronInfoRuntimeApi",
            "get_neurons_lite",
            (netuid,),
        );
        let at = self.at(None).await?;
        let list = self
            .bounded("get_neurons_lite", at.runtime_apis().call(payload))
            .await?;
        let items = value::items(&list)?;
        // Older runtimes answer the SCALE bytes of the list; newer ones the typed list.
        let typed = items
            .first()
            .is_some_and(|v| matches!(v.value, ValueDef::Composite(Composite::Named(_))));
        let mut neurons = if typed {
            items
                .into_iter()
                .map(neuron_lite)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            crate::neuron::decode_neurons(&value::bytes(&list)?)?
        };
        neurons.sort_by_key(|n| n.uid);
        Ok(neurons)
    }
}

fn neuron_lite(v: &Value) -> Result<NeuronLite, SubtensorError> {
    let n16 = |name: &str| -> Result<u16, SubtensorError> {
        Ok(value::number(value::field(v, name)?)? as u16)
    };
    let n64 = |name: &str| -> Result<u64, SubtensorError> {
        Ok(value::number(value::field(v, name)?)? as u64)
    };
    let stake = value::items(value::field(v, "stake")?)?
        .into_iter()
        .map(|pair| {
            let parts = value::items(pair)?;
            match parts.as_slice() {
                [_, amount] => value::number(amount),
                _ => Err(SubtensorError::shape(
                    "stake",
                    "not (coldkey, amount) pairs",
                )),
            }
        })
        .sum::<Result<u128, _>>()?;
    Ok(NeuronLite {
        uid: n16("uid")?,
        hotkey: AccountId(value::account(value::field(v, "hotkey")?)?),
        coldkey: AccountId(value::account(value::field(v, "coldkey")?)?),
        stake: stake as u64,
        incentive: n16("incentive")?,
        dividends: n16("dividends")?,
        consensus: n16("consensus")?,
        trust: n16("trust")?,
        validator_trust: n16("validator_trust")?,
        validator_permit: value::boolean(value::field(v, "validator_permit")?)?,
        emission: n64("emission")?,
        last_update: n64("last_update")?,
    })
}

//! Checkpoints: a directory with `model.safetensors` (Hugging Face names and layout, f32),
//! optionally `optimizer.safetensors` (AdamW moments as `<name>.exp_avg` / `<name>.exp_avg_sq`),
//! and `manifest.json` (config, step, size and blake3 of each file).
//!
//! Files are written to temporaries and renamed, the manifest last, so a crash mid-save leaves
//! the previous checkpoint readable. Loading checks the manifest, then each file's size and hash,
//! and only then parses it; any mismatch is an error naming the file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::config::{ModelConfig, ParamSpec};
use crate::device::Device;
use crate::error::ModelError;
use crate::model::{Model, NamedParam, download, upload};
use crate::optim::{AdamState, TrainConfig};
use crate::train::Trainer;

pub const MANIFEST: &str = "manifest.json";
pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const FORMAT: &str = "gradient-checkpoint";
const VERSION: u32 = 1;
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Room for a safetensors header beyond the tensor bytes (names, shapes, offsets).
const MAX_HEADER_BYTES: u64 = 16 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub config: ModelConfig,
    /// Optimizer steps taken when this was saved.
    pub step: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainConfig>,
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub bytes: u64,
    pub blake3: String,
}

/// What [`load`] returns.
pub struct Checkpoint {
    pub manifest: Manifest,
    pub model: Model,
    pub optimizer: Option<AdamState>,
}

impl Checkpoint {
    /// A trainer resuming this checkpoint; fresh optimizer state when none was saved.
    pub fn into_trainer(self, config: TrainConfig) -> Result<Trainer, ModelError> {
        match self.optimizer {
            Some(state) => Trainer::with_state(self.model, config, state),
            None => Trainer::new(self.model, config),
        }
    }
}

/// Saves the trainer's model and optimizer state.
pub fn save_trainer(dir: &Path, trainer: &Trainer) -> Result<Manifest, ModelError> {
    save(
        dir,
        trainer.model(),
        Some((trainer.state(), trainer.config())),
    )
}

/// Saves `model`, and the optimizer state when given, into `dir` (created if needed).
pub fn save(
    dir: &Path,
    model: &Model,
    optimizer: Option<(&AdamState, &TrainConfig)>,
) -> Result<Manifest, ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut files = BTreeMap::new();

    let params = model.read_params()?;
    let named: Vec<(String, &[usize], &[f32])> = params
        .iter()
        .map(|p| (p.name.clone(), &p.shape[..], &p.values[..]))
        .collect();
    files.insert(
        MODEL_FILE.to_string(),
        write_tensors(dir, MODEL_FILE, &named)?,
    );

    let (step, train) = match optimizer {
        Some((state, train)) => {
            let mut moments = Vec::with_capacity(2 * params.len());
            for (i, spec) in model.specs().iter().enumerate() {
                moments.push((
                    format!("{}.exp_avg", spec.name),
                    spec,
                    download(&state.exp_avg[i], spec)?,
                ));
                moments.push((
                    format!("{}.exp_avg_sq", spec.name),
                    spec,
                    download(&state.exp_avg_sq[i], spec)?,
                ));
            }
            let named: Vec<(String, &[usize], &[f32])> = moments
                .iter()
                .map(|(n, s, v)| (n.clone(), &s.shape[..], &v[..]))
                .collect();
            files.insert(
                OPTIMIZER_FILE.to_string(),
                write_tensors(dir, OPTIMIZER_FILE, &named)?,
            );
            (state.step, Some(train.clone()))
        }
        None => (0, None),
    };

    let manifest = Manifest {
        format: FORMAT.to_string(),
        version: VERSION,
        config: model.config().clone(),
        step,
        train,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ModelError::checkpoint(dir, e.to_string()))?;
    write_atomic(&dir.join(MANIFEST), &json)?;
    Ok(manifest)
}

/// Reads and checks `manifest.json` without touching the tensor files.
pub fn read_manifest(dir: &Path) -> Result<Manifest, ModelError> {
    let path = dir.join(MANIFEST);
    let bytes = read_bounded(&path, MAX_MANIFEST_BYTES)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        ModelError::checkpoint(
            &path,
            format!("manifest is not valid JSON for this version: {e}"),
        )
    })?;
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(ModelError::checkpoint(
            &path,
            format!(
                "format {} version {} is not {FORMAT} version {VERSION}",
                manifest.format, manifest.version
            ),
        ));
    }
    manifest
        .config
        .validate()
        .map_err(|e| ModelError::checkpoint(&path, e.to_string()))?;
    Ok(manifest)
}

/// Reads one file listed in the manifest, checking its size before reading and its blake3 after.
pub fn read_verified(dir: &Path, manifest: &Manifest, file: &str) -> Result<Vec<u8>, ModelError> {
    let path = dir.join(file);
    let entry = manifest
        .files
        .get(file)
        .ok_or_else(|| ModelError::checkpoint(&path, "not listed in the manifest"))?;
    let numel = manifest.config.num_params() as u64;
    let copies = if file == OPTIMIZER_FILE { 2 } else { 1 };
    let cap = numel * 4 * copies + MAX_HEADER_BYTES;
    if entry.bytes > cap {
        return Err(ModelError::checkpoint(
            &path,
            format!(
                "manifest says {} bytes, more than this model can need ({cap})",
                entry.bytes
            ),
        ));
    }
    let bytes = read_bounded(&path, entry.bytes)?;
    if bytes.len() as u64 != entry.bytes {
        return Err(ModelError::checkpoint(
            &path,
            format!(
                "file is {} bytes, the manifest says {} (truncated or replaced)",
                bytes.len(),
                entry.bytes
            ),
        ));
    }
    let hash = blake3::hash(&bytes).to_hex();
    if hash.as_str() != entry.blake3 {
        return Err(ModelError::checkpoint(
            &path,
            format!(
                "blake3 {hash} does not match the manifest's {} (corrupt file)",
                entry.blake3
            ),
        ));
    }
    Ok(bytes)
}

/// Loads a checkpoint onto `device`.
pub fn load(dir: &Path, device: &Device) -> Result<Checkpoint, ModelError> {
    let manifest = read_manifest(dir)?;
    let config = manifest.config.clone();
    let specs = config.param_specs();

    let path = dir.join(MODEL_FILE);
    let bytes = read_verified(dir, &manifest, MODEL_FILE)?;
    let values = parse_tensors(&path, &bytes, specs.iter().map(|s| (s.name.clone(), s)))?;
    let params = specs
        .iter()
        .zip(values)
        .map(|(s, values)| NamedParam {
            name: s.name.clone(),
            shape: s.shape.clone(),
            values,
        })
        .collect();
    let model = Model::from_params(config, params, device)
        .map_err(|e| ModelError::checkpoint(&path, e.to_string()))?;

    let optimizer = if manifest.files.contains_key(OPTIMIZER_FILE) {
        let path = dir.join(OPTIMIZER_FILE);
        let bytes = read_verified(dir, &manifest, OPTIMIZER_FILE)?;
        let wanted = specs.iter().flat_map(|s| {
            [
                (format!("{}.exp_avg", s.name), s),
                (format!("{}.exp_avg_sq", s.name), s),
            ]
        });
        let mut values = parse_tensors(&path, &bytes, wanted)?.into_iter();
        let mut state = AdamState {
            step: manifest.step,
            exp_avg: Vec::with_capacity(specs.len()),
            exp_avg_sq: Vec::with_capacity(specs.len()),
        };
        for spec in &specs {
            let (Some(m), Some(v)) = (values.next(), values.next()) else {
                unreachable!("parse_tensors returns one value per wanted name");
            };
            if v.iter().any(|&x| x < 0.0) {
                return Err(ModelError::checkpoint(
                    &path,
                    format!("{}.exp_avg_sq has negative entries", spec.name),
                ));
            }
            state.exp_avg.push(upload(m, spec, device));
            state.exp_avg_sq.push(upload(v, spec, device));
        }
        Some(state)
    } else {
        None
    };
    Ok(Checkpoint {
        manifest,
        model,
        optimizer,
    })
}

/// Checks that `bytes` hold exactly this config's parameters, as [`load`] would.
pub(crate) fn check_model_bytes(
    path: &Path,
    bytes: &[u8],
    config: &ModelConfig,
) -> Result<(), ModelError> {
    let specs = config.param_specs();
    parse_tensors(path, bytes, specs.iter().map(|s| (s.name.clone(), s))).map(drop)
}

fn write_tensors(
    dir: &Path,
    file: &str,
    tensors: &[(String, &[usize], &[f32])],
) -> Result<FileEntry, ModelError> {
    let path = dir.join(file);
    let bytes = tensors_to_bytes(&path, tensors)?;
    write_atomic(&path, &bytes)?;
    Ok(FileEntry {
        bytes: bytes.len() as u64,
        blake3: blake3::hash(&bytes).to_hex().to_string(),
    })
}

/// f32 tensors as safetensors bytes, the format of checkpoints and of masters on the wire.
/// `label` names the file or object in errors.
pub fn tensors_to_bytes(
    label: &Path,
    tensors: &[(String, &[usize], &[f32])],
) -> Result<Vec<u8>, ModelError> {
    let path = label;
    let raw: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, shape, _), bytes) in tensors.iter().zip(&raw) {
        let view = TensorView::new(Dtype::F32, shape.to_vec(), bytes)
            .map_err(|e| ModelError::checkpoint(path, format!("{name}: {e}")))?;
        views.push((name.clone(), view));
    }
    let metadata = [("format".to_string(), "pt".to_string())]
        .into_iter()
        .collect();
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| ModelError::checkpoint(path, e.to_string()))
}

/// Parses safetensors bytes holding exactly the tensors of `wanted` (names and shapes), all
/// f32 and finite; returns their values in that order.
pub fn tensors_from_bytes(
    label: &Path,
    bytes: &[u8],
    wanted: &[ParamSpec],
) -> Result<Vec<Vec<f32>>, ModelError> {
    parse_tensors(label, bytes, wanted.iter().map(|s| (s.name.clone(), s)))
}

/// Parses a safetensors buffer holding exactly the `wanted` f32 tensors; returns them in order.
fn parse_tensors<'a>(
    path: &Path,
    bytes: &[u8],
    wanted: impl Iterator<Item = (String, &'a ParamSpec)>,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| ModelError::checkpoint(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = Vec::new();
    for (name, spec) in wanted {
        let view = st
            .tensor(&name)
            .map_err(|_| ModelError::checkpoint(path, format!("tensor `{name}` is missing")))?;
        if view.dtype() != Dtype::F32 || view.shape() != spec.shape.as_slice() {
            return Err(ModelError::checkpoint(
                path,
                format!(
                    "tensor `{name}` is {:?} {:?}, the model needs F32 {:?}",
                    view.dtype(),
                    view.shape(),
                    spec.shape
                ),
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::checkpoint(
                path,
                format!("tensor `{name}` has a non-finite value at {i}"),
            ));
        }
        out.push(values);
    }
    if st.len() != out.len() {
        return Err(ModelError::checkpoint(
            path,
            format!(
                "{} tensors in the file, the model has {}",
                st.len(),
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// Writes `bytes` to a temporary beside `path`, syncs it, and renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let tmp: PathBuf = path.with_extension(format!(
        "{}.tmp{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ModelError::io(path, e)
    })
}

/// Reads at most `max` bytes; a longer file is an error, not a truncated read.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ModelError> {
    let f = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ModelError::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(ModelError::checkpoint(
            path,
            format!("larger than the expected {max} bytes"),
        ));
    }
    Ok(bytes)
}

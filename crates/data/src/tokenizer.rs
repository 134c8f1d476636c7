//! Tokenizers a run can name: `gpt2` (GPT-2's BPE, r50k_base, embedded in `tiktoken-rs`, works
//! offline) or the path of a Hugging Face `tokenizer.json`, recorded by its blake3 so every node
//! can check it tokenizes with the same file.

use std::io::Read;
use std::path::Path;

use tiktoken_rs::CoreBPE;

use crate::error::DataError;

/// GPT-2's `<|endoftext|>`, written between documents.
pub const GPT2_END_OF_TEXT: u32 = 50256;
const GPT2_VOCAB: usize = 50257;
/// A `tokenizer.json` larger than this is refused before parsing.
const MAX_TOKENIZER_BYTES: u64 = 64 << 20;
/// Names of the document separator in common tokenizers, in order of preference.
const END_OF_TEXT_NAMES: [&str; 5] = [
    "<|endoftext|>",
    "<|end_of_text|>",
    "</s>",
    "<eos>",
    "<|eot_id|>",
];

pub enum Tokenizer {
    Gpt2(&'static CoreBPE),
    HuggingFace {
        inner: Box<tokenizers::Tokenizer>,
        blake3: String,
        end_of_text: u32,
    },
}

impl Tokenizer {
    pub fn gpt2() -> Self {
        Self::Gpt2(tiktoken_rs::r50k_base_singleton())
    }

    /// `gpt2`, or the path of a Hugging Face `tokenizer.json`.
    pub fn from_name(name: &str) -> Result<Self, DataError> {
        match name {
            "gpt2" | "r50k_base" => Ok(Self::gpt2()),
            path if Path::new(path).is_file() => Self::from_file(Path::new(path)),
            other => Err(DataError::Tokenizer {
                why: format!(
                    "unknown tokenizer `{other}`: use `gpt2` or the path of a tokenizer.json"
                ),
            }),
        }
    }

    /// A Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, DataError> {
        let bad = |why: String| DataError::Tokenizer {
            why: format!("{}: {why}", path.display()),
        };
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_TOKENIZER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| DataError::io(path, e))?;
        if bytes.len() as u64 > MAX_TOKENIZER_BYTES {
            return Err(bad(format!("larger than {MAX_TOKENIZER_BYTES} bytes")));
        }
        let inner = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| bad(format!("not a valid tokenizer.json: {e}")))?;
        let end_of_text = END_OF_TEXT_NAMES
            .iter()
            .find_map(|t| inner.token_to_id(t))
            .ok_or_else(|| {
                bad(format!(
                    "has none of the end-of-text tokens {END_OF_TEXT_NAMES:?}"
                ))
            })?;
        Ok(Self::HuggingFace {
            inner: Box::new(inner),
            blake3: blake3::hash(&bytes).to_hex().to_string(),
            end_of_text,
        })
    }

    /// What a dataset manifest records: `gpt2`, or `tokenizer.json@<blake3>`.
    pub fn name(&self) -> String {
        match self {
            Self::Gpt2(_) => "gpt2".to_string(),
            Self::HuggingFace { blake3, .. } => format!("tokenizer.json@{blake3}"),
        }
    }

    /// Token ids are below this.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Gpt2(_) => GPT2_VOCAB,
            Self::HuggingFace { inner, .. } => inner.get_vocab_size(true),
        }
    }

    /// The id written after each document.
    pub fn end_of_text(&self) -> u32 {
        match self {
            Self::Gpt2(_) => GPT2_END_OF_TEXT,
            Self::HuggingFace { end_of_text, .. } => *end_of_text,
        }
    }

    /// Ids for `text`; special-token strings in the text are encoded as ordinary text by `gpt2`,
    /// and no special tokens are added by Hugging Face tokenizers.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        match self {
            Self::Gpt2(bpe) => Ok(bpe.encode_ordinary(text)),
            Self::HuggingFace { inner, .. } => inner
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| DataError::Tokenizer {
                    why: format!("cannot encode: {e}"),
                }),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        let err = |e: String| DataError::Tokenizer {
            why: format!("cannot decode: {e}"),
        };
        match self {
            Self::Gpt2(bpe) => bpe.decode(ids).map_err(|e| err(e.to_string())),
            Self::HuggingFace { inner, .. } => {
                inner.decode(ids, false).map_err(|e| err(e.to_string()))
            }
        }
    }
}

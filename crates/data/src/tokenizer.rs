//! Tokenizers a run can name. `gpt2` is GPT-2's BPE (r50k_base), embedded in `tiktoken-rs`, so it
//! works offline.

use tiktoken_rs::CoreBPE;

use crate::error::DataError;

/// GPT-2's `<|endoftext|>`, written between documents.
pub const GPT2_END_OF_TEXT: u32 = 50256;
const GPT2_VOCAB: usize = 50257;

pub enum Tokenizer {
    Gpt2(&'static CoreBPE),
}

impl Tokenizer {
    pub fn gpt2() -> Self {
        Self::Gpt2(tiktoken_rs::r50k_base_singleton())
    }

    /// The tokenizer a run config or flag names.
    pub fn from_name(name: &str) -> Result<Self, DataError> {
        match name {
            "gpt2" | "r50k_base" => Ok(Self::gpt2()),
            other => Err(DataError::Tokenizer {
                why: format!("unknown tokenizer `{other}`; only `gpt2` is available so far"),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Gpt2(_) => "gpt2",
        }
    }

    /// Token ids are below this.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Gpt2(_) => GPT2_VOCAB,
        }
    }

    /// The id written after each document.
    pub fn end_of_text(&self) -> u32 {
        match self {
            Self::Gpt2(_) => GPT2_END_OF_TEXT,
        }
    }

    /// Ids for `text`; special-token strings in the text are encoded as ordinary text.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            Self::Gpt2(bpe) => bpe.encode_ordinary(text),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        match self {
            Self::Gpt2(bpe) => bpe.decode(ids).map_err(|e| DataError::Tokenizer {
                why: format!("cannot decode: {e}"),
            }),
        }
    }
}

//! A synthetic token stream with structure a model can learn, for training before a corpus is
//! given: a random first-order Markov chain over `ALPHABET` token ids spread across the
//! vocabulary, each id followed by one of `BRANCHES` successors. Its entropy is ln(BRANCHES)
//! nats per token, so a model that learns the chain moves from ln(vocab) toward ~1.39.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::batch::Batch;
use crate::error::ModelError;

const ALPHABET: usize = 1024;
const BRANCHES: usize = 4;

pub struct SyntheticStream {
    /// `successors[i]` are the ids that may follow alphabet letter `i`, as letter indices.
    successors: Vec<[u16; BRANCHES]>,
    /// Token id of each letter.
    ids: Vec<u32>,
    rng: ChaCha8Rng,
    current: usize,
}

impl SyntheticStream {
    /// The language is fixed by `language_seed`; `sample_seed` picks a stream of sentences from
    /// it (use different sample seeds for training and validation).
    pub fn new(language_seed: u64, sample_seed: u64, vocab_size: usize) -> Self {
        let mut lang = ChaCha8Rng::seed_from_u64(language_seed);
        let letters = ALPHABET.min(vocab_size.max(1));
        let ids = (0..letters)
            .map(|i| ((i * vocab_size.max(1)) / letters) as u32)
            .collect();
        let successors = (0..letters)
            .map(|_| std::array::from_fn(|_| (lang.next_u32() as usize % letters) as u16))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(sample_seed ^ 0x5eed_5eed_5eed_5eed);
        let current = rng.next_u32() as usize % letters;
        Self {
            successors,
            ids,
            rng,
            current,
        }
    }

    pub fn next_token(&mut self) -> u32 {
        let branch = self.rng.next_u32() as usize % BRANCHES;
        self.current = self.successors[self.current][branch] as usize;
        self.ids[self.current]
    }

    /// `batch_size` rows of `seq_len + 1` tokens.
    pub fn batch(&mut self, batch_size: usize, seq_len: usize) -> Result<Batch, ModelError> {
        let tokens = (0..batch_size * (seq_len + 1))
            .map(|_| self.next_token())
            .collect();
        Batch::new(tokens, batch_size, seq_len)
    }

    /// The entropy rate of the chain in nats per token: the best loss a model can reach.
    pub fn entropy() -> f64 {
        (BRANCHES as f64).ln()
    }
}

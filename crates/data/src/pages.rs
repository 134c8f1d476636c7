//! Pages: fixed runs of `seqs_per_page` contiguous sequences of `seq_len + 1` tokens, numbered
//! from the start of a split. Which pages a miner trains on in a window is a pure function of
//! (run seed, window, hotkey), so every validator recomputes it; validators draw their own
//! evaluation pages from a seed fixed only after the window closed.

use crate::error::DataError;

/// How a split is cut into pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLayout {
    pub seq_len: usize,
    pub seqs_per_page: usize,
}

impl PageLayout {
    pub fn tokens_per_page(&self) -> u64 {
        (self.seqs_per_page * (self.seq_len + 1)) as u64
    }

    /// Whole pages in a split of `tokens` tokens (a partial page at the end is not used).
    pub fn num_pages(&self, tokens: u64) -> u64 {
        tokens / self.tokens_per_page().max(1)
    }

    /// First token of `page`.
    pub fn start(&self, page: u64) -> u64 {
        page * self.tokens_per_page()
    }
}

/// The `n` distinct training pages assigned to `hotkey` in `window`.
pub fn assigned_pages(
    run_seed: u64,
    window: u64,
    hotkey: &str,
    n: usize,
    num_pages: u64,
) -> Result<Vec<u64>, DataError> {
    let mut key = blake3::Hasher::new_derive_key("gradient pages v1: miner assignment");
    key.update(&run_seed.to_le_bytes());
    let key = *key.finalize().as_bytes();
    let mut input = Vec::with_capacity(8 + hotkey.len());
    input.extend_from_slice(&window.to_le_bytes());
    input.extend_from_slice(hotkey.as_bytes());
    draw(&key, &input, n, num_pages)
}

/// `n` distinct evaluation pages from a seed the caller fixes after the window closed (e.g. from
/// the hash of the block that ends it), so no miner can know them while training.
pub fn evaluation_pages(
    eval_seed: &[u8; 32],
    n: usize,
    num_pages: u64,
) -> Result<Vec<u64>, DataError> {
    let key = blake3::derive_key("gradient pages v1: evaluation", eval_seed);
    draw(&key, &[], n, num_pages)
}

/// Which `n` of the first `among` assigned pages a validator judges `hotkey` on (indices into
/// its assignment), from the window's evaluation seed: a miner must train all of them.
pub fn judged_own_pages(
    eval_seed: &[u8; 32],
    hotkey: &[u8],
    n: usize,
    among: usize,
) -> Result<Vec<usize>, DataError> {
    let mut key = eval_seed.to_vec();
    key.extend_from_slice(hotkey);
    let pages = evaluation_pages(blake3::hash(&key).as_bytes(), n.min(among), among as u64)?;
    Ok(pages.into_iter().map(|i| i as usize).collect())
}

/// Every page below `num_pages` once, in an order fixed by `seed` (Fisher-Yates over blake3's
/// output stream): local training walks a split this way.
pub fn shuffled(seed: u64, num_pages: u64) -> Vec<u64> {
    let key = blake3::derive_key("gradient pages v1: shuffle", &seed.to_le_bytes());
    let mut reader = blake3::Hasher::new_keyed(&key).finalize_xof();
    let mut pages: Vec<u64> = (0..num_pages).collect();
    let mut word = [0u8; 8];
    for i in (1..pages.len()).rev() {
        reader.fill(&mut word);
        let j = ((u64::from_le_bytes(word) as u128 * (i as u128 + 1)) >> 64) as usize;
        pages.swap(i, j);
    }
    pages
}

/// `n` distinct pages below `num_pages` from blake3's keyed output stream over `input`.
fn draw(key: &[u8; 32], input: &[u8], n: usize, num_pages: u64) -> Result<Vec<u64>, DataError> {
    if n as u64 > num_pages {
        return Err(DataError::Pages {
            why: format!("{n} pages asked of a split with only {num_pages}"),
        });
    }
    let mut reader = blake3::Hasher::new_keyed(key).update(input).finalize_xof();
    let mut pages = Vec::with_capacity(n);
    let mut word = [0u8; 8];
    while pages.len() < n {
        reader.fill(&mut word);
        // Multiply-shift maps 64 random bits onto [0, num_pages) with negligible bias.
        let page = ((u64::from_le_bytes(word) as u128 * num_pages as u128) >> 64) as u64;
        if !pages.contains(&page) {
            pages.push(page);
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_deterministic_and_depends_on_everything() {
        let a = assigned_pages(1, 7, "5Fminer", 8, 10_000).unwrap();
        assert_eq!(a, assigned_pages(1, 7, "5Fminer", 8, 10_000).unwrap());
        assert_ne!(
            a,
            assigned_pages(1, 8, "5Fminer", 8, 10_000).unwrap(),
            "window"
        );
        assert_ne!(
            a,
            assigned_pages(1, 7, "5Fother", 8, 10_000).unwrap(),
            "hotkey"
        );
        assert_ne!(
            a,
            assigned_pages(2, 7, "5Fminer", 8, 10_000).unwrap(),
            "run seed"
        );
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8, "pages within an assignment are distinct");
        assert!(a.iter().all(|&p| p < 10_000));
    }

    #[test]
    fn assignment_is_spread_evenly() {
        // 2000 hotkeys x 10 pages over 100 pages: 200 hits expected per page.
        let mut hits = vec![0u32; 100];
        for k in 0..2000 {
            for p in assigned_pages(9, 3, &format!("hotkey-{k}"), 10, 100).unwrap() {
                hits[p as usize] += 1;
            }
        }
        let chi2: f64 = hits
            .iter()
            .map(|&h| (h as f64 - 200.0).powi(2) / 200.0)
            .sum();
        // 99 degrees of freedom: the 99.9th percentile is about 148.
        assert!(chi2 < 148.0, "chi-square {chi2}: {hits:?}");
    }

    #[test]
    fn evaluation_pages_follow_the_seed_and_refuse_impossible_requests() {
        let a = evaluation_pages(&[1; 32], 5, 50).unwrap();
        assert_eq!(a, evaluation_pages(&[1; 32], 5, 50).unwrap());
        assert_ne!(a, evaluation_pages(&[2; 32], 5, 50).unwrap());
        assert_eq!(evaluation_pages(&[3; 32], 50, 50).unwrap().len(), 50);
        assert!(
            evaluation_pages(&[3; 32], 51, 50)
                .unwrap_err()
                .to_string()
                .contains("only 50")
        );
    }

    #[test]
    fn judged_own_pages_follow_the_seed() {
        let seed = [7; 32];
        let own = judged_own_pages(&seed, b"miner", 2, 4).unwrap();
        assert_eq!(own.len(), 2);
        assert!(own.iter().all(|&i| i < 4) && own[0] != own[1]);
        assert_ne!(
            (0..20)
                .map(|k| judged_own_pages(&[k; 32], b"miner", 2, 4).unwrap())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            1,
            "the seed picks the pages"
        );
        // Fewer assigned pages than asked: all of them.
        assert_eq!(judged_own_pages(&seed, b"miner", 5, 3).unwrap().len(), 3);
    }

    #[test]
    fn shuffled_is_a_seeded_permutation() {
        let a = shuffled(4, 1000);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, shuffled(4, 1000));
        assert_ne!(a, shuffled(5, 1000));
        assert_ne!(a, sorted);
    }

    #[test]
    fn layout_counts_whole_pages() {
        let layout = PageLayout {
            seq_len: 127,
            seqs_per_page: 4,
        };
        assert_eq!(layout.tokens_per_page(), 512);
        assert_eq!(layout.num_pages(512 * 10 + 511), 10);
        assert_eq!(layout.start(3), 1536);
    }
}

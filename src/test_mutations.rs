//! Seeded byte mutations of real files, for tests that hold two readings of the same bytes
//! against each other (a parallel and a sequential parse, a streamed and a two-phase read).

use rand::{Rng, SeedableRng};
use std::ops::Range;

/// `count` mutants of `original`, each with `edits` random edits: a byte replaced by one of
/// `alphabet`, a byte removed, or a run of up to 200 bytes repeated in place.
pub(crate) fn mutants<'a>(
    original: &'a [u8],
    seed: u64,
    count: usize,
    edits: Range<usize>,
    alphabet: &'a [u8],
) -> impl Iterator<Item = Vec<u8>> + 'a {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(move |_| {
        let mut m = original.to_vec();
        for _ in 0..rng.random_range(edits.clone()) {
            if m.is_empty() {
                break;
            }
            let i = rng.random_range(0..m.len());
            match rng.random_range(0..3) {
                0 => m[i] = alphabet[rng.random_range(0..alphabet.len())],
                1 => {
                    m.remove(i);
                }
                _ => {
                    let j = (i + rng.random_range(1..200)).min(m.len());
                    let span = m[i..j].to_vec();
                    m.splice(i..i, span);
                }
            }
        }
        m
    })
}

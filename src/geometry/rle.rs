//! COCO run-length encoding, exactly as pycocotools defines it.
//!
//! A mask of `height × width` pixels is flattened **column-major** (down the first column,
//! then the second, …) and stored as alternating run lengths starting with a background run
//! (which may be 0). The compressed string form is pycocotools' `rleToString`: each count,
//! delta-coded against the count two places earlier for indices `i > 2` (sic: pycocotools
//! uses `i > 2`, not `i >= 2`), written as little-endian groups of 5 bits in characters
//! `48 + (group | 0x20 if more follow)`, the sign carried by bit `0x10` of the last group.
//!
//! Every function that accepts counts from a file checks them against the declared size, so
//! an overrun is an error, never a panic or an allocation the size of the claim.

use std::fmt;

/// What can be wrong with RLE data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RleError {
    /// A character outside the 64 characters pycocotools writes (`'0'..='o'`).
    BadChar {
        /// Byte offset in the string.
        index: usize,
        /// The byte found.
        byte: u8,
    },
    /// The string ends inside a multi-character number.
    Truncated,
    /// A decoded count is negative or does not fit 32 bits.
    OutOfRange {
        /// Index of the count.
        index: usize,
    },
    /// The counts do not add up to `height × width`.
    SumMismatch {
        /// `height × width`.
        expected: u64,
        /// The sum of the counts.
        actual: u64,
    },
    /// A buffer does not have `height × width` elements.
    SizeMismatch {
        /// `height × width`.
        expected: u64,
        /// The buffer's length.
        actual: u64,
    },
}

impl fmt::Display for RleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RleError::BadChar { index, byte } => {
                write!(f, "RLE string: invalid character 0x{byte:02x} at index {index}")
            }
            RleError::Truncated => write!(f, "RLE string ends inside a number"),
            RleError::OutOfRange { index } => {
                write!(f, "RLE count #{index} is negative or larger than 2^32-1")
            }
            RleError::SumMismatch { expected, actual } => write!(
                f,
                "RLE counts sum to {actual} pixels but the mask size says {expected} (height × width)"
            ),
            RleError::SizeMismatch { expected, actual } => {
                write!(f, "mask buffer has {actual} pixels, expected {expected}")
            }
        }
    }
}

impl std::error::Error for RleError {}

/// pycocotools `rleToString`.
pub fn encode_counts_string(counts: &[u32]) -> String {
    let mut s = String::with_capacity(counts.len() * 2 + 8);
    for (i, &n) in counts.iter().enumerate() {
        let mut x = i64::from(n);
        if i > 2 {
            x -= i64::from(counts[i - 2]);
        }
        // Most values of a real mask (differences of run lengths) fit one or two 5-bit
        // groups; those are written directly, the rest by the general loop. Both give the
        // bytes the general loop gives (`fast_groups_equal_the_general_loop`).
        let ascii = |v: i64| char::from((v & 0x3f) as u8 + 48);
        if (-16..16).contains(&x) {
            s.push(ascii(x & 0x1f));
        } else if (-512..512).contains(&x) {
            s.push(ascii((x & 0x1f) | 0x20));
            s.push(ascii((x >> 5) & 0x1f));
        } else {
            push_value_groups(&mut s, x);
        }
    }
    s
}

/// One value as pycocotools writes it: 5-bit groups, least significant first, bit 0x20 set
/// on every group but the last, each group offset by 48 ('0').
fn push_value_groups(s: &mut String, mut x: i64) {
    loop {
        let mut c = (x & 0x1f) as u8;
        x >>= 5; // arithmetic shift, as C's `long` in pycocotools
        let more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
        if more {
            c |= 0x20;
        }
        s.push(char::from(c + 48));
        if !more {
            break;
        }
    }
}

/// pycocotools `rleFrString`, with every failure reported instead of undefined behaviour.
pub fn decode_counts_string(s: &str) -> Result<Vec<u32>, RleError> {
    let bytes = s.as_bytes();
    let mut counts: Vec<u32> = Vec::with_capacity(bytes.len() / 2 + 1);
    let mut p = 0;
    while p < bytes.len() {
        let mut x: i64 = 0;
        let mut k = 0u32;
        loop {
            let Some(&b) = bytes.get(p) else {
                return Err(RleError::Truncated);
            };
            if !(48..48 + 64).contains(&b) {
                return Err(RleError::BadChar { index: p, byte: b });
            }
            // 13 groups × 5 bits exceed 64 bits: any longer number cannot be a valid count.
            if k >= 12 {
                return Err(RleError::OutOfRange {
                    index: counts.len(),
                });
            }
            let c = i64::from(b - 48);
            x |= (c & 0x1f) << (5 * k);
            p += 1;
            k += 1;
            if c & 0x20 == 0 {
                if c & 0x10 != 0 {
                    x |= -1i64 << (5 * k);
                }
                break;
            }
        }
        let m = counts.len();
        if m > 2 {
            x += i64::from(counts[m - 2]);
        }
        let v = u32::try_from(x).map_err(|_| RleError::OutOfRange { index: m })?;
        counts.push(v);
    }
    Ok(counts)
}

/// Checks that `counts` cover exactly `height × width` pixels.
pub(crate) fn check_counts(counts: &[u32], width: u32, height: u32) -> Result<(), RleError> {
    let expected = u64::from(width) * u64::from(height);
    let actual: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if actual != expected {
        return Err(RleError::SumMismatch { expected, actual });
    }
    Ok(())
}

/// Builds run lengths from a stream of (value, length) pieces, merging equal neighbours.
#[derive(Debug, Default)]
pub(crate) struct RunEncoder {
    counts: Vec<u32>,
    current: bool,
}

impl RunEncoder {
    pub fn new() -> Self {
        RunEncoder {
            counts: vec![0],
            current: false,
        }
    }

    /// Appends `len` pixels of value `on`.
    pub fn push(&mut self, on: bool, len: u32) {
        if len == 0 {
            return;
        }
        if on != self.current {
            self.counts.push(0);
            self.current = on;
        }
        if let Some(last) = self.counts.last_mut() {
            *last += len;
        }
    }

    pub fn finish(self) -> Vec<u32> {
        self.counts
    }
}

/// COCO RLE of a row-major mask (`bits[y * width + x]`, non-zero = foreground).
/// Panics never; a buffer of the wrong length is an error.
pub fn from_row_major(bits: &[u8], width: u32, height: u32) -> Result<Vec<u32>, RleError> {
    let (w, h) = (width as usize, height as usize);
    let expected = u64::from(width) * u64::from(height);
    if bits.len() as u64 != expected {
        return Err(RleError::SizeMismatch {
            expected,
            actual: bits.len() as u64,
        });
    }
    let mut enc = RunEncoder::new();
    for x in 0..w {
        for y in 0..h {
            enc.push(bits[y * w + x] != 0, 1);
        }
    }
    Ok(enc.finish())
}

/// COCO RLE of a column-major mask (`bits[x * height + y]`, non-zero = foreground).
pub fn from_column_major(bits: &[u8], width: u32, height: u32) -> Result<Vec<u32>, RleError> {
    let expected = u64::from(width) * u64::from(height);
    if bits.len() as u64 != expected {
        return Err(RleError::SizeMismatch {
            expected,
            actual: bits.len() as u64,
        });
    }
    let mut enc = RunEncoder::new();
    for &b in bits {
        enc.push(b != 0, 1);
    }
    Ok(enc.finish())
}

/// Decodes COCO RLE into a row-major 0/1 buffer (`[y * width + x]`). The counts are checked
/// against the size before anything is allocated.
pub fn to_row_major(counts: &[u32], width: u32, height: u32) -> Result<Vec<u8>, RleError> {
    check_counts(counts, width, height)?;
    let h = height as usize;
    let w = width as usize;
    let mut out = vec![0u8; w * h];
    for_each_column_run(counts, height, |x, y0, len| {
        for y in y0..y0 + len {
            out[y as usize * w + x as usize] = 1;
        }
    });
    Ok(out)
}

/// Calls `f(x, y_start, len)` for every foreground run piece within one column. Assumes
/// the counts were checked against the size (extra pixels are ignored, never indexed).
pub(crate) fn for_each_column_run(counts: &[u32], height: u32, mut f: impl FnMut(u32, u32, u32)) {
    if height == 0 {
        return;
    }
    let h = u64::from(height);
    let mut pos = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        let n = u64::from(n);
        if i % 2 == 1 {
            let mut start = pos;
            let end = pos + n;
            while start < end {
                let x = start / h;
                let y = start % h;
                let len = (h - y).min(end - start);
                // x < width because the counts sum to width × height.
                f(x as u32, y as u32, len as u32);
                start += len;
            }
        }
        pos += n;
    }
}

/// Converts a CVAT box mask (row-major runs over `bw × bh` at `(left, top)`, background
/// first) into whole-image COCO RLE. Errors when the box leaves the image or the counts do
/// not cover the box. Costs O(image width + box area), never O(image area).
#[allow(clippy::too_many_arguments)]
pub(crate) fn cvat_box_to_coco(
    left: u32,
    top: u32,
    bw: u32,
    bh: u32,
    counts: &[u32],
    width: u32,
    height: u32,
) -> Result<Vec<u32>, RleError> {
    check_counts(counts, bw, bh)?;
    if u64::from(left) + u64::from(bw) > u64::from(width)
        || u64::from(top) + u64::from(bh) > u64::from(height)
    {
        return Err(RleError::SizeMismatch {
            expected: u64::from(width) * u64::from(height),
            actual: (u64::from(left) + u64::from(bw)) * (u64::from(top) + u64::from(bh)),
        });
    }
    // Expand the box (bounded by the image size, already limited by the readers).
    let (bwu, bhu) = (bw as usize, bh as usize);
    let mut boxbits = vec![false; bwu * bhu];
    let mut pos = 0usize;
    for (i, &n) in counts.iter().enumerate() {
        let n = n as usize;
        if i % 2 == 1 {
            boxbits[pos..pos + n].iter_mut().for_each(|b| *b = true);
        }
        pos += n;
    }
    let mut enc = RunEncoder::new();
    for x in 0..width {
        if x < left || x >= left + bw {
            enc.push(false, height);
            continue;
        }
        let bx = (x - left) as usize;
        enc.push(false, top);
        for by in 0..bhu {
            enc.push(boxbits[by * bwu + bx], 1);
        }
        enc.push(false, height - top - bh);
    }
    Ok(enc.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn string_codec_hand_vectors() {
        // Small values: one char each, 48 + value.
        assert_eq!(encode_counts_string(&[0, 1, 2]), "012");
        // 16 needs a second group: low 5 bits 16 has the sign bit set, so continue.
        // 16 = 0b10000 → first group 0x10|0x20 = 48+48 = '`', then 0 → '0'.
        assert_eq!(encode_counts_string(&[16]), "`0");
        // Delta coding from index 3: [5, 3, 5, 3] → 5, 3, 5, 3-3=0.
        assert_eq!(encode_counts_string(&[5, 3, 5, 3]), "5350");
        // A negative delta: [5, 10, 5, 2] → last = 2 - 10 = -8 → 0b11000 (5 bits, sign set)
        // = 24 → '0'+24 = 'H'.
        assert_eq!(encode_counts_string(&[5, 10, 5, 2]), "5:5H");
        for s in ["012", "`0", "5350", "5:5H"] {
            assert_eq!(encode_counts_string(&decode_counts_string(s).unwrap()), s);
        }
        assert_eq!(decode_counts_string("5:5H").unwrap(), vec![5, 10, 5, 2]);
    }

    #[test]
    fn known_pycocotools_string() {
        // pycocotools.mask.encode of a 3×3 Fortran array with the middle column set:
        // counts [3, 3, 3] → "333".
        assert_eq!(encode_counts_string(&[3, 3, 3]), "333");
        // 200: 200 = 0b110_01000 → group 8|0x20 → 'X', rest 6 → '6'.
        assert_eq!(encode_counts_string(&[200]), "X6");
    }

    #[test]
    fn bad_strings_are_errors() {
        assert!(matches!(
            decode_counts_string("a b"),
            Err(RleError::BadChar { .. })
        ));
        assert_eq!(decode_counts_string("`"), Err(RleError::Truncated));
        assert!(matches!(
            decode_counts_string("H"),
            Err(RleError::OutOfRange { .. })
        ));
        assert!(decode_counts_string("oooooooooooooooooooo0").is_err());
    }

    #[test]
    fn masks_are_column_major() {
        // 2 rows × 3 columns, row-major:
        // 0 1 1
        // 0 0 1
        let bits = [0, 1, 1, 0, 0, 1];
        // column-major: col0 = 0 0, col1 = 1 0, col2 = 1 1 → runs 2,1,1,2
        let counts = from_row_major(&bits, 3, 2).unwrap();
        assert_eq!(counts, vec![2, 1, 1, 2]);
        assert_eq!(to_row_major(&counts, 3, 2).unwrap(), bits.to_vec());
        assert_eq!(
            from_column_major(&[0, 0, 1, 0, 1, 1], 3, 2).unwrap(),
            counts
        );
        // First pixel set: a zero-length background run first.
        assert_eq!(from_row_major(&[1, 0], 2, 1).unwrap(), vec![0, 1, 1]);
    }

    #[test]
    fn overrun_is_an_error_not_an_allocation() {
        let r = to_row_major(&[1, u32::MAX, u32::MAX], 2, 2);
        assert!(matches!(r, Err(RleError::SumMismatch { expected: 4, .. })));
        assert!(to_row_major(&[1, 2], 2, 2).is_err());
    }

    #[test]
    fn cvat_box_mask_to_image_rle() {
        // Image 3 wide, 2 tall; box at (1,0) size 2×2, row-major box bits 1 0 / 1 1
        // → counts [0,1,1,2].
        let coco = cvat_box_to_coco(1, 0, 2, 2, &[0, 1, 1, 2], 3, 2).unwrap();
        // image row-major: 0 1 0 / 0 1 1 → columns: 00 11 01 → runs 2,2,1,1
        assert_eq!(coco, vec![2, 2, 1, 1]);
        assert!(cvat_box_to_coco(2, 0, 2, 2, &[0, 1, 1, 2], 3, 2).is_err());
    }

    proptest! {
        #[test]
        fn fast_groups_equal_the_general_loop(x in prop_oneof![-600i64..600, -100_000i64..100_000]) {
            let mut general = String::new();
            push_value_groups(&mut general, x);
            // A count sequence whose third element encodes the difference `x`.
            let base = 200_000u32;
            let third = u32::try_from(i64::from(base) + x).unwrap();
            let fast = encode_counts_string(&[1, base, 1, third]);
            prop_assert_eq!(&fast[fast.len() - general.len()..], general.as_str());
        }

        #[test]
        fn string_codec_roundtrips(counts in proptest::collection::vec(any::<u32>(), 0..64)) {
            let s = encode_counts_string(&counts);
            prop_assert_eq!(decode_counts_string(&s).unwrap(), counts);
        }

        #[test]
        fn mask_codec_roundtrips(w in 1u32..12, h in 1u32..12, seed in any::<u64>()) {
            let n = (w * h) as usize;
            let bits: Vec<u8> = (0..n).map(|i| ((seed >> (i % 64)) & 1) as u8).collect();
            let counts = from_row_major(&bits, w, h).unwrap();
            check_counts(&counts, w, h).unwrap();
            prop_assert_eq!(to_row_major(&counts, w, h).unwrap(), bits);
        }
    }
}

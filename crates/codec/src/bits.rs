//! Fixed-width bit packing, least significant bit first.

/// Bits needed to index `n` positions (at least 1).
pub(crate) fn width_for(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

pub(crate) fn packed_len(count: usize, width: u32) -> usize {
    (count * width as usize).div_ceil(8)
}

/// Appends `values` (each below `1 << width`) to `out`, packed.
pub(crate) fn pack(values: &[u32], width: u32, out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &v in values {
        debug_assert!(width == 32 || v < (1 << width));
        acc |= (v as u64) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Reads `count` values of `width` bits from `bytes`, which must be exactly `packed_len` long.
pub(crate) fn unpack(bytes: &[u8], count: usize, width: u32, out: &mut Vec<u32>) {
    debug_assert_eq!(bytes.len(), packed_len(count, width));
    let mask = if width == 32 {
        u32::MAX as u64
    } else {
        (1u64 << width) - 1
    };
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut iter = bytes.iter();
    for _ in 0..count {
        while bits < width {
            acc |= (*iter.next().unwrap_or(&0) as u64) << bits;
            bits += 8;
        }
        out.push((acc & mask) as u32);
        acc >>= width;
        bits -= width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_width() {
        for width in 1..=32u32 {
            let max = if width == 32 {
                u32::MAX
            } else {
                (1u32 << width) - 1
            };
            let values: Vec<u32> = (0..97u32)
                .map(|i| i.wrapping_mul(2_654_435_761) & max)
                .collect();
            let mut bytes = Vec::new();
            pack(&values, width, &mut bytes);
            assert_eq!(bytes.len(), packed_len(values.len(), width));
            let mut back = Vec::new();
            unpack(&bytes, values.len(), width, &mut back);
            assert_eq!(back, values, "width {width}");
        }
        assert_eq!(width_for(4096), 12);
        assert_eq!(width_for(4097), 13);
        assert_eq!(width_for(1), 1);
    }
}

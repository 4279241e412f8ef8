//! Amino-acid and dipeptide composition of a protein sequence.

use crate::{CragError, Result};

/// The 20 standard amino acids, in the order of the composition features.
pub const AMINO_ACIDS: &[u8; 20] = b"ACDEFGHIKLMNPQRSTVWY";

/// Index of a standard amino acid (upper case) in [`AMINO_ACIDS`].
fn residue_index(c: u8) -> Option<usize> {
    AMINO_ACIDS.iter().position(|&a| a == c)
}

/// IUPAC letters accepted but not counted: B (D/N), J (I/L), O (pyrrolysine), U (selenocysteine),
/// X (unknown), Z (E/Q).
fn is_skipped(c: u8) -> bool {
    matches!(c, b'B' | b'J' | b'O' | b'U' | b'X' | b'Z')
}

/// 20 amino-acid frequencies followed by 400 dipeptide frequencies (see [`super::protein_features`]).
pub(crate) fn composition(sequence: &str) -> Result<Vec<f32>> {
    let mut aac = [0u32; 20];
    let mut dpc = [0u32; 400];
    let mut residues = 0u32;
    let mut pairs = 0u32;
    let mut prev: Option<Option<usize>> = None; // previous residue: Some(None) = a skipped letter
    for (i, ch) in sequence.chars().enumerate() {
        if ch.is_ascii_whitespace() {
            continue;
        }
        let pos = i + 1;
        let upper = u8::try_from(ch).ok().map(|c| c.to_ascii_uppercase());
        let idx = match upper {
            Some(c) if c.is_ascii_uppercase() => match residue_index(c) {
                Some(k) => Some(k),
                None if is_skipped(c) => None,
                None => {
                    return Err(CragError::invalid(format!(
                        "invalid protein sequence at position {pos}: '{ch}' is not an amino-acid letter"
                    )))
                }
            },
            _ => {
                return Err(CragError::invalid(format!(
                    "invalid protein sequence at position {pos}: unexpected character '{ch}', expected an \
                     amino-acid letter"
                )))
            }
        };
        if let Some(k) = idx {
            aac[k] += 1;
            residues += 1;
            if let Some(Some(j)) = prev {
                dpc[j * 20 + k] += 1;
                pairs += 1;
            }
        }
        prev = Some(idx);
    }
    if prev.is_none() {
        return Err(CragError::invalid(
            "invalid protein sequence: empty sequence",
        ));
    }
    if residues == 0 {
        return Err(CragError::invalid(
            "invalid protein sequence: no standard amino acid (only B, J, O, U, X or Z)",
        ));
    }
    let mut out = Vec::with_capacity(420);
    out.extend(aac.iter().map(|&c| c as f32 / residues as f32));
    if pairs == 0 {
        out.extend(std::iter::repeat_n(0.0f32, 400));
    } else {
        out.extend(dpc.iter().map(|&c| c as f32 / pairs as f32));
    }
    Ok(out)
}

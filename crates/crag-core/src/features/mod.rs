//! Deterministic drug and protein featurizers for the DTI/ADR models
//! (`crag_drug_features(smiles)`, `crag_protein_features(sequence)`).
//!
//! # Drugs
//!
//! SMILES strings are read by our own OpenSMILES parser (`smiles.rs`; of the crates.io candidates, `purr`
//! 0.9 is unmaintained and its errors carry no expectation, `opensmiles` 0.1 is very young) and
//! normalised (`chem.rs`): implicit hydrogens
//! by the OpenSMILES default-valence rule (aromatic atoms one less), aromatic input kekulised by a
//! maximum matching, explicit `[H]` folded into hydrogen counts, and every ring bond whose order differs
//! between Kekulé structures classed as alternating. Drug features therefore do not depend on atom
//! order, branch layout, ring-closure numbering, or on whether a molecule was written aromatic or
//! Kekulé (`c1ccccc1` = `C1=CC=CC=C1`). Stereochemistry (`@`, `/`, `\`) and atom classes are ignored.
//!
//! [`drug_features`] is a Morgan/ECFP count fingerprint ([`DRUG_FEATURIZER`]): radius 2, atom invariants
//! as RDKit's ECFP (atomic number, heavy-atom degree, total H count, formal charge, mass number, ring
//! membership), neighbours combined as sorted (bond class, identifier) pairs, duplicate bond environments
//! removed as in RDKit, identifiers hashed with a fixed FNV-1a/fmix64 hash and folded modulo
//! [`DRUG_DIM`]. Values are raw occurrence counts (no log1p). Every `.`-component is featurised.
//!
//! # Proteins
//!
//! [`protein_features`] ([`PROTEIN_FEATURIZER`]) is amino-acid composition followed by dipeptide
//! composition, [`PROTEIN_DIM`] = 20 + 400 values.

mod chem;
mod morgan;
mod protein;
mod smiles;

#[cfg(test)]
mod tests;

use crate::Result;

pub use protein::AMINO_ACIDS;

/// Name of the drug featurizer implemented by [`drug_features`].
pub const DRUG_FEATURIZER: &str = "morgan_r2_2048_counts";
/// Length of [`drug_features`] vectors.
pub const DRUG_DIM: usize = 2048;
/// Morgan radius of [`drug_features`].
pub const DRUG_RADIUS: usize = 2;
/// Name of the protein featurizer implemented by [`protein_features`].
pub const PROTEIN_FEATURIZER: &str = "aac_dpc_420";
/// Length of [`protein_features`] vectors.
pub const PROTEIN_DIM: usize = 420;

/// Radius-2 Morgan count fingerprint of a SMILES string, folded to [`DRUG_DIM`] positions.
///
/// Position `id % 2048` holds the number of (deduplicated) atom environments whose 64-bit identifier
/// `id` folds there, as a raw count. Isotopes are part of the atom invariants; isotopic hydrogens
/// (`[2H]`) stay atoms. Invalid SMILES (syntax, unknown element, aromatic system that cannot be
/// kekulised) give [`crate::CragError::InvalidArgument`] naming the 1-based character position.
pub fn drug_features(smiles: &str) -> Result<Vec<f32>> {
    let mol = chem::molecule(smiles, true)?;
    let mut out = vec![0.0f32; DRUG_DIM];
    for id in morgan::ecfp(&mol, DRUG_RADIUS) {
        // DRUG_DIM is a power of two, so this is `id % DRUG_DIM`.
        if let Some(v) = out.get_mut((id % DRUG_DIM as u64) as usize) {
            *v += 1.0;
        }
    }
    Ok(out)
}

/// A key identifying the molecule of a SMILES string independently of how it was written, for linking
/// datasets: `"<formula>-<32 hex digits>"`, e.g. `C2H6O-…` for ethanol.
///
/// Rules: stereochemistry and isotopes are ignored (all `[H]`/`[2H]` folded); of the `.`-components only
/// those with the most heavy atoms are kept (salts, counter-ions, water and solvents dropped; on a tie
/// all tied components are kept) and identical kept components count once (stoichiometry ignored);
/// simple ionised groups are neutralised (carboxylate/phenolate/thiolate/amide anions protonated,
/// protonated amines/phosphines/oxonium/sulfonium deprotonated, unless bonded to an opposite charge,
/// so nitro groups, N-oxides and quaternary ammonium keep their charges; pentavalent `N(=O)=O` is written
/// `[N+](=O)[O-]` first); aromatic and Kekulé forms are
/// unified as in [`drug_features`]. The digest hashes each kept component's sorted Morgan identifiers
/// of every iteration, iterated (without isotopes) until the atom partition stops refining (at least
/// radius 3). It is not a canonical SMILES: tautomers differ, and graphs that Morgan refinement cannot
/// tell apart (rare, highly symmetric cases) would collide; the formula is the net formula after the
/// rules above.
pub fn structure_key(smiles: &str) -> Result<String> {
    let mol = chem::molecule(smiles, false)?;
    Ok(morgan::structure_key(mol))
}

/// Count-based Tanimoto similarity `Σ min(a_i, b_i) / Σ max(a_i, b_i)` of two non-negative vectors
/// (missing positions of the shorter vector count as 0); 0 when both are all zero or empty.
pub fn tanimoto(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().max(b.len());
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for i in 0..n {
        let x = f64::from(a.get(i).copied().unwrap_or(0.0));
        let y = f64::from(b.get(i).copied().unwrap_or(0.0));
        num += x.min(y);
        den += x.max(y);
    }
    if den > 0.0 {
        (num / den) as f32
    } else {
        0.0
    }
}

/// Amino-acid composition (20) then dipeptide composition (400) of a protein sequence: [`PROTEIN_DIM`]
/// frequencies.
///
/// Order: amino acids `ACDEFGHIKLMNPQRSTVWY` ([`AMINO_ACIDS`]); dipeptide `XY` at `20 + 20·idx(X) +
/// idx(Y)` (row-major). Letters are case-insensitive and ASCII whitespace (e.g. FASTA line breaks) is
/// ignored. The IUPAC letters B, J, O, U, X, Z (ambiguous or non-standard residues; U and X occur in
/// the DrugBAN data) are accepted but not counted, and break the dipeptides they are part of. AAC is
/// counts / counted residues; DPC is counts / counted adjacent pairs (all zero when there is none), so
/// each block sums to 1. Any other character, an empty sequence or one without a standard residue gives
/// [`crate::CragError::InvalidArgument`] (naming the 1-based character position for bad characters).
pub fn protein_features(sequence: &str) -> Result<Vec<f32>> {
    protein::composition(sequence)
}

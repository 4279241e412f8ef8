//! SQL featurizers: the exact vectors the DTI/ADR model was trained on, computed by crag-core.

use pgrx::prelude::*;

use crate::error::OrRaise;

/// Morgan/ECFP-style circular fingerprint of a SMILES string: radius 2, counts folded to 2048 positions
/// (`morgan_r2_2048_counts`). Invalid SMILES raise an error naming the position.
#[pg_extern(immutable, strict, parallel_safe, cost = 50)]
fn crag_drug_features(smiles: &str) -> Vec<f32> {
    crag_core::features::drug_features(smiles).or_raise()
}

/// Amino-acid (20) + dipeptide (400) composition of a protein sequence (`aac_dpc_420`); letters that are not
/// amino acids raise an error naming the position.
#[pg_extern(immutable, strict, parallel_safe, cost = 50)]
fn crag_protein_features(sequence: &str) -> Vec<f32> {
    crag_core::features::protein_features(sequence).or_raise()
}

/// Representation-independent structure key of a SMILES (largest fragment, neutralised, stereo and isotopes
/// ignored): the key CRAG links datasets by.
#[pg_extern(immutable, strict, parallel_safe, cost = 50)]
fn crag_structure_key(smiles: &str) -> String {
    crag_core::features::structure_key(smiles).or_raise()
}

//! DTI/ADR datasets (spec §2): drug–target pairs (DrugBAN format or users' own CSV/TSV), SIDER drug
//! profiles, structure-based linking between the two, the assembled multi-task dataset with
//! leakage-safe ADR targets, and the ADR baselines (popularity, nearest neighbour).
//!
//! # Pair files
//! [`read_dti_pairs`] reads comma- or tab-separated text with a header row:
//! * delimiter: from the extension (`.csv` → comma; `.tsv`/`.tab` → tab; a trailing `.gz` is
//!   decompressed and ignored for this), otherwise sniffed from the header (tab if it has one);
//! * columns, matched case-insensitively after trimming, in any order: `smiles` or `drug_smiles`
//!   (required), `protein` or `sequence` (required, amino-acid sequence), `label` or `y` (required),
//!   `drug_id` and `protein_id` (optional); other columns are ignored;
//! * labels: `1`/`0`, any number equal to them (`1.0`, `0.0`), or `true`/`false`;
//! * fields may be wrapped in double quotes (`""` escapes a quote) but may not span lines;
//!   blank lines are skipped and a trailing `\r` is removed.
//!
//! DrugBAN's `SMILES,Protein,Y` files are a special case. Errors name the file and line.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sider::{self, SideEffect};
use crate::tfidf::AdrEncoder;
use crate::{CragError, Result};

// ---------------------------------------------------------------------------------------------
// Pair files
// ---------------------------------------------------------------------------------------------

/// One labelled drug–protein pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtiPair {
    /// Drug SMILES as written in the file.
    pub smiles: String,
    /// Protein amino-acid sequence.
    pub protein: String,
    /// Interaction label.
    pub label: bool,
    /// Optional user drug identifier.
    pub drug_id: Option<String>,
    /// Optional user protein identifier.
    pub protein_id: Option<String>,
}

impl DtiPair {
    /// A pair without identifiers.
    pub fn new(smiles: impl Into<String>, protein: impl Into<String>, label: bool) -> Self {
        DtiPair {
            smiles: smiles.into(),
            protein: protein.into(),
            label,
            drug_id: None,
            protein_id: None,
        }
    }
}

/// Field separator of a pair file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// `,`
    Comma,
    /// `\t`
    Tab,
}

impl Delimiter {
    fn char(self) -> char {
        match self {
            Delimiter::Comma => ',',
            Delimiter::Tab => '\t',
        }
    }
}

/// Split one line into fields; double-quoted fields may contain the delimiter and `""`.
fn split_record(line: &str, delim: char) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(c) if c == delim => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(c) if c == delim => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// Parse a pair label: `1`/`0`, numbers equal to them, or `true`/`false` (case-insensitive).
fn parse_label(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        return Some(true);
    }
    if s.eq_ignore_ascii_case("false") {
        return Some(false);
    }
    let v = s.parse::<f64>().ok()?;
    if v == 1.0 {
        Some(true)
    } else if v == 0.0 {
        Some(false)
    } else {
        None
    }
}

/// Column positions resolved from a header.
struct PairColumns {
    smiles: usize,
    protein: usize,
    label: usize,
    drug_id: Option<usize>,
    protein_id: Option<usize>,
    n: usize,
}

fn resolve_columns(header: &[String], source: &str) -> Result<PairColumns> {
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let find = |aliases: &[&str]| -> Result<Option<usize>> {
        let hits: Vec<usize> = (0..names.len())
            .filter(|&i| aliases.contains(&names[i].as_str()))
            .collect();
        match hits.as_slice() {
            [] => Ok(None),
            [i] => Ok(Some(*i)),
            _ => Err(CragError::invalid(format!(
                "{source} line 1: more than one column among {aliases:?}"
            ))),
        }
    };
    let required = |aliases: &[&str]| -> Result<usize> {
        find(aliases)?.ok_or_else(|| {
            CragError::invalid(format!(
                "{source} line 1: missing column (one of {aliases:?}); header is {header:?}"
            ))
        })
    };
    Ok(PairColumns {
        smiles: required(&["smiles", "drug_smiles"])?,
        protein: required(&["protein", "sequence"])?,
        label: required(&["label", "y"])?,
        drug_id: find(&["drug_id"])?,
        protein_id: find(&["protein_id"])?,
        n: names.len(),
    })
}

/// Parse pair text (format in the module docs). `delimiter: None` sniffs it from the header;
/// `source` names the input in error messages.
pub fn parse_dti_pairs(
    reader: impl Read,
    delimiter: Option<Delimiter>,
    source: &str,
) -> Result<Vec<DtiPair>> {
    let mut cols: Option<(PairColumns, char)> = None;
    let mut pairs = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let lineno = i + 1;
        let line = line.map_err(|e| CragError::io(format!("reading {source}"), e))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.trim().is_empty() {
            continue;
        }
        let bad = |msg: String| CragError::invalid(format!("{source} line {lineno}: {msg}"));
        let (pc, delim) = match &cols {
            Some(c) => (&c.0, c.1),
            None => {
                let delim = delimiter
                    .unwrap_or(if line.contains('\t') {
                        Delimiter::Tab
                    } else {
                        Delimiter::Comma
                    })
                    .char();
                let header = split_record(line, delim).map_err(bad)?;
                let pc = resolve_columns(&header, source)?;
                cols = Some((pc, delim));
                continue;
            }
        };
        let f = split_record(line, delim).map_err(bad)?;
        if f.len() != pc.n {
            return Err(bad(format!("expected {} fields, got {}", pc.n, f.len())));
        }
        let smiles = f[pc.smiles].trim();
        let protein = f[pc.protein].trim();
        if smiles.is_empty() {
            return Err(bad("empty SMILES".into()));
        }
        if protein.is_empty() {
            return Err(bad("empty protein sequence".into()));
        }
        let label = parse_label(&f[pc.label])
            .ok_or_else(|| bad(format!("label {:?} is not 0/1/true/false", f[pc.label])))?;
        let opt = |c: Option<usize>| {
            c.map(|c| f[c].trim())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        pairs.push(DtiPair {
            smiles: smiles.to_string(),
            protein: protein.to_string(),
            label,
            drug_id: opt(pc.drug_id),
            protein_id: opt(pc.protein_id),
        });
    }
    if cols.is_none() {
        return Err(CragError::invalid(format!("{source}: no header row")));
    }
    Ok(pairs)
}

/// Read a pair file (DrugBAN `SMILES,Protein,Y` or the generic format in the module docs);
/// `.gz` files are decompressed.
pub fn read_dti_pairs(path: &Path) -> Result<Vec<DtiPair>> {
    let file = std::fs::File::open(path)
        .map_err(|e| CragError::io(format!("opening {}", path.display()), e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let gz = name.ends_with(".gz");
    let base = name.strip_suffix(".gz").unwrap_or(&name);
    let delimiter = if base.ends_with(".csv") {
        Some(Delimiter::Comma)
    } else if base.ends_with(".tsv") || base.ends_with(".tab") {
        Some(Delimiter::Tab)
    } else {
        None
    };
    let source = path.display().to_string();
    if gz {
        parse_dti_pairs(flate2::read::GzDecoder::new(file), delimiter, &source)
    } else {
        parse_dti_pairs(file, delimiter, &source)
    }
}

// ---------------------------------------------------------------------------------------------
// SIDER drugs
// ---------------------------------------------------------------------------------------------

/// A SIDER drug with its structure and preferred-term ADR profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiderDrug {
    /// Flat STITCH id (`CID1…`).
    pub stitch_id: String,
    /// Drug name.
    pub name: String,
    /// SMILES (may be empty; such a drug never links).
    pub smiles: String,
    /// `(MedDRA CUI, preferred term)` pairs, sorted by CUI, unique.
    pub adrs: Vec<(String, String)>,
}

/// Join a `sider_drug_smiles.tsv` table (header with at least `stitch_id_flat`, `drug_name`,
/// `smiles`) with PT side effects. Output is sorted by STITCH id; drugs without side effects keep
/// an empty profile; side effects of drugs missing from the table are dropped. Duplicate ids or
/// malformed rows are errors.
pub fn parse_sider_drugs(smiles_tsv: impl Read, effects: &[SideEffect]) -> Result<Vec<SiderDrug>> {
    let src = "sider_drug_smiles.tsv";
    let mut lines = BufReader::new(smiles_tsv).lines();
    let header = match lines.next() {
        Some(l) => l.map_err(|e| CragError::io(format!("reading {src}"), e))?,
        None => return Err(CragError::invalid(format!("{src}: empty file"))),
    };
    let header: Vec<String> = header
        .trim_end_matches('\r')
        .split('\t')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CragError::invalid(format!("{src} line 1: missing column {name:?}")))
    };
    let (c_id, c_name, c_smiles) = (col("stitch_id_flat")?, col("drug_name")?, col("smiles")?);
    let mut drugs: std::collections::BTreeMap<String, SiderDrug> = Default::default();
    for (i, line) in lines.enumerate() {
        let lineno = i + 2;
        let line = line.map_err(|e| CragError::io(format!("reading {src}"), e))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != header.len() {
            return Err(CragError::invalid(format!(
                "{src} line {lineno}: expected {} tab-separated fields, got {}",
                header.len(),
                f.len()
            )));
        }
        let id = f[c_id].trim();
        if id.is_empty() {
            return Err(CragError::invalid(format!(
                "{src} line {lineno}: empty stitch_id_flat"
            )));
        }
        let drug = SiderDrug {
            stitch_id: id.to_string(),
            name: f[c_name].trim().to_string(),
            smiles: f[c_smiles].trim().to_string(),
            adrs: Vec::new(),
        };
        if drugs.insert(id.to_string(), drug).is_some() {
            return Err(CragError::invalid(format!(
                "{src} line {lineno}: duplicate stitch id {id}"
            )));
        }
    }
    let mut profiles: HashMap<&str, BTreeSet<(&str, &str)>> = HashMap::new();
    for e in effects {
        profiles
            .entry(e.stitch_id.as_str())
            .or_default()
            .insert((e.meddra_id.as_str(), e.term.as_str()));
    }
    let mut out: Vec<SiderDrug> = drugs.into_values().collect();
    for d in &mut out {
        if let Some(p) = profiles.get(d.stitch_id.as_str()) {
            let mut last: Option<&str> = None;
            for &(cui, term) in p {
                // One entry per CUI (the set is sorted by CUI, then term).
                if last != Some(cui) {
                    d.adrs.push((cui.to_string(), term.to_string()));
                    last = Some(cui);
                }
            }
        }
    }
    Ok(out)
}

/// Read `dir/sider_drug_smiles.tsv` and `dir/meddra_all_se.tsv.gz` (or `.tsv`) and join them
/// ([`parse_sider_drugs`]; PT rows only, via [`super::sider`]).
pub fn read_sider_drugs(dir: &Path) -> Result<Vec<SiderDrug>> {
    let smiles_path = dir.join("sider_drug_smiles.tsv");
    let gz = dir.join("meddra_all_se.tsv.gz");
    let se_path = if gz.exists() {
        gz
    } else {
        dir.join("meddra_all_se.tsv")
    };
    let effects = sider::read_side_effects(&se_path)?;
    let file = std::fs::File::open(&smiles_path)
        .map_err(|e| CragError::io(format!("opening {}", smiles_path.display()), e))?;
    parse_sider_drugs(file, &effects)
}

// ---------------------------------------------------------------------------------------------
// Linking
// ---------------------------------------------------------------------------------------------

/// Result of linking DTI drugs to SIDER drugs by structure key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// DTI SMILES → index into the SIDER slice (left empty in [`DatasetSummary::link`]).
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub map: HashMap<String, usize>,
    /// Distinct DTI SMILES strings.
    pub n_dti_drugs: usize,
    /// Distinct DTI SMILES linked to a SIDER drug.
    pub n_linked: usize,
    /// SIDER drugs given.
    pub n_sider_drugs: usize,
    /// SIDER drugs whose key equals that of an earlier SIDER drug (they are never linked; the
    /// lowest index wins).
    pub n_key_collisions: usize,
    /// Distinct SIDER drugs reached by at least one DTI drug.
    pub n_sider_linked: usize,
    /// Distinct DTI SMILES for which the key function returned `None`.
    pub n_dti_unkeyed: usize,
    /// SIDER drugs for which the key function returned `None` (or whose SMILES is empty).
    pub n_sider_unkeyed: usize,
}

/// Keys of SIDER drugs and the canonical (first) SIDER index per key.
struct SiderKeys {
    keys: Vec<Option<String>>,
    canonical: HashMap<String, usize>,
    n_collisions: usize,
    n_unkeyed: usize,
}

fn sider_keys<F: Fn(&str) -> Option<String>>(sider: &[SiderDrug], key: &F) -> SiderKeys {
    let mut out = SiderKeys {
        keys: Vec::with_capacity(sider.len()),
        canonical: HashMap::new(),
        n_collisions: 0,
        n_unkeyed: 0,
    };
    for (i, d) in sider.iter().enumerate() {
        let k = if d.smiles.is_empty() {
            None
        } else {
            key(&d.smiles)
        };
        match &k {
            None => out.n_unkeyed += 1,
            Some(k) => {
                if out.canonical.contains_key(k) {
                    out.n_collisions += 1;
                } else {
                    out.canonical.insert(k.clone(), i);
                }
            }
        }
        out.keys.push(k);
    }
    out
}

/// Link DTI drugs to SIDER drugs by equal structure keys (never by string or name). `key` maps a
/// SMILES to a structure key (e.g. `features::structure_key`), `None` if it cannot. If several
/// SIDER drugs share a key, all DTI drugs with that key link to the lowest SIDER index and the
/// others count as collisions.
pub fn link_by_structure<F: Fn(&str) -> Option<String>>(
    dti_smiles: &[&str],
    sider: &[SiderDrug],
    key: F,
) -> LinkReport {
    let sk = sider_keys(sider, &key);
    let mut report = LinkReport {
        n_sider_drugs: sider.len(),
        n_key_collisions: sk.n_collisions,
        n_sider_unkeyed: sk.n_unkeyed,
        ..Default::default()
    };
    let mut seen: HashSet<&str> = HashSet::new();
    let mut reached: HashSet<usize> = HashSet::new();
    for &s in dti_smiles {
        if !seen.insert(s) {
            continue;
        }
        match key(s) {
            None => report.n_dti_unkeyed += 1,
            Some(k) => {
                if let Some(&j) = sk.canonical.get(&k) {
                    report.map.insert(s.to_string(), j);
                    reached.insert(j);
                }
            }
        }
    }
    report.n_dti_drugs = seen.len();
    report.n_linked = report.map.len();
    report.n_sider_linked = reached.len();
    report
}

// ---------------------------------------------------------------------------------------------
// Dataset assembly
// ---------------------------------------------------------------------------------------------

/// A data split. Ordered `Train < Val < Test` (the most held-out split wins when a drug is in several).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training.
    Train,
    /// Validation.
    Val,
    /// Test.
    Test,
}

/// Options for [`DtiAdrDataset::build`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetConfig {
    /// Seed of the hash that splits SIDER-only drugs.
    pub seed: u64,
    /// Fraction of SIDER-only drugs sent to ADR validation.
    pub adr_val_fraction: f64,
    /// Fraction of SIDER-only drugs sent to ADR test.
    pub adr_test_fraction: f64,
    /// Add SIDER drugs that match no DTI drug to the drug table (ADR-only rows).
    pub include_sider_only: bool,
}

impl Default for DatasetConfig {
    /// Seed 0, 80/10/10, SIDER-only drugs included.
    fn default() -> Self {
        DatasetConfig {
            seed: 0,
            adr_val_fraction: 0.1,
            adr_test_fraction: 0.1,
            include_sider_only: true,
        }
    }
}

/// One row of the drug table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrugRecord {
    /// SMILES (DTI spelling for DTI drugs, SIDER's for SIDER-only drugs).
    pub smiles: String,
    /// Structure key, if the key function gave one.
    pub key: Option<String>,
    /// First non-empty `drug_id` seen in the pair files; the STITCH id for SIDER-only drugs.
    pub drug_id: Option<String>,
    /// Linked SIDER drug (index into the SIDER slice given to `build`).
    pub sider_idx: Option<usize>,
    /// DTI splits the drug occurs in (empty for SIDER-only drugs).
    pub dti_splits: Vec<Split>,
    /// ADR split of its profile; `None` when the drug has no usable ADR profile.
    pub adr_split: Option<Split>,
}

/// One row of the protein table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProteinRecord {
    /// Amino-acid sequence (the identity of a protein).
    pub sequence: String,
    /// First non-empty `protein_id` seen.
    pub protein_id: Option<String>,
}

/// A pair as indices into the drug and protein tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedPair {
    /// Drug table index.
    pub drug: usize,
    /// Protein table index.
    pub protein: usize,
    /// Interaction label.
    pub label: bool,
}

/// Pair counts of one DTI split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DtiSplitCounts {
    /// Pairs.
    pub pairs: usize,
    /// Positive pairs.
    pub positives: usize,
    /// Distinct drugs.
    pub drugs: usize,
    /// Distinct proteins.
    pub proteins: usize,
    /// Distinct drugs linked to a SIDER profile.
    pub drugs_with_sider_profile: usize,
}

/// ADR profiles (targets rows) of one ADR split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AdrSplitCounts {
    /// Profiles reached from DTI drugs.
    pub dti_linked: usize,
    /// Profiles of SIDER-only drugs.
    pub sider_only: usize,
    /// Profiles whose ADRs are all outside the training vocabulary (all-zero target row).
    pub empty_after_vocabulary: usize,
}

/// Drugs and proteins shared between DTI splits (by exact SMILES / sequence).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OverlapReport {
    /// Drugs in both train and val.
    pub drugs_train_val: usize,
    /// Drugs in both train and test.
    pub drugs_train_test: usize,
    /// Drugs in both val and test.
    pub drugs_val_test: usize,
    /// Proteins in both train and val.
    pub proteins_train_val: usize,
    /// Proteins in both train and test.
    pub proteins_train_test: usize,
    /// Proteins in both val and test.
    pub proteins_val_test: usize,
    /// SIDER-linked DTI-train drugs whose profile is held out because they (or another drug with
    /// the same structure key) also occur in DTI val/test.
    pub train_drugs_adr_held_out: usize,
}

/// Serialisable summary of a [`DtiAdrDataset`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// DTI train counts.
    pub train: DtiSplitCounts,
    /// DTI val counts.
    pub val: DtiSplitCounts,
    /// DTI test counts.
    pub test: DtiSplitCounts,
    /// `#neg / #pos` on DTI train (spec §0); NaN without positives.
    pub pos_weight: f64,
    /// Rows of the drug table.
    pub n_drugs: usize,
    /// Drugs occurring in DTI pairs.
    pub n_dti_drugs: usize,
    /// SIDER-only drugs in the table.
    pub n_sider_only_drugs: usize,
    /// Rows of the protein table.
    pub n_proteins: usize,
    /// Linking counts (the report without its map).
    pub link: LinkReport,
    /// Between-split overlaps.
    pub overlap: OverlapReport,
    /// ADR vocabulary size `K`.
    pub n_adr_terms: usize,
    /// Training ADR profiles the IDF was fitted on.
    pub adr_train: AdrSplitCounts,
    /// Validation ADR profiles.
    pub adr_val: AdrSplitCounts,
    /// Test ADR profiles.
    pub adr_test: AdrSplitCounts,
    /// Drugs with an ADR target row (any ADR split).
    pub n_drugs_with_adr_profile: usize,
    /// Drugs whose profile may enter the ADR loss (`adr_mask` true, ADR split train).
    pub n_drugs_adr_loss: usize,
    /// SIDER drugs with an empty side-effect list (never used).
    pub n_sider_without_adrs: usize,
}

/// The multi-task dataset: drug/protein tables, indexed pairs and masked ADR targets.
///
/// ADR targets exist only for drugs with a SIDER profile: `adr_row[d]` points into `adr_targets`
/// (one row per distinct SIDER profile, shared by DTI drugs with the same structure key). Drugs
/// without a profile have no target row at all — they are masked, never zero-filled.
///
/// `adr_mask[d]` is the **loss mask**: true only when the drug's profile is in the ADR-train split.
/// A DTI-train drug whose profile is held out (it, or a drug with the same structure, also occurs
/// in DTI val/test) is masked in the ADR loss although [`DtiAdrDataset::adr_target`] returns its
/// row for evaluation. Evaluate on the rows of [`DtiAdrDataset::adr_rows`]`(Val | Test)`.
#[derive(Debug, Clone)]
pub struct DtiAdrDataset {
    /// Unique drugs: DTI drugs in first-seen order (train, val, test), then SIDER-only drugs.
    pub drugs: Vec<DrugRecord>,
    /// Unique proteins in first-seen order.
    pub proteins: Vec<ProteinRecord>,
    /// DTI train pairs.
    pub train: Vec<IndexedPair>,
    /// DTI val pairs.
    pub val: Vec<IndexedPair>,
    /// DTI test pairs.
    pub test: Vec<IndexedPair>,
    /// ADR vocabulary and TF-IDF, fitted on the distinct ADR-train profiles only (save with the model).
    pub adr_encoder: AdrEncoder,
    /// Per drug: the ADR loss mask (profile exists and is in the ADR-train split).
    pub adr_mask: Vec<bool>,
    /// Per drug: row of `adr_targets`.
    pub adr_row: Vec<Option<usize>>,
    /// `n_profiles × K` TF-IDF targets.
    pub adr_targets: Array2<f32>,
    /// Per target row: its column ids (the binary relevance used by ranking metrics).
    pub adr_columns: Vec<Vec<usize>>,
    /// Per target row: ADR split.
    pub adr_row_split: Vec<Split>,
    /// Per target row: SIDER index.
    pub adr_row_sider: Vec<usize>,
    /// Per target row: first drug-table index carrying it (for features).
    pub adr_row_drug: Vec<usize>,
    /// Counts.
    pub summary: DatasetSummary,
}

/// Deterministic split of a SIDER-only drug from `(seed, key)` via SHA-256: `u ∈ [0, 1)` from the
/// first 8 bytes; `u < test` → Test, `u < test + val` → Val, else Train.
fn hash_split(seed: u64, key: &str, val: f64, test: f64) -> Split {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(key.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    let u = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
    if u < test {
        Split::Test
    } else if u < test + val {
        Split::Val
    } else {
        Split::Train
    }
}

impl DtiAdrDataset {
    /// Assemble the dataset.
    ///
    /// * Drugs are unique by SMILES string, proteins by sequence.
    /// * DTI drugs link to SIDER by `key` ([`link_by_structure`]).
    /// * ADR split of a linked SIDER profile: the most held-out DTI split among all DTI drugs that
    ///   reach it (Test > Val > Train), so a profile seen in DTI val/test is never trained on.
    /// * SIDER-only profiles (no DTI drug has their key; only canonical, keyed SIDER drugs) are
    ///   added when `config.include_sider_only`, split by [`DatasetConfig`]'s seeded hash of the key.
    /// * SIDER drugs whose key repeats an earlier SIDER drug's key, that have no key, or that have
    ///   an empty side-effect list are not used.
    /// * Vocabulary and TF-IDF are fitted on the distinct ADR-train profiles only; `adr_mask` marks
    ///   drugs whose profile is ADR-train (see the type docs).
    ///
    /// The SIDER-only split depends on the key function's output, so changing it reshuffles them.
    pub fn build<F: Fn(&str) -> Option<String>>(
        train: &[DtiPair],
        val: &[DtiPair],
        test: &[DtiPair],
        sider: &[SiderDrug],
        key: F,
        config: &DatasetConfig,
    ) -> Result<DtiAdrDataset> {
        let (fv, ft) = (config.adr_val_fraction, config.adr_test_fraction);
        if !(fv.is_finite() && ft.is_finite() && fv >= 0.0 && ft >= 0.0 && fv + ft <= 1.0) {
            return Err(CragError::invalid(format!(
                "ADR split fractions must be finite, >= 0 and sum to <= 1 (val {fv}, test {ft})"
            )));
        }

        // Tables and indexed pairs.
        let mut drugs: Vec<DrugRecord> = Vec::new();
        let mut proteins: Vec<ProteinRecord> = Vec::new();
        let mut drug_ix: HashMap<&str, usize> = HashMap::new();
        let mut prot_ix: HashMap<&str, usize> = HashMap::new();
        let mut indexed: [Vec<IndexedPair>; 3] = Default::default();
        let splits = [
            (Split::Train, train),
            (Split::Val, val),
            (Split::Test, test),
        ];
        for (s, (split, pairs)) in splits.iter().enumerate() {
            for p in pairs.iter() {
                let d = *drug_ix.entry(p.smiles.as_str()).or_insert_with(|| {
                    drugs.push(DrugRecord {
                        smiles: p.smiles.clone(),
                        key: None,
                        drug_id: None,
                        sider_idx: None,
                        dti_splits: Vec::new(),
                        adr_split: None,
                    });
                    drugs.len() - 1
                });
                let rec = &mut drugs[d];
                if !rec.dti_splits.contains(split) {
                    rec.dti_splits.push(*split);
                }
                if rec.drug_id.is_none() {
                    rec.drug_id.clone_from(&p.drug_id);
                }
                let q = *prot_ix.entry(p.protein.as_str()).or_insert_with(|| {
                    proteins.push(ProteinRecord {
                        sequence: p.protein.clone(),
                        protein_id: None,
                    });
                    proteins.len() - 1
                });
                if proteins[q].protein_id.is_none() {
                    proteins[q].protein_id.clone_from(&p.protein_id);
                }
                indexed[s].push(IndexedPair {
                    drug: d,
                    protein: q,
                    label: p.label,
                });
            }
        }
        let n_dti_drugs = drugs.len();

        // Structure keys and links.
        let sk = sider_keys(sider, &key);
        let mut link = LinkReport {
            n_sider_drugs: sider.len(),
            n_key_collisions: sk.n_collisions,
            n_sider_unkeyed: sk.n_unkeyed,
            n_dti_drugs,
            ..Default::default()
        };
        let mut sider_split: Vec<Option<Split>> = vec![None; sider.len()];
        let mut sider_linked = vec![false; sider.len()];
        for rec in &mut drugs {
            rec.key = key(&rec.smiles);
            match &rec.key {
                None => link.n_dti_unkeyed += 1,
                Some(k) => {
                    if let Some(&j) = sk.canonical.get(k) {
                        rec.sider_idx = Some(j);
                        sider_linked[j] = true;
                        let most_held_out = rec.dti_splits.iter().copied().max();
                        sider_split[j] = sider_split[j].max(most_held_out);
                    }
                }
            }
        }
        link.n_linked = drugs.iter().filter(|d| d.sider_idx.is_some()).count();
        link.n_sider_linked = sider_linked.iter().filter(|&&l| l).count();

        // SIDER-only drugs.
        if config.include_sider_only {
            for (j, sd) in sider.iter().enumerate() {
                let Some(k) = &sk.keys[j] else { continue };
                if sider_linked[j] || sk.canonical.get(k) != Some(&j) || sd.adrs.is_empty() {
                    continue;
                }
                sider_split[j] = Some(hash_split(config.seed, k, fv, ft));
                drugs.push(DrugRecord {
                    smiles: sd.smiles.clone(),
                    key: Some(k.clone()),
                    drug_id: Some(sd.stitch_id.clone()),
                    sider_idx: Some(j),
                    dti_splits: Vec::new(),
                    adr_split: None,
                });
            }
        }
        // Profiles without side effects are not usable.
        for (j, sd) in sider.iter().enumerate() {
            if sd.adrs.is_empty() {
                sider_split[j] = None;
            }
        }

        // Vocabulary and TF-IDF on distinct ADR-train profiles only.
        let train_profiles: Vec<&[(String, String)]> = (0..sider.len())
            .filter(|&j| sider_split[j] == Some(Split::Train))
            .map(|j| sider[j].adrs.as_slice())
            .collect();
        let adr_encoder = AdrEncoder::fit(train_profiles.iter().copied())?;
        let (vocabulary, tfidf) = (&adr_encoder.vocabulary, &adr_encoder.tfidf);

        // Target rows, one per distinct profile, in drug-table order.
        let index = vocabulary.index();
        let mut row_of_sider: HashMap<usize, usize> = HashMap::new();
        let mut adr_row = vec![None; drugs.len()];
        let mut adr_columns: Vec<Vec<usize>> = Vec::new();
        let mut adr_row_split = Vec::new();
        let mut adr_row_sider = Vec::new();
        let mut adr_row_drug = Vec::new();
        for (d, rec) in drugs.iter_mut().enumerate() {
            let Some(j) = rec.sider_idx else { continue };
            let Some(split) = sider_split[j] else {
                continue;
            };
            rec.adr_split = Some(split);
            let r = *row_of_sider.entry(j).or_insert_with(|| {
                let mut cols: Vec<usize> = sider[j]
                    .adrs
                    .iter()
                    .filter_map(|(cui, _)| index.get(cui.as_str()).copied())
                    .collect();
                cols.sort_unstable();
                cols.dedup();
                adr_columns.push(cols);
                adr_row_split.push(split);
                adr_row_sider.push(j);
                adr_row_drug.push(d);
                adr_columns.len() - 1
            });
            adr_row[d] = Some(r);
        }
        let adr_targets = tfidf.transform_many(&adr_columns);
        let adr_mask: Vec<bool> = drugs
            .iter()
            .map(|d| d.adr_split == Some(Split::Train))
            .collect();

        // Summary.
        let mut summary = DatasetSummary {
            n_drugs: drugs.len(),
            n_dti_drugs,
            n_sider_only_drugs: drugs.len() - n_dti_drugs,
            n_proteins: proteins.len(),
            n_adr_terms: vocabulary.len(),
            n_drugs_with_adr_profile: adr_row.iter().filter(|r| r.is_some()).count(),
            n_drugs_adr_loss: adr_mask.iter().filter(|&&m| m).count(),
            n_sider_without_adrs: sider.iter().filter(|s| s.adrs.is_empty()).count(),
            ..Default::default()
        };
        let split_sets = |pairs: &[IndexedPair]| -> (HashSet<usize>, HashSet<usize>) {
            (
                pairs.iter().map(|p| p.drug).collect(),
                pairs.iter().map(|p| p.protein).collect(),
            )
        };
        let sets: Vec<(HashSet<usize>, HashSet<usize>)> =
            indexed.iter().map(|p| split_sets(p)).collect();
        let counts = |s: usize| DtiSplitCounts {
            pairs: indexed[s].len(),
            positives: indexed[s].iter().filter(|p| p.label).count(),
            drugs: sets[s].0.len(),
            proteins: sets[s].1.len(),
            drugs_with_sider_profile: sets[s]
                .0
                .iter()
                .filter(|&&d| drugs[d].sider_idx.is_some())
                .count(),
        };
        summary.train = counts(0);
        summary.val = counts(1);
        summary.test = counts(2);
        let t = &summary.train;
        summary.pos_weight = if t.positives == 0 {
            f64::NAN
        } else {
            (t.pairs - t.positives) as f64 / t.positives as f64
        };
        let inter = |a: &HashSet<usize>, b: &HashSet<usize>| a.intersection(b).count();
        summary.overlap = OverlapReport {
            drugs_train_val: inter(&sets[0].0, &sets[1].0),
            drugs_train_test: inter(&sets[0].0, &sets[2].0),
            drugs_val_test: inter(&sets[1].0, &sets[2].0),
            proteins_train_val: inter(&sets[0].1, &sets[1].1),
            proteins_train_test: inter(&sets[0].1, &sets[2].1),
            proteins_val_test: inter(&sets[1].1, &sets[2].1),
            train_drugs_adr_held_out: sets[0]
                .0
                .iter()
                .filter(|&&d| matches!(drugs[d].adr_split, Some(Split::Val | Split::Test)))
                .count(),
        };
        for (r, cols) in adr_columns.iter().enumerate() {
            let c = match adr_row_split[r] {
                Split::Train => &mut summary.adr_train,
                Split::Val => &mut summary.adr_val,
                Split::Test => &mut summary.adr_test,
            };
            if sider_linked[adr_row_sider[r]] {
                c.dti_linked += 1;
            } else {
                c.sider_only += 1;
            }
            if cols.is_empty() {
                c.empty_after_vocabulary += 1;
            }
        }
        summary.link = link;

        let [train, val, test] = indexed;
        Ok(DtiAdrDataset {
            drugs,
            proteins,
            train,
            val,
            test,
            adr_encoder,
            adr_mask,
            adr_row,
            adr_targets,
            adr_columns,
            adr_row_split,
            adr_row_sider,
            adr_row_drug,
            summary,
        })
    }

    /// TF-IDF target of a drug; `None` when it has no ADR profile (masked).
    pub fn adr_target(&self, drug: usize) -> Option<&[f32]> {
        let r = (*self.adr_row.get(drug)?)?;
        self.adr_targets.row(r).to_slice()
    }

    /// Target rows (distinct profiles) of one ADR split, ascending.
    pub fn adr_rows(&self, split: Split) -> Vec<usize> {
        (0..self.adr_row_split.len())
            .filter(|&r| self.adr_row_split[r] == split)
            .collect()
    }

    /// Row-major `rows.len() × K` binary relevance (`target > 0`) for [`crate::metrics::ranking_report`].
    pub fn adr_relevance(&self, rows: &[usize]) -> Vec<bool> {
        let k = self.adr_encoder.vocabulary.len();
        let mut out = vec![false; rows.len() * k];
        for (i, &r) in rows.iter().enumerate() {
            for &c in self.adr_columns.get(r).map(Vec::as_slice).unwrap_or(&[]) {
                out[i * k + c] = true;
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// ADR baselines
// ---------------------------------------------------------------------------------------------

/// Tanimoto similarity of two non-negative count vectors, `Σ min(a_i, b_i) / Σ max(a_i, b_i)`
/// (equals the Jaccard index for 0/1 vectors). 0 when both are all-zero; NaN when lengths differ.
pub fn tanimoto(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::NAN;
    }
    let (mut num, mut den) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        num += x.min(y) as f64;
        den += x.max(y) as f64;
    }
    if den > 0.0 {
        (num / den) as f32
    } else {
        0.0
    }
}

/// Popularity baseline: the mean training target per column (mean TF-IDF), the same ranking for
/// every drug. Errors on an empty training matrix.
pub fn popularity_scores(train_targets: ArrayView2<'_, f32>) -> Result<Vec<f32>> {
    train_targets
        .mean_axis(ndarray::Axis(0))
        .map(|m| m.to_vec())
        .ok_or_else(|| CragError::invalid("popularity_scores: no training rows"))
}

/// Nearest-neighbour baseline: the similarity-weighted mean of the targets of the `k` training
/// drugs most Tanimoto-similar to `query_fp` (`k = 1` copies the nearest drug's profile).
/// Similarity ties are broken by lower training index; if all `k` similarities are 0 the plain mean
/// of those `k` rows is used. Fingerprints must be finite, non-negative and of equal length.
pub fn nearest_neighbour_scores(
    query_fp: &[f32],
    train_fps: &[&[f32]],
    train_targets: ArrayView2<'_, f32>,
    k: usize,
) -> Result<Vec<f32>> {
    if k == 0 {
        return Err(CragError::invalid(
            "nearest_neighbour_scores: k must be >= 1",
        ));
    }
    if train_fps.is_empty() || train_fps.len() != train_targets.nrows() {
        return Err(CragError::invalid(format!(
            "nearest_neighbour_scores: {} fingerprints but {} target rows",
            train_fps.len(),
            train_targets.nrows()
        )));
    }
    let valid =
        |fp: &[f32]| fp.len() == query_fp.len() && fp.iter().all(|v| v.is_finite() && *v >= 0.0);
    if !valid(query_fp) {
        return Err(CragError::invalid(
            "nearest_neighbour_scores: query fingerprint must be finite and non-negative",
        ));
    }
    if let Some(i) = train_fps.iter().position(|fp| !valid(fp)) {
        return Err(CragError::invalid(format!(
            "nearest_neighbour_scores: training fingerprint {i} has the wrong length or a negative/non-finite value"
        )));
    }
    let sims: Vec<f32> = train_fps.iter().map(|fp| tanimoto(query_fp, fp)).collect();
    let mut order: Vec<usize> = (0..sims.len()).collect();
    order.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
    order.truncate(k);
    let total: f64 = order.iter().map(|&i| sims[i] as f64).sum();
    let mut out = vec![0f64; train_targets.ncols()];
    for &i in &order {
        let w = if total > 0.0 {
            sims[i] as f64 / total
        } else {
            1.0 / order.len() as f64
        };
        for (o, &t) in out.iter_mut().zip(train_targets.row(i).iter()) {
            *o += w * t as f64;
        }
    }
    Ok(out.into_iter().map(|v| v as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;
    use approx::assert_abs_diff_eq;

    /// Toy structure key for tests: the sorted characters of the SMILES (real keys come from
    /// `features::structure_key`). `"OCC"` and `"CCO"` collide on purpose.
    fn toy_key(s: &str) -> Option<String> {
        if s.starts_with('!') {
            return None;
        }
        let mut c: Vec<char> = s.chars().collect();
        c.sort_unstable();
        Some(c.into_iter().collect())
    }

    fn pair(smiles: &str, protein: &str, label: bool) -> DtiPair {
        DtiPair::new(smiles, protein, label)
    }

    fn sider_drug(id: &str, smiles: &str, cuis: &[&str]) -> SiderDrug {
        SiderDrug {
            stitch_id: id.into(),
            name: format!("drug {id}"),
            smiles: smiles.into(),
            adrs: cuis
                .iter()
                .map(|c| (c.to_string(), format!("term {c}")))
                .collect(),
        }
    }

    #[test]
    fn data_dti_parses_drugban_csv_and_labels() {
        let text = "SMILES,Protein,Y\nCCO,MKV,1\r\nc1ccccc1,MAAA,0.0\n\nCCN,MKV,1.0\nCCC,MK,true\n";
        let p = parse_dti_pairs(text.as_bytes(), Some(Delimiter::Comma), "t.csv").unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0], pair("CCO", "MKV", true));
        assert!(!p[1].label && p[2].label && p[3].label);
        assert!(p[0].drug_id.is_none());
        for bad in ["2", "0.5", "", "yes", "nan"] {
            let t = format!("SMILES,Protein,Y\nCCO,MKV,1\nCCO,MKV,{bad}\n");
            let e = parse_dti_pairs(t.as_bytes(), None, "t.csv")
                .unwrap_err()
                .to_string();
            assert!(e.contains("t.csv line 3") && e.contains("label"), "{e}");
        }
    }

    #[test]
    fn data_dti_generic_format_tsv_sniffed_and_quoted() {
        let text = "Drug_ID\tdrug_smiles\tLabel\tSequence\tprotein_id\textra\n\
                    D1\tCCO\t0\tMKV\tP1\tx\n\
                    \t\"C,C\"\t1\tMAA\t\tx\n";
        let p = parse_dti_pairs(text.as_bytes(), None, "mine").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].drug_id.as_deref(), Some("D1"));
        assert_eq!(p[0].protein_id.as_deref(), Some("P1"));
        assert_eq!(p[0].protein, "MKV");
        assert_eq!(p[1].smiles, "C,C");
        assert!(p[1].drug_id.is_none() && p[1].protein_id.is_none() && p[1].label);
        // Quoted CSV with an escaped quote.
        let csv = "\"smiles\",\"protein\",\"y\"\n\"C\"\"O\",MK,1\n";
        let p = parse_dti_pairs(csv.as_bytes(), None, "q").unwrap();
        assert_eq!(p[0].smiles, "C\"O");
    }

    #[test]
    fn data_dti_malformed_rows_report_line_numbers() {
        let cases = [
            ("SMILES,Protein,Y\nCCO,MKV\n", "line 2", "expected 3 fields"),
            (
                "SMILES,Protein,Y\nCCO,MKV,1\n\nCCO,MKV,1,4\n",
                "line 4",
                "expected 3 fields",
            ),
            ("SMILES,Protein,Y\n,MKV,1\n", "line 2", "empty SMILES"),
            ("SMILES,Protein,Y\nCCO, ,1\n", "line 2", "empty protein"),
            ("SMILES,Protein,Y\n\"CCO,MKV,1\n", "line 2", "unterminated"),
            (
                "SMILES,Protein,Y\n\"CC\"O,MKV,1\n",
                "line 2",
                "closing quote",
            ),
            ("SMILES,Y\nCCO,1\n", "line 1", "missing column"),
            (
                "SMILES,drug_smiles,Protein,Y\nC,C,M,1\n",
                "line 1",
                "more than one",
            ),
        ];
        for (text, line, msg) in cases {
            let e = parse_dti_pairs(text.as_bytes(), None, "f.csv")
                .unwrap_err()
                .to_string();
            assert!(e.contains(line) && e.contains(msg), "{text:?}: {e}");
        }
        assert!(parse_dti_pairs("".as_bytes(), None, "f").is_err());
        assert!(read_dti_pairs(Path::new("/nonexistent/x.csv")).is_err());
    }

    #[test]
    fn data_dti_sider_join() {
        let tsv = "stitch_id_flat\tpubchem_cid\tdrug_name\tsmiles\tinchikey\n\
                   CID2\t2\tbeta\tCCN\tK2\n\
                   CID1\t1\talpha\tCCO\tK1\n\
                   CID3\t3\tgamma\tCCC\tK3\n";
        let se = sider::parse_side_effects(
            "CID1\tCID01\tC1\tPT\tC2\tAbdominal pain\n\
             CID1\tCID01\tC1\tLLT\tC1\tAbdominal cramps\n\
             CID1\tCID01\tC4\tPT\tC4\tNausea\n\
             CID2\tCID02\tC3\tPT\tC2\tAbdominal pain\n\
             CID9\tCID09\tC3\tPT\tC2\tAbdominal pain\n"
                .as_bytes(),
        )
        .unwrap();
        let d = parse_sider_drugs(tsv.as_bytes(), &se).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].stitch_id, "CID1");
        assert_eq!(d[0].name, "alpha");
        assert_eq!(
            d[0].adrs,
            vec![
                ("C2".into(), "Abdominal pain".into()),
                ("C4".into(), "Nausea".into())
            ]
        );
        assert_eq!(d[1].adrs.len(), 1);
        assert!(
            d[2].adrs.is_empty(),
            "drug without side effects keeps an empty profile"
        );
        let dup = "stitch_id_flat\tdrug_name\tsmiles\nCID1\ta\tC\nCID1\tb\tC\n";
        assert!(parse_sider_drugs(dup.as_bytes(), &se)
            .unwrap_err()
            .to_string()
            .contains("line 3"));
        let short = "stitch_id_flat\tdrug_name\tsmiles\nCID1\ta\n";
        assert!(parse_sider_drugs(short.as_bytes(), &se)
            .unwrap_err()
            .to_string()
            .contains("line 2"));
        let nocol = "stitch_id_flat\tname\tsmiles\n";
        assert!(parse_sider_drugs(nocol.as_bytes(), &se).is_err());
    }

    #[test]
    fn data_dti_link_by_structure_not_string() {
        let sider = vec![
            sider_drug("CID1", "CCO", &["C1"]),
            sider_drug("CID2", "OCC", &["C2"]), // same toy key as CID1 → collision
            sider_drug("CID3", "CN", &["C3"]),
            sider_drug("CID4", "", &["C4"]),
        ];
        // "COC" has the same sorted characters as "CCO"; "NC" as "CN"; "CCCC" matches nothing;
        // "!x" has no key.
        let dti = ["COC", "NC", "CCCC", "NC", "!x"];
        let r = link_by_structure(&dti, &sider, toy_key);
        assert_eq!(r.n_dti_drugs, 4);
        assert_eq!(r.n_linked, 2);
        assert_eq!(
            r.map.get("COC"),
            Some(&0),
            "collision resolved to the lowest index"
        );
        assert_eq!(r.map.get("NC"), Some(&2));
        assert!(!r.map.contains_key("CCCC"));
        assert_eq!(r.n_sider_drugs, 4);
        assert_eq!(r.n_key_collisions, 1);
        assert_eq!(r.n_sider_linked, 2);
        assert_eq!((r.n_dti_unkeyed, r.n_sider_unkeyed), (1, 1));
        // A key that never matches links nothing, whatever the strings.
        let r = link_by_structure(&["CCO"], &sider, |_| None);
        assert_eq!(r.n_linked, 0);
    }

    /// Fixture: train drugs CCO (linked, also in test), CN (linked), CCCC (no profile);
    /// val drug CS (linked); test drug CCO. SIDER-only drugs "P…" with keys split by hash.
    fn fixture() -> (Vec<DtiPair>, Vec<DtiPair>, Vec<DtiPair>, Vec<SiderDrug>) {
        let train = vec![
            pair("CCO", "MA", true),
            pair("CN", "MA", false),
            pair("NC", "MB", true), // same structure as CN, different string
            pair("CCCC", "MB", false),
        ];
        let val = vec![pair("CS", "MA", true)];
        let test = vec![pair("OCC", "MC", false)]; // same structure as CCO
        let mut sider = vec![
            sider_drug("CID1", "CCO", &["C1", "C2"]),
            sider_drug("CID2", "CN", &["C1", "C3"]),
            sider_drug("CID3", "CS", &["C1", "CVAL"]),
            sider_drug("CID4", "CF", &[]),
        ];
        for i in 0..40 {
            let smiles = "X".repeat(i + 1); // distinct toy keys
            sider.push(sider_drug(&format!("CIDP{i}"), &smiles, &["C1", "C5"]));
        }
        (train, val, test, sider)
    }

    #[test]
    fn data_dti_dataset_tables_masks_and_splits() {
        let (train, val, test, sider) = fixture();
        let cfg = DatasetConfig::default();
        let ds = DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &cfg).unwrap();
        let s = &ds.summary;
        // Tables: CCO, CN, NC, CCCC, CS, OCC, then SIDER-only drugs.
        assert_eq!(s.n_dti_drugs, 6);
        assert_eq!(ds.proteins.len(), 3);
        assert_eq!(
            ds.train[2],
            IndexedPair {
                drug: 2,
                protein: 1,
                label: true
            }
        );
        assert_eq!(ds.test[0].drug, 5);
        assert_eq!((s.train.pairs, s.train.positives, s.train.drugs), (4, 2, 4));
        assert_abs_diff_eq!(s.pos_weight, 1.0);
        // Linking: CCO, CN, NC, CS, OCC → 5 of 6; CCCC has no profile.
        assert_eq!(s.link.n_linked, 5);
        assert_eq!(s.train.drugs_with_sider_profile, 3);
        // CCO is in train, but OCC (same structure) is in test → the CID1 profile is test-only.
        assert_eq!(ds.drugs[0].adr_split, Some(Split::Test));
        assert_eq!(ds.drugs[5].adr_split, Some(Split::Test));
        assert_eq!(ds.adr_row[0], ds.adr_row[5], "one target row per profile");
        assert_eq!(s.overlap.train_drugs_adr_held_out, 1);
        assert_eq!(ds.drugs[1].adr_split, Some(Split::Train));
        assert_eq!(ds.adr_row[1], ds.adr_row[2]);
        assert_eq!(ds.drugs[4].adr_split, Some(Split::Val));
        // Masking: CCCC has no profile → no target at all (not a zero row).
        assert!(!ds.adr_mask[3]);
        // Loss mask: only ADR-train profiles. CCO is a DTI-train drug but its profile is held out.
        assert!(ds.adr_mask[1] && ds.adr_mask[2]);
        assert!(!ds.adr_mask[0] && !ds.adr_mask[4] && !ds.adr_mask[5]);
        assert!(
            ds.adr_target(0).is_some(),
            "held-out profiles stay available for evaluation"
        );
        assert!(ds.adr_target(3).is_none());
        assert!(ds.adr_target(1).is_some());
        assert_eq!(ds.adr_mask.len(), ds.drugs.len());
        // CID4 (empty profile) never appears; SIDER-only drugs were split 80/10/10 by hash.
        assert_eq!(s.n_sider_without_adrs, 1);
        assert!(ds.drugs.iter().all(|d| d.sider_idx != Some(3)));
        assert_eq!(s.n_sider_only_drugs, 40);
        let only: Vec<&DrugRecord> = ds.drugs[6..].iter().collect();
        assert!(only
            .iter()
            .all(|d| d.dti_splits.is_empty() && d.adr_split.is_some()));
        let n_train_only = only
            .iter()
            .filter(|d| d.adr_split == Some(Split::Train))
            .count();
        assert!((24..=38).contains(&n_train_only), "{n_train_only}");
        assert_eq!(s.adr_train.sider_only, n_train_only);
        assert_eq!(s.adr_train.dti_linked, 1);
        assert_eq!(s.adr_val.dti_linked + s.adr_test.dti_linked, 2);
        // Deterministic: same seed, same split; another seed moves some drugs.
        let again = DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &cfg).unwrap();
        assert_eq!(again.drugs, ds.drugs);
        let other = DatasetConfig {
            seed: 7,
            ..cfg.clone()
        };
        let ds7 = DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &other).unwrap();
        assert_ne!(ds7.drugs, ds.drugs);
        // Without SIDER-only drugs the table holds DTI drugs only.
        let no = DatasetConfig {
            include_sider_only: false,
            ..cfg.clone()
        };
        let dsn = DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &no).unwrap();
        assert_eq!(dsn.drugs.len(), 6);
        assert_eq!(
            dsn.adr_encoder.vocabulary.len(),
            2,
            "train profile CID2 only: C1, C3"
        );
        assert_eq!(dsn.adr_rows(Split::Train).len(), 1);
        // The summary serialises.
        let json = serde_json::to_string(&ds.summary).unwrap();
        assert!(json.contains("\"n_adr_terms\""));
        let bad = DatasetConfig {
            adr_val_fraction: 0.7,
            adr_test_fraction: 0.5,
            ..cfg
        };
        assert!(DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &bad).is_err());
    }

    /// Leakage guard at dataset level: ADR terms and profiles of val/test drugs never reach the
    /// vocabulary or IDF; replacing them leaves the fitted columns and IDF bit-identical.
    #[test]
    fn data_dti_no_adr_leakage_from_val_test() {
        let (train, val, test, mut sider) = fixture();
        let no = DatasetConfig {
            include_sider_only: false,
            ..Default::default()
        };
        let a = DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &no).unwrap();
        // CVAL (val drug CS) and C2 (CID1, held out via test drug OCC) are not columns.
        assert!(a.adr_encoder.vocabulary.column("CVAL").is_none());
        assert!(a.adr_encoder.vocabulary.column("C2").is_none());
        assert_eq!(a.adr_encoder.tfidf.n_docs(), 1);
        // The held-out rows only use training columns; CVAL/C2 silently vanish.
        for r in a
            .adr_rows(Split::Val)
            .into_iter()
            .chain(a.adr_rows(Split::Test))
        {
            assert!(a.adr_columns[r]
                .iter()
                .all(|&c| c < a.adr_encoder.vocabulary.len()));
        }
        // Change every held-out profile: nothing fitted may move.
        sider[0].adrs = vec![
            ("CNEW".into(), "new".into()),
            ("C3".into(), "term C3".into()),
        ];
        sider[2].adrs = vec![("C3".into(), "term C3".into())];
        let b = DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &no).unwrap();
        assert_eq!(a.adr_encoder, b.adr_encoder);
        // With SIDER-only drugs: those in adr_val/adr_test are also excluded from the fit.
        let cfg = DatasetConfig::default();
        let c = DtiAdrDataset::build(&train, &val, &test, &sider, toy_key, &cfg).unwrap();
        assert_eq!(
            c.adr_encoder.tfidf.n_docs(),
            c.summary.adr_train.dti_linked + c.summary.adr_train.sider_only
        );
    }

    #[test]
    fn data_dti_baselines() {
        // Train targets: 3 drugs × 3 columns.
        let t = ndarray::array![[1.0f32, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]];
        let pop = popularity_scores(t.view()).unwrap();
        assert_abs_diff_eq!(pop[0], 1.6 / 3.0, epsilon = 1e-6);
        assert_abs_diff_eq!(pop[2], 1.0 / 3.0, epsilon = 1e-6);
        assert!(popularity_scores(Array2::<f32>::zeros((0, 3)).view()).is_err());

        // Tanimoto on counts: a = [2,1,0], b = [1,1,1] → Σmin = 2, Σmax = 4 → 0.5.
        assert_abs_diff_eq!(tanimoto(&[2.0, 1.0, 0.0], &[1.0, 1.0, 1.0]), 0.5);
        assert_eq!(tanimoto(&[0.0, 0.0], &[0.0, 0.0]), 0.0);
        assert!(tanimoto(&[1.0], &[1.0, 2.0]).is_nan());

        let fps: [&[f32]; 3] = [&[2.0, 1.0, 0.0], &[1.0, 1.0, 1.0], &[0.0, 0.0, 3.0]];
        let q = [2.0f32, 1.0, 0.0];
        // k = 1: nearest is drug 0 (similarity 1) → its profile.
        let nn = nearest_neighbour_scores(&q, &fps, t.view(), 1).unwrap();
        assert_eq!(nn, vec![1.0, 0.0, 0.0]);
        // k = 2: sims 1 and 0.5 → weights 2/3, 1/3: [2/3 + 0.2, 0.8/3, 0].
        let nn = nearest_neighbour_scores(&q, &fps, t.view(), 2).unwrap();
        assert_abs_diff_eq!(nn[0], 2.0 / 3.0 + 0.6 / 3.0, epsilon = 1e-6);
        assert_abs_diff_eq!(nn[1], 0.8 / 3.0, epsilon = 1e-6);
        // All similarities zero → plain mean of the first k rows (index tie-break).
        let nn = nearest_neighbour_scores(&[0.0, 0.0, 0.0], &fps, t.view(), 2).unwrap();
        assert_abs_diff_eq!(nn[0], 0.8, epsilon = 1e-6);
        assert!(nearest_neighbour_scores(&q, &fps, t.view(), 0).is_err());
        assert!(nearest_neighbour_scores(&[1.0], &fps, t.view(), 1).is_err());
        assert!(nearest_neighbour_scores(&[-1.0, 0.0, 0.0], &fps, t.view(), 1).is_err());
        assert!(nearest_neighbour_scores(&q, &fps[..2], t.view(), 1).is_err());

        // Baselines are scored with the shared metric code: drug 0's relevance is column 0.
        let pop_rank = metrics::precision_at_k(&pop, &[true, false, false], 1);
        assert_abs_diff_eq!(pop_rank, 1.0);
    }

    /// Real data: DrugBAN human/random and SIDER 4.1 from `CRAG_SHARED_DATA`
    /// (default `<crate>/../../../shared/data`). Fails loudly if the data are missing.
    #[test]
    fn data_dti_real_files() {
        let root = std::env::var("CRAG_SHARED_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
        let dti_dir = root.join("dti_drugban/human/random");
        let sider_dir = root.join("sider_4_1");
        assert!(
            dti_dir.join("train.csv").is_file()
                && sider_dir.join("sider_drug_smiles.tsv").is_file(),
            "shared data missing under {} (set CRAG_SHARED_DATA)",
            root.display()
        );
        let read =
            |f: &str| read_dti_pairs(&dti_dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let (train, val, test) = (read("train.csv"), read("val.csv"), read("test.csv"));
        // README: 4,197 rows, 1,846 / 2,351, 2,152 SMILES, 1,719 proteins.
        assert_eq!(train.len(), 4197);
        assert_eq!(train.iter().filter(|p| p.label).count(), 1846);
        assert_eq!((val.len(), test.len()), (600, 1200));
        let sider = read_sider_drugs(&sider_dir).unwrap_or_else(|e| panic!("SIDER: {e}"));
        assert_eq!(sider.len(), 1430);
        assert!(sider
            .iter()
            .all(|d| !d.smiles.is_empty() && !d.adrs.is_empty()));
        assert_eq!(sider.iter().map(|d| d.adrs.len()).sum::<usize>(), 145_321);

        let ds = DtiAdrDataset::build(
            &train,
            &val,
            &test,
            &sider,
            toy_key,
            &DatasetConfig::default(),
        )
        .unwrap();
        let s = &ds.summary;
        assert_eq!((s.train.drugs, s.train.proteins), (2152, 1719));
        assert_eq!((s.val.drugs, s.test.drugs), (465, 840));
        eprintln!(
            "summary (toy key = sorted characters): {}",
            serde_json::to_string_pretty(s).unwrap_or_default()
        );

        // Popularity baseline on held-out ADR profiles, scored with the shared metric code.
        let rows = ds.adr_rows(Split::Train);
        let train_t = ds.adr_targets.select(ndarray::Axis(0), &rows);
        let pop = popularity_scores(train_t.view()).unwrap();
        for split in [Split::Val, Split::Test] {
            let rows = ds.adr_rows(split);
            let k = ds.adr_encoder.vocabulary.len();
            let pred: Vec<f32> = rows.iter().flat_map(|_| pop.iter().copied()).collect();
            let rel = ds.adr_relevance(&rows);
            let r10 = metrics::ranking_report(&pred, &rel, k, 10);
            let truth = ds.adr_targets.select(ndarray::Axis(0), &rows);
            let rmse = metrics::rmse(&pred, truth.as_slice().unwrap_or(&[]));
            eprintln!(
                "popularity {split:?}: {} rows, P@10 {:.3} R@10 {:.3} NDCG@10 {:.3} RMSE {:.4}",
                rows.len(),
                r10.precision,
                r10.recall,
                r10.ndcg,
                rmse
            );
        }
    }
}

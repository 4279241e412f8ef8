//! SIDER 4.1 (Kuhn et al., NAR 2016): drug side effects from labels, MedDRA-coded.
//!
//! `meddra_all_se.tsv.gz` columns: flat STITCH id, stereo STITCH id, label UMLS CUI, MedDRA type (LLT/PT),
//! MedDRA UMLS CUI, side-effect name. CRAG works at preferred-term (PT) level.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::{CragError, Result};

/// One (drug, MedDRA preferred term) pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SideEffect {
    /// Flat STITCH compound id (`CID1…`).
    pub stitch_id: String,
    /// MedDRA concept id (UMLS CUI).
    pub meddra_id: String,
    /// MedDRA preferred term.
    pub term: String,
}

/// Call `row` with the columns of every non-empty line of a headerless TSV; a line without `ncols` columns is an
/// error naming `source` and the line.
fn tsv_rows(
    reader: impl Read,
    source: &str,
    ncols: usize,
    mut row: impl FnMut(&[&str]),
) -> Result<()> {
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| CragError::io(format!("reading {source}"), e))?;
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != ncols {
            return Err(CragError::invalid(format!(
                "{source} line {}: expected {ncols} tab-separated columns, got {}",
                i + 1,
                cols.len()
            )));
        }
        row(&cols);
    }
    Ok(())
}

/// Open `path`, decompressing it when it ends in `.gz`.
fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(path)
        .map_err(|e| CragError::io(format!("opening {}", path.display()), e))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// Parse PT rows of `meddra_all_se` from a reader; duplicates (same drug and CUI) are dropped.
pub fn parse_side_effects(reader: impl Read) -> Result<Vec<SideEffect>> {
    let mut seen = BTreeSet::new();
    tsv_rows(reader, "meddra_all_se", 6, |cols| {
        if cols[3] == "PT" {
            seen.insert(SideEffect {
                stitch_id: cols[0].into(),
                meddra_id: cols[4].into(),
                term: cols[5].into(),
            });
        }
    })?;
    Ok(seen.into_iter().collect())
}

/// Read `meddra_all_se.tsv.gz` (or an uncompressed `.tsv`) from `path`.
pub fn read_side_effects(path: &Path) -> Result<Vec<SideEffect>> {
    parse_side_effects(open_maybe_gz(path)?)
}

/// Preferred terms ordered by the number of drugs that list them (ties by term), with their CUI.
pub fn terms_by_prevalence(effects: &[SideEffect]) -> Vec<(String, String, usize)> {
    let mut count: HashMap<(&str, &str), usize> = HashMap::new();
    for e in effects {
        *count
            .entry((e.meddra_id.as_str(), e.term.as_str()))
            .or_default() += 1;
    }
    let mut by_term: BTreeMap<(std::cmp::Reverse<usize>, &str), &str> = BTreeMap::new();
    for ((cui, term), n) in count {
        by_term.insert((std::cmp::Reverse(n), term), cui);
    }
    by_term
        .into_iter()
        .map(|((n, term), cui)| (term.to_string(), cui.to_string(), n.0))
        .collect()
}

/// The names of a SIDER name list — `drug_names.tsv` (STITCH id, drug name) or `side-effect-terms.tsv` (UMLS CUI,
/// MedDRA term, under a header line) — in file order; `source` names the file in errors.
pub fn parse_names(reader: impl Read, source: &str) -> Result<Vec<String>> {
    Ok(parse_named_ids(reader, source)?
        .into_iter()
        .map(|(_, name)| name)
        .collect())
}

/// The (id, name) rows of a SIDER name list (see [`parse_names`]).
pub fn parse_named_ids(reader: impl Read, source: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| CragError::io(format!("reading {source}"), e))?;
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let id_like = |c: &str| {
            c.len() > 1
                && c.starts_with('C')
                && c.trim_start_matches("CID")
                    .trim_start_matches('C')
                    .chars()
                    .all(|d| d.is_ascii_digit())
        };
        if cols.len() != 2 || cols[1].trim().is_empty() {
            return Err(CragError::invalid(format!(
                "{source} line {}: expected two tab-separated columns (id, name)",
                i + 1
            )));
        }
        if !id_like(cols[0]) {
            if i == 0 {
                continue; // header
            }
            return Err(CragError::invalid(format!(
                "{source} line {}: {:?} is not a STITCH or UMLS id",
                i + 1,
                cols[0]
            )));
        }
        out.push((cols[0].to_string(), cols[1].trim().to_string()));
    }
    Ok(out)
}

/// Drug names (`drug_names.tsv`) and side-effect terms (`side-effect-terms.tsv`) of the SIDER folder `dir`.
pub fn read_names(dir: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let read = |file: &str| {
        let path = dir.join(file);
        let f = std::fs::File::open(&path)
            .map_err(|e| CragError::io(format!("opening {}", path.display()), e))?;
        parse_names(f, file)
    };
    Ok((read("drug_names.tsv")?, read("side-effect-terms.tsv")?))
}

/// One (drug, indication) row of `meddra_all_indications.tsv.gz` at MedDRA preferred-term level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Indication {
    /// Flat STITCH compound id (`CID1…`).
    pub stitch_id: String,
    /// MedDRA concept id (UMLS CUI).
    pub meddra_id: String,
    /// The concept name as found on the label (`Kidney Failure, Chronic`).
    pub concept_name: String,
    /// MedDRA preferred term (`Renal failure chronic`).
    pub term: String,
}

/// Parse PT rows of `meddra_all_indications` (flat id, label CUI, detection method, concept name, MedDRA type,
/// MedDRA CUI, MedDRA name); duplicates (same drug and CUI) are dropped, a line of another shape is an error.
pub fn parse_indications(reader: impl Read) -> Result<Vec<Indication>> {
    let mut seen = BTreeMap::new();
    tsv_rows(reader, "meddra_all_indications", 7, |cols| {
        if cols[4] == "PT" {
            seen.entry((cols[0].to_string(), cols[5].to_string()))
                .or_insert_with(|| Indication {
                    stitch_id: cols[0].into(),
                    meddra_id: cols[5].into(),
                    concept_name: cols[3].into(),
                    term: cols[6].into(),
                });
        }
    })?;
    Ok(seen.into_values().collect())
}

/// Read `meddra_all_indications.tsv.gz` (or an uncompressed `.tsv`) from `path`.
pub fn read_indications(path: &Path) -> Result<Vec<Indication>> {
    parse_indications(open_maybe_gz(path)?)
}

/// `drug_names.tsv` as a map from flat STITCH id to drug name (`CID100000085` → `carnitine`).
pub fn parse_drug_names(reader: impl Read) -> Result<HashMap<String, String>> {
    Ok(parse_named_ids(reader, "drug_names.tsv")?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "CID1\tCID01\tC1\tLLT\tC1\tAbdominal cramps\n\
                          CID1\tCID01\tC1\tPT\tC2\tAbdominal pain\n\
                          CID1\tCID01\tC9\tPT\tC2\tAbdominal pain\n\
                          CID2\tCID02\tC3\tPT\tC2\tAbdominal pain\n\
                          CID2\tCID02\tC4\tPT\tC4\tNausea\n";

    #[test]
    fn keeps_distinct_pt_pairs_and_ranks_by_prevalence() {
        let se = parse_side_effects(SAMPLE.as_bytes()).unwrap();
        assert_eq!(
            se.len(),
            3,
            "LLT row dropped, duplicate PT for CID1 collapsed"
        );
        let ranked = terms_by_prevalence(&se);
        assert_eq!(ranked[0], ("Abdominal pain".into(), "C2".into(), 2));
        assert_eq!(ranked[1], ("Nausea".into(), "C4".into(), 1));
    }

    #[test]
    fn malformed_lines_are_errors() {
        let err = parse_side_effects("CID1\tPT\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn name_lists_skip_their_header_and_reject_other_lines() {
        let terms = "umls_cui_from_meddra\tside_effect_name\nC0863129\tAGEP\n\nC0001849\tAIDS dementia complex\n";
        assert_eq!(
            parse_names(terms.as_bytes(), "side-effect-terms.tsv").unwrap(),
            vec!["AGEP", "AIDS dementia complex"]
        );
        let drugs = "CID100000085\tcarnitine\nCID100000137\t5-aminolevulinic\n";
        assert_eq!(
            parse_names(drugs.as_bytes(), "drug_names.tsv").unwrap(),
            vec!["carnitine", "5-aminolevulinic"]
        );
        for (bad, line) in [
            ("CID1\tcarnitine\nname\taspirin\n", "line 2"),
            ("CID1\n", "line 1"),
            ("CID1\t \n", "line 1"),
            ("CID1\ta\tb\n", "line 1"),
        ] {
            let err = parse_names(bad.as_bytes(), "drug_names.tsv")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("drug_names.tsv") && err.contains(line),
                "{err}"
            );
        }
    }

    #[test]
    fn indications_keep_pt_rows_once_and_names_map_ids() {
        let rows = "CID1\tC9\ttext_mention\tFailure to Thrive\tLLT\tC9\tFailure to thrive\n\
                    CID1\tC9\ttext_mention\tFailure to Thrive\tPT\tC9\tFailure to thrive\n\
                    CID1\tC9\tNLP_indication\tFailure to Thrive\tPT\tC9\tFailure to thrive\n\
                    CID2\tC7\tNLP_indication\tKidney Failure, Chronic\tPT\tC7\tRenal failure chronic\n";
        let ind = parse_indications(rows.as_bytes()).unwrap();
        assert_eq!(ind.len(), 2, "LLT row dropped, repeated PT collapsed");
        assert_eq!(ind[1].concept_name, "Kidney Failure, Chronic");
        assert_eq!(ind[1].term, "Renal failure chronic");
        let err = parse_indications("CID1\tC9\tPT\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("7"), "{err}");
        let names =
            parse_drug_names("CID1\taspirin\nCID2\tgamma-aminobutyric\n".as_bytes()).unwrap();
        assert_eq!(names["CID2"], "gamma-aminobutyric");
        assert!(parse_drug_names("aspirin\n".as_bytes()).is_err());
    }
}

//! TF-IDF targets over an ADR vocabulary (spec §0, §2.3, §12).
//!
//! A drug is a "document" and its MedDRA preferred terms are the "words". Term frequency is binary
//! (a drug lists an ADR or not). Both the vocabulary and the IDF are fitted on **training drugs only**
//! and then applied unchanged to validation/test drugs; terms never seen in training are dropped
//! (sklearn's behaviour for unseen words), so held-out labels cannot leak into the targets.
//!
//! Definition (scikit-learn `TfidfVectorizer(binary=True, smooth_idf=True, norm="l2")`):
//! `idf_t = ln((1 + N) / (1 + df_t)) + 1` with `N` training documents and `df_t` the number of them
//! containing term `t`; a row is `tf · idf`, then divided by its L2 norm (an all-zero row stays zero).

use std::collections::{BTreeMap, HashMap};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::{CragError, Result};

/// A fitted TF-IDF transform over `n_terms` columns (binary tf, smooth idf, L2-normalised rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TfIdf {
    n_docs: usize,
    df: Vec<usize>,
    idf: Vec<f32>,
}

impl TfIdf {
    /// Fit on training documents, each a list of column ids in `0..n_terms` (repeats count once).
    /// Errors if an id is out of range.
    pub fn fit(docs: &[Vec<usize>], n_terms: usize) -> Result<TfIdf> {
        let mut df = vec![0usize; n_terms];
        let mut seen = vec![usize::MAX; n_terms];
        for (d, doc) in docs.iter().enumerate() {
            for &t in doc {
                if t >= n_terms {
                    return Err(CragError::invalid(format!(
                        "TF-IDF fit: document {d} has term id {t}, vocabulary size is {n_terms}"
                    )));
                }
                if seen[t] != d {
                    seen[t] = d;
                    df[t] += 1;
                }
            }
        }
        let n = docs.len() as f64;
        let idf = df
            .iter()
            .map(|&f| (((1.0 + n) / (1.0 + f as f64)).ln() + 1.0) as f32)
            .collect();
        Ok(TfIdf {
            n_docs: docs.len(),
            df,
            idf,
        })
    }

    /// Number of columns.
    pub fn n_terms(&self) -> usize {
        self.idf.len()
    }

    /// Number of training documents the IDF was fitted on.
    pub fn n_docs(&self) -> usize {
        self.n_docs
    }

    /// Training document frequency per column.
    pub fn df(&self) -> &[usize] {
        &self.df
    }

    /// `ln((1 + N) / (1 + df)) + 1` per column.
    pub fn idf(&self) -> &[f32] {
        &self.idf
    }

    /// Dense L2-normalised TF-IDF row for one document (column ids; repeats count once). Ids outside
    /// `0..n_terms` are ignored, like unseen words in scikit-learn. An empty document gives zeros.
    pub fn transform(&self, doc: &[usize]) -> Vec<f32> {
        let k = self.idf.len();
        let mut row = vec![0f32; k];
        for &t in doc {
            if t < k {
                row[t] = self.idf[t];
            }
        }
        let norm = row
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for v in &mut row {
                *v = (*v as f64 / norm) as f32;
            }
        }
        row
    }

    /// [`TfIdf::transform`] for many documents, as a `docs.len() × n_terms` matrix.
    pub fn transform_many(&self, docs: &[Vec<usize>]) -> Array2<f32> {
        let mut out = Array2::zeros((docs.len(), self.n_terms()));
        for (mut row, doc) in out.rows_mut().into_iter().zip(docs) {
            for (o, v) in row.iter_mut().zip(self.transform(doc)) {
                *o = v;
            }
        }
        out
    }
}

/// The ADR columns of a model: `(preferred term, MedDRA UMLS CUI)` per column, saved with the model.
///
/// Built only from training drugs' profiles ([`AdrVocabulary::from_train_profiles`]). Columns are
/// ordered by descending training document frequency, then term, then CUI, so the order is fixed by
/// the training data alone. Terms are identified by CUI when encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdrVocabulary {
    /// `(term, cui)` per column.
    pub terms: Vec<(String, String)>,
}

impl AdrVocabulary {
    /// Build from training drugs' ADR profiles, each a list of `(cui, term)` pairs (the layout of
    /// [`crate::data::dti::SiderDrug::adrs`]). A CUI listed twice by one drug counts once; if a CUI
    /// carries several names the lexicographically smallest is kept.
    pub fn from_train_profiles<'a, I>(train_profiles: I) -> AdrVocabulary
    where
        I: IntoIterator<Item = &'a [(String, String)]>,
    {
        // cui -> (df, smallest term)
        let mut stats: BTreeMap<&'a str, (usize, &'a str)> = BTreeMap::new();
        for profile in train_profiles {
            let mut cuis: BTreeMap<&'a str, &'a str> = BTreeMap::new();
            for (cui, term) in profile {
                let e = cuis.entry(cui.as_str()).or_insert(term.as_str());
                if term.as_str() < *e {
                    *e = term.as_str();
                }
            }
            for (cui, term) in cuis {
                let e = stats.entry(cui).or_insert((0, term));
                e.0 += 1;
                if term < e.1 {
                    e.1 = term;
                }
            }
        }
        let mut cols: Vec<(usize, &str, &str)> = stats
            .into_iter()
            .map(|(cui, (df, term))| (df, term, cui))
            .collect();
        cols.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)).then(a.2.cmp(b.2)));
        AdrVocabulary {
            terms: cols
                .into_iter()
                .map(|(_, term, cui)| (term.to_string(), cui.to_string()))
                .collect(),
        }
    }

    /// Number of columns `K`.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// CUI → column map.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.terms
            .iter()
            .enumerate()
            .map(|(i, (_, cui))| (cui.as_str(), i))
            .collect()
    }

    /// Column of a CUI, if it is in the vocabulary.
    pub fn column(&self, cui: &str) -> Option<usize> {
        self.terms.iter().position(|(_, c)| c == cui)
    }

    /// Column ids (sorted, unique) of a `(cui, term)` profile; CUIs outside the vocabulary are dropped.
    pub fn encode(&self, profile: &[(String, String)]) -> Vec<usize> {
        encode_with(&self.index(), profile)
    }

    /// [`AdrVocabulary::encode`] for many profiles.
    pub fn encode_all<'a, I>(&self, profiles: I) -> Vec<Vec<usize>>
    where
        I: IntoIterator<Item = &'a [(String, String)]>,
    {
        let index = self.index();
        profiles
            .into_iter()
            .map(|p| encode_with(&index, p))
            .collect()
    }
}

fn encode_with(index: &HashMap<&str, usize>, profile: &[(String, String)]) -> Vec<usize> {
    let mut cols: Vec<usize> = profile
        .iter()
        .filter_map(|(cui, _)| index.get(cui.as_str()).copied())
        .collect();
    cols.sort_unstable();
    cols.dedup();
    cols
}

/// Vocabulary plus TF-IDF fitted together on training profiles: what a model stores to turn an ADR
/// profile into its regression target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdrEncoder {
    /// Column definitions.
    pub vocabulary: AdrVocabulary,
    /// IDF fitted on the same training profiles.
    pub tfidf: TfIdf,
}

impl AdrEncoder {
    /// Fit vocabulary and IDF on training `(cui, term)` profiles only.
    pub fn fit<'a, I>(train_profiles: I) -> Result<AdrEncoder>
    where
        I: IntoIterator<Item = &'a [(String, String)]>,
    {
        let profiles: Vec<&[(String, String)]> = train_profiles.into_iter().collect();
        let vocabulary = AdrVocabulary::from_train_profiles(profiles.iter().copied());
        let docs = vocabulary.encode_all(profiles.iter().copied());
        let tfidf = TfIdf::fit(&docs, vocabulary.len())?;
        Ok(AdrEncoder { vocabulary, tfidf })
    }

    /// TF-IDF target row of a `(cui, term)` profile (out-of-vocabulary CUIs dropped).
    pub fn transform(&self, profile: &[(String, String)]) -> Vec<f32> {
        self.tfidf.transform(&self.vocabulary.encode(profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn profile(cuis: &[&str]) -> Vec<(String, String)> {
        cuis.iter()
            .map(|c| (c.to_string(), format!("term {c}")))
            .collect()
    }

    /// N = 3 docs {0,1}, {0}, {0,2}: df = [3,1,1]; idf_0 = ln(4/4)+1 = 1,
    /// idf_1 = idf_2 = ln(4/2)+1 = 1.6931471805599454. Row {0,1} = [1, 1.693147, 0] / √3.866747
    /// = [0.5085423, 0.8610369, 0] (sklearn `TfidfVectorizer(binary=True)` gives the same).
    #[test]
    fn tfidf_hand_example() {
        let docs = vec![vec![0, 1], vec![0], vec![0, 2, 2]];
        let t = TfIdf::fit(&docs, 3).unwrap();
        assert_eq!(t.df(), &[3, 1, 1]);
        assert_eq!(t.n_docs(), 3);
        assert_abs_diff_eq!(t.idf()[0], 1.0, epsilon = 1e-7);
        assert_abs_diff_eq!(t.idf()[1], 1.693_147_2, epsilon = 1e-6);
        let row = t.transform(&[0, 1]);
        let norm = (1.0f64 + 2f64.ln().powi(2) + 2.0 * 2f64.ln() + 1.0).sqrt(); // √(1 + 1.693²)
        assert_abs_diff_eq!(row[0] as f64, 1.0 / norm, epsilon = 1e-6);
        assert_abs_diff_eq!(row[1] as f64, (1.0 + 2f64.ln()) / norm, epsilon = 1e-6);
        assert_abs_diff_eq!(row[0], 0.508_542_3, epsilon = 1e-6);
        assert_eq!(row[2], 0.0);
        let l2: f32 = row.iter().map(|v| v * v).sum();
        assert_abs_diff_eq!(l2, 1.0, epsilon = 1e-6);
        // Empty and out-of-range documents are zero rows; repeats count once.
        assert_eq!(t.transform(&[]), vec![0.0; 3]);
        assert_eq!(t.transform(&[7]), vec![0.0; 3]);
        assert_eq!(t.transform(&[0, 1, 1]), row);
        let m = t.transform_many(&docs);
        assert_eq!(m.dim(), (3, 3));
        assert_abs_diff_eq!(m[[1, 0]], 1.0, epsilon = 1e-7);
        assert!(TfIdf::fit(&[vec![3]], 3).is_err());
    }

    #[test]
    fn tfidf_vocabulary_order_is_df_then_term() {
        let train = [
            profile(&["C3", "C1"]),
            profile(&["C2", "C1"]),
            profile(&["C3"]),
        ];
        let v = AdrVocabulary::from_train_profiles(train.iter().map(|p| p.as_slice()));
        let cuis: Vec<&str> = v.terms.iter().map(|(_, c)| c.as_str()).collect();
        // df: C1 2, C3 2, C2 1; ties by term ("term C1" < "term C3").
        assert_eq!(cuis, ["C1", "C3", "C2"]);
        assert_eq!(v.terms[0].0, "term C1");
        assert_eq!(v.encode(&profile(&["C2", "C9", "C1", "C1"])), vec![0, 2]);
        assert_eq!(v.column("C3"), Some(1));
        assert_eq!(v.column("C9"), None);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<AdrVocabulary>(&json).unwrap(), v);
    }

    /// Leakage guard: the vocabulary and IDF are a function of the training profiles only.
    /// A fit that also looked at the held-out drugs would (a) add "CTEST" as a column and
    /// (b) change idf (N and df differ), and this test would fail.
    #[test]
    fn tfidf_no_leakage_from_test_drugs() {
        let train = [
            profile(&["C1", "C2"]),
            profile(&["C1"]),
            profile(&["C1", "C3"]),
        ];
        let test_a = [profile(&["C1", "CTEST"]), profile(&["C2", "C3", "CTEST"])];
        let test_b = [profile(&["C2"]), profile(&["C3", "C3", "C1"])];

        let fit_then_apply = |test: &[Vec<(String, String)>]| {
            let enc = AdrEncoder::fit(train.iter().map(|p| p.as_slice())).unwrap();
            let rows: Vec<Vec<f32>> = test.iter().map(|p| enc.transform(p)).collect();
            (enc, rows)
        };
        let (enc_a, rows_a) = fit_then_apply(&test_a);
        let (enc_b, _) = fit_then_apply(&test_b);

        assert!(enc_a.vocabulary.column("CTEST").is_none());
        assert_eq!(enc_a.vocabulary.len(), 3);
        assert_eq!(enc_a, enc_b, "vocabulary/idf must not depend on test drugs");
        // Hand values from the three training drugs only (N = 3, df = [3, 1, 1]).
        assert_eq!(enc_a.tfidf.n_docs(), 3);
        assert_abs_diff_eq!(enc_a.tfidf.idf()[0], 1.0, epsilon = 1e-7);
        assert_abs_diff_eq!(enc_a.tfidf.idf()[1], 1.0 + 2f32.ln(), epsilon = 1e-6);
        assert_abs_diff_eq!(enc_a.tfidf.idf()[2], 1.0 + 2f32.ln(), epsilon = 1e-6);
        // The test-only term simply vanishes from the test row: {C1, CTEST} → {C1} → [1, 0, 0].
        assert_eq!(rows_a[0], vec![1.0, 0.0, 0.0]);
        // What a leaky fit (train + test_a) would have produced differs.
        let leaky =
            AdrEncoder::fit(train.iter().chain(test_a.iter()).map(|p| p.as_slice())).unwrap();
        assert!(leaky.vocabulary.column("CTEST").is_some());
        assert_ne!(leaky.tfidf.idf()[0], enc_a.tfidf.idf()[0]);
    }
}

//! Fitting the boundary model of `crag_core::ner::boundary` (the last refinement step) with forust's gradient
//! boosting: training rows from annotated documents, trees converted to the core's serialisable form.

use crag_core::ner::boundary::{self, BoundaryModel, CorpusCounts, Node, Tree, FEATURES};
use crag_core::ner::Document;
use crag_core::{CragError, Result};
use forust_ml::{GradientBooster, Matrix};

/// Gradient-boosting settings of the boundary model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostSettings {
    /// Trees.
    pub trees: usize,
    /// Shrinkage of each tree.
    pub learning_rate: f64,
    /// Deepest split.
    pub max_depth: usize,
    /// Least hessian sum of a leaf.
    pub min_leaf_weight: f32,
}

impl Default for BoostSettings {
    fn default() -> Self {
        BoostSettings {
            trees: 300,
            learning_rate: 0.1,
            max_depth: 6,
            min_leaf_weight: 5.0,
        }
    }
}

/// What [`fit`] saw: rows, the annotated share, trees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitSummary {
    /// Training rows.
    pub rows: usize,
    /// Rows labelled as the annotated span.
    pub positives: usize,
    /// Trees of the ensemble.
    pub trees: usize,
}

/// A boundary model from `docs`' annotations (leave-one-document-out rows, seeded) with `margin`.
pub fn fit(
    docs: &[Document],
    settings: &BoostSettings,
    margin: f64,
    seed: u64,
) -> Result<(BoundaryModel, FitSummary)> {
    let (x, y) = boundary::training_rows(docs, seed);
    if y.is_empty() {
        return Err(CragError::invalid(
            "boundary model: the documents have no entity on token edges",
        ));
    }
    let rows = y.len();
    // forust reads column-major data.
    let mut data = vec![0.0; rows * FEATURES];
    for (r, row) in x.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            data[c * rows + r] = *v;
        }
    }
    let matrix = Matrix::new(&data, rows, FEATURES);
    let mut booster = GradientBooster::default()
        .set_iterations(settings.trees)
        .set_learning_rate(settings.learning_rate as f32)
        .set_max_depth(settings.max_depth)
        .set_min_leaf_weight(settings.min_leaf_weight)
        .set_seed(seed);
    booster
        .fit_unweighted(&matrix, &y, None)
        .map_err(|e| CragError::Runtime(format!("boundary model: {e}")))?;
    // No early stopping: every tree predicts.
    let trees: Vec<Tree> = booster
        .trees
        .iter()
        .map(|t| {
            Tree(
                t.nodes
                    .iter()
                    .map(|n| {
                        if n.is_leaf {
                            Node::Leaf(f64::from(n.weight_value))
                        } else {
                            Node::Split(
                                n.split_feature as u16,
                                n.split_value,
                                n.left_child as u32,
                                n.right_child as u32,
                            )
                        }
                    })
                    .collect(),
            )
        })
        .collect();
    let model = BoundaryModel {
        base_score: booster.base_score,
        margin,
        counts: CorpusCounts::sum(&CorpusCounts::per_document(docs)),
        trees,
        keep: vec![],
    };
    model.validate()?;
    // The converted ensemble must score as forust does (on the first rows).
    let check = rows.min(2000);
    let head: Vec<f64> = (0..FEATURES)
        .flat_map(|c| data[c * rows..c * rows + check].iter().copied())
        .collect();
    let theirs = booster.predict(&Matrix::new(&head, check, FEATURES), false);
    for (r, want) in theirs.iter().enumerate() {
        let z = model.log_odds(&x[r]);
        if (z - want).abs() > 1e-6 * want.abs().max(1.0) {
            return Err(CragError::Runtime(format!(
                "boundary model: converted trees give log-odds {z} for row {r}, forust {want}"
            )));
        }
    }
    let summary = FitSummary {
        rows,
        positives: y.iter().filter(|&&v| v > 0.5).count(),
        trees: model.trees.len(),
    };
    Ok((model, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crag_core::ner::boundary::Boundaries;
    use crag_core::ner::tagging::Mention;
    use crag_core::ner::{Entity, EntityType};

    /// Abstract-like documents where "adenoma" is annotated and the "hepatic" before it never is.
    fn corpus() -> Vec<Document> {
        let text = "Hepatic adenoma was found. A patient had hepatic adenoma and seizures.";
        let span = |m: &str, from: usize, t| {
            let s = text[from..].find(m).expect("in text") + from;
            Entity {
                id: String::new(),
                text: m.into(),
                entity_type: t,
                start: s,
                end: s + m.len(),
            }
        };
        (0..20)
            .map(|k| Document {
                id: format!("d{k}"),
                text: text.into(),
                entities: vec![
                    span("adenoma", 0, EntityType::Disease),
                    span("adenoma", 30, EntityType::Disease),
                    span("seizures", 0, EntityType::Disease),
                ],
                relations: vec![],
            })
            .collect()
    }

    #[test]
    fn a_fitted_model_learns_the_corpus_boundary_and_round_trips() {
        let settings = BoostSettings {
            trees: 20,
            learning_rate: 0.3,
            max_depth: 3,
            min_leaf_weight: 0.5,
        };
        let (model, summary) = fit(&corpus(), &settings, 0.2, 42).expect("fit");
        assert_eq!(summary.trees, 20);
        assert!(summary.positives > 0 && summary.positives < summary.rows);
        let json = serde_json::to_string(&model).expect("json");
        let back: BoundaryModel = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, model);
        let text = "Hepatic adenoma in a woman.";
        let m = Mention {
            start: 0,
            end: 15,
            text: "Hepatic adenoma".into(),
            entity_type: EntityType::Disease,
            score: 0.9,
        };
        let out = Boundaries::new(&back).expect("valid").apply(text, vec![m]);
        assert_eq!(out[0].text, "adenoma");
        // Deterministic for a seed.
        assert_eq!(fit(&corpus(), &settings, 0.2, 42).expect("fit").0, model);
    }
}

//! NER/RE evaluation (the guide's "Evaluation Module": precision, recall, F1 with exact/partial/type matching,
//! per type, micro and macro).
//!
//! **Entities** are matched one-to-one within each document: a gold mention is matched by at most one
//! prediction and vice versa (maximum bipartite matching, preferring same-type and exact-span pairs), so a
//! duplicated prediction is a false positive. A prediction and a gold mention may match when
//!
//! | [`MatchMode`] | span                         | type      |
//! |---------------|------------------------------|-----------|
//! | `exact`       | identical `[start, end)`     | identical |
//! | `partial`     | overlapping (share ≥ 1 char) | identical |
//! | `type`        | identical `[start, end)`     | ignored   |
//!
//! Decision: the guide names the modes but does not define them. `type` here is "boundary only" (the
//! SemEval-2013 "exact" scheme: right span, any type), since "overlap + right type" (SemEval's "type") is
//! what `partial` already measures.
//!
//! **Relations** are scored in two ways, independent of the entity mode:
//! * strict: relation type, head span and type, tail span and type all equal (one-to-one);
//! * lenient: only `(relation type, head type, tail type)` is compared, as a multiset per document
//!   (`tp = Σ min(gold count, predicted count)` per key).
//!
//! **Numbers.** Per type, `precision = matched predictions of the type / predictions of the type` and
//! `recall = matched gold mentions of the type / gold mentions of the type`; `tp` is the number of matched
//! predictions, `fp = pred − tp`, `fn` the number of unmatched gold items. (In `type` mode a prediction typed A
//! can match a gold mention typed B; it then counts for A's precision and B's recall, and per type
//! `tp + fn` need not equal `gold`. In the other modes it always does.) Micro scores pool all counts; macro
//! scores are the unweighted means of the per-type precision, recall and F1 over the types present in gold
//! or predictions (as scikit-learn's default labels); macro F1 is the mean of per-type F1s, not the F1 of the
//! macro precision and recall. Any ratio with a zero denominator is 0: no predictions ⇒ P = 0, no gold ⇒
//! R = 0, P + R = 0 ⇒ F1 = 0. When both gold and predictions are empty every score is 0 and the counts
//! (`gold = pred = 0`) say why; macro scores over no types are 0.
//!
//! **Documents** are paired by `id` when every gold and predicted document has one (a gold document
//! without a prediction counts as predicting nothing; a predicted id not in gold is an error), otherwise by
//! position (the counts must be equal). When both documents of a pair have a non-empty text, the texts
//! must be identical (catches misaligned files). Gold documents are not [validated](Document::validate).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::schema::{Document, Entity, EntityType};
use crate::{CragError, Result};

/// Entity matching mode (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// Same span and same type.
    #[default]
    Exact,
    /// Overlapping spans and same type.
    Partial,
    /// Same span, type ignored (boundary detection).
    Type,
}

impl MatchMode {
    /// `exact`, `partial` or `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Exact => "exact",
            MatchMode::Partial => "partial",
            MatchMode::Type => "type",
        }
    }
}

impl FromStr for MatchMode {
    type Err = CragError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "exact" => Ok(MatchMode::Exact),
            "partial" => Ok(MatchMode::Partial),
            "type" => Ok(MatchMode::Type),
            _ => Err(CragError::invalid(format!(
                "unknown matching mode {s:?} (exact, partial or type)"
            ))),
        }
    }
}

/// Counts and scores of one type (or pooled, for micro).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Gold items.
    pub gold: usize,
    /// Predicted items.
    pub pred: usize,
    /// Matched predictions.
    pub tp: usize,
    /// Unmatched predictions.
    pub fp: usize,
    /// Unmatched gold items.
    #[serde(rename = "fn")]
    pub fn_: usize,
    /// Matched predictions / predictions (0 when there are none).
    pub precision: f64,
    /// Matched gold / gold (0 when there is none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

/// Unweighted means over types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MacroScore {
    /// Mean per-type precision.
    pub precision: f64,
    /// Mean per-type recall.
    pub recall: f64,
    /// Mean per-type F1.
    pub f1: f64,
    /// Number of types averaged (present in gold or predictions).
    pub types: usize,
}

/// Per-type, micro and macro scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreTable {
    /// By type name (`Disease`, `treats`, ...), only types present in gold or predictions.
    pub per_type: BTreeMap<String, Score>,
    /// All types pooled.
    pub micro: Score,
    /// Means over `per_type`.
    #[serde(rename = "macro")]
    pub macro_avg: MacroScore,
}

/// The full evaluation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Entity matching mode.
    pub entity_mode: MatchMode,
    /// Number of gold documents evaluated.
    pub documents: usize,
    /// Entity scores under `entity_mode`.
    pub entities: ScoreTable,
    /// Relation scores, strict matching.
    pub relations_strict: ScoreTable,
    /// Relation scores, lenient matching.
    pub relations_lenient: ScoreTable,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    gold: usize,
    pred: usize,
    tp_pred: usize,
    tp_gold: usize,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

impl Counts {
    fn score(self) -> Score {
        let precision = ratio(self.tp_pred, self.pred);
        let recall = ratio(self.tp_gold, self.gold);
        Score {
            gold: self.gold,
            pred: self.pred,
            tp: self.tp_pred,
            fp: self.pred - self.tp_pred,
            fn_: self.gold - self.tp_gold,
            precision,
            recall,
            f1: f1(precision, recall),
        }
    }
}

#[derive(Default)]
struct Tally(BTreeMap<String, Counts>);

impl Tally {
    fn at(&mut self, t: &str) -> &mut Counts {
        self.0.entry(t.to_string()).or_default()
    }
    fn table(self) -> ScoreTable {
        let mut micro = Counts::default();
        for c in self.0.values() {
            micro.gold += c.gold;
            micro.pred += c.pred;
            micro.tp_pred += c.tp_pred;
            micro.tp_gold += c.tp_gold;
        }
        let per_type: BTreeMap<String, Score> =
            self.0.into_iter().map(|(k, c)| (k, c.score())).collect();
        let n = per_type.len();
        let mean = |f: fn(&Score) -> f64| {
            if n == 0 {
                0.0
            } else {
                per_type.values().map(f).sum::<f64>() / n as f64
            }
        };
        let macro_avg = MacroScore {
            precision: mean(|s| s.precision),
            recall: mean(|s| s.recall),
            f1: mean(|s| s.f1),
            types: n,
        };
        ScoreTable {
            per_type,
            micro: micro.score(),
            macro_avg,
        }
    }
}

fn overlap(a: &Entity, b: &Entity) -> usize {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

fn can_match(g: &Entity, p: &Entity, mode: MatchMode) -> bool {
    let same_span = g.start == p.start && g.end == p.end;
    let same_type = g.entity_type == p.entity_type;
    match mode {
        MatchMode::Exact => same_span && same_type,
        MatchMode::Partial => same_type && overlap(g, p) > 0,
        MatchMode::Type => same_span,
    }
}

/// Maximum one-to-one matching of predictions to gold mentions (Kuhn's augmenting paths; candidate gold
/// mentions tried same-type first, then exact span, then larger overlap). Returns, per gold mention, the
/// index of its prediction.
fn match_entities(gold: &[Entity], pred: &[Entity], mode: MatchMode) -> Vec<Option<usize>> {
    let adj: Vec<Vec<usize>> = pred
        .iter()
        .map(|p| {
            let mut c: Vec<usize> = (0..gold.len())
                .filter(|&g| can_match(&gold[g], p, mode))
                .collect();
            c.sort_by_key(|&g| {
                let e = &gold[g];
                (
                    e.entity_type != p.entity_type,
                    (e.start, e.end) != (p.start, p.end),
                    std::cmp::Reverse(overlap(e, p)),
                    g,
                )
            });
            c
        })
        .collect();
    fn augment(
        p: usize,
        adj: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &g in &adj[p] {
            if seen[g] {
                continue;
            }
            seen[g] = true;
            if owner[g].is_none_or(|q| augment(q, adj, seen, owner)) {
                owner[g] = Some(p);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; gold.len()];
    for p in 0..pred.len() {
        if !adj[p].is_empty() {
            let mut seen = vec![false; gold.len()];
            augment(p, &adj, &mut seen, &mut owner);
        }
    }
    owner
}

fn tally_entities(t: &mut Tally, gold: &[Entity], pred: &[Entity], mode: MatchMode) {
    let owner = match_entities(gold, pred, mode);
    for g in gold {
        t.at(g.entity_type.as_str()).gold += 1;
    }
    for p in pred {
        t.at(p.entity_type.as_str()).pred += 1;
    }
    for (g, o) in gold.iter().zip(&owner) {
        if let Some(p) = o {
            t.at(g.entity_type.as_str()).tp_gold += 1;
            t.at(pred[*p].entity_type.as_str()).tp_pred += 1;
        }
    }
}

type RelKey = (
    super::schema::RelationType,
    usize,
    usize,
    EntityType,
    usize,
    usize,
    EntityType,
);

fn tally_relations(t: &mut Tally, gold: &Document, pred: Option<&Document>, strict: bool) {
    let key = |r: &super::schema::Relation| -> RelKey {
        let span = |e: &Entity| if strict { (e.start, e.end) } else { (0, 0) };
        let (hs, he) = span(&r.head);
        let (ts, te) = span(&r.tail);
        (
            r.relation_type,
            hs,
            he,
            r.head.entity_type,
            ts,
            te,
            r.tail.entity_type,
        )
    };
    let mut remaining: HashMap<RelKey, usize> = HashMap::new();
    for r in &gold.relations {
        *remaining.entry(key(r)).or_insert(0) += 1;
        t.at(r.relation_type.as_str()).gold += 1;
    }
    for r in pred.map(|p| p.relations.as_slice()).unwrap_or_default() {
        let c = t.at(r.relation_type.as_str());
        c.pred += 1;
        if let Some(n) = remaining.get_mut(&key(r)).filter(|n| **n > 0) {
            *n -= 1;
            c.tp_pred += 1;
            c.tp_gold += 1;
        }
    }
}

/// Pair each gold document with its prediction (see the module notes).
fn pair<'a>(
    gold: &'a [Document],
    pred: &'a [Document],
) -> Result<Vec<(&'a Document, Option<&'a Document>)>> {
    let by_id = !gold.is_empty() && gold.iter().chain(pred).all(|d| !d.id.is_empty());
    let pairs: Vec<(&Document, Option<&Document>)> = if by_id {
        let mut preds: HashMap<&str, &Document> = HashMap::new();
        for p in pred {
            if preds.insert(&p.id, p).is_some() {
                return Err(CragError::invalid(format!(
                    "duplicate predicted document id {:?}",
                    p.id
                )));
            }
        }
        let mut seen = HashMap::new();
        for g in gold {
            if seen.insert(g.id.as_str(), ()).is_some() {
                return Err(CragError::invalid(format!(
                    "duplicate gold document id {:?}",
                    g.id
                )));
            }
        }
        if let Some(p) = pred.iter().find(|p| !seen.contains_key(p.id.as_str())) {
            return Err(CragError::invalid(format!(
                "predicted document id {:?} is not in gold",
                p.id
            )));
        }
        gold.iter()
            .map(|g| (g, preds.get(g.id.as_str()).copied()))
            .collect()
    } else {
        if gold.len() != pred.len() {
            return Err(CragError::invalid(format!(
                "gold has {} documents and predictions {}; give every document an id to pair them by id",
                gold.len(),
                pred.len()
            )));
        }
        gold.iter().zip(pred).map(|(g, p)| (g, Some(p))).collect()
    };
    for (g, p) in &pairs {
        if let Some(p) = p {
            if !g.text.is_empty() && !p.text.is_empty() && g.text != p.text {
                return Err(CragError::invalid(format!(
                    "gold and predicted document {:?} have different texts",
                    g.id
                )));
            }
        }
    }
    Ok(pairs)
}

/// Evaluate predicted documents against gold documents.
pub fn evaluate(gold: &[Document], pred: &[Document], mode: MatchMode) -> Result<EvalReport> {
    let pairs = pair(gold, pred)?;
    let (mut ents, mut strict, mut lenient) =
        (Tally::default(), Tally::default(), Tally::default());
    for (g, p) in &pairs {
        let p_ents = p.map(|p| p.entities.as_slice()).unwrap_or_default();
        tally_entities(&mut ents, &g.entities, p_ents, mode);
        tally_relations(&mut strict, g, *p, true);
        tally_relations(&mut lenient, g, *p, false);
    }
    Ok(EvalReport {
        entity_mode: mode,
        documents: gold.len(),
        entities: ents.table(),
        relations_strict: strict.table(),
        relations_lenient: lenient.table(),
    })
}

impl ScoreTable {
    /// A plain-text block titled `title`: one row per type, then micro and macro.
    pub fn to_table(&self, title: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{title:<24} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "gold", "pred", "tp", "fp", "fn", "P", "R", "F1"
        );
        let mut row = |name: &str, s: &Score| {
            let _ = writeln!(
                out,
                "  {name:<22} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7.4} {:>7.4} {:>7.4}",
                s.gold, s.pred, s.tp, s.fp, s.fn_, s.precision, s.recall, s.f1
            );
        };
        for (name, s) in &self.per_type {
            row(name, s);
        }
        row("micro", &self.micro);
        let m = &self.macro_avg;
        let _ = writeln!(
            out,
            "  {:<22} {:>39} {:>7.4} {:>7.4} {:>7.4}",
            format!("macro ({} types)", m.types),
            "",
            m.precision,
            m.recall,
            m.f1
        );
        out
    }
}

impl EvalReport {
    /// A plain-text table: one block each for entities, strict and lenient relations.
    pub fn to_table(&self) -> String {
        let blocks = [
            (
                format!("Entities (mode {})", self.entity_mode.as_str()),
                &self.entities,
            ),
            ("Relations (strict)".to_string(), &self.relations_strict),
            ("Relations (lenient)".to_string(), &self.relations_lenient),
        ];
        let mut out = blocks
            .iter()
            .map(|(title, t)| t.to_table(title))
            .collect::<Vec<_>>()
            .join("\n");
        let _ = writeln!(out, "\n{} documents", self.documents);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{Relation, RelationType};
    use super::*;
    use EntityType::*;

    fn e(t: EntityType, start: usize, end: usize) -> Entity {
        Entity {
            id: String::new(),
            text: String::new(),
            entity_type: t,
            start,
            end,
        }
    }

    fn rel(r: RelationType, h: &Entity, t: &Entity) -> Relation {
        Relation {
            relation_type: r,
            head: h.clone(),
            tail: t.clone(),
        }
    }

    fn doc(id: &str, entities: Vec<Entity>, relations: Vec<Relation>) -> Document {
        Document {
            id: id.into(),
            text: String::new(),
            entities,
            relations,
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    // Gold: g1 Drug [0,9), g2 Disease [14,38), g3 Symptom [40,50), g4 Symptom [60,65).
    // Pred: p1 Drug [0,9)        = g1
    //       p2 Disease [14,29)   overlaps g2, shorter
    //       p3 Disease [40,50)   g3's span, wrong type
    //       p4 Drug [0,9)        duplicate of p1
    //       p5 Procedure [70,75) spurious
    fn example() -> (Document, Document) {
        let gold = doc(
            "a",
            vec![
                e(Drug, 0, 9),
                e(Disease, 14, 38),
                e(Symptom, 40, 50),
                e(Symptom, 60, 65),
            ],
            vec![],
        );
        let pred = doc(
            "a",
            vec![
                e(Drug, 0, 9),
                e(Disease, 14, 29),
                e(Disease, 40, 50),
                e(Drug, 0, 9),
                e(Procedure, 70, 75),
            ],
            vec![],
        );
        (gold, pred)
    }

    #[test]
    fn ner_eval_exact() {
        let (g, p) = example();
        let r = evaluate(&[g], &[p], MatchMode::Exact).unwrap();
        let m = &r.entities.micro;
        // Only p1 matches: P = 1/5, R = 1/4, F1 = 2·0.2·0.25/0.45 = 0.2222...
        assert_eq!((m.gold, m.pred, m.tp, m.fp, m.fn_), (4, 5, 1, 4, 3));
        close(m.precision, 0.2);
        close(m.recall, 0.25);
        close(m.f1, 2.0 / 9.0);
        // Drug: 2 preds (p1, p4 duplicate), 1 tp: P 0.5, R 1, F1 2/3. Disease, Symptom, Procedure: all 0.
        let d = &r.entities.per_type["Drug"];
        assert_eq!((d.gold, d.pred, d.tp, d.fp, d.fn_), (1, 2, 1, 1, 0));
        close(d.f1, 2.0 / 3.0);
        assert_eq!(r.entities.per_type["Procedure"].fp, 1);
        assert_eq!(r.entities.per_type["Symptom"].fn_, 2);
        // Macro over 4 types: P = 0.5/4, R = 1/4, F1 = (2/3)/4 = 1/6 (< micro 2/9).
        assert_eq!(r.entities.macro_avg.types, 4);
        close(r.entities.macro_avg.precision, 0.125);
        close(r.entities.macro_avg.recall, 0.25);
        close(r.entities.macro_avg.f1, 1.0 / 6.0);
    }

    #[test]
    fn ner_eval_partial() {
        let (g, p) = example();
        let r = evaluate(&[g], &[p], MatchMode::Partial).unwrap();
        let m = &r.entities.micro;
        // p1 and p2 match: P = 2/5, R = 2/4, F1 = 0.4/0.9 = 4/9. p3 overlaps g3 but has the wrong type.
        assert_eq!((m.tp, m.fp, m.fn_), (2, 3, 2));
        close(m.f1, 4.0 / 9.0);
        // Disease: preds p2 (tp), p3 (fp): P 0.5, R 1, F1 2/3. Macro F1 = (2/3 + 2/3 + 0 + 0)/4 = 1/3.
        let d = &r.entities.per_type["Disease"];
        close(d.precision, 0.5);
        close(d.recall, 1.0);
        close(r.entities.macro_avg.f1, 1.0 / 3.0);
    }

    #[test]
    fn ner_eval_type_mode() {
        let (g, p) = example();
        let r = evaluate(&[g], &[p], MatchMode::Type).unwrap();
        let m = &r.entities.micro;
        // Span only: p1-g1 and p3-g3 (Disease pred on a Symptom gold). p4 duplicate, p2 and p5 miss.
        // P = 2/5, R = 2/4, F1 = 4/9.
        assert_eq!((m.tp, m.fp, m.fn_), (2, 3, 2));
        close(m.f1, 4.0 / 9.0);
        // Disease: 2 preds, p3 matched -> P 0.5; 1 gold (g2) unmatched -> R 0, F1 0.
        let d = &r.entities.per_type["Disease"];
        assert_eq!((d.pred, d.tp, d.gold, d.fn_), (2, 1, 1, 1));
        close(d.precision, 0.5);
        close(d.recall, 0.0);
        // Symptom: no preds -> P 0, tp 0; 2 gold, g3 matched -> R 0.5, fn 1 (tp + fn != gold in this mode).
        let s = &r.entities.per_type["Symptom"];
        assert_eq!((s.pred, s.tp, s.gold, s.fn_), (0, 0, 2, 1));
        close(s.recall, 0.5);
        close(s.f1, 0.0);
    }

    #[test]
    fn ner_eval_empty_sides() {
        let (g, _) = example();
        // Empty predictions: P = 0 (no predictions), R = 0, F1 = 0, every gold item a false negative.
        let r = evaluate(
            std::slice::from_ref(&g),
            &[doc("a", vec![], vec![])],
            MatchMode::Exact,
        )
        .unwrap();
        assert_eq!((r.entities.micro.pred, r.entities.micro.fn_), (0, 4));
        assert_eq!(r.entities.micro.f1, 0.0);
        // A gold document without a prediction (pairing by id) counts the same way.
        let r2 = evaluate(std::slice::from_ref(&g), &[], MatchMode::Exact).unwrap();
        assert_eq!(r2.entities, r.entities);
        // Empty gold: R = 0 (no gold), P = 0, all predictions false positives.
        let (_, p) = example();
        let r = evaluate(&[doc("a", vec![], vec![])], &[p], MatchMode::Exact).unwrap();
        assert_eq!((r.entities.micro.gold, r.entities.micro.fp), (0, 5));
        assert_eq!(
            (r.entities.micro.precision, r.entities.micro.recall),
            (0.0, 0.0)
        );
        // Both empty: everything 0, no types, and well-defined JSON (no NaN).
        let r = evaluate(
            &[doc("a", vec![], vec![])],
            &[doc("a", vec![], vec![])],
            MatchMode::Exact,
        )
        .unwrap();
        assert_eq!(r.entities.micro.f1, 0.0);
        assert_eq!(r.entities.macro_avg.types, 0);
        assert_eq!(r.entities.macro_avg.f1, 0.0);
        assert!(r.entities.per_type.is_empty());
        let js = serde_json::to_value(&r).unwrap();
        assert_eq!(js["entities"]["micro"]["fn"], 0);
        assert_eq!(js["entity_mode"], "exact");
        let r = evaluate(&[], &[], MatchMode::Partial).unwrap();
        assert_eq!(r.documents, 0);
        assert_eq!(r.relations_lenient.micro.f1, 0.0);
    }

    #[test]
    fn ner_eval_partial_matching_is_maximal() {
        // Gold A [0,10) and B [8,20), both Disease; pred X [5,9) overlaps both, pred Y [0,4) only A.
        // Greedy X->A would leave Y unmatched; the maximum matching is X-B, Y-A: 2 tp.
        let g = doc("a", vec![e(Disease, 0, 10), e(Disease, 8, 20)], vec![]);
        let p = doc("a", vec![e(Disease, 5, 9), e(Disease, 0, 4)], vec![]);
        let r = evaluate(&[g], &[p], MatchMode::Partial).unwrap();
        assert_eq!((r.entities.micro.tp, r.entities.micro.fn_), (2, 0));
        close(r.entities.micro.f1, 1.0);
    }

    #[test]
    fn ner_eval_relations_strict_vs_lenient() {
        let (drug, dis, s1, s2) = (
            e(Drug, 0, 9),
            e(Disease, 14, 38),
            e(Symptom, 40, 50),
            e(Symptom, 60, 65),
        );
        let dis_short = e(Disease, 14, 29);
        let gold = doc(
            "a",
            vec![drug.clone(), dis.clone(), s1.clone(), s2.clone()],
            vec![
                rel(RelationType::Treats, &drug, &dis),
                rel(RelationType::Causes, &dis, &s1),
                rel(RelationType::Causes, &dis, &s2),
            ],
        );
        let pred = doc(
            "a",
            vec![],
            vec![
                // Q1: tail span differs -> strict fp, lenient (treats, Drug, Disease) tp.
                rel(RelationType::Treats, &drug, &dis_short),
                // Q2: exact -> tp both.
                rel(RelationType::Causes, &dis, &s1),
                // Q3: duplicate of Q2 -> strict fp; lenient matches the second gold causes(Disease, Symptom).
                rel(RelationType::Causes, &dis, &s1),
                // Q4: wrong relation type -> fp both.
                rel(RelationType::Prevents, &drug, &dis),
            ],
        );
        let r = evaluate(std::slice::from_ref(&gold), &[pred], MatchMode::Exact).unwrap();
        // Strict: tp 1 of 4 preds, 3 gold: P 1/4, R 1/3, F1 = 2·(1/12)/(7/12) = 2/7.
        let s = &r.relations_strict.micro;
        assert_eq!((s.gold, s.pred, s.tp, s.fp, s.fn_), (3, 4, 1, 3, 2));
        close(s.f1, 2.0 / 7.0);
        // Per type strict: treats 0, causes P 1/2 R 1/2 F1 1/2, prevents 0 -> macro F1 1/6.
        close(r.relations_strict.per_type["causes"].f1, 0.5);
        close(r.relations_strict.macro_avg.f1, 1.0 / 6.0);
        // Lenient: tp 3 of 4, 3 gold: P 3/4, R 1, F1 = 1.5/1.75 = 6/7; macro (1 + 1 + 0)/3 = 2/3.
        let l = &r.relations_lenient.micro;
        assert_eq!((l.tp, l.fp, l.fn_), (3, 1, 0));
        close(l.f1, 6.0 / 7.0);
        close(r.relations_lenient.macro_avg.f1, 2.0 / 3.0);
        // Strict also needs the entity types: same spans, head typed Symptom -> fp.
        let mut bad_head = drug.clone();
        bad_head.entity_type = Symptom;
        let pred = doc(
            "a",
            vec![],
            vec![rel(RelationType::Treats, &bad_head, &dis)],
        );
        let r = evaluate(&[gold], &[pred], MatchMode::Exact).unwrap();
        assert_eq!(r.relations_strict.micro.tp, 0);
        assert_eq!(r.relations_lenient.micro.tp, 0);
    }

    #[test]
    fn ner_eval_pairing() {
        let (g, p) = example();
        let g2 = doc("b", vec![e(Drug, 0, 3)], vec![]);
        // By id, in any order.
        let r = evaluate(
            &[g.clone(), g2.clone()],
            &[g2.clone(), p.clone()],
            MatchMode::Exact,
        )
        .unwrap();
        assert_eq!(r.entities.micro.tp, 2);
        assert_eq!(r.documents, 2);
        // Unknown predicted id.
        let stray = doc("zzz", vec![], vec![]);
        assert!(evaluate(std::slice::from_ref(&g), &[stray], MatchMode::Exact).is_err());
        // Duplicate gold id.
        assert!(evaluate(&[g.clone(), g.clone()], &[], MatchMode::Exact).is_err());
        // By position without ids: counts must agree.
        let mut anon = g.clone();
        anon.id.clear();
        assert!(evaluate(&[anon.clone()], &[], MatchMode::Exact).is_err());
        let mut anon_p = p.clone();
        anon_p.id.clear();
        assert_eq!(
            evaluate(&[anon.clone()], &[anon_p.clone()], MatchMode::Exact)
                .unwrap()
                .entities
                .micro
                .tp,
            1
        );
        // Different texts are refused.
        anon.text = "one".into();
        anon_p.text = "two".into();
        assert!(evaluate(&[anon], &[anon_p], MatchMode::Exact).is_err());
        assert_eq!("type".parse::<MatchMode>().unwrap(), MatchMode::Type);
        assert!("strict".parse::<MatchMode>().is_err());
    }

    #[test]
    fn ner_eval_synthetic_self_and_table() {
        use super::super::synth::{generate, GeneratorConfig};
        let docs = generate(50, 3, &GeneratorConfig::default()).unwrap();
        for mode in [MatchMode::Exact, MatchMode::Partial, MatchMode::Type] {
            let r = evaluate(&docs, &docs, mode).unwrap();
            assert_eq!(r.entities.micro.f1, 1.0);
            assert_eq!(r.relations_strict.micro.f1, 1.0);
            assert_eq!(r.relations_lenient.macro_avg.f1, 1.0);
        }
        let r = evaluate(&docs, &docs, MatchMode::Exact).unwrap();
        let table = r.to_table();
        assert!(
            table.contains("Lab_Test")
                && table.contains("adverse_effect")
                && table.contains("macro")
        );
        let back: EvalReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}

//! Seeded, deterministic synthetic clinical notes with exact entity and relation annotations.
//!
//! A note is assembled from sentence templates ([`template_count`] of them): relation templates (several
//! shapes per relation type, head before or after the tail, some spanning two sentences, some with an extra
//! unrelated entity), single-entity templates (history, medication lists, lab results with values and units,
//! negations), and distractor sentences without entities (vitals, social history, follow-up). Sentences are
//! grouped under section headers (`HPI:`, `Meds:`, `A/P:` ...) in canonical or shuffled order, or run
//! together as narrative. Concepts come from the curated vocabularies of [`super::vocab`], written in their
//! canonical form or an abbreviation/synonym. Entity offsets are counted in characters while the text is
//! built, so they are exact by construction.
//!
//! The same `(n, seed, config)` always gives the same documents: one ChaCha8 stream per generator, consumed
//! in a fixed order. [`Generator`] yields documents lazily; [`generate`] collects them.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::ops::RangeInclusive;
use std::str::FromStr;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::schema::{Document, Entity, EntityType, Relation, RelationType};
use super::vocab::{self, Forms, Lab, LabValue, FACTS, LABS};
use crate::{CragError, Result};

/// Generator settings. Ranges are inclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Entity mentions per document.
    pub entities_per_doc: RangeInclusive<usize>,
    /// Relations per document; each relation uses two mentions, so at most `entities_per_doc.end() / 2`.
    pub relations_per_doc: RangeInclusive<usize>,
    /// Sentences without entities per document.
    pub distractors_per_doc: RangeInclusive<usize>,
    /// Probability that a note has section headers (otherwise: narrative, all sentences shuffled).
    pub header_prob: f64,
    /// Probability that a headed note has its sections in shuffled order.
    pub shuffle_sections_prob: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            entities_per_doc: 3..=10,
            relations_per_doc: 1..=4,
            distractors_per_doc: 1..=3,
            header_prob: 0.7,
            shuffle_sections_prob: 0.25,
        }
    }
}

impl GeneratorConfig {
    /// Check the ranges (non-empty, `2 * relations.start <= entities.end`, at most 200 entities, 100
    /// relations and 50 distractors per document) and probabilities.
    pub fn validate(&self) -> Result<()> {
        let ranges = [
            ("entities_per_doc", &self.entities_per_doc, 200),
            ("relations_per_doc", &self.relations_per_doc, 100),
            ("distractors_per_doc", &self.distractors_per_doc, 50),
        ];
        for (name, r, max) in ranges {
            if r.is_empty() || *r.end() > max {
                return Err(CragError::invalid(format!(
                    "{name} must be a non-empty range within 0..={max}, got {}..={}",
                    r.start(),
                    r.end()
                )));
            }
        }
        if 2 * self.relations_per_doc.start() > *self.entities_per_doc.end() {
            return Err(CragError::invalid(format!(
                "relations_per_doc starts at {} but entities_per_doc allows at most {} mentions (2 per relation)",
                self.relations_per_doc.start(),
                self.entities_per_doc.end()
            )));
        }
        for (name, p) in [
            ("header_prob", self.header_prob),
            ("shuffle_sections_prob", self.shuffle_sections_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(CragError::invalid(format!(
                    "{name} must be in [0, 1], got {p}"
                )));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Templates

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Section {
    Hpi,
    Pmh,
    Meds,
    Exam,
    Labs,
    Studies,
    Assessment,
    Plan,
}

const SECTIONS: [Section; 8] = [
    Section::Hpi,
    Section::Pmh,
    Section::Meds,
    Section::Exam,
    Section::Labs,
    Section::Studies,
    Section::Assessment,
    Section::Plan,
];

fn headers(s: Section) -> &'static [&'static str] {
    match s {
        Section::Hpi => &[
            "HPI:",
            "History of present illness:",
            "Subjective:",
            "CC/HPI:",
        ],
        Section::Pmh => &["PMH:", "Past medical history:", "History:"],
        Section::Meds => &["Meds:", "Medications:", "Current medications:"],
        Section::Exam => &["Exam:", "Physical exam:", "Objective:"],
        Section::Labs => &["Labs:", "Laboratory data:", "Results:"],
        Section::Studies => &["Studies:", "Imaging/Procedures:", "Diagnostics:"],
        Section::Assessment => &["Assessment:", "Impression:", "A:"],
        Section::Plan => &["Plan:", "P:", "Recommendations:"],
    }
}

/// One sentence shape. Placeholders: `{0}`, `{1}`, ... entity slots (for relation templates slot 0 is the
/// head, slot 1 the tail); `{v0}` the result of the lab in slot 0; `{age}`, `{n}`, `{freq}`, `{bp}`, `{hr}`,
/// `{temp}`, `{year}`, `{sex}`.
struct Template {
    section: Section,
    relation: Option<RelationType>,
    slots: &'static [&'static [EntityType]],
    text: &'static str,
}

use EntityType::{Disease as Dis, Drug as Drg, LabTest as Lb, Procedure as Prc, Symptom as Sym};
const D: &[EntityType] = &[Dis];
const S: &[EntityType] = &[Sym];
const R: &[EntityType] = &[Drg];
const P: &[EntityType] = &[Prc];
const L: &[EntityType] = &[Lb];
const LS: &[EntityType] = &[Lb, Sym];
const RP: &[EntityType] = &[Drg, Prc];
const DS: &[EntityType] = &[Dis, Sym];

const fn rel(
    section: Section,
    relation: RelationType,
    slots: &'static [&'static [EntityType]],
    text: &'static str,
) -> Template {
    Template {
        section,
        relation: Some(relation),
        slots,
        text,
    }
}

const fn ent(
    section: Section,
    slots: &'static [&'static [EntityType]],
    text: &'static str,
) -> Template {
    Template {
        section,
        relation: None,
        slots,
        text,
    }
}

use RelationType::{
    AdverseEffect as Ae, Causes as Ca, Indicates as In, Prevents as Pv, Treats as Tr,
};
use Section::{
    Assessment as As, Exam as Ex, Hpi, Labs as Lbs, Meds as Md, Plan as Pl, Pmh, Studies as St,
};

const RELATION_TEMPLATES: &[Template] = &[
    // treats: Drug -> Disease
    rel(Pl, Tr, &[R, D], "Started {0} for {1}."),
    rel(Pl, Tr, &[R, D], "{1}: continue {0} {freq}."),
    rel(Pl, Tr, &[R, D], "Will initiate {0} to treat {1}."),
    rel(As, Tr, &[R, D], "{1} is managed with {0}."),
    rel(Pl, Tr, &[R, D], "Continue {0} for {1}, well tolerated."),
    rel(Pl, Tr, &[R, D], "Treatment plan: {0} prescribed for {1}."),
    rel(
        Hpi,
        Tr,
        &[R, D],
        "Patient was started on {0} for newly diagnosed {1}.",
    ),
    rel(Pl, Tr, &[R, D], "For {1}, we recommend {0} {freq}."),
    rel(As, Tr, &[R, D], "{1} has responded well to {0}."),
    rel(Pl, Tr, &[R, D], "Given {1}, {0} was initiated."),
    rel(As, Tr, &[R, D], "{1}, currently treated with {0}."),
    rel(Md, Tr, &[R, D], "{0} {freq} (for {1})."),
    rel(Md, Tr, &[R, D], "{0} — indication: {1}."),
    rel(
        Pmh,
        Tr,
        &[R, D],
        "Diagnosed with {1} in {year}. Has taken {0} since then.",
    ),
    rel(Pl, Tr, &[R, D, R], "Started {0} for {1}; continue {2}."),
    rel(
        Pl,
        Tr,
        &[R, D, R],
        "Switched {2} to {0} for better control of {1}.",
    ),
    // causes: Disease -> Symptom
    rel(As, Ca, &[D, S], "{1} likely secondary to {0}."),
    rel(As, Ca, &[D, S], "{1} attributed to {0}."),
    rel(Hpi, Ca, &[D, S], "Known {0} presenting with {1}."),
    rel(As, Ca, &[D, S], "{0} complicated by {1}."),
    rel(As, Ca, &[D, S], "{1} due to {0}."),
    rel(
        Hpi,
        Ca,
        &[D, S],
        "Reports {1}, thought to be related to {0}.",
    ),
    rel(As, Ca, &[D, S], "{1} from underlying {0}."),
    rel(
        Hpi,
        Ca,
        &[D, S],
        "Known {0} with worsening {1} over {n} days.",
    ),
    rel(
        As,
        Ca,
        &[D, S],
        "The patient's {1} is a manifestation of {0}.",
    ),
    rel(
        Hpi,
        Ca,
        &[D, S],
        "History of {0}. Now with {1} for the past {n} days.",
    ),
    rel(As, Ca, &[D, S], "{0} explains the {1}."),
    rel(
        Hpi,
        Ca,
        &[D, S, S],
        "Presents with {1} and {2}; the former is attributed to {0}.",
    ),
    // indicates: Lab_Test or Symptom -> Disease
    rel(Lbs, In, &[L, D], "{0} {v0}, consistent with {1}."),
    rel(As, In, &[L, D], "Abnormal {0} ({v0}) suggests {1}."),
    rel(
        Lbs,
        In,
        &[L, D],
        "{0} of {v0} supports the diagnosis of {1}.",
    ),
    rel(As, In, &[L, D], "{1} confirmed by {0} ({v0})."),
    rel(Lbs, In, &[L, D], "{0} {v0}; findings indicate {1}."),
    rel(
        Lbs,
        In,
        &[L, D],
        "Labs notable for {0} {v0}, concerning for {1}.",
    ),
    rel(As, In, &[L, D], "{1} diagnosed on the basis of {0} {v0}."),
    rel(Lbs, In, &[L, D], "{0} came back {v0}, in keeping with {1}."),
    rel(Lbs, In, &[L, D], "{0} was {v0}. This is diagnostic of {1}."),
    rel(
        Lbs,
        In,
        &[L, D, L],
        "{2} {v2}; {0} {v0}, consistent with {1}.",
    ),
    rel(Hpi, In, &[S, D], "{0} raised concern for {1}."),
    rel(As, In, &[S, D], "Presenting {0} suggestive of {1}."),
    rel(As, In, &[S, D], "{1} suspected given {0}."),
    rel(Hpi, In, &[S, D], "New {0}, concerning for {1}."),
    rel(As, In, &[S, D], "{0} points to {1}."),
    rel(Hpi, In, &[S, D], "Workup for {1} was prompted by {0}."),
    rel(As, In, &[LS, D], "{0} indicates {1}."),
    rel(As, In, &[LS, D], "{1} is suspected on the basis of {0}."),
    // prevents: Drug or Procedure -> Disease
    rel(Pl, Pv, &[R, D], "Continue {0} for prevention of {1}."),
    rel(Md, Pv, &[R, D], "{0} {freq} for {1} prophylaxis."),
    rel(Pl, Pv, &[R, D], "Started {0} to reduce the risk of {1}."),
    rel(Md, Pv, &[R, D], "On {0} for secondary prevention of {1}."),
    rel(
        Pl,
        Pv,
        &[R, D],
        "{0} prescribed as prophylaxis against {1}.",
    ),
    rel(Pl, Pv, &[R, D], "Prophylactic {0} to prevent {1}."),
    rel(Pmh, Pv, &[P, D], "Underwent {0} in {year} to prevent {1}."),
    rel(Pl, Pv, &[P, D], "{0} recommended to lower the risk of {1}."),
    rel(St, Pv, &[P, D], "{0} performed for prevention of {1}."),
    rel(Pl, Pv, &[P, D], "Scheduled for {0} as {1} prevention."),
    rel(Pl, Pv, &[RP, D], "{0} to prevent {1}."),
    rel(As, Pv, &[RP, D], "Risk of {1} reduced with {0}."),
    rel(Pl, Pv, &[RP, D], "{1} prevention: {0}."),
    rel(
        Pl,
        Pv,
        &[R, D, R],
        "Hold {2}; resume {0} for {1} prophylaxis tomorrow.",
    ),
    // adverse_effect: Drug -> Disease or Symptom
    rel(Hpi, Ae, &[R, DS], "Developed {1} after starting {0}."),
    rel(As, Ae, &[R, DS], "{1}, likely secondary to {0}."),
    rel(Pl, Ae, &[R, DS], "{0} discontinued due to {1}."),
    rel(As, Ae, &[R, DS], "{1} attributed to {0}; drug held."),
    rel(Md, Ae, &[R, DS], "Adverse reaction to {0}: {1}."),
    rel(
        Hpi,
        Ae,
        &[R, DS],
        "Reports {1} since {0} was started {n} weeks ago.",
    ),
    rel(As, Ae, &[R, DS], "{0}-induced {1}."),
    rel(Md, Ae, &[R, DS], "Intolerances: {0} ({1})."),
    rel(Pl, Ae, &[R, DS], "Switched from {0} because of {1}."),
    rel(As, Ae, &[R, DS], "Possible {0} toxicity presenting as {1}."),
    rel(As, Ae, &[R, DS], "{1} is a known side effect of {0}."),
    rel(
        Hpi,
        Ae,
        &[R, DS],
        "Was on {0} for {n} months. Stopped it after {1} developed.",
    ),
    rel(
        Pl,
        Ae,
        &[R, DS, R],
        "{0} was stopped because of {1} and replaced with {2}.",
    ),
];

const ENTITY_TEMPLATES: &[Template] = &[
    // Disease
    ent(Pmh, &[D], "History of {0}."),
    ent(Pmh, &[D, D], "PMH notable for {0} and {1}."),
    ent(Pmh, &[D], "Known {0}, well controlled."),
    ent(Pmh, &[D], "No prior {0}."),
    ent(Pmh, &[D, D, D], "Comorbidities: {0}, {1}, {2}."),
    ent(As, &[D], "{0}, stable."),
    ent(As, &[D], "Rule out {0}."),
    ent(As, &[D, D], "Differential includes {0} versus {1}."),
    ent(Hpi, &[D], "Chart review notes prior {0}."),
    // Symptom
    ent(Hpi, &[S], "Denies {0}."),
    ent(Hpi, &[S], "Reports intermittent {0} for {n} days."),
    ent(Hpi, &[S, S], "Complains of {0} and {1}."),
    ent(Hpi, &[S, S], "No {0} or {1}."),
    ent(Hpi, &[S], "ROS negative for {0}."),
    ent(Ex, &[S], "Mild {0} noted on exam."),
    ent(Hpi, &[S], "{0} has resolved."),
    // Drug
    ent(Md, &[R, R], "Home medications include {0} and {1}."),
    ent(Md, &[R], "Takes {0} {freq}."),
    ent(Md, &[R], "{0} {freq}."),
    ent(Pl, &[R], "Continue {0}."),
    ent(Md, &[R], "Allergic to {0}."),
    ent(Md, &[R], "Stopped {0} {n} months ago."),
    ent(Md, &[R, R, R], "Meds reconciled: {0}, {1}, {2}."),
    // Procedure
    ent(St, &[P], "{0} unremarkable."),
    ent(Pmh, &[P], "Underwent {0} in {year}."),
    ent(Pl, &[P], "{0} scheduled for next week."),
    ent(Pmh, &[P], "Prior {0} without complications."),
    ent(Pl, &[P], "Will obtain {0}."),
    ent(St, &[P, P], "{0} and {1} were both normal."),
    // Lab_Test
    ent(Lbs, &[L], "{0} {v0}."),
    ent(Lbs, &[L], "{0}: {v0}."),
    ent(Lbs, &[L], "{0} pending."),
    ent(Pl, &[L], "Repeat {0} in {n} weeks."),
    ent(Lbs, &[L], "Recent {0} was {v0}."),
    ent(Lbs, &[L, L], "{0} {v0}, {1} {v1}."),
    ent(Lbs, &[L], "{0} within normal limits."),
    // Mixed, no relation
    ent(Pl, &[L, R], "Check {0} before starting {1}."),
    ent(Pl, &[P, R], "Hold {1} before the {0}."),
];

const DISTRACTORS: &[Template] = &[
    ent(
        Hpi,
        &[],
        "Patient is a {age}-year-old {sex} presenting for follow-up.",
    ),
    ent(Hpi, &[], "{age} y/o {sex} referred by primary care."),
    ent(Hpi, &[], "Symptoms began {n} days ago."),
    ent(Hpi, &[], "Reports good adherence to the current regimen."),
    ent(Hpi, &[], "Lives alone and ambulates without assistance."),
    ent(Hpi, &[], "Former smoker, quit {n} years ago."),
    ent(Ex, &[], "Vitals: BP {bp}, HR {hr}, T {temp}."),
    ent(Ex, &[], "Alert and oriented ×3."),
    ent(Ex, &[], "Lungs clear to auscultation bilaterally."),
    ent(Ex, &[], "Regular rate and rhythm, no murmurs."),
    ent(Pl, &[], "Return to clinic in {n} weeks."),
    ent(Pl, &[], "Patient counseled and agrees with the plan."),
    ent(Pl, &[], "Will reassess at the next visit."),
    ent(Pl, &[], "Discussed risks and benefits; questions answered."),
    ent(As, &[], "Overall clinically improved."),
];

/// Number of sentence templates (relation, single-entity and distractor).
pub fn template_count() -> usize {
    RELATION_TEMPLATES.len() + ENTITY_TEMPLATES.len() + DISTRACTORS.len()
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

/// A concept chosen for a slot.
#[derive(Clone, Copy)]
struct Concept {
    entity_type: EntityType,
    forms: Forms,
    lab: Option<&'static Lab>,
}

impl Concept {
    fn by_name(canonical: &str) -> Concept {
        let (entity_type, forms) =
            vocab::lookup(canonical).expect("vocabulary facts name known concepts (tested)");
        Concept {
            entity_type,
            forms,
            lab: vocab::lab(canonical),
        }
    }
    fn random(rng: &mut ChaCha8Rng, t: EntityType) -> Concept {
        if t == EntityType::LabTest {
            let lab = LABS.choose(rng).expect("labs");
            return Concept {
                entity_type: t,
                forms: lab.forms,
                lab: Some(lab),
            };
        }
        let c = vocab::concepts(t);
        Concept {
            entity_type: t,
            forms: c[rng.random_range(0..c.len())],
            lab: None,
        }
    }
}

/// A rendered sentence: text and the character span of every slot (relative to the sentence).
struct Piece {
    section: Section,
    text: String,
    spans: Vec<(usize, usize, EntityType)>,
    /// `(relation, head slot, tail slot)`.
    relations: Vec<(RelationType, usize, usize)>,
}

fn lab_value(rng: &mut ChaCha8Rng, lab: &Lab) -> String {
    match lab.value {
        LabValue::Num {
            lo,
            hi,
            decimals,
            unit,
        } => {
            let v = format!("{:.*}", decimals, rng.random_range(lo..=hi));
            match unit {
                "" => v,
                "%" => format!("{v}%"),
                u => format!("{v} {u}"),
            }
        }
        LabValue::Qual(values) => values.choose(rng).expect("values").to_string(),
    }
}

fn capitalizable(form: &str) -> bool {
    let mut cs = form.chars();
    match (cs.next(), cs.next()) {
        (Some(a), Some(b)) => a.is_ascii_lowercase() && !b.is_uppercase(),
        (Some(a), None) => a.is_ascii_lowercase(),
        _ => false,
    }
}

fn render(rng: &mut ChaCha8Rng, tpl: &Template, concepts: &[Concept]) -> Piece {
    assert_eq!(tpl.slots.len(), concepts.len());
    // Surface forms: the canonical one half of the time, else any form.
    let forms: Vec<&str> = concepts
        .iter()
        .map(|c| {
            if rng.random_bool(0.5) {
                c.forms[0]
            } else {
                c.forms.choose(rng).expect("forms")
            }
        })
        .collect();
    let mut text = String::new();
    let mut n_chars = 0usize;
    let mut spans: Vec<Option<(usize, usize, EntityType)>> = vec![None; concepts.len()];
    let mut rest = tpl.text;
    while let Some(open) = rest.find('{') {
        let lit = &rest[..open];
        text.push_str(lit);
        n_chars += lit.chars().count();
        let close = open + rest[open..].find('}').expect("closed placeholder");
        let name = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Ok(k) = name.parse::<usize>() {
            let mut form = forms[k].to_string();
            if text.is_empty() && capitalizable(&form) {
                form[..1].make_ascii_uppercase();
            }
            let len = form.chars().count();
            assert!(
                spans[k].is_none(),
                "slot {k} written twice in {:?}",
                tpl.text
            );
            spans[k] = Some((n_chars, n_chars + len, concepts[k].entity_type));
            text.push_str(&form);
            n_chars += len;
            continue;
        }
        let filler = match name {
            "age" => rng.random_range(19..=94).to_string(),
            "n" => rng.random_range(2..=14).to_string(),
            "year" => rng.random_range(2004..=2023).to_string(),
            "sex" => ["man", "woman", "male", "female"]
                .choose(rng)
                .unwrap()
                .to_string(),
            "freq" => [
                "daily",
                "twice daily",
                "BID",
                "TID",
                "nightly",
                "PRN",
                "q8h",
                "every morning",
            ]
            .choose(rng)
            .unwrap()
            .to_string(),
            "bp" => format!(
                "{}/{}",
                rng.random_range(98..=172),
                rng.random_range(58..=102)
            ),
            "hr" => rng.random_range(54..=118).to_string(),
            "temp" => format!("{:.1} °C", rng.random_range(36.2..=39.4)),
            v if v.starts_with('v') => {
                let k: usize = v[1..].parse().expect("lab value slot");
                lab_value(rng, concepts[k].lab.expect("lab slot"))
            }
            other => panic!("unknown placeholder {{{other}}}"),
        };
        n_chars += filler.chars().count();
        text.push_str(&filler);
    }
    text.push_str(rest);
    Piece {
        section: tpl.section,
        text,
        spans: spans
            .into_iter()
            .map(|s| s.expect("every slot is written"))
            .collect(),
        relations: tpl.relation.map(|r| vec![(r, 0, 1)]).unwrap_or_default(),
    }
}

/// `k` distinct random concepts for the given slots, avoiding the canonical names in `taken`.
fn fill_slots(
    rng: &mut ChaCha8Rng,
    slots: &[&[EntityType]],
    mut taken: Vec<&'static str>,
) -> Vec<Concept> {
    slots
        .iter()
        .map(|types| loop {
            let t = *types.choose(rng).expect("slot types");
            let c = Concept::random(rng, t);
            if !taken.contains(&c.forms[0]) {
                taken.push(c.forms[0]);
                break c;
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Generator

/// A lazy, deterministic stream of synthetic documents.
pub struct Generator {
    rng: ChaCha8Rng,
    cfg: GeneratorConfig,
    seed: u64,
    produced: usize,
    facts_by_type: BTreeMap<RelationType, Vec<usize>>,
}

impl Generator {
    /// A generator for `seed` (after validating `cfg`).
    pub fn new(seed: u64, cfg: GeneratorConfig) -> Result<Self> {
        cfg.validate()?;
        let mut facts_by_type: BTreeMap<RelationType, Vec<usize>> = BTreeMap::new();
        for (i, f) in FACTS.iter().enumerate() {
            facts_by_type.entry(f.relation).or_default().push(i);
        }
        Ok(Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            cfg,
            seed,
            produced: 0,
            facts_by_type,
        })
    }

    /// The next document; ids are `s{seed}-{index:06}` with a 1-based index.
    pub fn next_document(&mut self) -> Document {
        self.produced += 1;
        let id = format!("s{}-{:06}", self.seed, self.produced);
        let cfg = self.cfg.clone();
        let rng = &mut self.rng;
        let e_hi = *cfg.entities_per_doc.end();
        let r_hi = (*cfg.relations_per_doc.end()).min(e_hi / 2);
        let n_rel = rng.random_range(*cfg.relations_per_doc.start()..=r_hi);
        let target = rng.random_range((*cfg.entities_per_doc.start()).max(2 * n_rel)..=e_hi);

        let mut pieces: Vec<Piece> = Vec::new();
        let mut used = 0usize;
        let mut used_facts = HashSet::new();
        for k in 0..n_rel {
            let extra_allowed = target - used - 2 * (n_rel - k);
            let fact = loop {
                let rt = *RelationType::ALL.choose(rng).expect("types");
                let i = *self.facts_by_type[&rt].choose(rng).expect("facts");
                if used_facts.insert(i) {
                    break &FACTS[i];
                }
            };
            let head = Concept::by_name(fact.head);
            let tail = Concept::by_name(fact.tail);
            let candidates: Vec<&Template> = RELATION_TEMPLATES
                .iter()
                .filter(|t| {
                    t.relation == Some(fact.relation)
                        && t.slots[0].contains(&head.entity_type)
                        && t.slots[1].contains(&tail.entity_type)
                        && t.slots.len() - 2 <= extra_allowed
                })
                .collect();
            let tpl = *candidates
                .choose(rng)
                .expect("a template for every fact (tested)");
            let mut concepts = vec![head, tail];
            concepts.extend(fill_slots(rng, &tpl.slots[2..], vec![fact.head, fact.tail]));
            pieces.push(render(rng, tpl, &concepts));
            used += tpl.slots.len();
        }
        while used < target {
            let room = target - used;
            let candidates: Vec<&Template> = ENTITY_TEMPLATES
                .iter()
                .filter(|t| t.slots.len() <= room)
                .collect();
            let tpl = *candidates.choose(rng).expect("single-slot templates exist");
            let concepts = fill_slots(rng, tpl.slots, Vec::new());
            pieces.push(render(rng, tpl, &concepts));
            used += tpl.slots.len();
        }
        let k = rng.random_range(cfg.distractors_per_doc.clone());
        // Without replacement while there are enough distinct sentences.
        let mut picked: Vec<&Template> = Vec::new();
        while picked.len() < k {
            let room = (k - picked.len()).min(DISTRACTORS.len());
            picked.extend(DISTRACTORS.choose_multiple(rng, room));
        }
        for tpl in picked {
            pieces.push(render(rng, tpl, &[]));
        }
        assemble(rng, &cfg, id, pieces)
    }
}

impl Iterator for Generator {
    type Item = Document;
    fn next(&mut self) -> Option<Document> {
        Some(self.next_document())
    }
}

/// Lay the sentences out (headed sections or narrative) and turn slot spans into entities and relations.
fn assemble(
    rng: &mut ChaCha8Rng,
    cfg: &GeneratorConfig,
    id: String,
    mut pieces: Vec<Piece>,
) -> Document {
    // (header, pieces) blocks in output order.
    let mut blocks: Vec<(Option<String>, Vec<Piece>)> = Vec::new();
    let headed = rng.random_bool(cfg.header_prob);
    if headed {
        let mut by_section: BTreeMap<Section, Vec<Piece>> = BTreeMap::new();
        for p in pieces {
            by_section.entry(p.section).or_default().push(p);
        }
        let merge_ap = rng.random_bool(0.3);
        let upper = rng.random_bool(0.2);
        let mut order: Vec<Section> = SECTIONS.to_vec();
        if rng.random_bool(cfg.shuffle_sections_prob) {
            order.shuffle(rng);
        }
        for s in order {
            let Some(mut ps) = by_section.remove(&s) else {
                continue;
            };
            let header = if merge_ap && matches!(s, Section::Assessment | Section::Plan) {
                // Both halves under one "A/P:" header, emitted where the first of them comes.
                let other = if s == Section::Assessment {
                    Section::Plan
                } else {
                    Section::Assessment
                };
                ps.extend(by_section.remove(&other).unwrap_or_default());
                *["A/P:", "Assessment and plan:", "Assessment & Plan:"]
                    .choose(rng)
                    .unwrap()
            } else {
                *headers(s).choose(rng).unwrap()
            };
            ps.shuffle(rng);
            let header = if upper {
                header.to_uppercase()
            } else {
                header.to_string()
            };
            blocks.push((Some(header), ps));
        }
    } else {
        pieces.shuffle(rng);
        blocks.push((None, pieces));
    }
    let header_sep = if rng.random_bool(0.5) { " " } else { "\n" };
    let block_sep = if rng.random_bool(0.7) { "\n" } else { "\n\n" };

    let mut text = String::new();
    let mut n_chars = 0usize;
    let mut push = |text: &mut String, s: &str| {
        text.push_str(s);
        n_chars += s.chars().count();
        n_chars
    };
    // (start, end, type) of every mention, and relations as (type, head start, tail start).
    let mut mentions: Vec<(usize, usize, EntityType)> = Vec::new();
    let mut rels: Vec<(RelationType, usize, usize)> = Vec::new();
    for (bi, (header, ps)) in blocks.iter().enumerate() {
        if bi > 0 {
            push(&mut text, block_sep);
        }
        if let Some(h) = header {
            push(&mut text, h);
            push(&mut text, header_sep);
        }
        for (pi, p) in ps.iter().enumerate() {
            let base = if pi > 0 {
                push(&mut text, " ")
            } else {
                push(&mut text, "")
            };
            for &(s, e, t) in &p.spans {
                mentions.push((base + s, base + e, t));
            }
            for &(r, h, t) in &p.relations {
                rels.push((r, base + p.spans[h].0, base + p.spans[t].0));
            }
            push(&mut text, &p.text);
        }
    }
    mentions.sort_unstable();
    let chars: Vec<char> = text.chars().collect();
    let entities: Vec<Entity> = mentions
        .iter()
        .enumerate()
        .map(|(i, &(s, e, t))| Entity {
            id: format!("T{}", i + 1),
            text: chars[s..e].iter().collect(),
            entity_type: t,
            start: s,
            end: e,
        })
        .collect();
    let at = |start: usize| -> Entity {
        entities
            .iter()
            .find(|e| e.start == start)
            .expect("relation slots are mentions")
            .clone()
    };
    let relations = rels
        .into_iter()
        .map(|(r, h, t)| Relation {
            relation_type: r,
            head: at(h),
            tail: at(t),
        })
        .collect();
    Document {
        id,
        text,
        entities,
        relations,
    }
}

/// `n` documents from `seed` (see [`Generator`]).
pub fn generate(n: usize, seed: u64, cfg: &GeneratorConfig) -> Result<Vec<Document>> {
    Ok(Generator::new(seed, cfg.clone())?.take(n).collect())
}

// ---------------------------------------------------------------------------------------------------------
// Export

/// Output formats of [`write_documents`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON array of documents in the guide's layout (one document per line).
    Json,
    /// One document per line.
    Jsonl,
    /// One [`InstructionExample`] per line.
    Instruction,
}

impl FromStr for ExportFormat {
    type Err = CragError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "json" => Ok(ExportFormat::Json),
            "jsonl" => Ok(ExportFormat::Jsonl),
            "instruction" => Ok(ExportFormat::Instruction),
            _ => Err(CragError::invalid(format!(
                "unknown format {s:?} (json, jsonl or instruction)"
            ))),
        }
    }
}

/// The instruction of every [`InstructionExample`]: the guide's sentence plus the expected output layout.
pub const INSTRUCTION: &str = "Extract medical entities and relations from the following clinical text: \
Return JSON with \"entities\" (text, type, start, end; character offsets, end exclusive; types Disease, Symptom, \
Drug, Procedure, Lab_Test) and \"relations\" (type, head, tail; types treats, causes, indicates, prevents, \
adverse_effect).";

/// One instruction-tuning example (`instruction`, `input`, `output`), as in the guide's "Format for Training".
/// Decision: `output` is compact JSON text `{"entities": [...], "relations": [...]}` in the document layout
/// (without ids) rather than the guide's bullet list, so that model output parses straight back into a
/// [`Document`] for [`super::eval`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstructionExample {
    /// [`INSTRUCTION`].
    pub instruction: String,
    /// The note.
    pub input: String,
    /// JSON text of the annotations.
    pub output: String,
}

/// The instruction-tuning example of `doc`.
pub fn instruction_example(doc: &Document) -> InstructionExample {
    let strip = |e: &Entity| Entity {
        id: String::new(),
        ..e.clone()
    };
    let entities: Vec<Entity> = doc.entities.iter().map(strip).collect();
    let relations: Vec<Relation> = doc
        .relations
        .iter()
        .map(|r| Relation {
            relation_type: r.relation_type,
            head: strip(&r.head),
            tail: strip(&r.tail),
        })
        .collect();
    /// Field order = the guide's (`entities` then `relations`; `text, type, start, end`).
    #[derive(Serialize)]
    struct Annotations {
        entities: Vec<Entity>,
        relations: Vec<Relation>,
    }
    let output = to_json(&Annotations {
        entities,
        relations,
    });
    InstructionExample {
        instruction: INSTRUCTION.to_string(),
        input: doc.text.clone(),
        output,
    }
}

/// Write `docs` in `format` (always ends with a newline).
pub fn write_documents<W: Write>(docs: &[Document], format: ExportFormat, mut w: W) -> Result<()> {
    let io = |e| CragError::io("writing documents", e);
    match format {
        ExportFormat::Json => {
            w.write_all(b"[").map_err(io)?;
            for (i, d) in docs.iter().enumerate() {
                let sep: &[u8] = if i == 0 { b"\n" } else { b",\n" };
                w.write_all(sep).map_err(io)?;
                w.write_all(to_json(d).as_bytes()).map_err(io)?;
            }
            w.write_all(b"\n]\n").map_err(io)?;
        }
        ExportFormat::Jsonl => {
            for d in docs {
                writeln!(w, "{}", to_json(d)).map_err(io)?;
            }
        }
        ExportFormat::Instruction => {
            for d in docs {
                writeln!(w, "{}", to_json(&instruction_example(d))).map_err(io)?;
            }
        }
    }
    w.flush().map_err(io)
}

/// `docs` in `format` as a string.
pub fn export(docs: &[Document], format: ExportFormat) -> String {
    let mut buf = Vec::new();
    write_documents(docs, format, &mut buf).expect("writing to memory");
    String::from_utf8(buf).expect("JSON is UTF-8")
}

/// Compact JSON of a document or example (these never fail to serialise: string keys, finite numbers).
fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialisable")
}

// ---------------------------------------------------------------------------------------------------------
// Statistics

/// Corpus statistics of a set of documents (synthetic or not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthStats {
    /// Number of documents.
    pub docs: usize,
    /// Entity mentions.
    pub entities: usize,
    /// Relations.
    pub relations: usize,
    /// Mentions per entity type (JSON names).
    pub entities_per_type: BTreeMap<String, usize>,
    /// Relations per relation type.
    pub relations_per_type: BTreeMap<String, usize>,
    /// Mean document length in characters.
    pub mean_chars: f64,
    /// Mean mentions per document.
    pub mean_entities: f64,
    /// Mean relations per document.
    pub mean_relations: f64,
    /// Tokens (lower-cased runs of letters/digits, and single punctuation characters).
    pub tokens: usize,
    /// Distinct unigrams / unigrams (n-grams do not cross documents).
    pub distinct_1: f64,
    /// Distinct bigrams / bigrams.
    pub distinct_2: f64,
    /// Distinct trigrams / trigrams.
    pub distinct_3: f64,
    /// Distinct delexicalised sentences: entity spans replaced by `[Type]`, digit runs by `0`, split at line
    /// breaks and at `.`, `?`, `!` followed by whitespace, a leading `Header:` without entities dropped. For
    /// generated notes this counts sentence templates times their filler variants (dosing frequency, lab
    /// units and qualitative results), so it exceeds [`template_count`]; it is the data-only measure of
    /// structural variety that also works on real notes.
    pub sentence_shapes: usize,
    /// Documents containing a non-ASCII character.
    pub docs_with_non_ascii: usize,
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The delexicalised sentences of `doc` (see [`SynthStats::sentence_shapes`]).
fn sentence_shapes(doc: &Document) -> Vec<String> {
    let chars: Vec<char> = doc.text.chars().collect();
    let mut starts: BTreeMap<usize, (usize, EntityType)> = BTreeMap::new();
    for e in &doc.entities {
        starts.entry(e.start).or_insert((e.end, e.entity_type));
    }
    let mut delex = String::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some(&(end, t)) = starts.get(&i) {
            if end > i && end <= chars.len() {
                delex.push_str(&format!("[{t}]"));
                i = end;
                continue;
            }
        }
        let c = chars[i];
        if c.is_ascii_digit() {
            if !delex.ends_with('0') {
                delex.push('0');
            }
        } else {
            delex.push(c);
        }
        i += 1;
    }
    let mut out = Vec::new();
    for line in delex.lines() {
        let mut sentence = String::new();
        let cs: Vec<char> = line.chars().collect();
        for (k, &c) in cs.iter().enumerate() {
            sentence.push(c);
            let end =
                matches!(c, '.' | '?' | '!') && cs.get(k + 1).is_none_or(|n| n.is_whitespace());
            if end {
                out.push(std::mem::take(&mut sentence));
            }
        }
        out.push(sentence);
    }
    out.into_iter()
        .map(|s| {
            let s = s.trim();
            match s.split_once(':') {
                Some((h, rest))
                    if !h.contains('[')
                        && h.split_whitespace().count() <= 4
                        && !rest.is_empty() =>
                {
                    rest.trim().to_string()
                }
                _ => s.to_string(),
            }
        })
        .filter(|s| !s.is_empty() && !s.ends_with(':'))
        .collect()
}

/// Statistics of `docs`.
pub fn stats(docs: &[Document]) -> SynthStats {
    let mut entities_per_type = BTreeMap::new();
    let mut relations_per_type = BTreeMap::new();
    let (mut entities, mut relations, mut chars, mut non_ascii) = (0usize, 0usize, 0usize, 0usize);
    let mut grams: [HashSet<Vec<String>>; 3] = Default::default();
    let mut totals = [0usize; 3];
    let mut n_tokens = 0usize;
    let mut shapes = BTreeSet::new();
    for d in docs {
        for e in &d.entities {
            *entities_per_type
                .entry(e.entity_type.to_string())
                .or_insert(0) += 1;
        }
        for r in &d.relations {
            *relations_per_type
                .entry(r.relation_type.to_string())
                .or_insert(0) += 1;
        }
        entities += d.entities.len();
        relations += d.relations.len();
        chars += d.text.chars().count();
        non_ascii += usize::from(!d.text.is_ascii());
        let toks = tokens(&d.text);
        n_tokens += toks.len();
        for n in 1..=3 {
            for w in toks.windows(n) {
                totals[n - 1] += 1;
                grams[n - 1].insert(w.to_vec());
            }
        }
        shapes.extend(sentence_shapes(d));
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let n = docs.len();
    SynthStats {
        docs: n,
        entities,
        relations,
        entities_per_type,
        relations_per_type,
        mean_chars: ratio(chars, n),
        mean_entities: ratio(entities, n),
        mean_relations: ratio(relations, n),
        tokens: n_tokens,
        distinct_1: ratio(grams[0].len(), totals[0]),
        distinct_2: ratio(grams[1].len(), totals[1]),
        distinct_3: ratio(grams[2].len(), totals[2]),
        sentence_shapes: shapes.len(),
        docs_with_non_ascii: non_ascii,
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::CharIndex;
    use super::*;

    fn placeholders(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(o) = rest.find('{') {
            let c = o + rest[o..].find('}').unwrap();
            out.push(&rest[o + 1..c]);
            rest = &rest[c + 1..];
        }
        out
    }

    #[test]
    fn ner_templates_are_well_formed() {
        let all = RELATION_TEMPLATES
            .iter()
            .chain(ENTITY_TEMPLATES)
            .chain(DISTRACTORS);
        for t in all {
            let ph = placeholders(t.text);
            for k in 0..t.slots.len() {
                assert!(ph.contains(&k.to_string().as_str()), "{}: slot {k}", t.text);
            }
            for p in ph {
                if let Some(k) = p.strip_prefix('v') {
                    let k: usize = k.parse().unwrap();
                    assert_eq!(t.slots[k], L, "{}: {{v{k}}} needs a lab slot", t.text);
                } else if let Ok(k) = p.parse::<usize>() {
                    assert!(k < t.slots.len(), "{}", t.text);
                } else {
                    assert!(
                        ["age", "n", "year", "sex", "freq", "bp", "hr", "temp"].contains(&p),
                        "{}: {p}",
                        t.text
                    );
                }
            }
            if let Some(r) = t.relation {
                assert!(t.slots.len() >= 2);
                assert!(
                    t.slots[0].iter().all(|&h| r.head_types().contains(&h)),
                    "{}",
                    t.text
                );
                assert!(
                    t.slots[1].iter().all(|&x| r.tail_types().contains(&x)),
                    "{}",
                    t.text
                );
            }
        }
        // Every fact has at least three two-slot templates.
        for f in FACTS {
            let h = Concept::by_name(f.head).entity_type;
            let t = Concept::by_name(f.tail).entity_type;
            let n = RELATION_TEMPLATES
                .iter()
                .filter(|x| {
                    x.relation == Some(f.relation)
                        && x.slots.len() == 2
                        && x.slots[0].contains(&h)
                        && x.slots[1].contains(&t)
                })
                .count();
            assert!(n >= 3, "{f:?}: {n} templates");
        }
        for r in RelationType::ALL {
            let n = RELATION_TEMPLATES
                .iter()
                .filter(|t| t.relation == Some(r))
                .count();
            assert!(n >= 10, "{r}: {n}");
        }
    }

    #[test]
    fn ner_synth_deterministic() {
        let cfg = GeneratorConfig::default();
        let a = export(&generate(200, 7, &cfg).unwrap(), ExportFormat::Jsonl);
        let b = export(&generate(200, 7, &cfg).unwrap(), ExportFormat::Jsonl);
        assert_eq!(a, b);
        let c = export(&generate(200, 8, &cfg).unwrap(), ExportFormat::Jsonl);
        assert_ne!(a, c);
        // Lazily streamed documents equal the collected ones; prefixes are stable.
        let first: Vec<Document> = Generator::new(7, cfg.clone()).unwrap().take(50).collect();
        assert_eq!(first[..], generate(200, 7, &cfg).unwrap()[..50]);
    }

    #[test]
    fn ner_synth_offsets_exact_and_rules_obeyed() {
        let cfg = GeneratorConfig::default();
        let docs = generate(2000, 42, &cfg).unwrap();
        let mut non_ascii_entities = 0;
        let mut ids = HashSet::new();
        for d in &docs {
            assert!(ids.insert(d.id.clone()));
            d.validate().unwrap();
            // Independent check with Python-like char slicing.
            let chars: Vec<char> = d.text.chars().collect();
            let index = CharIndex::new(&d.text);
            for e in &d.entities {
                let s: String = chars[e.start..e.end].iter().collect();
                assert_eq!(s, e.text, "{}", d.id);
                assert_eq!(index.slice(&d.text, e.start, e.end), Some(e.text.as_str()));
                non_ascii_entities += usize::from(!e.text.is_ascii());
            }
            for w in d.entities.windows(2) {
                assert!(w[0].end <= w[1].start, "overlapping mentions in {}", d.id);
            }
            for r in &d.relations {
                assert!(r
                    .relation_type
                    .allows(r.head.entity_type, r.tail.entity_type));
            }
            assert!(
                cfg.relations_per_doc.contains(&d.relations.len()),
                "{}",
                d.id
            );
            assert!(cfg.entities_per_doc.contains(&d.entities.len()), "{}", d.id);
        }
        assert!(non_ascii_entities > 0);
        let st = stats(&docs);
        assert_eq!(st.docs, 2000);
        assert!(st.docs_with_non_ascii > 100, "{st:?}");
        assert!(st.sentence_shapes > 100, "{st:?}");
        for t in EntityType::ALL {
            assert!(st.entities_per_type[t.as_str()] > 100, "{st:?}");
        }
        for r in RelationType::ALL {
            assert!(st.relations_per_type[r.as_str()] > 100, "{st:?}");
        }
        assert!(
            st.distinct_1 > 0.0 && st.distinct_1 < st.distinct_2 && st.distinct_2 < st.distinct_3
        );
    }

    #[test]
    fn ner_synth_config_ranges() {
        let cfg = GeneratorConfig {
            entities_per_doc: 6..=6,
            relations_per_doc: 3..=3,
            distractors_per_doc: 0..=0,
            header_prob: 0.0,
            shuffle_sections_prob: 0.0,
        };
        for d in generate(300, 1, &cfg).unwrap() {
            assert_eq!(d.entities.len(), 6);
            assert_eq!(d.relations.len(), 3);
            d.validate().unwrap();
        }
        // Relations need two mentions each: more relations than mentions allow is capped, not an error...
        let capped = GeneratorConfig {
            entities_per_doc: 2..=5,
            relations_per_doc: 1..=9,
            ..GeneratorConfig::default()
        };
        for d in generate(300, 2, &capped).unwrap() {
            assert!((1..=2).contains(&d.relations.len()));
            assert!((2..=5).contains(&d.entities.len()));
        }
        // ... but a minimum that cannot be met is.
        let bad = GeneratorConfig {
            entities_per_doc: 1..=3,
            relations_per_doc: 2..=2,
            ..GeneratorConfig::default()
        };
        assert!(generate(1, 0, &bad).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let empty = GeneratorConfig {
            entities_per_doc: 5..=3,
            ..GeneratorConfig::default()
        };
        assert!(empty.validate().is_err());
        let p = GeneratorConfig {
            header_prob: 1.5,
            ..GeneratorConfig::default()
        };
        assert!(p.validate().is_err());
        // No entities at all: distractor-only notes.
        let none = GeneratorConfig {
            entities_per_doc: 0..=0,
            relations_per_doc: 0..=0,
            distractors_per_doc: 1..=1,
            ..GeneratorConfig::default()
        };
        let d = &generate(3, 3, &none).unwrap()[0];
        assert!(d.entities.is_empty() && !d.text.is_empty());
    }

    #[test]
    fn ner_synth_exports() {
        let docs = generate(20, 5, &GeneratorConfig::default()).unwrap();
        let json = export(&docs, ExportFormat::Json);
        let back: Vec<Document> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, docs);
        let jsonl = export(&docs, ExportFormat::Jsonl);
        assert_eq!(jsonl.lines().count(), 20);
        let back: Vec<Document> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, docs);
        let inst = export(&docs, ExportFormat::Instruction);
        for (line, d) in inst.lines().zip(&docs) {
            let ex: InstructionExample = serde_json::from_str(line).unwrap();
            assert_eq!(ex.input, d.text);
            assert_eq!(ex.instruction, INSTRUCTION);
            // The output parses back into the annotations (ids dropped).
            let mut parsed: Document = serde_json::from_str(&ex.output).unwrap();
            parsed.text = ex.input.clone();
            parsed.validate().unwrap();
            assert_eq!(parsed.entities.len(), d.entities.len());
            assert_eq!(parsed.relations.len(), d.relations.len());
            assert!(parsed
                .entities
                .iter()
                .zip(&d.entities)
                .all(|(a, b)| a.same_mention(b)));
            assert!(!ex.output.contains("\"id\""));
            // The guide's key order.
            if !d.entities.is_empty() {
                assert!(
                    ex.output.starts_with(r#"{"entities":[{"text":"#),
                    "{}",
                    ex.output
                );
            }
        }
        assert_eq!(
            "jsonl".parse::<ExportFormat>().unwrap(),
            ExportFormat::Jsonl
        );
        assert!("csv".parse::<ExportFormat>().is_err());
    }

    #[test]
    fn ner_stats_hand_example() {
        // "a b a." -> tokens a b a . : 4 unigrams, 3 distinct; bigrams ab ba a. : 3, all distinct.
        let d = Document {
            id: "x".into(),
            text: "A b a.".into(),
            ..Document::default()
        };
        let st = stats(&[d]);
        assert_eq!(st.tokens, 4);
        assert!((st.distinct_1 - 0.75).abs() < 1e-12);
        assert!((st.distinct_2 - 1.0).abs() < 1e-12);
        assert_eq!(st.sentence_shapes, 1);
        assert_eq!(st.docs_with_non_ascii, 0);
        let empty = stats(&[]);
        assert_eq!(empty.mean_chars, 0.0);
        assert_eq!(empty.distinct_3, 0.0);
    }
}

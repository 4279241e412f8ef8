//! The annotated-document format of the NER/RE guide (`ner_re_guide.md`, "Example Document Structure"):
//!
//! ```json
//! {"id": "doc-1",
//!  "text": "Patient presents with chest pain. ...",
//!  "entities": [{"id": "T1", "text": "chest pain", "type": "Symptom", "start": 22, "end": 32}, ...],
//!  "relations": [{"type": "indicates",
//!                 "head": {"id": "T1", "text": "chest pain", "type": "Symptom", "start": 22, "end": 32},
//!                 "tail": {"id": "T3", "text": "coronary artery disease", "type": "Disease", ...}}]}
//! ```
//!
//! * `start`/`end` are **character** offsets (Unicode scalar values, end exclusive), as Python's `str` slicing;
//!   use [`CharIndex`], [`char_to_byte`] and [`byte_to_char`] to move between them and Rust's byte offsets.
//! * A relation's `head` and `tail` are full entity objects, as in the guide (not entity ids). They must be
//!   entities of the same document (same span and type).
//! * `id` (document and entity) is an addition to the guide's layout; it is optional on input (empty when absent).
//!
//! Relation type rules ([`RelationType::allows`]) follow the guide's table, plus `adverse_effect`:
//!
//! | relation         | head                 | tail              |
//! |------------------|----------------------|-------------------|
//! | `treats`         | Drug                 | Disease           |
//! | `causes`         | Disease              | Symptom           |
//! | `indicates`      | Lab_Test, Symptom    | Disease           |
//! | `prevents`       | Drug, Procedure      | Disease           |
//! | `adverse_effect` | Drug                 | Disease, Symptom  |
//!
//! Decision: the guide writes `indicates` as "Test/Symptom → Disease"; "Test" is read as `Lab_Test` only (imaging
//! and biopsies are `Procedure`s and are not allowed as `indicates` heads). `treats` is exactly the guide's
//! "Drug → Disease" (no procedures, no symptoms).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{CragError, Result};

/// The five entity types of the guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityType {
    /// Medical condition (diabetes mellitus, hypertension).
    Disease,
    /// Clinical sign or complaint (chest pain, fever).
    Symptom,
    /// Medication or drug class (metformin, β-blocker).
    Drug,
    /// Diagnostic or therapeutic procedure (CT scan, biopsy).
    Procedure,
    /// Laboratory test (HbA1c, troponin I). Serialised as `Lab_Test`.
    #[serde(rename = "Lab_Test")]
    LabTest,
}

impl EntityType {
    /// All types, in the guide's order.
    pub const ALL: [EntityType; 5] = [
        EntityType::Disease,
        EntityType::Symptom,
        EntityType::Drug,
        EntityType::Procedure,
        EntityType::LabTest,
    ];

    /// The name used in JSON (`Lab_Test` for [`EntityType::LabTest`]).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Disease => "Disease",
            EntityType::Symptom => "Symptom",
            EntityType::Drug => "Drug",
            EntityType::Procedure => "Procedure",
            EntityType::LabTest => "Lab_Test",
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityType {
    type Err = CragError;
    fn from_str(s: &str) -> Result<Self> {
        EntityType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| CragError::invalid(format!("unknown entity type {s:?}")))
    }
}

/// The guide's four relation types plus `adverse_effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationType {
    /// Drug treats/manages a disease.
    Treats,
    /// Disease causes a symptom.
    Causes,
    /// A lab test result or a symptom indicates a disease.
    Indicates,
    /// A drug or procedure prevents a disease.
    Prevents,
    /// A drug causes an adverse effect (a disease or a symptom).
    AdverseEffect,
}

impl RelationType {
    /// All types.
    pub const ALL: [RelationType; 5] = [
        RelationType::Treats,
        RelationType::Causes,
        RelationType::Indicates,
        RelationType::Prevents,
        RelationType::AdverseEffect,
    ];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationType::Treats => "treats",
            RelationType::Causes => "causes",
            RelationType::Indicates => "indicates",
            RelationType::Prevents => "prevents",
            RelationType::AdverseEffect => "adverse_effect",
        }
    }

    /// Allowed head types (see the module table).
    pub fn head_types(self) -> &'static [EntityType] {
        use EntityType::*;
        match self {
            RelationType::Treats => &[Drug],
            RelationType::Causes => &[Disease],
            RelationType::Indicates => &[LabTest, Symptom],
            RelationType::Prevents => &[Drug, Procedure],
            RelationType::AdverseEffect => &[Drug],
        }
    }

    /// Allowed tail types (see the module table).
    pub fn tail_types(self) -> &'static [EntityType] {
        use EntityType::*;
        match self {
            RelationType::Treats => &[Disease],
            RelationType::Causes => &[Symptom],
            RelationType::Indicates => &[Disease],
            RelationType::Prevents => &[Disease],
            RelationType::AdverseEffect => &[Disease, Symptom],
        }
    }

    /// Whether `head --[self]--> tail` obeys the type rules.
    pub fn allows(self, head: EntityType, tail: EntityType) -> bool {
        self.head_types().contains(&head) && self.tail_types().contains(&tail)
    }
}

impl fmt::Display for RelationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RelationType {
    type Err = CragError;
    fn from_str(s: &str) -> Result<Self> {
        RelationType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| CragError::invalid(format!("unknown relation type {s:?}")))
    }
}

/// One entity mention: `text == text[start..end]` in characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// Identifier within the document (`T1`, `T2`, ...); empty when the input had none (then not written).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The mention as it appears in the text.
    pub text: String,
    /// Entity type (JSON key `type`).
    #[serde(rename = "type")]
    pub entity_type: EntityType,
    /// First character (inclusive).
    pub start: usize,
    /// One past the last character (exclusive).
    pub end: usize,
}

impl Entity {
    /// Same span and type (ids and texts are not compared).
    pub fn same_mention(&self, other: &Entity) -> bool {
        self.start == other.start && self.end == other.end && self.entity_type == other.entity_type
    }
}

/// A directed, typed relation between two entity mentions of one document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    /// Relation type (JSON key `type`).
    #[serde(rename = "type")]
    pub relation_type: RelationType,
    /// Head mention (a full entity object, as in the guide).
    pub head: Entity,
    /// Tail mention.
    pub tail: Entity,
}

/// An annotated clinical note.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Document {
    /// Document identifier; empty when the input had none (then not written).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The note (optional on input, e.g. in prediction files paired by id).
    #[serde(default)]
    pub text: String,
    /// Entity mentions, in any order.
    #[serde(default)]
    pub entities: Vec<Entity>,
    /// Relations between mentions of `entities`.
    #[serde(default)]
    pub relations: Vec<Relation>,
}

impl Document {
    /// Check that every entity's `text` equals the character slice `[start, end)` of the document (non-empty,
    /// within the text), that entity ids are unique when given, and that every relation joins two distinct
    /// entities of this document and obeys [`RelationType::allows`]. Errors are
    /// [`CragError::InvalidArgument`] naming the document and the first offending item.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(CragError::invalid(format!("document {:?}: {msg}", self.id)));
        let index = CharIndex::new(&self.text);
        let mut ids = std::collections::HashSet::new();
        for (i, e) in self.entities.iter().enumerate() {
            if e.start >= e.end {
                return bad(format!(
                    "entity {i} has an empty span [{}, {})",
                    e.start, e.end
                ));
            }
            match index.slice(&self.text, e.start, e.end) {
                None => {
                    return bad(format!(
                        "entity {i} span [{}, {}) lies outside the text ({} characters)",
                        e.start,
                        e.end,
                        index.len()
                    ))
                }
                Some(s) if s != e.text => {
                    return bad(format!(
                        "entity {i} text {:?} differs from text[{}..{}] = {s:?}",
                        e.text, e.start, e.end
                    ))
                }
                Some(_) => {}
            }
            if !e.id.is_empty() && !ids.insert(e.id.as_str()) {
                return bad(format!("duplicate entity id {:?}", e.id));
            }
        }
        for (i, r) in self.relations.iter().enumerate() {
            for (role, m) in [("head", &r.head), ("tail", &r.tail)] {
                if !self
                    .entities
                    .iter()
                    .any(|e| e.same_mention(m) && e.text == m.text)
                {
                    return bad(format!(
                        "relation {i} {role} {:?} [{}, {}) {} is not an entity of the document",
                        m.text, m.start, m.end, m.entity_type
                    ));
                }
            }
            if r.head.same_mention(&r.tail) {
                return bad(format!("relation {i} joins an entity to itself"));
            }
            if !r
                .relation_type
                .allows(r.head.entity_type, r.tail.entity_type)
            {
                return bad(format!(
                    "relation {i}: {} --[{}]--> {} is not allowed",
                    r.head.entity_type, r.relation_type, r.tail.entity_type
                ));
            }
        }
        Ok(())
    }
}

/// Parse documents from a JSON array, a single JSON object, or JSON Lines (one document per non-empty line).
pub fn parse_documents(input: &str) -> Result<Vec<Document>> {
    let trimmed = input.trim_start();
    let err = |what: &str, e: serde_json::Error| CragError::invalid(format!("{what}: {e}"));
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed).map_err(|e| err("JSON array of documents", e));
    }
    if let Ok(doc) = serde_json::from_str::<Document>(trimmed) {
        return Ok(vec![doc]);
    }
    input
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| err(&format!("JSONL line {}", i + 1), e)))
        .collect()
}

/// Byte offsets of every character of a string, for repeated char ⇄ byte conversions in O(1)/O(log n).
#[derive(Debug, Clone)]
pub struct CharIndex {
    /// `bytes[i]` = byte offset of character `i`; one extra entry = the string's byte length.
    bytes: Vec<usize>,
}

impl CharIndex {
    /// Index `text`.
    pub fn new(text: &str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        CharIndex { bytes }
    }
    /// Number of characters.
    pub fn len(&self) -> usize {
        self.bytes.len() - 1
    }
    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Byte offset of character `char_idx` (`len()` maps to the byte length); `None` past the end.
    pub fn to_byte(&self, char_idx: usize) -> Option<usize> {
        self.bytes.get(char_idx).copied()
    }
    /// Character index of byte offset `byte_idx`; `None` when it is not on a character boundary.
    pub fn to_char(&self, byte_idx: usize) -> Option<usize> {
        self.bytes.binary_search(&byte_idx).ok()
    }
    /// The character slice `[start, end)` of `text` (the string this index was built from).
    pub fn slice<'a>(&self, text: &'a str, start: usize, end: usize) -> Option<&'a str> {
        if start > end {
            return None;
        }
        Some(&text[self.to_byte(start)?..self.to_byte(end)?])
    }
}

/// Byte offset of character `char_idx` in `text` (`char_idx == chars().count()` gives `text.len()`); `None`
/// past the end. O(n); build a [`CharIndex`] for many conversions.
pub fn char_to_byte(text: &str, char_idx: usize) -> Option<usize> {
    text.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .nth(char_idx)
}

/// Character index of byte offset `byte_idx` in `text`; `None` when it is past the end or not on a character
/// boundary.
pub fn byte_to_char(text: &str, byte_idx: usize) -> Option<usize> {
    if !text.is_char_boundary(byte_idx) {
        return None;
    }
    Some(text[..byte_idx].chars().count())
}

/// The character slice `[start, end)` of `text`, like Python's `text[start:end]` but `None` when out of range.
pub fn char_slice(text: &str, start: usize, end: usize) -> Option<&str> {
    if start > end {
        return None;
    }
    let b0 = char_to_byte(text, start)?;
    let b1 = b0 + char_to_byte(&text[b0..], end - start)?;
    Some(&text[b0..b1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(id: &str, text: &str, t: EntityType, start: usize, end: usize) -> Entity {
        Entity {
            id: id.into(),
            text: text.into(),
            entity_type: t,
            start,
            end,
        }
    }

    #[test]
    fn ner_char_byte_offsets() {
        // "Sjögren's" : ö is 2 bytes; "β" is 2 bytes.
        let t = "Sjögren's β-blocker";
        assert_eq!(char_to_byte(t, 0), Some(0));
        assert_eq!(char_to_byte(t, 3), Some(4)); // after "Sjö"
        assert_eq!(char_to_byte(t, 10), Some(11)); // 'β'
        assert_eq!(char_to_byte(t, 19), Some(t.len()));
        assert_eq!(char_to_byte(t, 20), None);
        assert_eq!(byte_to_char(t, 4), Some(3));
        assert_eq!(byte_to_char(t, 3), None); // inside 'ö'
        assert_eq!(byte_to_char(t, t.len()), Some(19));
        assert_eq!(byte_to_char(t, t.len() + 1), None);
        assert_eq!(char_slice(t, 10, 19), Some("β-blocker"));
        assert_eq!(char_slice(t, 0, 9), Some("Sjögren's"));
        assert_eq!(char_slice(t, 5, 4), None);
        assert_eq!(char_slice(t, 10, 20), None);
        let idx = CharIndex::new(t);
        assert_eq!(idx.len(), 19);
        for c in 0..=19 {
            let b = idx.to_byte(c).unwrap();
            assert_eq!(Some(b), char_to_byte(t, c));
            assert_eq!(idx.to_char(b), Some(c));
        }
        assert_eq!(idx.to_char(3), None);
        assert_eq!(idx.slice(t, 10, 19), Some("β-blocker"));
    }

    #[test]
    fn ner_guide_json_roundtrip_and_validate() {
        // The guide's example (its offsets are off by one; these are the true Python offsets).
        let text =
            "Patient presents with chest pain. Laboratory tests including troponin were ordered. \
                    Diagnosis: coronary artery disease. Treatment plan: aspirin prescribed.";
        let js = serde_json::json!({
            "text": text,
            "entities": [
                {"text": "chest pain", "type": "Symptom", "start": 22, "end": 32},
                {"text": "troponin", "type": "Lab_Test", "start": 61, "end": 69},
                {"text": "coronary artery disease", "type": "Disease", "start": 95, "end": 118},
                {"text": "aspirin", "type": "Drug", "start": 136, "end": 143}
            ],
            "relations": [
                {"type": "indicates",
                 "head": {"text": "chest pain", "type": "Symptom", "start": 22, "end": 32},
                 "tail": {"text": "coronary artery disease", "type": "Disease", "start": 95, "end": 118}},
                {"type": "treats",
                 "head": {"text": "aspirin", "type": "Drug", "start": 136, "end": 143},
                 "tail": {"text": "coronary artery disease", "type": "Disease", "start": 95, "end": 118}}
            ]
        });
        let doc: Document = serde_json::from_value(js).unwrap();
        assert_eq!(doc.id, "");
        assert_eq!(doc.entities[1].entity_type, EntityType::LabTest);
        doc.validate().unwrap();
        let back: Document = serde_json::from_str(&serde_json::to_string(&doc).unwrap()).unwrap();
        assert_eq!(back, doc);
        let v = serde_json::to_value(&doc).unwrap();
        assert_eq!(v["relations"][1]["type"], "treats");
        assert_eq!(v["entities"][1]["type"], "Lab_Test");
    }

    #[test]
    fn ner_validate_rejects() {
        let text = "Sjögren's syndrome treated with hydroxychloroquine.";
        let d = ent("T1", "Sjögren's syndrome", EntityType::Disease, 0, 18);
        let h = ent("T2", "hydroxychloroquine", EntityType::Drug, 32, 50);
        let ok = Document {
            id: "d".into(),
            text: text.into(),
            entities: vec![d.clone(), h.clone()],
            relations: vec![Relation {
                relation_type: RelationType::Treats,
                head: h.clone(),
                tail: d.clone(),
            }],
        };
        ok.validate().unwrap();
        let expect_err = |doc: &Document, needle: &str| {
            let e = doc.validate().unwrap_err();
            assert!(matches!(e, CragError::InvalidArgument(_)));
            assert!(e.to_string().contains(needle), "{e}");
        };
        // Byte offsets instead of char offsets: "Sjögren's syndrome" is 19 bytes.
        let mut bad = ok.clone();
        bad.entities[0].end = 19;
        expect_err(&bad, "differs");
        let mut bad = ok.clone();
        bad.entities[1].end = 60;
        expect_err(&bad, "outside");
        let mut bad = ok.clone();
        bad.entities[1].start = 50;
        expect_err(&bad, "empty span");
        let mut bad = ok.clone();
        bad.entities[1].id = "T1".into();
        expect_err(&bad, "duplicate entity id");
        // Reversed direction: Disease --treats--> Drug.
        let mut bad = ok.clone();
        bad.relations[0].head = d.clone();
        bad.relations[0].tail = h.clone();
        expect_err(&bad, "not allowed");
        // A head that is not one of the entities.
        let mut bad = ok.clone();
        bad.relations[0].head.start = 31;
        expect_err(&bad, "not an entity");
        let mut bad = ok.clone();
        bad.relations[0].tail = h.clone();
        expect_err(&bad, "itself");
    }

    #[test]
    fn ner_parse_documents_layouts() {
        let one = r#"{"text": "fever", "entities": [{"text": "fever", "type": "Symptom", "start": 0, "end": 5}]}"#;
        assert_eq!(parse_documents(one).unwrap().len(), 1);
        let arr = format!("[{one}, {one}]");
        assert_eq!(parse_documents(&arr).unwrap().len(), 2);
        let lines = format!("{one}\n\n{one}\n{one}\n");
        assert_eq!(parse_documents(&lines).unwrap().len(), 3);
        let bad = format!("{one}\n{{\"text\": 1}}\n");
        assert!(parse_documents(&bad)
            .unwrap_err()
            .to_string()
            .contains("line 2"));
        assert!(
            parse_documents("[{\"text\": \"x\", \"entities\": [{\"type\": \"Gene\"}]}]").is_err()
        );
        // Ids are optional and not written when empty.
        let doc = &parse_documents(one).unwrap()[0];
        assert!(!serde_json::to_string(doc).unwrap().contains("\"id\""));
    }

    #[test]
    fn ner_type_rules() {
        use EntityType::*;
        assert!(RelationType::Treats.allows(Drug, Disease));
        assert!(!RelationType::Treats.allows(Procedure, Disease));
        assert!(RelationType::Indicates.allows(LabTest, Disease));
        assert!(RelationType::Indicates.allows(Symptom, Disease));
        assert!(RelationType::Prevents.allows(Procedure, Disease));
        assert!(RelationType::AdverseEffect.allows(Drug, Symptom));
        assert!(!RelationType::Causes.allows(Drug, Symptom));
        for t in EntityType::ALL {
            assert_eq!(t.as_str().parse::<EntityType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for r in RelationType::ALL {
            assert_eq!(r.as_str().parse::<RelationType>().unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert!("adverse-effect".parse::<RelationType>().is_err());
    }
}

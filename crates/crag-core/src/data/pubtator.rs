//! PubTator files (BioCreative V CDR, `CDR_*Set.PubTator.txt`): abstracts with chemical and disease mentions and
//! chemical-induced-disease (CID) relations.
//!
//! ```text
//! (tab-separated; tabs shown as two spaces)
//! 227508|t|Naloxone reverses the antihypertensive effect of clonidine.
//! 227508|a|In unanesthetized, spontaneously hypertensive rats ...
//! 227508  0  8  Naloxone  Chemical  D009270
//! 2234245  0  28  Ocular and auditory toxicity  Disease  D014786|D006311  Ocular toxicity|auditory toxicity
//! 227508  CID  D008750  D007022
//! ```
//!
//! Offsets count chars over `title + " " + abstract` ([`PubtatorDoc::text`]), end exclusive. A composite mention
//! (7 columns: several MeSH ids and the individual mentions) is kept as **one** span over its whole text, with all
//! ids. Mentions may overlap; they are all kept here ([`crate::ner::tagging::label_pieces`] drops nested ones when
//! labelling). For NER, `Chemical` becomes [`EntityType::Drug`] and `Disease` [`EntityType::Disease`]
//! ([`PubtatorDoc::to_document`]).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ner::schema::{CharIndex, Document, Entity, EntityType};
use crate::{CragError, Result};

/// One mention line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubtatorMention {
    /// First char in the document text.
    pub start: usize,
    /// One past the last char.
    pub end: usize,
    /// The mention as written in the file.
    pub text: String,
    /// PubTator type (`Chemical`, `Disease`).
    pub kind: String,
    /// MeSH ids (`D009270`, `-1` when unnormalised; several for a composite mention).
    pub ids: Vec<String>,
    /// Individual mentions of a composite mention (empty otherwise).
    pub parts: Vec<String>,
}

/// One abstract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubtatorDoc {
    /// PubMed id.
    pub pmid: String,
    /// Title.
    pub title: String,
    /// Abstract.
    pub abstract_text: String,
    /// Mentions in file order.
    pub mentions: Vec<PubtatorMention>,
    /// CID relations `(chemical MeSH id, disease MeSH id)`.
    pub relations: Vec<(String, String)>,
}

impl PubtatorDoc {
    /// `title + " " + abstract`, the text the offsets count in.
    pub fn text(&self) -> String {
        format!("{} {}", self.title, self.abstract_text)
    }

    /// NER entity type of a PubTator type: `Chemical` → Drug, `Disease` → Disease, others none.
    pub fn entity_type(kind: &str) -> Option<EntityType> {
        match kind {
            "Chemical" => Some(EntityType::Drug),
            "Disease" => Some(EntityType::Disease),
            _ => None,
        }
    }

    /// The abstract as an annotated [`Document`] (id = PMID), mentions of mapped types only, in file order.
    pub fn to_document(&self) -> Document {
        let text = self.text();
        let entities = self
            .mentions
            .iter()
            .filter_map(|m| {
                Self::entity_type(&m.kind).map(|t| Entity {
                    id: String::new(),
                    text: m.text.clone(),
                    entity_type: t,
                    start: m.start,
                    end: m.end,
                })
            })
            .enumerate()
            .map(|(i, e)| Entity {
                id: format!("T{}", i + 1),
                ..e
            })
            .collect();
        Document {
            id: self.pmid.clone(),
            text,
            entities,
            relations: vec![],
        }
    }
}

fn bad(line: usize, msg: impl std::fmt::Display) -> CragError {
    CragError::invalid(format!("PubTator line {line}: {msg}"))
}

/// Parse PubTator text. Every mention must lie inside its document's text and equal the char slice it names;
/// lines of an unknown shape, a document without title or abstract, or lines of another PMID are errors naming the
/// line.
pub fn parse_pubtator(reader: impl Read) -> Result<Vec<PubtatorDoc>> {
    let mut docs: Vec<PubtatorDoc> = Vec::new();
    let mut cur: Option<PubtatorDoc> = None;
    let mut index: Option<(String, CharIndex)> = None;
    let close = |cur: &mut Option<PubtatorDoc>, docs: &mut Vec<PubtatorDoc>| {
        if let Some(d) = cur.take() {
            docs.push(d);
        }
    };
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| CragError::io(format!("reading PubTator line {n}"), e))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            close(&mut cur, &mut docs);
            index = None;
            continue;
        }
        if let Some((pmid, rest)) = line.split_once("|t|") {
            if !pmid.contains('\t') {
                close(&mut cur, &mut docs);
                index = None;
                cur = Some(PubtatorDoc {
                    pmid: pmid.to_string(),
                    title: rest.to_string(),
                    ..Default::default()
                });
                continue;
            }
        }
        if let Some((pmid, rest)) = line.split_once("|a|") {
            if !pmid.contains('\t') {
                let d = cur
                    .as_mut()
                    .filter(|d| d.pmid == pmid)
                    .ok_or_else(|| bad(n, format!("abstract of {pmid} without its title")))?;
                d.abstract_text = rest.to_string();
                continue;
            }
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let d = cur
            .as_mut()
            .ok_or_else(|| bad(n, "annotation outside a document"))?;
        if cols[0] != d.pmid {
            return Err(bad(
                n,
                format!("PMID {} inside document {}", cols[0], d.pmid),
            ));
        }
        if cols.len() == 4 && cols[1] == "CID" {
            d.relations.push((cols[2].to_string(), cols[3].to_string()));
            continue;
        }
        if !(6..=7).contains(&cols.len()) {
            return Err(bad(
                n,
                format!("{} columns (expected 4, 6 or 7)", cols.len()),
            ));
        }
        let start: usize = cols[1]
            .parse()
            .map_err(|_| bad(n, "start is not a number"))?;
        let end: usize = cols[2].parse().map_err(|_| bad(n, "end is not a number"))?;
        if index.as_ref().is_none_or(|(p, _)| p != &d.pmid) {
            index = Some((d.pmid.clone(), CharIndex::new(&d.text())));
        }
        let text = d.text();
        let (_, idx) = index.as_ref().ok_or_else(|| bad(n, "no text"))?;
        if start >= end {
            return Err(bad(n, format!("empty span {start}..{end}")));
        }
        match idx.slice(&text, start, end) {
            Some(s) if s == cols[3] => {}
            Some(s) => {
                return Err(bad(
                    n,
                    format!(
                        "mention {:?} but the text has {s:?} at {start}..{end}",
                        cols[3]
                    ),
                ))
            }
            None => return Err(bad(n, format!("span {start}..{end} is outside the text"))),
        }
        d.mentions.push(PubtatorMention {
            start,
            end,
            text: cols[3].to_string(),
            kind: cols[4].to_string(),
            ids: cols[5].split('|').map(str::to_string).collect(),
            parts: cols
                .get(6)
                .map(|p| p.split('|').map(str::to_string).collect())
                .unwrap_or_default(),
        });
    }
    close(&mut cur, &mut docs);
    Ok(docs)
}

/// Read a PubTator file.
pub fn read_pubtator(path: &Path) -> Result<Vec<PubtatorDoc>> {
    let f = std::fs::File::open(path)
        .map_err(|e| CragError::io(format!("opening {}", path.display()), e))?;
    parse_pubtator(f)
}

/// The BC5CDR training split in `dir`.
pub const BC5CDR_TRAIN: &str = "CDR_TrainingSet.PubTator.txt";
/// The BC5CDR development split in `dir` (model selection and reported numbers).
pub const BC5CDR_DEV: &str = "CDR_DevelopmentSet.PubTator.txt";

#[cfg(test)]
mod tests {
    use super::*;

    const SNIPPET: &str = "227508|t|Naloxone reverses the antihypertensive effect of clonidine.
227508|a|In rats the hypotensive effect of alpha-methyldopa was reversed.
227508\t0\t8\tNaloxone\tChemical\tD009270
227508\t49\t58\tclonidine\tChemical\tD003000
227508\t72\t83\thypotensive\tDisease\tD007022
227508\t94\t110\talpha-methyldopa\tChemical\t-1
227508\tCID\tD008750\tD007022

2234245|t|Ocular and auditory toxicity of drugs.
2234245|a|Renal failure.
2234245\t0\t28\tOcular and auditory toxicity\tDisease\tD014786|D006311\tOcular toxicity|auditory toxicity
2234245\t11\t28\tauditory toxicity\tDisease\tD006311
2234245\t39\t52\tRenal failure\tDisease\tD051437
";

    #[test]
    fn parses_mentions_composites_and_relations() {
        let docs = parse_pubtator(SNIPPET.as_bytes()).unwrap();
        assert_eq!(docs.len(), 2);
        let d = &docs[0];
        assert_eq!(d.pmid, "227508");
        assert_eq!(d.mentions.len(), 4);
        assert_eq!(
            d.relations,
            vec![("D008750".to_string(), "D007022".to_string())]
        );
        assert_eq!(d.mentions[3].ids, vec!["-1"]);
        let c = &docs[1];
        assert_eq!(c.mentions[0].ids, vec!["D014786", "D006311"]);
        assert_eq!(
            c.mentions[0].parts,
            vec!["Ocular toxicity", "auditory toxicity"]
        );
        // The abstract starts after title + one space.
        assert_eq!(
            c.text(),
            "Ocular and auditory toxicity of drugs. Renal failure."
        );
        let doc = c.to_document();
        assert_eq!(doc.entities.len(), 3, "overlapping mentions are all kept");
        doc.validate().unwrap();
        let doc = d.to_document();
        doc.validate().unwrap();
        let types: Vec<EntityType> = doc.entities.iter().map(|e| e.entity_type).collect();
        assert_eq!(
            types,
            vec![
                EntityType::Drug,
                EntityType::Drug,
                EntityType::Disease,
                EntityType::Drug
            ]
        );
    }

    #[test]
    fn rejects_wrong_offsets_and_stray_lines() {
        let wrong = "1|t|Aspirin helps.\n1|a|x\n1\t0\t6\tAspirin\tChemical\tD1\n";
        let e = parse_pubtator(wrong.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        let outside = "1|t|Aspirin.\n1|a|x\n1\t0\t60\tAspirin\tChemical\tD1\n";
        assert!(parse_pubtator(outside.as_bytes()).is_err());
        let other = "1|t|Aspirin.\n1|a|x\n2\t0\t7\tAspirin\tChemical\tD1\n";
        assert!(parse_pubtator(other.as_bytes()).is_err());
        let cols = "1|t|Aspirin.\n1|a|x\n1\t0\t7\tAspirin\n";
        assert!(parse_pubtator(cols.as_bytes()).is_err());
        // Non-ASCII text: offsets are chars.
        let u = "9|t|Fièvre après ibuprofène.\n9|a|Fin.\n9\t13\t23\tibuprofène\tChemical\tD7\n";
        let d = parse_pubtator(u.as_bytes()).unwrap();
        d[0].to_document().validate().unwrap();
    }

    #[test]
    fn real_bc5cdr_counts_when_present() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bc5cdr");
        let train = dir.join(BC5CDR_TRAIN);
        if !train.exists() {
            eprintln!("skipping: {} not found", train.display());
            return;
        }
        let docs = read_pubtator(&train).unwrap();
        assert_eq!(docs.len(), 500);
        let count = |k: &str| {
            docs.iter()
                .flat_map(|d| &d.mentions)
                .filter(|m| m.kind == k)
                .count()
        };
        assert_eq!(count("Chemical"), 5203);
        assert_eq!(count("Disease"), 4182);
        assert_eq!(docs.iter().map(|d| d.relations.len()).sum::<usize>(), 1038);
    }
}

//! Tests of the public featurizer API, including a parse smoke test over the shared datasets.

use std::path::PathBuf;
use std::time::Instant;

use super::*;
use crate::CragError;

fn fp(s: &str) -> Vec<f32> {
    match drug_features(s) {
        Ok(v) => v,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn key(s: &str) -> String {
    match structure_key(s) {
        Ok(k) => k,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn ids(s: &str, radius: usize) -> Vec<u64> {
    match chem::molecule(s, true) {
        Ok(m) => morgan::ecfp(&m, radius),
        Err(e) => panic!("{s}: {e}"),
    }
}

fn nonzero(v: &[f32]) -> Vec<(usize, f32)> {
    v.iter()
        .copied()
        .enumerate()
        .filter(|&(_, x)| x != 0.0)
        .collect()
}

fn distinct(v: &[u64]) -> usize {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

fn invalid_message(r: Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(CragError::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn names_and_dimensions() {
    assert_eq!(DRUG_FEATURIZER, "morgan_r2_2048_counts");
    assert_eq!(PROTEIN_FEATURIZER, "aac_dpc_420");
    assert_eq!(fp("CCO").len(), DRUG_DIM);
    assert_eq!(fp("[Na+].[Cl-]").len(), 2048);
    assert_eq!(
        protein_features("MKV").map(|v| v.len()).ok(),
        Some(PROTEIN_DIM)
    );
    assert_eq!(PROTEIN_DIM, 420);
}

#[test]
fn deterministic_and_pinned() {
    let s = "CC(=O)Oc1ccccc1C(=O)O";
    assert_eq!(fp(s), fp(s));
    assert_eq!(key(s), key(s));
    // Pinned values: a change here changes every stored feature vector (bump DRUG_FEATURIZER).
    let nz: Vec<usize> = nonzero(&fp("CCO")).into_iter().map(|(i, _)| i).collect();
    assert_eq!(nz, PINNED_ETHANOL_BITS);
    assert_eq!(key("CCO"), PINNED_ETHANOL_KEY);
}

const PINNED_ETHANOL_BITS: [usize; 6] = [346, 1019, 1439, 1671, 1698, 1814];
const PINNED_ETHANOL_KEY: &str = "C2H6O-9f11aa158c70be051c4d16b82dcc257d";

#[test]
fn hand_worked_counts() {
    // methane: one radius-0 environment; no neighbours, so nothing at radius 1-2
    assert_eq!(ids("C", 2).len(), 1);
    assert_eq!(nonzero(&fp("C")).len(), 1);
    assert_eq!(fp("C").iter().sum::<f32>(), 1.0);
    // ethanol: radius 0 gives 3 distinct atoms (CH3, CH2, OH); radius 1 three new bond sets
    // ({C-C}, {C-C, C-O}, {C-O}); at radius 2 every atom covers both bonds, already seen: 6 features.
    assert_eq!(distinct(&ids("CCO", 0)), 3);
    assert_eq!(ids("CCO", 1).len(), 6);
    assert_eq!(ids("CCO", 2).len(), 6);
    assert_eq!(distinct(&ids("CCO", 2)), 6);
    assert_eq!(fp("CCO").iter().sum::<f32>(), 6.0);
    // ethane: both CH3 identical (count 2); both radius-1 environments cover the same bond: kept once
    let e = fp("CC");
    let mut counts: Vec<f32> = nonzero(&e).into_iter().map(|(_, x)| x).collect();
    counts.sort_by(f32::total_cmp);
    assert_eq!(counts, vec![1.0, 2.0]);
    // benzene: 6 identical atoms at each radius, all bond sets distinct: three positions of 6
    let b = nonzero(&fp("c1ccccc1"));
    assert_eq!(b.iter().map(|&(_, x)| x).collect::<Vec<_>>(), vec![6.0; 3]);
    // water and a lone ion: one environment each
    assert_eq!(fp("O.[Na+]").iter().sum::<f32>(), 2.0);
}

#[test]
fn same_molecule_written_differently() {
    let groups: &[&[&str]] = &[
        &[
            "CCO",
            "OCC",
            "C(C)O",
            "C(O)C",
            "[CH3][CH2][OH]",
            "[H]OCC",
            "C([H])([H])([H])CO",
        ],
        &[
            "c1ccccc1",
            "C1=CC=CC=C1",
            "C=1C=CC=CC=1",
            "c1cc%10ccc1.[H]%10",
        ],
        &[
            "Cc1ccccc1",
            "CC1=CC=CC=C1",
            "C1=CC(C)=CC=C1",
            "C1(C)=CC=CC=C1",
        ],
        &[
            "c1ccc2ccccc2c1",
            "C1=CC=C2C=CC=CC2=C1",
            "C1=CC2=CC=CC=C2C=C1",
        ],
        &["c1ccncc1", "C1=CC=NC=C1", "N1=CC=CC=C1"],
        &["c1cc[nH]c1", "C1=CNC=C1", "N1C=CC=C1"],
        &[
            "CC(=O)Oc1ccccc1C(=O)O",
            "CC(=O)OC1=CC=CC=C1C(O)=O",
            "OC(=O)C1=C(OC(C)=O)C=CC=C1",
        ],
        &["Cn1c(=O)c2c(ncn2C)n(C)c1=O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"],
        &[
            "C1CCCCC1",
            "C%12CCCCC%12",
            "C%(123)CCCCC%(123)",
            "C1CC2.C2CC1",
        ],
        &["C[C@H](N)O", "C[C@@H](N)O", "CC(N)O"],
        &["F/C=C/F", "F/C=C\\F", "FC=CF"],
        &["O=c1cccc[nH]1", "O=C1C=CC=CN1"],
    ];
    for group in groups {
        let f0 = fp(group[0]);
        let k0 = key(group[0]);
        for s in &group[1..] {
            assert!(fp(s) == f0, "features of {s} vs {}", group[0]);
            assert_eq!(key(s), k0, "key of {s} vs {}", group[0]);
        }
    }
}

#[test]
fn different_molecules_differ() {
    let distinct_mols = [
        "CCO",
        "COC",
        "CCCO",
        "CC(C)O",
        "Cc1ccccc1C",
        "Cc1cccc(C)c1",
        "Cc1ccc(C)cc1",
        "c1ccccc1",
        "C1CCCCC1",
        "C1=CCCCC1",
        "CC(=O)O",
        "CC(=O)OC",
        "c1ccncc1",
        "c1ccsc1",
        "c1ccoc1",
        "CCN",
        "CC[NH3+]",
        "CCCCCCCCC(C)CCCC",
        "CCCCCCCC(C)CCCCC",
    ];
    let keys: Vec<String> = distinct_mols.iter().map(|s| key(s)).collect();
    for i in 0..keys.len() {
        for j in i + 1..keys.len() {
            // the primary ammonium is neutralised to the amine
            if (distinct_mols[i], distinct_mols[j]) == ("CCN", "CC[NH3+]") {
                assert_eq!(keys[i], keys[j]);
                continue;
            }
            assert_ne!(
                keys[i], keys[j],
                "{} vs {}",
                distinct_mols[i], distinct_mols[j]
            );
        }
    }
    // isotopes: different features, same key
    assert_ne!(fp("C"), fp("[13CH4]"));
    assert_eq!(key("C"), key("[13CH4]"));
    assert_ne!(fp("CC"), fp("[2H]CC"));
    assert_eq!(key("CC"), key("[2H]CC"));
}

#[test]
fn structure_key_rules() {
    assert!(key("CCO").starts_with("C2H6O-"), "{}", key("CCO"));
    assert!(key("c1ccccc1").starts_with("C6H6-"));
    let acid = key("CC(=O)O");
    assert!(acid.starts_with("C2H4O2-"));
    for (s, formula) in [
        ("CC(=O)Oc1ccccc1C(=O)O", "C9H8O4"),
        ("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C8H10N4O2"),
        ("Cn1c(=O)c2c(ncn2C)n(C)c1=O", "C8H10N4O2"),
        ("OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "C6H12O6"),
        ("[Na+].[Cl-]", "ClNa"),
        ("O", "H2O"),
        ("FC(F)(F)Cl", "CClF3"),
        ("[NH4+]", "H3N"), // neutralised to ammonia
        ("C1=CC=[N+](C=C1)C", "C6H8N+"),
    ] {
        assert_eq!(key(s).split('-').next(), Some(formula), "{s}");
    }
    // salts and counter-ions stripped, ionised groups neutralised, stoichiometry ignored
    for s in [
        "CC(=O)O.[Na+]",
        "CC(=O)[O-].[Na+]",
        "[Na+].[O-]C(C)=O",
        "CC(=O)O.O",
        "CC(=O)O.CC(=O)O.[Ca+2]",
    ] {
        assert_eq!(key(s), acid, "{s}");
    }
    // zwitterion = neutral form; quaternary ammonium keeps its charge; nitro untouched
    assert_eq!(key("[NH3+]CC(=O)[O-]"), key("NCC(=O)O"));
    assert_eq!(
        key("C[N+](C)(C)CC(CC(=O)[O-])O"),
        key("C[N+](C)(C)CC(CC(=O)O)O")
    );
    assert!(key("C[N+](C)(C)C.[Cl-]").starts_with("C4H12N+-"));
    assert_eq!(key("C[N+](=O)[O-]"), key("[O-][N+](C)=O"));
    assert!(key("C[N+](=O)[O-]").starts_with("CH3NO2-"));
    assert_eq!(key("CN(=O)=O"), key("C[N+](=O)[O-]"));
    assert_eq!(key("O=N(=O)c1ccccc1"), key("[O-][N+](=O)C1=CC=CC=C1"));
    // ties between the largest components are all kept
    assert!(key("[Na+].[Cl-]").starts_with("ClNa-"));
}

#[test]
fn tanimoto_counts() {
    let a = fp("CC(=O)Oc1ccccc1C(=O)O");
    assert_eq!(tanimoto(&a, &a), 1.0);
    assert_eq!(tanimoto(&[], &[]), 0.0);
    assert_eq!(tanimoto(&[0.0; 4], &[0.0; 4]), 0.0);
    assert_eq!(tanimoto(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
    assert!((tanimoto(&[1.0, 2.0, 0.0], &[2.0, 1.0, 1.0]) - 0.4).abs() < 1e-6);
    assert!((tanimoto(&[1.0, 1.0], &[1.0]) - 0.5).abs() < 1e-6);
    let t = tanimoto(&fp("CCO"), &fp("CCCO"));
    assert!(t > 0.0 && t < 1.0);
    assert!(tanimoto(&fp("Cc1ccccc1"), &fp("CCc1ccccc1")) > tanimoto(&fp("Cc1ccccc1"), &fp("CCO")));
}

#[test]
fn drug_errors_name_positions() {
    let cases = [
        (
            "CC1CCC",
            "invalid SMILES at position 3: unclosed ring bond 1",
        ),
        ("CC(C", "invalid SMILES at position 3: unclosed branch '('"),
        (
            "CC)C",
            "invalid SMILES at position 3: unexpected character ')' (no open branch)",
        ),
        (
            "CC[Xx]",
            "invalid SMILES at position 4: unknown element 'Xx'",
        ),
        (
            "C[C+a]C",
            "invalid SMILES at position 5: unexpected character 'a' in bracket atom: expected ']'",
        ),
        (
            "CC[CH2",
            "invalid SMILES at position 3: unclosed bracket atom '['",
        ),
        ("", "invalid SMILES: empty input"),
    ];
    for (s, want) in cases {
        assert_eq!(invalid_message(drug_features(s)), want, "{s}");
        assert_eq!(invalid_message(structure_key(s)), want, "{s}");
    }
    assert_eq!(
        invalid_message(drug_features("C[C=]C")),
        "invalid SMILES at position 4: unexpected character '=' in bracket atom: expected ']'"
    );
    assert!(invalid_message(drug_features("c1cccc1")).contains("cannot kekulize"));
}

#[test]
fn protein_composition() {
    let v = protein_features("ACA").unwrap_or_default();
    let a = 0;
    let c = 1;
    assert!((v[a] - 2.0 / 3.0).abs() < 1e-6 && (v[c] - 1.0 / 3.0).abs() < 1e-6);
    assert_eq!(v[20 + a * 20 + c], 0.5); // AC
    assert_eq!(v[20 + c * 20 + a], 0.5); // CA
    assert!((v[..20].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!((v[20..].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    // case-insensitive, whitespace ignored
    assert_eq!(protein_features("aca").ok(), Some(v.clone()));
    assert_eq!(protein_features(" AC\nA ").ok(), Some(v.clone()));
    // skipped letters: counted nowhere, break dipeptides
    let u = protein_features("ACUA").unwrap_or_default();
    assert!((u[a] - 2.0 / 3.0).abs() < 1e-6);
    assert_eq!(u[20 + a * 20 + c], 1.0);
    assert_eq!(u[20 + c * 20 + a], 0.0);
    // last amino acid, last dipeptide (YY)
    let y = protein_features("YY").unwrap_or_default();
    assert_eq!((y[19], y[419]), (1.0, 1.0));
    // a single residue: no dipeptides
    let m = protein_features("M").unwrap_or_default();
    assert_eq!(m[20..].iter().sum::<f32>(), 0.0);
}

#[test]
fn protein_errors_name_positions() {
    let cases = [
        ("MKV1A", "invalid protein sequence at position 4: unexpected character '1', expected an amino-acid letter"),
        ("MK*", "invalid protein sequence at position 3: unexpected character '*', expected an amino-acid letter"),
        ("MKVé", "invalid protein sequence at position 4: unexpected character 'é', expected an amino-acid letter"),
        ("", "invalid protein sequence: empty sequence"),
        (" \n", "invalid protein sequence: empty sequence"),
        ("XXU", "invalid protein sequence: no standard amino acid (only B, J, O, U, X or Z)"),
    ];
    for (s, want) in cases {
        assert_eq!(invalid_message(protein_features(s)), want, "{s:?}");
    }
}

fn shared_data() -> PathBuf {
    match std::env::var_os("CRAG_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// Column `column` of a delimited file with a header line.
fn read_column(rel: &str, sep: char, column: &str) -> Vec<String> {
    let path = shared_data().join(rel);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!(
            "cannot read {} ({e}); set CRAG_SHARED_DATA to the shared data directory",
            path.display()
        ),
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(sep).collect();
    let Some(col) = header.iter().position(|h| *h == column) else {
        panic!(
            "{}: no column {column} in header {header:?}",
            path.display()
        );
    };
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(sep).nth(col).unwrap_or_default().to_string())
        .collect()
}

fn smoke(rel: &str, sep: char, column: &str) {
    let smiles = read_column(rel, sep, column);
    assert!(!smiles.is_empty(), "{rel}: no rows");
    let start = Instant::now();
    let mut failures = Vec::new();
    for s in &smiles {
        if let Err(e) = drug_features(s) {
            failures.push(format!("{s}: {e}"));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let keys = smiles.iter().filter(|s| structure_key(s).is_ok()).count();
    let key_secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{rel}: {}/{} SMILES featurised in {:.3}s ({:.0}/s); {keys} structure keys in {:.3}s ({:.0}/s)",
        smiles.len() - failures.len(),
        smiles.len(),
        secs,
        smiles.len() as f64 / secs,
        key_secs,
        smiles.len() as f64 / key_secs,
    );
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    assert_eq!(keys, smiles.len());
}

#[test]
fn every_drugban_train_smiles_parses() {
    smoke("dti_drugban/human/random/train.csv", ',', "SMILES");
}

#[test]
fn every_sider_smiles_parses() {
    smoke("sider_4_1/sider_drug_smiles.tsv", '\t', "smiles");
}

#[test]
fn every_drugban_protein_featurises() {
    let seqs = read_column("dti_drugban/human/random/train.csv", ',', "Protein");
    let bad: Vec<String> = seqs
        .iter()
        .filter_map(|s| protein_features(s).err().map(|e| e.to_string()))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

/// Deterministic xorshift64* generator for the rewriting tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Write `mol` as a different but equivalent SMILES: random component order, start atoms, branch order
/// and ring-closure numbers; `aromatic` writes alternating bonds as lower-case aromatic atoms, otherwise
/// a random Kekulé structure is written. Atoms are written bare when the valence rule gives their
/// hydrogen count, else in brackets.
fn rewrite(mol: &chem::Mol, aromatic: bool, rng: &mut Rng) -> Option<String> {
    let n = mol.atoms.len();
    let mut orders: Vec<u8> = mol.bonds.iter().map(|b| b.order).collect();
    let mut lower = vec![false; n];
    let resonant: Vec<usize> = (0..mol.bonds.len())
        .filter(|&i| mol.bonds[i].order == chem::RESONANT)
        .collect();
    if aromatic {
        for &bi in &resonant {
            for a in [mol.bonds[bi].a, mol.bonds[bi].b] {
                if !matches!(mol.atoms[a].z, 5 | 6 | 7 | 8 | 15 | 16 | 33 | 34 | 52) {
                    return None;
                }
                lower[a] = true;
            }
        }
    } else if !resonant.is_empty() {
        // a random Kekulé structure of the alternating bonds
        let mut local = vec![usize::MAX; n];
        let mut nodes = Vec::new();
        for &bi in &resonant {
            for a in [mol.bonds[bi].a, mol.bonds[bi].b] {
                if local[a] == usize::MAX {
                    local[a] = nodes.len();
                    nodes.push(a);
                }
            }
        }
        let mut adj = vec![Vec::new(); nodes.len()];
        let mut shuffled = resonant.clone();
        rng.shuffle(&mut shuffled);
        for &bi in &shuffled {
            let (x, y) = (local[mol.bonds[bi].a], local[mol.bonds[bi].b]);
            adj[x].push(y);
            adj[y].push(x);
        }
        let mate = chem::perfect_matching(&adj);
        for &bi in &resonant {
            let (x, y) = (local[mol.bonds[bi].a], local[mol.bonds[bi].b]);
            orders[bi] = if mate[x] == y { 2 } else { 1 };
        }
    }
    // DFS forest with random roots and neighbour order.
    let mut starts: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut starts);
    let mut visited = vec![false; n];
    let mut children: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    let mut opens: Vec<Vec<usize>> = vec![Vec::new(); n]; // ring bonds opened at an atom
    let mut closes: Vec<Vec<usize>> = vec![Vec::new(); n]; // ring bonds closed at an atom
    let mut roots = Vec::new();
    let mut bond_used = vec![false; mol.bonds.len()];
    for &s in &starts {
        if visited[s] {
            continue;
        }
        roots.push(s);
        visited[s] = true;
        let mut stack: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
        let mut nb = mol.adj[s].clone();
        rng.shuffle(&mut nb);
        stack.push((s, nb));
        while let Some((a, pending)) = stack.last_mut() {
            let a = *a;
            let Some((w, bi)) = pending.pop() else {
                stack.pop();
                continue;
            };
            if bond_used[bi] {
                continue;
            }
            bond_used[bi] = true;
            if visited[w] {
                opens[w].push(bi);
                closes[a].push(bi);
            } else {
                visited[w] = true;
                children[a].push((w, bi));
                let mut nb = mol.adj[w].clone();
                rng.shuffle(&mut nb);
                stack.push((w, nb));
            }
        }
    }
    let bond_symbol = |bi: usize, rng: &mut Rng| -> &'static str {
        let b = &mol.bonds[bi];
        match orders[bi] {
            chem::RESONANT => {
                if rng.below(4) == 0 {
                    ":"
                } else {
                    ""
                }
            }
            1 if lower[b.a] && lower[b.b] => "-",
            1 => {
                if rng.below(4) == 0 {
                    "-"
                } else {
                    ""
                }
            }
            2 => "=",
            3 => "#",
            _ => "$",
        }
    };
    let atom_text = |a: usize, rng: &mut Rng| -> String {
        let atom = &mol.atoms[a];
        let sym = smiles::ELEMENTS[usize::from(atom.z)];
        let valence: u16 = mol.adj[a]
            .iter()
            .map(|&(_, bi)| {
                if orders[bi] == chem::RESONANT {
                    1
                } else {
                    u16::from(orders[bi])
                }
            })
            .sum();
        let free = chem::free_valence(valence, chem::organic_targets(atom.z));
        let organic =
            !chem::organic_targets(atom.z).is_empty() && atom.charge == 0 && atom.isotope == 0;
        let implied = if lower[a] {
            free.saturating_sub(1)
        } else {
            free
        };
        let bare_ok = organic && implied == u16::from(atom.hcount) && (!lower[a] || free >= 1);
        let sym = if lower[a] {
            sym.to_ascii_lowercase()
        } else {
            sym.to_string()
        };
        if bare_ok && sym.len() <= 2 && rng.below(3) != 0 && !(lower[a] && sym.len() == 2) {
            return sym;
        }
        let mut t = String::from("[");
        if atom.isotope > 0 {
            t.push_str(&atom.isotope.to_string());
        }
        t.push_str(&sym);
        match atom.hcount {
            0 => {}
            1 => t.push('H'),
            h => t.push_str(&format!("H{h}")),
        }
        match atom.charge {
            0 => {}
            1 => t.push('+'),
            -1 => t.push('-'),
            c if c > 0 => t.push_str(&format!("+{c}")),
            c => t.push_str(&format!("{c}")),
        }
        t.push(']');
        t
    };
    let mut out = String::new();
    let mut ring_num: Vec<usize> = vec![0; mol.bonds.len()];
    let mut next_num = 1usize;
    let digits = |k: usize| {
        if k < 10 {
            k.to_string()
        } else {
            format!("%{k}")
        }
    };
    for (ci, &r) in roots.iter().enumerate() {
        if ci > 0 {
            out.push('.');
        }
        // iterative pre-order writer: (atom, entering bond) or a closing parenthesis
        enum Step {
            Atom(usize, Option<usize>, bool),
            Close,
        }
        let mut todo = vec![Step::Atom(r, None, false)];
        while let Some(step) = todo.pop() {
            match step {
                Step::Close => out.push(')'),
                Step::Atom(a, via, branch) => {
                    if branch {
                        out.push('(');
                    }
                    if let Some(bi) = via {
                        out.push_str(bond_symbol(bi, rng));
                    }
                    out.push_str(&atom_text(a, rng));
                    for &bi in &closes[a] {
                        out.push_str(bond_symbol(bi, rng));
                        out.push_str(&digits(ring_num[bi]));
                    }
                    for &bi in &opens[a] {
                        ring_num[bi] = next_num;
                        next_num = if next_num >= 99 { 1 } else { next_num + 1 };
                        out.push_str(&digits(ring_num[bi]));
                    }
                    let kids = &children[a];
                    for (k, &(w, bi)) in kids.iter().enumerate().rev() {
                        let is_branch = k + 1 < kids.len();
                        if is_branch {
                            todo.push(Step::Close);
                        }
                        todo.push(Step::Atom(w, Some(bi), is_branch));
                    }
                }
            }
        }
    }
    Some(out)
}

#[test]
fn rewritten_real_smiles_give_identical_features_and_keys() {
    let mut smiles = read_column("dti_drugban/human/random/train.csv", ',', "SMILES");
    smiles.extend(read_column(
        "sider_4_1/sider_drug_smiles.tsv",
        '\t',
        "smiles",
    ));
    smiles.sort();
    smiles.dedup();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut checked, mut aromatic_written) = (0, 0);
    for s in &smiles {
        let Ok(mol) = chem::molecule(s, true) else {
            panic!("{s} does not parse");
        };
        let (f0, k0) = (fp(s), key(s));
        for aromatic in [false, true] {
            let Some(w) = rewrite(&mol, aromatic, &mut rng) else {
                continue;
            };
            assert!(fp(&w) == f0, "features differ: {s} vs rewritten {w}");
            assert_eq!(key(&w), k0, "keys differ: {s} vs rewritten {w}");
            checked += 1;
            aromatic_written += usize::from(aromatic);
        }
    }
    eprintln!(
        "{} molecules rewritten {checked} times ({aromatic_written} in aromatic form): identical",
        smiles.len()
    );
    assert!(aromatic_written > smiles.len() / 2);
}

/// Linear acene with `n` fused rings, written with `%(k)` ring bonds (naphthalene for 2).
fn acene(n: usize) -> String {
    let mut s = String::from("c1ccc%(2)");
    for k in 3..=n {
        s.push_str(&format!("cc%({k})"));
    }
    s.push_str(&format!("ccccc%({n})"));
    for k in (2..n).rev() {
        s.push_str(&format!("cc%({k})"));
    }
    s.push_str("c1");
    s
}

#[test]
fn large_inputs_stay_tractable() {
    assert_eq!(key(&acene(2)), key("c1ccc2ccccc2c1"));
    let acene50 = acene(50);
    assert_eq!(fp(&acene50).iter().sum::<f32>(), 3.0 * 202.0);
    assert!(key(&acene50).starts_with("C202H104-"));
    let cases = [
        "C".repeat(20_000),
        vec!["[Na+]"; 10_000].join("."),
        vec!["c1ccccc1"; 1_000].join("-"),
        format!("{}C{}", "C(".repeat(5_000), ")".repeat(5_000)),
    ];
    for s in &cases {
        assert_eq!(fp(s).len(), DRUG_DIM);
        assert!(!key(s).is_empty());
    }
}

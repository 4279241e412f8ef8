//! Morgan / ECFP circular identifiers over a normalised [`Mol`], and the structure key.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::chem::Mol;
use super::smiles::ELEMENTS;

/// Seeded FNV-1a over 64-bit little-endian words, finished with MurmurHash3's `fmix64` so that the
/// low bits used for folding are well mixed. Deterministic across runs, platforms and versions.
struct Fnv64(u64);

impl Fnv64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv64(Self::OFFSET)
    }

    fn write(&mut self, v: u64) {
        for byte in v.to_le_bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        let mut k = self.0;
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    }
}

/// Radius-0 identifiers: atomic number, heavy-atom degree, total H count, formal charge, mass number
/// (0 when unspecified, or always 0 when `with_isotopes` is false) and ring membership.
pub(crate) fn atom_invariants(mol: &Mol, with_isotopes: bool) -> Vec<u64> {
    mol.atoms
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut h = Fnv64::new();
            h.write(u64::from(a.z));
            h.write(mol.adj[i].len() as u64);
            h.write(u64::from(a.hcount));
            h.write(i64::from(a.charge) as u64);
            h.write(if with_isotopes {
                u64::from(a.isotope)
            } else {
                0
            });
            h.write(u64::from(mol.ring_atom[i]));
            h.finish()
        })
        .collect()
}

/// One Morgan iteration for atom `a`: hash of (layer, own identifier, sorted (bond class, neighbour id)).
fn next_identifier(
    mol: &Mol,
    cur: &[u64],
    a: usize,
    layer: usize,
    nbrs: &mut Vec<(u8, u64)>,
) -> u64 {
    nbrs.clear();
    nbrs.extend(
        mol.adj[a]
            .iter()
            .map(|&(w, bi)| (mol.bonds[bi].order, cur[w])),
    );
    nbrs.sort_unstable();
    let mut h = Fnv64::new();
    h.write(layer as u64);
    h.write(cur[a]);
    for &(order, id) in nbrs.iter() {
        h.write(u64::from(order));
        h.write(id);
    }
    h.finish()
}

/// ECFP features up to `radius`, with multiplicity, removing duplicate environments as RDKit does:
/// every atom contributes its radius-0 identifier; at radius r >= 1 an atom contributes only if the set of
/// bonds its environment covers differs from every environment already contributed (ties within a
/// layer keep the smallest identifier), and an atom whose environment duplicates one, or that has no
/// neighbours, stops contributing.
pub(crate) fn ecfp(mol: &Mol, radius: usize) -> Vec<u64> {
    let n = mol.atoms.len();
    let mut cur = atom_invariants(mol, true);
    let mut out = cur.clone();
    // Bond set covered by each atom's environment, as a sorted list of bond indices.
    let mut env: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut dead = vec![false; n];
    let mut seen: HashSet<Vec<u32>> = HashSet::new();
    let mut nbrs = Vec::new();
    for layer in 0..radius {
        let mut next = cur.clone();
        let mut new_env = env.clone();
        let mut round: Vec<(Vec<u32>, u64, usize)> = Vec::new();
        for a in 0..n {
            if dead[a] {
                continue;
            }
            if mol.adj[a].is_empty() {
                dead[a] = true;
                continue;
            }
            let mut bonds = env[a].clone();
            for &(w, bi) in &mol.adj[a] {
                bonds.push(bi as u32);
                bonds.extend_from_slice(&env[w]);
            }
            bonds.sort_unstable();
            bonds.dedup();
            next[a] = next_identifier(mol, &cur, a, layer, &mut nbrs);
            round.push((bonds.clone(), next[a], a));
            new_env[a] = bonds;
        }
        round.sort_unstable();
        for (bits, id, a) in round {
            if seen.contains(&bits) {
                dead[a] = true;
            } else {
                out.push(id);
                seen.insert(bits);
            }
        }
        cur = next;
        env = new_env;
    }
    out
}

/// Most Weisfeiler-Lehman iterations used by [`component_signature`].
pub(crate) const MAX_KEY_ITERATIONS: usize = 100;

/// Digest of the Weisfeiler-Lehman (unbounded Morgan) identifiers of the atoms `comp` (a whole connected
/// component), from the invariants `inv`: iterated until the partition of the atoms stops refining (at
/// least 3 and at most [`MAX_KEY_ITERATIONS`] times); each iteration's sorted identifiers are hashed.
/// `cur` and `next` are scratch buffers with one slot per atom (only the component's slots are used).
pub(crate) fn component_signature(
    mol: &Mol,
    inv: &[u64],
    comp: &[usize],
    cur: &mut Vec<u64>,
    next: &mut Vec<u64>,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut layer_ids: Vec<u64> = comp.iter().map(|&a| inv[a]).collect();
    let mut absorb = |ids: &mut Vec<u64>| -> usize {
        ids.sort_unstable();
        hasher.update((ids.len() as u64).to_le_bytes());
        for id in ids.iter() {
            hasher.update(id.to_le_bytes());
        }
        let mut classes = ids.len();
        for w in ids.windows(2) {
            if w[0] == w[1] {
                classes -= 1;
            }
        }
        classes
    };
    let mut classes = absorb(&mut layer_ids);
    for &a in comp {
        cur[a] = inv[a];
    }
    let mut nbrs = Vec::new();
    for layer in 0..MAX_KEY_ITERATIONS.min(comp.len() + 2) {
        for &a in comp {
            next[a] = next_identifier(mol, cur, a, layer, &mut nbrs);
        }
        std::mem::swap(cur, next);
        layer_ids.clear();
        layer_ids.extend(comp.iter().map(|&a| cur[a]));
        let now = absorb(&mut layer_ids);
        if layer >= 2 && now == classes {
            break;
        }
        classes = now;
    }
    hasher.finalize().into()
}

/// Connected components (atom index lists, each ascending), in order of their first atom.
pub(crate) fn components(mol: &Mol) -> Vec<Vec<usize>> {
    let n = mol.atoms.len();
    let mut comp_of = vec![usize::MAX; n];
    let mut comps = Vec::new();
    for s in 0..n {
        if comp_of[s] != usize::MAX {
            continue;
        }
        let id = comps.len();
        comp_of[s] = id;
        let mut members = vec![s];
        let mut head = 0;
        while let Some(&v) = members.get(head) {
            head += 1;
            for &(w, _) in &mol.adj[v] {
                if comp_of[w] == usize::MAX {
                    comp_of[w] = id;
                    members.push(w);
                }
            }
        }
        members.sort_unstable();
        comps.push(members);
    }
    comps
}

/// Neutralise simple ionised groups in place (key only): an anionic N, O, S or Se (charge -1) not bonded
/// to a cation gains a hydrogen; a cationic N, P, O or S (charge +1) carrying a hydrogen and not bonded
/// to an anion loses one. Decided on the charges as written, so zwitterions are neutralised at both
/// ends while nitro groups, N-oxides and quaternary ammonium keep their charges. Pentavalent nitro groups
/// are first written charge-separated ([`normalise_nitro`]).
pub(crate) fn neutralise(mol: &mut Mol) {
    normalise_nitro(mol);
    let charges: Vec<i8> = mol.atoms.iter().map(|a| a.charge).collect();
    for (i, atom) in mol.atoms.iter_mut().enumerate() {
        let nbr_charge = |sign: i8| mol.adj[i].iter().any(|&(w, _)| charges[w].signum() == sign);
        match (atom.charge, atom.z) {
            (-1, 7 | 8 | 16 | 34) if !nbr_charge(1) => {
                atom.charge = 0;
                atom.hcount = atom.hcount.saturating_add(1);
            }
            (1, 7 | 8 | 15 | 16) if atom.hcount >= 1 && !nbr_charge(-1) => {
                atom.charge = 0;
                atom.hcount -= 1;
            }
            _ => {}
        }
    }
}

/// Write pentavalent nitro-type groups charge-separated: an uncharged N with two or more double bonds to
/// terminal uncharged O (`N(=O)=O`) becomes `[N+](=O)[O-]` (the first such O in bond order is changed;
/// the result does not depend on which, the two being equivalent).
fn normalise_nitro(mol: &mut Mol) {
    for n in 0..mol.atoms.len() {
        if mol.atoms[n].z != 7 || mol.atoms[n].charge != 0 {
            continue;
        }
        let oxo: Vec<(usize, usize)> = mol.adj[n]
            .iter()
            .copied()
            .filter(|&(o, bi)| {
                let a = &mol.atoms[o];
                a.z == 8 && a.charge == 0 && mol.adj[o].len() == 1 && mol.bonds[bi].order == 2
            })
            .collect();
        if let [(o, bi), _, ..] = oxo[..] {
            mol.bonds[bi].order = 1;
            mol.atoms[o].charge = -1;
            mol.atoms[n].charge = 1;
        }
    }
}

/// Hill-order molecular formula of `atoms` (C, H, then alphabetical; alphabetical with H if no C), with
/// the net charge appended (`+`, `-2`, ...). `*` atoms are written as `*`.
pub(crate) fn formula(mol: &Mol, atoms: &[usize]) -> String {
    let mut counts = [0u64; 119];
    let mut charge: i64 = 0;
    for &i in atoms {
        let a = &mol.atoms[i];
        if let Some(c) = counts.get_mut(usize::from(a.z)) {
            *c += 1;
        }
        counts[1] += u64::from(a.hcount);
        charge += i64::from(a.charge);
    }
    let mut order: Vec<usize> = (0..counts.len()).filter(|&z| counts[z] > 0).collect();
    let has_carbon = counts[6] > 0;
    order.sort_by_key(|&z| {
        let rank = match (has_carbon, z) {
            (true, 6) => 0,
            (true, 1) => 1,
            _ => 2,
        };
        (rank, ELEMENTS[z])
    });
    let mut s = String::new();
    for z in order {
        s.push_str(ELEMENTS[z]);
        if counts[z] > 1 {
            s.push_str(&counts[z].to_string());
        }
    }
    match charge {
        0 => {}
        1 => s.push('+'),
        -1 => s.push('-'),
        c if c > 0 => s.push_str(&format!("+{c}")),
        c => s.push_str(&format!("-{}", -c)),
    }
    s
}

/// Structure key of a normalised molecule (hydrogens already folded, isotopes ignored): keep the
/// components with the most heavy atoms, deduplicate identical ones, neutralise, and combine the
/// molecular formula with a SHA-256 digest (first 16 bytes, hex) of the sorted component signatures.
pub(crate) fn structure_key(mut mol: Mol) -> String {
    let comps = components(&mol);
    let heavy = |c: &Vec<usize>| c.iter().filter(|&&a| mol.atoms[a].z != 1).count();
    let max_heavy = comps.iter().map(heavy).max().unwrap_or(0);
    let kept: Vec<Vec<usize>> = comps
        .iter()
        .filter(|c| heavy(c) == max_heavy)
        .cloned()
        .collect();
    neutralise(&mut mol);
    let inv = atom_invariants(&mol, false);
    let (mut cur, mut next) = (inv.clone(), inv.clone());
    let mut sigs: Vec<([u8; 32], &Vec<usize>)> = kept
        .iter()
        .map(|c| (component_signature(&mol, &inv, c, &mut cur, &mut next), c))
        .collect();
    sigs.sort();
    sigs.dedup_by(|a, b| a.0 == b.0);
    let atoms: Vec<usize> = sigs.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let mut hasher = Sha256::new();
    hasher.update((sigs.len() as u64).to_le_bytes());
    for (sig, _) in &sigs {
        hasher.update(sig);
    }
    let digest = hasher.finalize();
    format!("{}-{}", formula(&mol, &atoms), hex::encode(&digest[..16]))
}

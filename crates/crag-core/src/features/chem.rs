//! From the graph as written to a normalised, hydrogen-suppressed molecule.
//!
//! 1. **Hydrogens.** Bracket atoms carry exactly the hydrogens written (`[CH3]`: 3, `[Na+]`: 0). Organic-subset
//!    atoms get implicit hydrogens by the OpenSMILES default-valence rule: with `v` the sum of bond orders
//!    (an aromatic bond counting 1), the count is `t - v` for the smallest default valence `t >= v`
//!    (B 3; C 4; N 3,5; O 2; P 3,5; S 2,4,6; halogens 1), or 0 if `v` exceeds them all. An aromatic atom
//!    counts one less when that difference is at least 1, the remaining valence going to the aromatic
//!    pi bond (so `c` in benzene has 1 H, pyridine `n` and thiophene `s` have none, pyrrole needs `[nH]`).
//! 2. **Kekulisation.** Aromatic atoms with a free valence left (all `c`, pyridine-like `n`, `[n+]`, ...) are
//!    given alternating double bonds by a maximum matching (Edmonds' blossom algorithm) over the aromatic
//!    bonds; if no perfect matching exists the SMILES is rejected, naming an atom that could not be
//!    matched (as RDKit's "can't kekulize"). The remaining aromatic bonds become single.
//! 3. **Explicit hydrogens** `[H]` (uncharged, bonded by a single bond to one non-hydrogen atom) are folded
//!    into their neighbour's hydrogen count. Isotopic ones (`[2H]`) can be kept as atoms.
//! 4. **Rings.** Ring bonds are the bonds that are not bridges; ring atoms are those on a ring bond.
//! 5. **Alternation ("aromaticity").** A ring bond between atoms that each carry exactly one double bond is
//!    classed [`RESONANT`] when its order differs between Kekulé structures, i.e. when it lies on a cycle
//!    alternating between single and double bonds (tested exactly, with the matching algorithm). This
//!    makes benzene written `c1ccccc1` and `C1=CC=CC=C1` identical, and any two Kekulé forms of the
//!    same molecule identical. It is not Hückel aromaticity: the bonds of furan, pyrrole or thiophene
//!    stay single/double (they have only one Kekulé structure), whichever way they were written.

use super::smiles::{self, Atom, BondKind};
use crate::{CragError, Result};

/// Bond class of a bond whose order alternates between Kekulé structures.
pub(crate) const RESONANT: u8 = 5;

const NONE: usize = usize::MAX;

/// A bond of a normalised molecule: `order` is 1-4, or [`RESONANT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MolBond {
    pub a: usize,
    pub b: usize,
    pub order: u8,
    pub ring: bool,
}

/// A normalised molecule: every atom's `hcount` is its total hydrogen count.
#[derive(Clone, Debug)]
pub(crate) struct Mol {
    pub atoms: Vec<Atom>,
    pub bonds: Vec<MolBond>,
    /// Per atom: (neighbour, bond index).
    pub adj: Vec<Vec<(usize, usize)>>,
    pub ring_atom: Vec<bool>,
}

/// Parse and normalise a SMILES string (see the module documentation for the steps).
pub(crate) fn molecule(smiles_str: &str, keep_isotopic_h: bool) -> Result<Mol> {
    let mut parsed = smiles::parse(smiles_str)?;
    let orders = assign_hydrogens_and_kekulize(&mut parsed)?;
    let (atoms, bonds) = fold_hydrogens(parsed.atoms, &parsed.bonds, &orders, keep_isotopic_h);
    Ok(Mol::build(atoms, bonds))
}

pub(crate) fn organic_targets(z: u8) -> &'static [u8] {
    match z {
        5 => &[3],
        6 => &[4],
        7 | 15 => &[3, 5],
        8 => &[2],
        16 => &[2, 4, 6],
        9 | 17 | 35 | 53 => &[1],
        _ => &[],
    }
}

/// Default valences of a (charged) bracket atom of groups 13-16, by its valence-electron count.
fn bracket_targets(z: u8, charge: i8) -> &'static [u8] {
    let group: i16 = match z {
        5 | 13 | 31 | 49 => 3,
        6 | 14 | 32 | 50 => 4,
        7 | 15 | 33 | 51 => 5,
        8 | 16 | 34 | 52 => 6,
        _ => return &[],
    };
    let second_period = z <= 10;
    match group - i16::from(charge) {
        1 => &[1],
        2 => &[2],
        3 => &[3],
        4 => &[4],
        5 if second_period => &[3],
        5 => &[3, 5],
        6 if second_period => &[2],
        6 => &[2, 4, 6],
        7 if second_period => &[1],
        7 => &[1, 3, 5, 7],
        _ => &[],
    }
}

pub(crate) fn free_valence(v: u16, targets: &[u8]) -> u16 {
    targets
        .iter()
        .map(|&t| u16::from(t))
        .find(|&t| t >= v)
        .map_or(0, |t| t - v)
}

/// Set implicit hydrogen counts and kekulise; returns the bond orders (1-4) per bond.
fn assign_hydrogens_and_kekulize(p: &mut smiles::Parsed) -> Result<Vec<u8>> {
    let n = p.atoms.len();
    let mut valence = vec![0u16; n];
    for b in &p.bonds {
        let o = u16::from(b.kind.sigma_order());
        valence[b.a] = valence[b.a].saturating_add(o);
        valence[b.b] = valence[b.b].saturating_add(o);
    }
    let mut needs_pi = vec![false; n];
    for (i, atom) in p.atoms.iter_mut().enumerate() {
        if atom.z == 0 {
            continue;
        }
        if atom.bracket {
            if atom.aromatic {
                let v = valence[i].saturating_add(u16::from(atom.hcount));
                needs_pi[i] = free_valence(v, bracket_targets(atom.z, atom.charge)) >= 1;
            }
        } else {
            let free = free_valence(valence[i], organic_targets(atom.z));
            if atom.aromatic && free >= 1 {
                needs_pi[i] = true;
                atom.hcount = u8::try_from(free - 1).unwrap_or(0);
            } else if !atom.aromatic {
                atom.hcount = u8::try_from(free).unwrap_or(0);
            }
        }
    }
    let mut orders: Vec<u8> = p.bonds.iter().map(|b| b.kind.sigma_order()).collect();
    if !needs_pi.iter().any(|&x| x) {
        return Ok(orders);
    }
    // Matching graph over the atoms needing a pi bond, edges = aromatic bonds.
    let mut local = vec![NONE; n];
    let mut nodes = Vec::new();
    for i in 0..n {
        if needs_pi[i] {
            local[i] = nodes.len();
            nodes.push(i);
        }
    }
    let m = nodes.len();
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); m];
    let mut edge_bond: Vec<Vec<usize>> = vec![Vec::new(); m];
    for (bi, b) in p.bonds.iter().enumerate() {
        if b.kind == BondKind::Aromatic && needs_pi[b.a] && needs_pi[b.b] {
            let (x, y) = (local[b.a], local[b.b]);
            adj[x].push(y);
            adj[y].push(x);
            edge_bond[x].push(bi);
            edge_bond[y].push(bi);
        }
    }
    let mate = perfect_matching(&adj);
    if let Some(u) = mate.iter().position(|&x| x == NONE) {
        let atom = &p.atoms[nodes[u]];
        let sym = smiles::ELEMENTS
            .get(usize::from(atom.z))
            .copied()
            .unwrap_or("?")
            .to_ascii_lowercase();
        return Err(CragError::invalid(format!(
            "invalid SMILES at position {}: cannot kekulize aromatic atom '{sym}' (no consistent \
             alternating double bonds; is an [nH] hydrogen missing?)",
            atom.pos
        )));
    }
    for x in 0..m {
        let y = mate[x];
        if y > x {
            if let Some(k) = adj[x].iter().position(|&t| t == y) {
                orders[edge_bond[x][k]] = 2;
            }
        }
    }
    Ok(orders)
}

/// Fold explicit hydrogens into their neighbours' counts; returns atoms and (a, b, order) bonds.
fn fold_hydrogens(
    mut atoms: Vec<Atom>,
    bonds: &[smiles::Bond],
    orders: &[u8],
    keep_isotopic: bool,
) -> (Vec<Atom>, Vec<(usize, usize, u8)>) {
    let n = atoms.len();
    let mut degree = vec![0usize; n];
    for b in bonds {
        degree[b.a] += 1;
        degree[b.b] += 1;
    }
    let is_foldable_h = |a: &Atom, d: usize| {
        a.z == 1 && a.charge == 0 && a.hcount == 0 && d == 1 && (!keep_isotopic || a.isotope == 0)
    };
    let mut remove = vec![false; n];
    for (b, &o) in bonds.iter().zip(orders) {
        if o != 1 {
            continue;
        }
        for (h, heavy) in [(b.a, b.b), (b.b, b.a)] {
            if is_foldable_h(&atoms[h], degree[h]) && atoms[heavy].z != 1 {
                remove[h] = true;
                atoms[heavy].hcount = atoms[heavy].hcount.saturating_add(1);
            }
        }
    }
    let mut new_index = vec![NONE; n];
    let mut kept = Vec::with_capacity(n);
    for (i, a) in atoms.into_iter().enumerate() {
        if !remove[i] {
            new_index[i] = kept.len();
            kept.push(a);
        }
    }
    let new_bonds = bonds
        .iter()
        .zip(orders)
        .filter(|(b, _)| !remove[b.a] && !remove[b.b])
        .map(|(b, &o)| (new_index[b.a], new_index[b.b], o))
        .collect();
    (kept, new_bonds)
}

impl Mol {
    /// Build adjacency, ring membership and alternating-bond classes.
    pub(crate) fn build(atoms: Vec<Atom>, bonds: Vec<(usize, usize, u8)>) -> Mol {
        let n = atoms.len();
        let mut adj = vec![Vec::new(); n];
        for (bi, &(a, b, _)) in bonds.iter().enumerate() {
            adj[a].push((b, bi));
            adj[b].push((a, bi));
        }
        let ring = ring_bonds(&adj, bonds.len());
        let mut bonds: Vec<MolBond> = bonds
            .iter()
            .zip(&ring)
            .map(|(&(a, b, order), &ring)| MolBond { a, b, order, ring })
            .collect();
        let mut ring_atom = vec![false; n];
        for b in bonds.iter().filter(|b| b.ring) {
            ring_atom[b.a] = true;
            ring_atom[b.b] = true;
        }
        mark_resonant(&adj, &mut bonds);
        Mol {
            atoms,
            bonds,
            adj,
            ring_atom,
        }
    }
}

/// Bonds that lie on a cycle (non-bridges), by an iterative Tarjan lowlink search.
fn ring_bonds(adj: &[Vec<(usize, usize)>], nbonds: usize) -> Vec<bool> {
    let n = adj.len();
    let mut ring = vec![true; nbonds];
    let mut disc = vec![NONE; n];
    let mut low = vec![0usize; n];
    let mut timer = 0usize;
    let mut stack: Vec<(usize, usize, usize)> = Vec::new();
    for s in 0..n {
        if disc[s] != NONE {
            continue;
        }
        disc[s] = timer;
        low[s] = timer;
        timer += 1;
        stack.push((s, NONE, 0));
        while let Some(top) = stack.last_mut() {
            let (v, parent_bond) = (top.0, top.1);
            if let Some(&(w, bi)) = adj[v].get(top.2) {
                top.2 += 1;
                if bi == parent_bond {
                    continue;
                }
                if disc[w] == NONE {
                    disc[w] = timer;
                    low[w] = timer;
                    timer += 1;
                    stack.push((w, bi, 0));
                } else {
                    low[v] = low[v].min(disc[w]);
                }
            } else {
                stack.pop();
                if let Some(&(p, _, _)) = stack.last() {
                    low[p] = low[p].min(low[v]);
                    if low[v] > disc[p] {
                        if let Some(r) = ring.get_mut(parent_bond) {
                            *r = false;
                        }
                    }
                }
            }
        }
    }
    ring
}

/// Class as [`RESONANT`] every ring bond whose order differs between Kekulé structures.
fn mark_resonant(adj: &[Vec<(usize, usize)>], bonds: &mut [MolBond]) {
    let n = adj.len();
    // Atoms with exactly one double bond (and no triple/quadruple bond): their double-bond partner.
    let mut partner = vec![NONE; n];
    let mut doubles = vec![0u8; n];
    let mut higher = vec![false; n];
    for b in bonds.iter() {
        match b.order {
            2 => {
                doubles[b.a] += 1;
                doubles[b.b] += 1;
                partner[b.a] = b.b;
                partner[b.b] = b.a;
            }
            3 | 4 => {
                higher[b.a] = true;
                higher[b.b] = true;
            }
            _ => {}
        }
    }
    let simple = |i: usize| doubles[i] == 1 && !higher[i];
    // Q: atoms whose unique double bond is a ring bond to another such atom.
    let mut local = vec![NONE; n];
    let mut nodes = Vec::new();
    for b in bonds.iter() {
        if b.order == 2 && b.ring && simple(b.a) && simple(b.b) {
            for x in [b.a, b.b] {
                local[x] = nodes.len();
                nodes.push(x);
            }
        }
    }
    if nodes.len() < 4 {
        return; // an alternating cycle needs at least two double bonds
    }
    let m = nodes.len();
    let mut qadj: Vec<Vec<(usize, usize)>> = vec![Vec::new(); m];
    for (bi, b) in bonds.iter().enumerate() {
        if b.ring && (b.order == 1 || b.order == 2) && local[b.a] != NONE && local[b.b] != NONE {
            let (x, y) = (local[b.a], local[b.b]);
            qadj[x].push((y, bi));
            qadj[y].push((x, bi));
        }
    }
    // Test each connected part of Q separately, so that the cost stays local to each ring system.
    let mut part_index = vec![NONE; m];
    let mut search = Search::new(0);
    for start in 0..m {
        if part_index[start] != NONE {
            continue;
        }
        let mut part = vec![start];
        part_index[start] = 0;
        let mut head = 0;
        while let Some(&v) = part.get(head) {
            head += 1;
            for &(w, _) in &qadj[v] {
                if part_index[w] == NONE {
                    part_index[w] = part.len();
                    part.push(w);
                }
            }
        }
        if part.len() < 4 {
            continue; // an alternating cycle needs at least two double bonds
        }
        let adj: Vec<Vec<usize>> = part
            .iter()
            .map(|&v| qadj[v].iter().map(|&(w, _)| part_index[w]).collect())
            .collect();
        let mate: Vec<usize> = part
            .iter()
            .map(|&v| {
                let p = local[partner[nodes[v]]];
                if p == NONE {
                    NONE
                } else {
                    part_index[p]
                }
            })
            .collect();
        let mut edges = Vec::new();
        for (x, &v) in part.iter().enumerate() {
            for &(w, bi) in &qadj[v] {
                let y = part_index[w];
                if x < y {
                    edges.push((x, y, bi));
                }
            }
        }
        resonant_edges(&adj, &mate, &edges, &mut search, bonds);
    }
}

/// Mark the edges `(x, y, bond)` of the perfectly matched graph `adj` whose membership in a perfect
/// matching is not forced.
fn resonant_edges(
    adj: &[Vec<usize>],
    mate: &[usize],
    edges: &[(usize, usize, usize)],
    search: &mut Search,
    bonds: &mut [MolBond],
) {
    let mut trial = mate.to_vec();
    for &(x, y, bi) in edges {
        trial.copy_from_slice(mate);
        let mut removed = [NONE, NONE];
        let (root, banned) = if mate[x] == y {
            // double bond: is there a perfect matching without it?
            trial[x] = NONE;
            trial[y] = NONE;
            (x, Some((x, y)))
        } else {
            // single bond: is there a perfect matching with it?
            let (mx, my) = (mate[x], mate[y]);
            if mx == NONE || my == NONE {
                continue;
            }
            trial[x] = NONE;
            trial[y] = NONE;
            trial[mx] = NONE;
            trial[my] = NONE;
            removed = [x, y];
            (mx, None)
        };
        let skip = |v: usize, w: usize| {
            removed.contains(&w)
                || banned.is_some_and(|(a, b)| (v == a && w == b) || (v == b && w == a))
        };
        if search.find(adj, &trial, root, &skip).is_some() {
            if let Some(b) = bonds.get_mut(bi) {
                b.order = RESONANT;
            }
        }
    }
}

/// A maximum matching of `adj` (greedy start, then Edmonds augmentation); `NONE` marks unmatched nodes.
pub(crate) fn perfect_matching(adj: &[Vec<usize>]) -> Vec<usize> {
    let n = adj.len();
    let mut mate = vec![NONE; n];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&v| adj[v].len());
    for &v in &order {
        if mate[v] != NONE {
            continue;
        }
        if let Some(&w) = adj[v]
            .iter()
            .filter(|&&w| mate[w] == NONE && w != v)
            .min_by_key(|&&w| adj[w].len())
        {
            mate[v] = w;
            mate[w] = v;
        }
    }
    let mut search = Search::new(n);
    for &root in &order {
        if mate[root] != NONE {
            continue;
        }
        if let Some(end) = search.find(adj, &mate, root, &|_, _| false) {
            search.augment(&mut mate, end);
        }
    }
    mate
}

/// Edmonds' blossom search for an augmenting path from one exposed root.
struct Search {
    parent: Vec<usize>,
    base: Vec<usize>,
    used: Vec<bool>,
    blossom: Vec<bool>,
    seen: Vec<bool>,
    queue: Vec<usize>,
}

impl Search {
    fn new(n: usize) -> Self {
        Search {
            parent: vec![NONE; n],
            base: vec![0; n],
            used: vec![false; n],
            blossom: vec![false; n],
            seen: vec![false; n],
            queue: Vec::with_capacity(n),
        }
    }

    /// Find an augmenting path from `root`, ignoring edges for which `skip(v, w)` holds; returns its
    /// exposed end (the path is then in `parent`).
    fn find(
        &mut self,
        adj: &[Vec<usize>],
        mate: &[usize],
        root: usize,
        skip: &dyn Fn(usize, usize) -> bool,
    ) -> Option<usize> {
        let n = adj.len();
        self.parent.clear();
        self.parent.resize(n, NONE);
        self.used.clear();
        self.used.resize(n, false);
        self.base.clear();
        self.base.extend(0..n);
        self.queue.clear();
        *self.used.get_mut(root)? = true;
        self.queue.push(root);
        let mut head = 0;
        while let Some(&v) = self.queue.get(head) {
            head += 1;
            for &to in &adj[v] {
                if skip(v, to) || self.base[v] == self.base[to] || mate[v] == to {
                    continue;
                }
                let to_is_outer = to == root || (mate[to] != NONE && self.parent[mate[to]] != NONE);
                if to_is_outer {
                    let cur = self.lca(mate, v, to, n)?;
                    self.blossom.clear();
                    self.blossom.resize(n, false);
                    self.mark_path(mate, v, cur, to, n)?;
                    self.mark_path(mate, to, cur, v, n)?;
                    for i in 0..n {
                        if self.blossom[self.base[i]] {
                            self.base[i] = cur;
                            if !self.used[i] {
                                self.used[i] = true;
                                self.queue.push(i);
                            }
                        }
                    }
                } else if self.parent[to] == NONE {
                    self.parent[to] = v;
                    let m = mate[to];
                    if m == NONE {
                        return Some(to);
                    }
                    self.used[m] = true;
                    self.queue.push(m);
                }
            }
        }
        None
    }

    fn lca(&mut self, mate: &[usize], a: usize, b: usize, n: usize) -> Option<usize> {
        self.seen.clear();
        self.seen.resize(n, false);
        let mut a = a;
        for _ in 0..=n {
            a = *self.base.get(a)?;
            self.seen[a] = true;
            let m = mate[a];
            if m == NONE {
                break;
            }
            a = *self.parent.get(m)?;
        }
        let mut b = b;
        for _ in 0..=n {
            b = *self.base.get(b)?;
            if self.seen[b] {
                return Some(b);
            }
            b = *self.parent.get(*mate.get(b)?)?;
        }
        None
    }

    fn mark_path(
        &mut self,
        mate: &[usize],
        v: usize,
        b: usize,
        child: usize,
        n: usize,
    ) -> Option<()> {
        let (mut v, mut child) = (v, child);
        for _ in 0..=n {
            if *self.base.get(v)? == b {
                return Some(());
            }
            let m = *mate.get(v)?;
            let bv = self.base[v];
            self.blossom[bv] = true;
            let bm = *self.base.get(m)?;
            self.blossom[bm] = true;
            self.parent[v] = child;
            child = m;
            v = *self.parent.get(m)?;
        }
        None
    }

    fn augment(&self, mate: &mut [usize], end: usize) {
        let mut v = end;
        for _ in 0..=mate.len() {
            let Some(&pv) = self.parent.get(v) else {
                return;
            };
            let Some(&ppv) = mate.get(pv) else { return };
            mate[v] = pv;
            mate[pv] = v;
            if ppv == NONE {
                return;
            }
            v = ppv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mol(s: &str) -> Mol {
        match molecule(s, true) {
            Ok(m) => m,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn hs(s: &str) -> Vec<u8> {
        mol(s).atoms.iter().map(|a| a.hcount).collect()
    }

    #[test]
    fn implicit_hydrogens() {
        assert_eq!(hs("C"), vec![4]);
        assert_eq!(hs("CCO"), vec![3, 2, 1]);
        assert_eq!(hs("C=C"), vec![2, 2]);
        assert_eq!(hs("C#N"), vec![1, 0]);
        assert_eq!(hs("CN(=O)=O"), vec![3, 0, 0, 0]); // N valence 5
        assert_eq!(hs("CS(=O)C"), vec![3, 0, 0, 3]); // S valence 4
        assert_eq!(hs("ClCBr"), vec![0, 2, 0]);
        assert_eq!(hs("[CH3][NH3+][O-]"), vec![3, 3, 0]);
        assert_eq!(hs("c1ccccc1"), vec![1; 6]);
        assert_eq!(hs("c1ccncc1"), vec![1, 1, 1, 0, 1, 1]);
        assert_eq!(hs("c1ccsc1"), vec![1, 1, 1, 0, 1]);
        assert_eq!(hs("c1cc[nH]c1"), vec![1, 1, 1, 1, 1]);
        assert_eq!(hs("Cc1ccccc1"), vec![3, 0, 1, 1, 1, 1, 1]);
        assert_eq!(hs("O=c1cccc[nH]1"), vec![0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(hs("[H]C([H])([H])[H]"), vec![4]);
        assert_eq!(hs("[2H]C"), vec![0, 3]); // isotopic H kept as an atom here
        assert_eq!(hs("[H][H]"), vec![0, 0]);
    }

    #[test]
    fn kekulisation_and_alternation() {
        let m = mol("c1ccccc1");
        assert!(m.bonds.iter().all(|b| b.order == RESONANT && b.ring));
        let m = mol("C1=CC=CC=C1");
        assert!(m.bonds.iter().all(|b| b.order == RESONANT));
        // naphthalene: all 11 bonds alternate
        assert!(mol("c1ccc2ccccc2c1")
            .bonds
            .iter()
            .all(|b| b.order == RESONANT));
        // biphenyl: the linking bond is a bridge, single
        let m = mol("c1ccccc1-c1ccccc1");
        assert_eq!(m.bonds.iter().filter(|b| b.order == 1).count(), 1);
        // pyrrole has a single Kekulé structure
        let m = mol("c1cc[nH]c1");
        assert_eq!(m.bonds.iter().filter(|b| b.order == 2).count(), 2);
        assert!(m.bonds.iter().all(|b| b.order != RESONANT));
        // quinone: ring double bonds do not alternate
        assert!(mol("O=C1C=CC(=O)C=C1")
            .bonds
            .iter()
            .all(|b| b.order != RESONANT));
        // pyridinium, pyrylium
        assert_eq!(
            mol("C[n+]1ccccc1")
                .bonds
                .iter()
                .filter(|b| b.order == RESONANT)
                .count(),
            6
        );
        assert_eq!(
            mol("c1cc[o+]cc1")
                .bonds
                .iter()
                .filter(|b| b.order == RESONANT)
                .count(),
            6
        );
        // coronene: a large fused system, every ring bond alternates, 12 H
        let m = mol("c1cc2ccc3ccc4ccc5ccc6ccc1c1c2c3c4c5c61");
        assert_eq!(m.atoms.iter().map(|a| u32::from(a.hcount)).sum::<u32>(), 12);
        assert!(m.bonds.iter().all(|b| b.order == RESONANT));
    }

    #[test]
    fn unkekulizable_is_rejected_with_position() {
        let e = molecule("c1cccc1", true)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("invalid SMILES at position "), "{e}");
        assert!(e.contains("cannot kekulize aromatic atom 'c'"), "{e}");
        assert!(molecule("c1ccnc1", true).is_err());
    }

    #[test]
    fn rings() {
        let m = mol("C1CC1CCC2CC2");
        assert_eq!(
            m.ring_atom,
            vec![true, true, true, false, false, true, true, true]
        );
        assert_eq!(m.bonds.iter().filter(|b| b.ring).count(), 6);
    }

    #[test]
    fn matching_handles_blossoms() {
        // triangle with a pendant: 0-1-2-0, 2-3 ; perfect matching 0-1, 2-3 requires passing the odd cycle
        let adj = vec![vec![1, 2], vec![0, 2], vec![0, 1, 3], vec![2]];
        let mate = perfect_matching(&adj);
        assert!(mate.iter().all(|&m| m != NONE));
        // two triangles joined by an edge
        let adj = vec![
            vec![1, 2],
            vec![0, 2],
            vec![0, 1, 3],
            vec![2, 4, 5],
            vec![3, 5],
            vec![3, 4],
        ];
        assert!(perfect_matching(&adj).iter().all(|&m| m != NONE));
    }
}

//! A parser for the OpenSMILES grammar, producing the molecular graph exactly as written.
//!
//! Supported: the organic subset (`B C N O P S F Cl Br I`, aromatic `b c n o p s`) and `*`; bracket atoms
//! `[isotope? symbol chirality? hcount? charge? class?]` with any element symbol, aromatic `b c n o p s se as` (and `te`, as RDKit),
//! chirality (`@`, `@@`, `@TH1`, `@AL2`, `@SP3`, `@TB12`, `@OH25`; parsed and ignored), `H`/`Hn`, charges
//! (`+`, `-`, `+n`, `-n`, and the deprecated `++`/`--`, range ±15) and atom classes (`:n`, ignored); bonds
//! `- = # $ : / \` (`/` and `\` are single bonds; stereo is ignored); ring bonds `0`-`9`, `%nn` and `%(n)`
//! with an optional bond symbol on either end; branches, including a bond or `.` right after `(`; and
//! `.`-disconnected components. As in RDKit, a ring bond may also follow a branch (`C(C)1CC1`).
//!
//! Leading and trailing ASCII whitespace is ignored; whitespace inside a SMILES is an error (we do not
//! accept the "SMILES name" convention, so that a stray suffix cannot be silently dropped).
//!
//! Errors name the 1-based character position and what was expected:
//! `invalid SMILES at position 7: unclosed ring bond 1`.

use std::collections::HashMap;

use crate::{CragError, Result};

/// Element symbols indexed by atomic number; index 0 is the `*` wildcard.
pub(crate) const ELEMENTS: [&str; 119] = [
    "*", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
    "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge",
    "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd",
    "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd",
    "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg",
    "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm",
    "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn",
    "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
];

/// Atomic number of an element symbol (case-sensitive, e.g. `"Cl"`), `None` if unknown.
pub(crate) fn atomic_number(symbol: &[u8]) -> Option<u8> {
    ELEMENTS
        .iter()
        .skip(1)
        .position(|e| e.as_bytes() == symbol)
        .and_then(|i| u8::try_from(i + 1).ok())
}

/// A bond as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BondKind {
    Single,
    Double,
    Triple,
    Quadruple,
    /// `:` or the implicit bond between two aromatic atoms.
    Aromatic,
}

impl BondKind {
    /// Bond order, counting an aromatic bond as 1 (its sigma part).
    pub(crate) fn sigma_order(self) -> u8 {
        match self {
            BondKind::Single | BondKind::Aromatic => 1,
            BondKind::Double => 2,
            BondKind::Triple => 3,
            BondKind::Quadruple => 4,
        }
    }
}

/// An atom as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Atom {
    /// Atomic number; 0 for `*`.
    pub z: u8,
    /// Written in lower case (`c`, `[nH]`).
    pub aromatic: bool,
    /// Written in brackets: its hydrogen count is `hcount`, never implicit.
    pub bracket: bool,
    /// Mass number; 0 when not given.
    pub isotope: u16,
    pub charge: i8,
    /// Bracket hydrogen count (0 for organic-subset atoms until implicit hydrogens are assigned).
    pub hcount: u8,
    /// 1-based character position of the atom in the input.
    pub pos: usize,
}

/// A bond between atom indices `a` and `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bond {
    pub a: usize,
    pub b: usize,
    pub kind: BondKind,
}

/// The graph of a SMILES string as written (no implicit hydrogens yet).
#[derive(Clone, Debug, Default)]
pub(crate) struct Parsed {
    pub atoms: Vec<Atom>,
    pub bonds: Vec<Bond>,
}

fn err(pos: usize, msg: impl std::fmt::Display) -> CragError {
    CragError::invalid(format!("invalid SMILES at position {pos}: {msg}"))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Last {
    Start,
    Atom,
    Ring,
    Bond,
    Open,
    Close,
    Dot,
}

struct RingOpen {
    atom: usize,
    kind: Option<BondKind>,
    pos: usize,
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    end: usize,
    out: Parsed,
    /// Neighbours of each atom so far (to reject duplicate ring bonds).
    nbrs: Vec<Vec<usize>>,
}

/// Parse a SMILES string into its graph as written.
pub(crate) fn parse(s: &str) -> Result<Parsed> {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    if start >= end {
        return Err(CragError::invalid("invalid SMILES: empty input"));
    }
    let mut p = Parser {
        s,
        b,
        i: start,
        end,
        out: Parsed::default(),
        nbrs: Vec::new(),
    };
    p.run()?;
    Ok(p.out)
}

impl Parser<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        let j = self.i + k;
        if j < self.end {
            self.b.get(j).copied()
        } else {
            None
        }
    }

    /// Describe the character at byte `i` (which is a char boundary: everything before it is ASCII).
    fn describe(&self, i: usize) -> String {
        match self.s.get(i..).and_then(|r| r.chars().next()) {
            Some(c) if c.is_whitespace() => "unexpected whitespace".to_string(),
            Some(c) => format!("unexpected character '{c}'"),
            None => "unexpected end of input".to_string(),
        }
    }

    fn run(&mut self) -> Result<()> {
        let mut prev: Option<usize> = None;
        let mut pending: Option<BondKind> = None;
        let mut bond_after_open = false;
        let mut branches: Vec<(usize, usize)> = Vec::new();
        let mut rings: HashMap<u32, RingOpen> = HashMap::new();
        let mut last = Last::Start;

        while self.i < self.end {
            let c = self.b[self.i];
            let pos = self.i + 1;
            match c {
                b'(' => {
                    let base = match (last, prev) {
                        (Last::Atom | Last::Ring | Last::Close, Some(p)) => p,
                        _ => {
                            return Err(err(
                                pos,
                                "unexpected character '(': a branch must follow an atom",
                            ))
                        }
                    };
                    branches.push((base, pos));
                    last = Last::Open;
                    self.i += 1;
                }
                b')' => {
                    match last {
                        Last::Atom | Last::Ring | Last::Close => {}
                        Last::Open => return Err(err(pos, "empty branch '()'")),
                        Last::Bond => {
                            return Err(err(pos, "expected an atom after the bond, found ')'"))
                        }
                        Last::Dot => return Err(err(pos, "expected an atom after '.', found ')'")),
                        Last::Start => return Err(err(pos, "unexpected character ')'")),
                    }
                    let Some((base, _)) = branches.pop() else {
                        return Err(err(pos, "unexpected character ')' (no open branch)"));
                    };
                    prev = Some(base);
                    last = Last::Close;
                    self.i += 1;
                }
                b'-' | b'=' | b'#' | b'$' | b':' | b'/' | b'\\' => {
                    let ch = c as char;
                    match last {
                        Last::Atom | Last::Ring | Last::Close | Last::Open => {}
                        Last::Bond => {
                            return Err(err(
                                pos,
                                format!("unexpected bond '{ch}' right after another bond"),
                            ))
                        }
                        Last::Start | Last::Dot => {
                            return Err(err(
                                pos,
                                format!("unexpected bond '{ch}': expected an atom"),
                            ))
                        }
                    }
                    pending = Some(match c {
                        b'=' => BondKind::Double,
                        b'#' => BondKind::Triple,
                        b'$' => BondKind::Quadruple,
                        b':' => BondKind::Aromatic,
                        _ => BondKind::Single,
                    });
                    bond_after_open = last == Last::Open;
                    last = Last::Bond;
                    self.i += 1;
                }
                b'.' => {
                    match last {
                        Last::Atom | Last::Ring | Last::Close | Last::Open => {}
                        Last::Bond => {
                            return Err(err(pos, "expected an atom after the bond, found '.'"))
                        }
                        Last::Start | Last::Dot => {
                            return Err(err(pos, "unexpected character '.': expected an atom"))
                        }
                    }
                    prev = None;
                    last = Last::Dot;
                    self.i += 1;
                }
                b'0'..=b'9' | b'%' => {
                    let allowed = match last {
                        Last::Atom | Last::Ring | Last::Close => true,
                        Last::Bond => !bond_after_open,
                        _ => false,
                    };
                    let cur = match prev {
                        Some(p) if allowed => p,
                        _ => {
                            return Err(err(
                                pos,
                                format!(
                                    "unexpected ring-bond number '{}': expected an atom",
                                    c as char
                                ),
                            ))
                        }
                    };
                    let num = self.ring_number()?;
                    let kind = pending.take();
                    if let Some(open) = rings.remove(&num) {
                        self.close_ring(num, open, cur, kind, pos)?;
                    } else {
                        rings.insert(
                            num,
                            RingOpen {
                                atom: cur,
                                kind,
                                pos,
                            },
                        );
                    }
                    last = Last::Ring;
                }
                _ => {
                    let atom = self.atom()?;
                    let idx = self.out.atoms.len();
                    let aromatic = atom.aromatic;
                    self.out.atoms.push(atom);
                    self.nbrs.push(Vec::new());
                    if let Some(p) = prev {
                        let kind = pending
                            .take()
                            .unwrap_or_else(|| self.implicit_bond(p, aromatic));
                        self.push_bond(p, idx, kind);
                    }
                    pending = None;
                    prev = Some(idx);
                    last = Last::Atom;
                }
            }
        }

        let end_pos = self.end + 1;
        match last {
            Last::Bond => {
                return Err(err(
                    end_pos,
                    "unexpected end of input: expected an atom after the bond",
                ))
            }
            Last::Dot => {
                return Err(err(
                    end_pos,
                    "unexpected end of input: expected an atom after '.'",
                ))
            }
            _ => {}
        }
        if let Some(&(_, pos)) = branches.last() {
            return Err(err(pos, "unclosed branch '('"));
        }
        if let Some((num, r)) = rings.iter().min_by_key(|(_, r)| r.pos) {
            return Err(err(r.pos, format!("unclosed ring bond {num}")));
        }
        Ok(())
    }

    fn push_bond(&mut self, a: usize, b: usize, kind: BondKind) {
        self.out.bonds.push(Bond { a, b, kind });
        for (x, y) in [(a, b), (b, a)] {
            if let Some(n) = self.nbrs.get_mut(x) {
                n.push(y);
            }
        }
    }

    fn implicit_bond(&self, a: usize, b_aromatic: bool) -> BondKind {
        if b_aromatic && self.out.atoms.get(a).is_some_and(|x| x.aromatic) {
            BondKind::Aromatic
        } else {
            BondKind::Single
        }
    }

    /// Read a ring-bond number at `self.i` (`d`, `%dd` or `%(d...)`).
    fn ring_number(&mut self) -> Result<u32> {
        let pos = self.i + 1;
        let digit = |c: Option<u8>| c.filter(u8::is_ascii_digit).map(|d| u32::from(d - b'0'));
        if let Some(d) = digit(self.peek(0)) {
            self.i += 1;
            return Ok(d);
        }
        // '%'
        if let (Some(d1), Some(d2)) = (digit(self.peek(1)), digit(self.peek(2))) {
            self.i += 3;
            return Ok(d1 * 10 + d2);
        }
        if self.peek(1) == Some(b'(') {
            let mut n: u32 = 0;
            let mut len = 0;
            while let Some(d) = digit(self.peek(2 + len)) {
                n = n * 10 + d;
                len += 1;
                if len > 5 {
                    return Err(err(
                        pos,
                        "ring-bond number in '%(...)' has more than 5 digits",
                    ));
                }
            }
            if len > 0 && self.peek(2 + len) == Some(b')') {
                self.i += 3 + len;
                return Ok(n);
            }
            return Err(err(pos, "expected '%(number)' ring bond"));
        }
        Err(err(pos, "expected two digits after '%'"))
    }

    fn close_ring(
        &mut self,
        num: u32,
        open: RingOpen,
        cur: usize,
        kind: Option<BondKind>,
        pos: usize,
    ) -> Result<()> {
        if open.atom == cur {
            return Err(err(
                pos,
                format!("ring bond {num} closes on the atom that opened it"),
            ));
        }
        let kind = match (open.kind, kind) {
            (Some(x), Some(y)) if x != y => {
                return Err(err(
                    pos,
                    format!("conflicting bond symbols for ring bond {num}"),
                ));
            }
            (Some(x), _) | (None, Some(x)) => x,
            (None, None) => {
                let ar = self.out.atoms.get(cur).is_some_and(|a| a.aromatic);
                self.implicit_bond(open.atom, ar)
            }
        };
        let (a, b) = (open.atom, cur);
        if self.nbrs.get(b).is_some_and(|n| n.contains(&a)) {
            return Err(err(
                pos,
                format!("ring bond {num} duplicates an existing bond"),
            ));
        }
        self.push_bond(a, b, kind);
        Ok(())
    }

    /// Read one atom (organic subset, `*` or bracket atom) at `self.i`.
    fn atom(&mut self) -> Result<Atom> {
        let pos = self.i + 1;
        let c = self.b[self.i];
        let mut atom = Atom {
            z: 0,
            aromatic: false,
            bracket: false,
            isotope: 0,
            charge: 0,
            hcount: 0,
            pos,
        };
        let (z, aromatic, len) = match c {
            b'[' => return self.bracket_atom(),
            b'*' => (0, false, 1),
            b'B' if self.peek(1) == Some(b'r') => (35, false, 2),
            b'C' if self.peek(1) == Some(b'l') => (17, false, 2),
            b'B' | b'C' | b'N' | b'O' | b'P' | b'S' | b'F' | b'I'
                if self
                    .peek(1)
                    .is_some_and(|d| d.is_ascii_lowercase() && !b"bcnops".contains(&d)) =>
            {
                // e.g. `Na`: not `N` followed by an atom, but an element that needs brackets
                let sym = &self.b[self.i..self.i + 2];
                let sym_s = String::from_utf8_lossy(sym);
                return Err(if atomic_number(sym).is_some() {
                    err(pos, format!("element '{sym_s}' is not in the organic subset and must be written in brackets, e.g. [{sym_s}]"))
                } else {
                    err(pos, format!("unknown element '{sym_s}'"))
                });
            }
            b'B' => (5, false, 1),
            b'C' => (6, false, 1),
            b'N' => (7, false, 1),
            b'O' => (8, false, 1),
            b'P' => (15, false, 1),
            b'S' => (16, false, 1),
            b'F' => (9, false, 1),
            b'I' => (53, false, 1),
            b'b' => (5, true, 1),
            b'c' => (6, true, 1),
            b'n' => (7, true, 1),
            b'o' => (8, true, 1),
            b'p' => (15, true, 1),
            b's' => (16, true, 1),
            b'A'..=b'Z' => {
                let len = if self.peek(1).is_some_and(|d| d.is_ascii_lowercase()) {
                    2
                } else {
                    1
                };
                let sym = &self.b[self.i..self.i + len];
                let sym_s = String::from_utf8_lossy(sym);
                return Err(if atomic_number(sym).is_some() {
                    err(pos, format!("element '{sym_s}' is not in the organic subset and must be written in brackets, e.g. [{sym_s}]"))
                } else {
                    err(pos, format!("unknown element '{sym_s}'"))
                });
            }
            _ => {
                return Err(err(
                    pos,
                    format!("{}: expected an atom", self.describe(self.i)),
                ))
            }
        };
        atom.z = z;
        atom.aromatic = aromatic;
        self.i += len;
        Ok(atom)
    }

    fn bracket_atom(&mut self) -> Result<Atom> {
        let open_pos = self.i + 1;
        self.i += 1;
        let mut atom = Atom {
            z: 0,
            aromatic: false,
            bracket: true,
            isotope: 0,
            charge: 0,
            hcount: 0,
            pos: open_pos,
        };
        // isotope
        let mut iso_len = 0;
        let mut iso: u16 = 0;
        while let Some(d) = self.peek(0).filter(u8::is_ascii_digit) {
            iso_len += 1;
            if iso_len > 3 {
                return Err(err(self.i + 1, "isotope has more than 3 digits"));
            }
            iso = iso * 10 + u16::from(d - b'0');
            self.i += 1;
        }
        atom.isotope = iso;
        // symbol
        let spos = self.i + 1;
        match self.peek(0) {
            Some(b'*') => {
                self.i += 1;
            }
            Some(c) if c.is_ascii_lowercase() => {
                let two = (self.peek(0), self.peek(1));
                let (z, len) = match two {
                    (Some(b's'), Some(b'e')) => (34, 2),
                    (Some(b'a'), Some(b's')) => (33, 2),
                    (Some(b't'), Some(b'e')) => (52, 2),
                    (Some(b'b'), _) => (5, 1),
                    (Some(b'c'), _) => (6, 1),
                    (Some(b'n'), _) => (7, 1),
                    (Some(b'o'), _) => (8, 1),
                    (Some(b'p'), _) => (15, 1),
                    (Some(b's'), _) => (16, 1),
                    _ => {
                        return Err(err(
                            spos,
                            format!(
                                "{} in bracket atom: expected an element symbol",
                                self.describe(self.i)
                            ),
                        ))
                    }
                };
                atom.z = z;
                atom.aromatic = true;
                self.i += len;
            }
            Some(c) if c.is_ascii_uppercase() => {
                let len = if self.peek(1).is_some_and(|d| d.is_ascii_lowercase()) {
                    2
                } else {
                    1
                };
                let sym = &self.b[self.i..self.i + len];
                let Some(z) = atomic_number(sym) else {
                    return Err(err(
                        spos,
                        format!("unknown element '{}'", String::from_utf8_lossy(sym)),
                    ));
                };
                atom.z = z;
                self.i += len;
            }
            None => return Err(err(open_pos, "unclosed bracket atom '['")),
            Some(_) => {
                return Err(err(
                    spos,
                    format!(
                        "{} in bracket atom: expected an element symbol",
                        self.describe(self.i)
                    ),
                ))
            }
        }
        // chirality (ignored)
        if self.peek(0) == Some(b'@') {
            self.i += 1;
            if self.peek(0) == Some(b'@') {
                self.i += 1;
            } else if let (Some(x), Some(y)) = (self.peek(0), self.peek(1)) {
                if matches!(&[x, y], b"TH" | b"AL" | b"SP" | b"TB" | b"OH") {
                    let cpos = self.i + 1;
                    self.i += 2;
                    let mut n = 0;
                    while self.peek(0).is_some_and(|d| d.is_ascii_digit()) && n < 2 {
                        self.i += 1;
                        n += 1;
                    }
                    if n == 0 {
                        return Err(err(cpos, "expected a number after the chirality class"));
                    }
                }
            }
        }
        // hydrogen count
        if self.peek(0) == Some(b'H') {
            self.i += 1;
            atom.hcount = 1;
            if let Some(d) = self.peek(0).filter(u8::is_ascii_digit) {
                atom.hcount = d - b'0';
                self.i += 1;
            }
        }
        // charge
        if let Some(sign @ (b'+' | b'-')) = self.peek(0) {
            let cpos = self.i + 1;
            self.i += 1;
            let mut mag: i32 = 1;
            if self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                mag = 0;
                let mut n = 0;
                while let Some(d) = self.peek(0).filter(u8::is_ascii_digit) {
                    n += 1;
                    if n > 2 {
                        return Err(err(cpos, "charge has more than 2 digits"));
                    }
                    mag = mag * 10 + i32::from(d - b'0');
                    self.i += 1;
                }
            } else {
                while self.peek(0) == Some(sign) {
                    mag += 1;
                    self.i += 1;
                }
            }
            if mag > 15 {
                return Err(err(
                    cpos,
                    format!("charge {}{mag} out of range (-15..=15)", sign as char),
                ));
            }
            let signed = if sign == b'-' { -mag } else { mag };
            atom.charge = i8::try_from(signed).map_err(|_| err(cpos, "charge out of range"))?;
        }
        // atom class (ignored)
        if self.peek(0) == Some(b':') {
            let cpos = self.i + 1;
            self.i += 1;
            let mut n = 0;
            while self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                self.i += 1;
                n += 1;
            }
            if n == 0 {
                return Err(err(cpos, "expected a number after ':' (atom class)"));
            }
        }
        match self.peek(0) {
            Some(b']') => {
                self.i += 1;
                Ok(atom)
            }
            None => Err(err(open_pos, "unclosed bracket atom '['")),
            Some(_) => Err(err(
                self.i + 1,
                format!("{} in bracket atom: expected ']'", self.describe(self.i)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> String {
        match parse(s) {
            Ok(_) => panic!("{s:?} parsed but should not"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_atoms_bonds_rings_branches() {
        let p = parse("C1CC(=O)C1.[Na+]").expect("parse");
        assert_eq!(p.atoms.len(), 6);
        assert_eq!(p.bonds.len(), 5);
        assert!(p.bonds.contains(&Bond {
            a: 2,
            b: 3,
            kind: BondKind::Double
        }));
        assert!(p.bonds.contains(&Bond {
            a: 0,
            b: 4,
            kind: BondKind::Single
        }));
        assert_eq!(p.atoms[5].z, 11);
        assert_eq!(p.atoms[5].charge, 1);
        assert!(p.atoms[5].bracket);
    }

    #[test]
    fn bracket_atom_fields() {
        let p = parse("[13CH3:7][C@@H](Cl)[O-].[Fe+3].[Co-2].[nH]1cccc1.[se]1cccc1.[N++]")
            .expect("parse");
        let a = &p.atoms[0];
        assert_eq!(
            (a.z, a.isotope, a.hcount, a.charge, a.bracket),
            (6, 13, 3, 0, true)
        );
        assert_eq!((p.atoms[1].z, p.atoms[1].hcount), (6, 1));
        assert_eq!(p.atoms[2].z, 17);
        assert_eq!(p.atoms[3].charge, -1);
        assert_eq!((p.atoms[4].z, p.atoms[4].charge), (26, 3));
        assert_eq!((p.atoms[5].z, p.atoms[5].charge), (27, -2));
        assert!(p.atoms[6].aromatic && p.atoms[6].hcount == 1);
        assert_eq!(p.atoms[11].z, 34);
        assert_eq!(p.atoms.last().map(|a| a.charge), Some(2));
    }

    #[test]
    fn ring_bond_forms() {
        let p = parse("C%10CC%(10)").expect("parse");
        assert_eq!(p.bonds.len(), 3);
        let p = parse("C=1CCCC1").expect("parse");
        assert!(p.bonds.contains(&Bond {
            a: 0,
            b: 4,
            kind: BondKind::Double
        }));
        let p = parse("c1ccccc1-c1ccccc1").expect("parse");
        assert_eq!(
            p.bonds
                .iter()
                .filter(|b| b.kind == BondKind::Aromatic)
                .count(),
            12
        );
        // ring bond after a branch, and a reused ring number
        assert_eq!(parse("C(C)1CC1C1CC1").expect("parse").bonds.len(), 8);
        // bond or dot at the start of a branch
        assert_eq!(parse("C(=O)(.[Na+])O").expect("parse").bonds.len(), 2);
    }

    #[test]
    fn error_positions() {
        assert_eq!(
            msg("C1CCCC"),
            "invalid SMILES at position 2: unclosed ring bond 1"
        );
        assert_eq!(
            msg("CCC1CC(C"),
            "invalid SMILES at position 7: unclosed branch '('"
        );
        assert_eq!(
            msg("CC)C"),
            "invalid SMILES at position 3: unexpected character ')' (no open branch)"
        );
        assert_eq!(
            msg("C[Xx]C"),
            "invalid SMILES at position 3: unknown element 'Xx'"
        );
        assert_eq!(
            msg("CXxC"),
            "invalid SMILES at position 2: unknown element 'Xx'"
        );
        assert!(msg("CNa").contains("position 2: element 'Na' is not in the organic subset"));
        assert_eq!(
            msg("C[C+a]"),
            "invalid SMILES at position 5: unexpected character 'a' in bracket atom: expected ']'"
        );
        assert_eq!(
            msg("C[CH3"),
            "invalid SMILES at position 2: unclosed bracket atom '['"
        );
        assert_eq!(msg("C[]"), "invalid SMILES at position 3: unexpected character ']' in bracket atom: expected an element symbol");
        assert_eq!(msg(""), "invalid SMILES: empty input");
        assert_eq!(msg("   "), "invalid SMILES: empty input");
        assert_eq!(msg("CC="), "invalid SMILES at position 4: unexpected end of input: expected an atom after the bond");
        assert_eq!(
            msg("C()C"),
            "invalid SMILES at position 3: empty branch '()'"
        );
        assert_eq!(
            msg("C=1CC-1"),
            "invalid SMILES at position 7: conflicting bond symbols for ring bond 1"
        );
        assert_eq!(
            msg("C11"),
            "invalid SMILES at position 3: ring bond 1 closes on the atom that opened it"
        );
        assert_eq!(
            msg("C12CC12"),
            "invalid SMILES at position 7: ring bond 2 duplicates an existing bond"
        );
        assert_eq!(
            msg("CC C"),
            "invalid SMILES at position 3: unexpected whitespace: expected an atom"
        );
        assert_eq!(
            msg("CCé"),
            "invalid SMILES at position 3: unexpected character 'é': expected an atom"
        );
        assert_eq!(
            msg(".C"),
            "invalid SMILES at position 1: unexpected character '.': expected an atom"
        );
        assert_eq!(
            msg("C..C"),
            "invalid SMILES at position 3: unexpected character '.': expected an atom"
        );
        assert_eq!(
            msg("1CC"),
            "invalid SMILES at position 1: unexpected ring-bond number '1': expected an atom"
        );
        assert_eq!(
            msg("C==C"),
            "invalid SMILES at position 3: unexpected bond '=' right after another bond"
        );
        assert_eq!(
            msg("C[C+16]"),
            "invalid SMILES at position 4: charge +16 out of range (-15..=15)"
        );
        assert_eq!(
            msg("C%1C"),
            "invalid SMILES at position 2: expected two digits after '%'"
        );
        assert_eq!(
            msg("C[1234C]"),
            "invalid SMILES at position 6: isotope has more than 3 digits"
        );
        assert_eq!(
            msg("(C)"),
            "invalid SMILES at position 1: unexpected character '(': a branch must follow an atom"
        );
    }

    #[test]
    fn outer_whitespace_is_trimmed_and_positions_are_absolute() {
        assert_eq!(parse("  CCO\n").expect("parse").atoms.len(), 3);
        assert_eq!(
            msg("  C1CC"),
            "invalid SMILES at position 4: unclosed ring bond 1"
        );
    }
}

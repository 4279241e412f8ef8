//! SQL entry points of the DTI/ADR model: `crag_dti`, `crag_topk_adr` and their batch forms.

use crag_core::dti::top_k_adr_batch;
use crag_core::runtime::run_dti;
use crag_core::validate::{finite_vector, positive_k};
use ndarray::ArrayView2;
use pgrx::datum::Array;
use pgrx::prelude::*;

use crate::arrays::{self, Matrix};
use crate::error::{OrRaise, PgError, PgResult};
use crate::gucs;
use crate::registry::{with_model, LoadedModel};

const KIND: &str = "dti_adr";

type AdrRow = (i32, i32, i32, String, f64, f64);

/// Check a batch against the model's input size and values, and view it as `[rows, dim]`.
fn batch<'a>(arg: &str, m: &'a Matrix, dim: usize, model: &str) -> PgResult<ArrayView2<'a, f32>> {
    let row_name = |i: usize| {
        if m.rows == 1 {
            arg.to_string()
        } else {
            format!("{arg}[{}]", i + 1)
        }
    };
    if m.cols != dim {
        finite_vector(
            &row_name(0),
            &m.data[..m.cols.min(m.data.len())],
            dim,
            model,
        )?;
    }
    for (i, row) in m.data.chunks(dim.max(1)).enumerate() {
        finite_vector(&row_name(i), row, dim, model)?;
    }
    ArrayView2::from_shape((m.rows, m.cols), &m.data).map_err(|e| PgError::invalid(e.to_string()))
}

/// Run the model over `drugs`/`prots` in chunks of `crag.batch_size`, checking for cancel between chunks.
/// Calls `each(model, row offset, run)` per chunk.
fn run_chunked(
    model: &str,
    batched: bool,
    drugs: Matrix,
    prots: Matrix,
    mut each: impl FnMut(&LoadedModel, usize, crag_core::runtime::DtiRun) -> PgResult<()>,
) -> PgResult<()> {
    if drugs.rows != prots.rows {
        return Err(PgError::invalid(format!(
            "drug_vecs has {} rows but prot_vecs has {}; they are paired row by row",
            drugs.rows, prots.rows
        )));
    }
    let chunk = gucs::batch_size();
    let (drug_arg, prot_arg) = if batched {
        ("drug_vecs", "prot_vecs")
    } else {
        ("drug_vec", "prot_vec")
    };
    with_model(model, KIND, |m| {
        let cfg = m
            .dti
            .as_ref()
            .map(|d| d.cfg.clone())
            .ok_or_else(|| PgError::invalid("not a DTI model"))?;
        let d = batch(drug_arg, &drugs, cfg.drug_dim, model)?;
        let p = batch(prot_arg, &prots, cfg.prot_dim, model)?;
        let mut start = 0;
        while start < drugs.rows {
            pgrx::check_for_interrupts!();
            let end = (start + chunk).min(drugs.rows);
            let run = run_dti(
                &mut m.session,
                d.slice(ndarray::s![start..end, ..]),
                p.slice(ndarray::s![start..end, ..]),
            )?;
            each(m, start, run)?;
            start = end;
        }
        Ok(())
    })
}

fn topk_rows(
    m: &LoadedModel,
    offset: usize,
    run: &crag_core::runtime::DtiRun,
    k: usize,
    out: &mut Vec<AdrRow>,
) -> PgResult<()> {
    let assets = m
        .dti
        .as_ref()
        .ok_or_else(|| PgError::invalid("not a DTI model"))?;
    let ranked = top_k_adr_batch(
        &run.scorer,
        run.u.view(),
        run.v.view(),
        &run.p_bind,
        &assets.prototypes,
        k,
    )?;
    for (i, pair) in ranked.into_iter().enumerate() {
        for r in pair {
            out.push((
                (offset + i + 1) as i32,
                r.rank as i32,
                r.adr_index as i32,
                assets.terms.get(r.adr_index).cloned().unwrap_or_default(),
                r.score as f64,
                r.joint_score as f64,
            ));
        }
    }
    Ok(())
}

/// Probability that the drug binds the protein, from the active version of `model`.
#[pg_extern(stable, strict, parallel_safe, cost = 1000)]
fn crag_dti(
    drug_vec: Array<'_, f32>,
    prot_vec: Array<'_, f32>,
    model: default!(&str, "'dti'"),
) -> f64 {
    let d = arrays::vector("drug_vec", drug_vec).or_raise();
    let p = arrays::vector("prot_vec", prot_vec).or_raise();
    let (dl, pl) = (d.len(), p.len());
    let mut out = 0.0;
    run_chunked(
        model,
        false,
        Matrix {
            rows: 1,
            cols: dl,
            data: d,
        },
        Matrix {
            rows: 1,
            cols: pl,
            data: p,
        },
        |_, _, run| {
            out = run.p_bind.first().copied().unwrap_or(f32::NAN) as f64;
            Ok(())
        },
    )
    .or_raise();
    out
}

/// `p_bind` for each row pair of two 2-D arrays (e.g. `array_agg(drug_vec ORDER BY id)`), in row order.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn crag_dti_batch(
    drug_vecs: Array<'_, f32>,
    prot_vecs: Array<'_, f32>,
    model: default!(&str, "'dti'"),
) -> Vec<f64> {
    let d = arrays::matrix("drug_vecs", drug_vecs).or_raise();
    let p = arrays::matrix("prot_vecs", prot_vecs).or_raise();
    let mut out = Vec::with_capacity(d.rows);
    run_chunked(model, true, d, p, |_, _, run| {
        out.extend(run.p_bind.iter().map(|&x| x as f64));
        Ok(())
    })
    .or_raise();
    out
}

/// The `k` ADRs ranked by the pair-conditioned scorer over the model's prototypes (masked ADRs never appear).
#[pg_extern(stable, strict, parallel_safe, cost = 2000)]
fn crag_topk_adr(
    drug_vec: Array<'_, f32>,
    prot_vec: Array<'_, f32>,
    k: default!(i32, 10),
    model: default!(&str, "'dti'"),
) -> TableIterator<
    'static,
    (
        name!(rank, i32),
        name!(adr_index, i32),
        name!(term, String),
        name!(score, f64),
        name!(joint_score, f64),
    ),
> {
    let k = positive_k(k).or_raise();
    let d = arrays::vector("drug_vec", drug_vec).or_raise();
    let p = arrays::vector("prot_vec", prot_vec).or_raise();
    let (dl, pl) = (d.len(), p.len());
    let mut rows = Vec::new();
    run_chunked(
        model,
        false,
        Matrix {
            rows: 1,
            cols: dl,
            data: d,
        },
        Matrix {
            rows: 1,
            cols: pl,
            data: p,
        },
        |m, off, run| topk_rows(m, off, &run, k, &mut rows),
    )
    .or_raise();
    TableIterator::new(rows.into_iter().map(|(_, r, i, t, s, j)| (r, i, t, s, j)))
}

/// Top-`k` ADRs for each row pair of two 2-D arrays; `pair` is the 1-based row number.
#[pg_extern(stable, strict, parallel_safe, cost = 20000)]
fn crag_topk_adr_batch(
    drug_vecs: Array<'_, f32>,
    prot_vecs: Array<'_, f32>,
    k: default!(i32, 10),
    model: default!(&str, "'dti'"),
) -> TableIterator<
    'static,
    (
        name!(pair, i32),
        name!(rank, i32),
        name!(adr_index, i32),
        name!(term, String),
        name!(score, f64),
        name!(joint_score, f64),
    ),
> {
    let k = positive_k(k).or_raise();
    let d = arrays::matrix("drug_vecs", drug_vecs).or_raise();
    let p = arrays::matrix("prot_vecs", prot_vecs).or_raise();
    let mut rows = Vec::new();
    run_chunked(model, true, d, p, |m, off, run| {
        topk_rows(m, off, &run, k, &mut rows)
    })
    .or_raise();
    TableIterator::new(rows)
}

//! SQL entry points for disproportionality signal detection: `crag_disproportionality` and `crag_signals`.

use crag_core::stats::{self, SignalInput, SignalOptions, Table2x2};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::error::{OrRaise, PgError, PgResult};

fn cell(name: &str, v: i64) -> PgResult<u64> {
    u64::try_from(v)
        .map_err(|_| PgError::invalid(format!("{name} must be a non-negative count, got {v}")))
}

/// PRR, ROR (95% CIs), Yates χ² and IC (with IC025/IC975) of one 2×2 table of report counts:
/// n11 = drug and event, n10 = drug without event, n01 = event without drug, n00 = neither.
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, strict, parallel_safe)]
fn crag_disproportionality(
    n11: i64,
    n10: i64,
    n01: i64,
    n00: i64,
) -> TableIterator<
    'static,
    (
        name!(n11, i64),
        name!(expected, f64),
        name!(prr, f64),
        name!(prr_lo, f64),
        name!(prr_hi, f64),
        name!(ror, f64),
        name!(ror_lo, f64),
        name!(ror_hi, f64),
        name!(chi2, f64),
        name!(ic, f64),
        name!(ic025, f64),
        name!(ic975, f64),
    ),
> {
    let t = (|| -> PgResult<Table2x2> {
        Ok(Table2x2::new(
            cell("n11", n11)?,
            cell("n10", n10)?,
            cell("n01", n01)?,
            cell("n00", n00)?,
        ))
    })()
    .or_raise();
    let m = stats::disproportionality(&t).or_raise();
    TableIterator::once((
        m.n11 as i64,
        m.expected,
        m.prr,
        m.prr_lo,
        m.prr_hi,
        m.ror,
        m.ror_lo,
        m.ror_hi,
        m.chi2,
        m.ic,
        m.ic025,
        m.ic975,
    ))
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Build the row query over a relation name or a query text.
fn source_query(
    source: &str,
    report: &str,
    drug: &str,
    event: &str,
    strata: &[String],
) -> PgResult<String> {
    let head = source.trim_start().to_ascii_lowercase();
    let is_query = ["select", "with", "values", "table", "("]
        .iter()
        .any(|k| head.starts_with(k));
    let from = if is_query {
        format!("({source}) AS crag_src")
    } else {
        // Re-quote through regclass so schema-qualified and quoted names work.
        Spi::get_one_with_args::<String>("SELECT to_regclass($1)::text", &[source.into()])?
            .ok_or_else(|| {
                PgError::new(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                    format!("source \"{source}\" is not a table, a view or a SELECT query"),
                )
            })?
    };
    let stratum = if strata.is_empty() {
        "NULL::text".to_string()
    } else {
        let cols: Vec<String> = strata
            .iter()
            .map(|s| format!("coalesce({}::text, '')", ident(s)))
            .collect();
        format!("concat_ws('|', {})", cols.join(", "))
    };
    Ok(format!(
        "SELECT hashtextextended({r}::text, 0), {d}::text, {e}::text, {stratum} FROM {from} \
         WHERE {r} IS NOT NULL AND {d} IS NOT NULL AND {e} IS NOT NULL",
        r = ident(report),
        d = ident(drug),
        e = ident(event),
    ))
}

fn read_rows(query: &str) -> PgResult<SignalInput> {
    Spi::connect(|client| -> PgResult<SignalInput> {
        let mut input = SignalInput::new();
        let mut cursor = client.open_cursor(query, &[]);
        loop {
            pgrx::check_for_interrupts!();
            let batch = cursor.fetch(10_000)?;
            if batch.is_empty() {
                break;
            }
            for row in batch {
                let report = row.get::<i64>(1)?.unwrap_or_default();
                let drug = row.get::<&str>(2)?.unwrap_or_default();
                let event = row.get::<&str>(3)?.unwrap_or_default();
                let stratum = row.get::<&str>(4)?;
                input.push(report, drug, event, stratum)?;
            }
            // pgrx keeps every fetched SPI tuple table until SPI_finish; free each batch so memory stays flat.
            // SAFETY: `batch` has been consumed above and SPI_tuptable is the table it wrapped.
            unsafe { pgrx::pg_sys::SPI_freetuptable(pgrx::pg_sys::SPI_tuptable) };
        }
        Ok(input)
    })
}

/// Disproportionality of every drug–event pair in `source` (a table/view name or a SELECT), counting distinct
/// reports: PRR/ROR with CIs (Mantel–Haenszel when `strata` are given), Yates χ², IC, EBGM/EB05/EB95 from a
/// two-component gamma-mixture prior fitted over all pairs, BH q-values and the standard signal flags.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_restricted)]
fn crag_signals(
    source: &str,
    report_col: default!(&str, "'report_id'"),
    drug_col: default!(&str, "'drug'"),
    event_col: default!(&str, "'event'"),
    strata: default!(Option<Vec<String>>, "NULL"),
    min_count: default!(i32, 3),
) -> TableIterator<
    'static,
    (
        name!(drug, String),
        name!(event, String),
        name!(n11, i64),
        name!(expected, f64),
        name!(prr, f64),
        name!(prr_lo, f64),
        name!(prr_hi, f64),
        name!(ror, f64),
        name!(ror_lo, f64),
        name!(ror_hi, f64),
        name!(chi2, f64),
        name!(ic, f64),
        name!(ic025, f64),
        name!(ebgm, f64),
        name!(eb05, f64),
        name!(eb95, f64),
        name!(q_value, f64),
        name!(flags, Vec<String>),
    ),
> {
    if min_count < 1 {
        PgError::invalid(format!("min_count must be at least 1, got {min_count}")).raise();
    }
    let query = source_query(
        source,
        report_col,
        drug_col,
        event_col,
        &strata.unwrap_or_default(),
    )
    .or_raise();
    let input = read_rows(&query).or_raise();
    if input.is_empty() {
        return TableIterator::new(Vec::new());
    }
    let opts = SignalOptions {
        min_count: min_count as u64,
        ..SignalOptions::default()
    };
    let report = stats::detect_signals(input, opts).or_raise();
    let f = &report.fit;
    pgrx::notice!(
        "crag_signals: {} reports, {} pairs, {} strata; GPS prior alpha1={:.4} beta1={:.4} alpha2={:.4} beta2={:.4} \
         p={:.4}, log-likelihood {:.3}, {} after {} iterations",
        report.n_reports,
        report.n_pairs,
        report.n_strata,
        f.alpha1,
        f.beta1,
        f.alpha2,
        f.beta2,
        f.p,
        f.log_likelihood,
        if f.converged { "converged" } else { "NOT converged" },
        f.iterations
    );
    TableIterator::new(report.rows.into_iter().map(|r| {
        (
            r.drug,
            r.event,
            r.n11 as i64,
            r.expected,
            r.prr,
            r.prr_lo,
            r.prr_hi,
            r.ror,
            r.ror_lo,
            r.ror_hi,
            r.chi2,
            r.ic,
            r.ic025,
            r.ebgm,
            r.eb05,
            r.eb95,
            r.q_value,
            r.flags,
        )
    }))
}

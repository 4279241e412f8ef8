//! Publishing a trained model into a CRAG database: one transaction, a new version, optionally activated.

use crag_core::artifacts::ModelArtifacts;
use crag_core::{CragError, Result};
use postgres::{Client, NoTls};

fn db<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> CragError {
    move |e| CragError::Runtime(format!("{what}: {e}"))
}

/// Insert `art` into the `crag` registry at `url` (e.g. `postgres://postgres@/crag_demo?host=/var/run/postgresql`).
///
/// The model, its config and metrics, ADR terms and prototypes go in one transaction through the extension's own
/// `crag.register_model` / `crag.set_adr_vocabulary`, so a failure leaves the registry untouched. Publishing the same
/// ONNX bytes with the same config twice returns the existing version. Returns the version.
pub fn publish(url: &str, art: &ModelArtifacts, activate: bool) -> Result<i32> {
    art.validate()?;
    let mut client = Client::connect(url, NoTls).map_err(db("connecting to the database"))?;
    let mut tx = client.transaction().map_err(db("starting a transaction"))?;
    let name = art.meta.name.as_str();
    let existing: Option<i32> = tx
        .query_one(
            "SELECT max(version) FROM crag.models WHERE name = $1 AND sha256 = $2 AND config = $3",
            &[&name, &art.sha256(), &art.meta.config],
        )
        .map_err(db(
            "looking up the model (is the crag extension installed?)",
        ))?
        .get(0);
    let version = match existing {
        Some(v) => v,
        None => {
            let v: i32 = tx
                .query_one(
                    "SELECT crag.register_model($1, $2, $3, $4, $5, $6, false)",
                    &[
                        &name,
                        &art.meta.kind,
                        &art.onnx,
                        &art.meta.config,
                        &art.meta.metrics,
                        &art.tokenizer,
                    ],
                )
                .map_err(db("crag.register_model"))?
                .get(0);
            if let Some((_, d, data)) = &art.prototypes {
                let terms: Vec<&str> = art.adr_terms.iter().map(|t| t.term.as_str()).collect();
                let ids: Vec<&str> = art
                    .adr_terms
                    .iter()
                    .map(|t| t.meddra_id.as_deref().unwrap_or(""))
                    .collect();
                tx.execute(
                    "SELECT crag.set_adr_vocabulary($1, $2, $3, $4, $5, $6)",
                    &[&name, &v, &terms, &ids, data, &(*d as i32)],
                )
                .map_err(db("crag.set_adr_vocabulary"))?;
            }
            v
        }
    };
    if activate {
        tx.execute("SELECT crag.activate_model($1, $2)", &[&name, &version])
            .map_err(db("crag.activate_model"))?;
    }
    tx.commit().map_err(db("committing"))?;
    Ok(version)
}

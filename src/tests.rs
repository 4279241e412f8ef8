// `#[pg_test]`s: type mapping, SQLSTATEs, the registry and version switching, against tiny seeded models built
// on the fly with crag-core's exporter, compared with crag-core's ndarray reference.

use crag_core::artifacts::{seeded_dti, AdrTerm};
use crag_core::dti::{self, DtiConfig, DtiHead, PairScorer, Prototypes};
use crag_core::weights::Weights;
use ndarray::Array2;
use pgrx::prelude::*;

use crate::registry::import_artifacts;

fn cfg(head: DtiHead) -> DtiConfig {
    DtiConfig {
        drug_dim: 6,
        prot_dim: 5,
        n_adr: 12,
        d: 4,
        hidden_ratio: 2,
        head,
        ln_eps: 1e-5,
        precision: Default::default(),
    }
}

fn terms(k: usize) -> Vec<AdrTerm> {
    (0..k)
        .map(|i| AdrTerm {
            adr_index: i,
            term: format!("adr {i:02}"),
            meddra_id: Some(format!("C{i:07}")),
        })
        .collect()
}

/// Register a seeded model under `name`; returns its version, weights and artefacts.
fn install(
    name: &str,
    head: DtiHead,
    seed: u64,
    activate: bool,
) -> (i32, Weights, crag_core::artifacts::ModelArtifacts) {
    let c = cfg(head);
    let (art, w) = seeded_dti(name, &c, seed, terms(c.n_adr), 3).unwrap();
    let v = import_artifacts(&art, activate).unwrap_or_else(|e| panic!("import failed: {e:?}"));
    (v, w, art)
}

const DRUG: [f32; 6] = [0.1, -0.4, 0.9, 0.0, 1.5, -2.0];
const PROT: [f32; 5] = [0.3, 0.3, -0.7, 1.1, 0.05];

fn sql_vec(v: &[f32]) -> String {
    format!(
        "ARRAY[{}]::real[]",
        v.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn reference_p_bind(head: DtiHead, w: &Weights) -> f64 {
    let c = cfg(head);
    let d = Array2::from_shape_vec((1, 6), DRUG.to_vec()).unwrap();
    let p = Array2::from_shape_vec((1, 5), PROT.to_vec()).unwrap();
    dti::reference_forward(&c, w, d.view(), p.view())
        .unwrap()
        .p_bind[0] as f64
}

fn call_dti(model: &str) -> f64 {
    Spi::get_one::<f64>(&format!(
        "SELECT crag.crag_dti({}, {}, '{model}')",
        sql_vec(&DRUG),
        sql_vec(&PROT)
    ))
    .unwrap()
    .unwrap()
}

/// `SQLSTATE: message` of the error `query` raises, or None.
fn sqlstate_of(query: &str) -> Option<String> {
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$ \
         BEGIN EXECUTE q; RETURN NULL; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$",
    )
    .unwrap();
    Spi::get_one_with_args::<String>("SELECT pg_temp.sqlstate_of($1)", &[query.into()]).unwrap()
}

#[pg_test]
fn crag_dti_equals_reference_for_both_heads() {
    for (name, head) in [
        ("dti", DtiHead::Cosine),
        ("dti_bilinear", DtiHead::Bilinear),
    ] {
        let (_, w, _) = install(name, head, 7, true);
        let got = call_dti(name);
        let want = reference_p_bind(head, &w);
        assert!(
            (got - want).abs() < 1e-5,
            "{name}: {got} vs reference {want}"
        );
    }
}

#[pg_test]
fn crag_topk_adr_matches_pair_scorer_and_masks() {
    let (_, w, art) = install("dti", DtiHead::Cosine, 9, true);
    let c = cfg(DtiHead::Cosine);
    let d = Array2::from_shape_vec((1, 6), DRUG.to_vec()).unwrap();
    let p = Array2::from_shape_vec((1, 5), PROT.to_vec()).unwrap();
    let out = dti::reference_forward(&c, &w, d.view(), p.view()).unwrap();
    let (k, dd, data) = art.prototypes.clone().unwrap();
    let protos = Prototypes::from_rows(
        k,
        dd,
        (0..k).map(|i| (i, Some(data[i * dd..(i + 1) * dd].to_vec()))),
    )
    .unwrap();
    let scorer = PairScorer {
        alpha: 1.0,
        beta: 1.0,
        gamma: 0.5,
    };
    let want = dti::top_k_adr(
        &scorer,
        out.u.row(0).as_slice().unwrap(),
        out.v.row(0).as_slice().unwrap(),
        out.p_bind[0],
        &protos,
        20,
    )
    .unwrap();
    assert_eq!(want.len(), 8, "12 ADRs, every third masked");

    let rows: Vec<(i32, i32, String, f64, f64)> = Spi::connect(|c| {
        c.select(
            &format!(
                "SELECT * FROM crag.crag_topk_adr({}, {}, 20)",
                sql_vec(&DRUG),
                sql_vec(&PROT)
            ),
            None,
            &[],
        )
        .unwrap()
        .map(|r| {
            (
                r.get::<i32>(1).unwrap().unwrap(),
                r.get::<i32>(2).unwrap().unwrap(),
                r.get::<String>(3).unwrap().unwrap(),
                r.get::<f64>(4).unwrap().unwrap(),
                r.get::<f64>(5).unwrap().unwrap(),
            )
        })
        .collect()
    });
    assert_eq!(rows.len(), want.len());
    for (row, w) in rows.iter().zip(&want) {
        assert_eq!(row.0 as usize, w.rank);
        assert_eq!(row.1 as usize, w.adr_index);
        assert_eq!(row.2, format!("adr {:02}", w.adr_index));
        assert!((row.3 - w.score as f64).abs() < 1e-5);
        assert!((row.4 - w.joint_score as f64).abs() < 1e-5);
        assert!(row.1 % 3 != 2, "masked ADR {} returned", row.1);
    }
    let n3 = Spi::get_one::<i64>(&format!(
        "SELECT count(*) FROM crag.crag_topk_adr({}, {}, 3)",
        sql_vec(&DRUG),
        sql_vec(&PROT)
    ));
    assert_eq!(n3.unwrap(), Some(3));
}

#[pg_test]
fn batch_forms_equal_row_forms() {
    install("dti", DtiHead::Bilinear, 4, true);
    Spi::run(
        "CREATE TEMP TABLE pairs AS SELECT i AS id, \
           ARRAY(SELECT sin(i * 7 + j)::real FROM generate_series(1, 6) j) AS d, \
           ARRAY(SELECT cos(i * 3 + j)::real FROM generate_series(1, 5) j) AS p \
         FROM generate_series(1, 25) i",
    )
    .unwrap();
    Spi::run("SET crag.batch_size = 4").unwrap();
    let mismatches = Spi::get_one::<i64>(
        "WITH b AS (SELECT crag.crag_dti_batch(array_agg(d ORDER BY id), array_agg(p ORDER BY id)) AS probs FROM pairs), \
              u AS (SELECT x.prob, x.ord::int AS id FROM b, unnest(b.probs) WITH ORDINALITY x(prob, ord)) \
         SELECT count(*) FROM pairs JOIN u USING (id) WHERE abs(crag.crag_dti(d, p) - u.prob) > 1e-6",
    )
    .unwrap();
    assert_eq!(mismatches, Some(0));
    let n = Spi::get_one::<i64>("SELECT count(*) FROM crag.crag_topk_adr_batch((SELECT array_agg(d ORDER BY id) FROM pairs), (SELECT array_agg(p ORDER BY id) FROM pairs), 2)");
    assert_eq!(n.unwrap(), Some(50));
    let diff = Spi::get_one::<i64>(
        "SELECT count(*) FROM crag.crag_topk_adr_batch((SELECT array_agg(d ORDER BY id) FROM pairs), (SELECT array_agg(p ORDER BY id) FROM pairs), 3) b \
         JOIN pairs ON pairs.id = b.pair \
         LEFT JOIN LATERAL crag.crag_topk_adr(pairs.d, pairs.p, 3) s ON s.rank = b.rank \
         WHERE s.adr_index IS DISTINCT FROM b.adr_index OR abs(s.score - b.score) > 1e-6",
    );
    assert_eq!(diff.unwrap(), Some(0));
}

#[pg_test]
fn version_switch_and_rollback_follow_the_active_version_in_one_backend() {
    let (v1, w1, _) = install("dti", DtiHead::Cosine, 1, true);
    let first = call_dti("dti");
    assert!((first - reference_p_bind(DtiHead::Cosine, &w1)).abs() < 1e-5);
    let (v2, w2, _) = install("dti", DtiHead::Cosine, 2, false);
    assert_eq!((v1, v2), (1, 2));
    assert!(
        (call_dti("dti") - first).abs() < 1e-12,
        "registering without activation changes nothing"
    );
    Spi::run("SELECT crag.activate_model('dti', 2)").unwrap();
    let second = call_dti("dti");
    assert!((second - reference_p_bind(DtiHead::Cosine, &w2)).abs() < 1e-5);
    assert!(
        (second - first).abs() > 1e-6,
        "different seeds give different models"
    );
    assert_eq!(
        Spi::get_one::<i32>("SELECT crag.rollback_model('dti')").unwrap(),
        Some(1)
    );
    assert!((call_dti("dti") - first).abs() < 1e-12);
    assert_eq!(
        Spi::get_one::<i64>("SELECT count(*) FROM crag.models WHERE name = 'dti' AND active")
            .unwrap(),
        Some(1)
    );
    // Re-importing identical bytes reuses the version.
    let (again, _, _) = install("dti", DtiHead::Cosine, 2, false);
    assert_eq!(again, 2);
}

#[pg_test]
fn bad_input_gets_specific_sqlstates() {
    install("dti", DtiHead::Cosine, 3, true);
    let short = sqlstate_of(&format!(
        "SELECT crag.crag_dti(ARRAY[1,2]::real[], {})",
        sql_vec(&PROT)
    ))
    .unwrap();
    assert_eq!(
        short,
        "22023: crag: drug_vec has 2 elements, but model \"dti\" expects 6"
    );
    let nan = sqlstate_of(&format!(
        "SELECT crag.crag_dti(ARRAY[1,2,'NaN',4,5,6]::real[], {})",
        sql_vec(&PROT)
    ))
    .unwrap();
    assert_eq!(
        nan,
        "22023: crag: drug_vec[3] is NaN; CRAG needs finite values"
    );
    let inf = sqlstate_of(&format!(
        "SELECT crag.crag_dti({}, ARRAY[1,2,3,4,'Infinity']::real[])",
        sql_vec(&DRUG)
    ))
    .unwrap();
    assert!(inf.starts_with("22023: crag: prot_vec[5] is inf"), "{inf}");
    let null = sqlstate_of(&format!(
        "SELECT crag.crag_dti(ARRAY[1,2,NULL,4,5,6]::real[], {})",
        sql_vec(&PROT)
    ))
    .unwrap();
    assert_eq!(null, "22004: crag: drug_vec contains NULL elements");
    let unknown = sqlstate_of(&format!(
        "SELECT crag.crag_dti({}, {}, 'nope')",
        sql_vec(&DRUG),
        sql_vec(&PROT)
    ))
    .unwrap();
    assert_eq!(unknown, "42704: crag: model \"nope\" does not exist");
    let k0 = sqlstate_of(&format!(
        "SELECT * FROM crag.crag_topk_adr({}, {}, 0)",
        sql_vec(&DRUG),
        sql_vec(&PROT)
    ))
    .unwrap();
    assert_eq!(k0, "22023: crag: k must be positive, got 0");
    let rows = sqlstate_of(&format!(
        "SELECT crag.crag_dti_batch(ARRAY[{0},{0}], ARRAY[{1}])",
        sql_vec(&DRUG),
        sql_vec(&PROT)
    ))
    .unwrap();
    assert!(
        rows.starts_with("22023: crag: drug_vecs has 2 rows but prot_vecs has 1"),
        "{rows}"
    );
    let row2 = sqlstate_of(&format!(
        "SELECT crag.crag_dti_batch(ARRAY[{0},{0}], ARRAY[{1}, ARRAY[0,0,0,0,'NaN']::real[]])",
        sql_vec(&DRUG),
        sql_vec(&PROT)
    ))
    .unwrap();
    assert!(
        row2.starts_with("22023: crag: prot_vecs[2][5] is NaN"),
        "{row2}"
    );
    // STRICT: NULL in, NULL out.
    assert_eq!(
        Spi::get_one::<f64>(&format!("SELECT crag.crag_dti(NULL, {})", sql_vec(&PROT))).unwrap(),
        None
    );
    // The model survives all of the above.
    assert!(call_dti("dti").is_finite());
}

#[pg_test]
fn unknown_model_error_lists_registered_models() {
    install("dti", DtiHead::Cosine, 3, true);
    install("dti_b", DtiHead::Bilinear, 3, false);
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.detail_of(q text) RETURNS text LANGUAGE plpgsql AS $$ \
         DECLARE d text; BEGIN EXECUTE q; RETURN NULL; \
         EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL; RETURN d; END $$",
    )
    .unwrap();
    let detail = Spi::get_one::<String>(
        "SELECT pg_temp.detail_of('SELECT crag.crag_dti(ARRAY[0,0,0,0,0,0]::real[], ARRAY[0,0,0,0,0]::real[], ''nope'')')",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        detail,
        "Registered models: dti (active version 1), dti_b (no active version)."
    );
    let inactive = sqlstate_of(
        "SELECT crag.crag_dti(ARRAY[0,0,0,0,0,0]::real[], ARRAY[0,0,0,0,0]::real[], 'dti_b')",
    )
    .unwrap();
    assert_eq!(
        inactive,
        "55000: crag: model \"dti_b\" has no active version"
    );
}

#[pg_test]
fn registry_rules() {
    let (v, _, _) = install("dti", DtiHead::Cosine, 5, true);
    assert_eq!(v, 1);
    let active = sqlstate_of("SELECT crag.drop_model('dti', 1)").unwrap();
    assert!(active.starts_with("55006"), "{active}");
    let nov = sqlstate_of("SELECT crag.activate_model('dti', 9)").unwrap();
    assert!(
        nov.starts_with("42704: crag: model \"dti\" has no version 9"),
        "{nov}"
    );
    let norb = sqlstate_of("SELECT crag.rollback_model('dti')").unwrap();
    assert!(norb.starts_with("55000"), "{norb}");
    let badsha = sqlstate_of("UPDATE crag.models SET sha256 = repeat('0', 64)").unwrap();
    assert!(
        badsha.starts_with("23514"),
        "stored sha256 must match the bytes: {badsha}"
    );
    let two = sqlstate_of("INSERT INTO crag.models (name, version, kind, onnx, sha256, active) \
                           SELECT name, 2, kind, onnx, sha256, true FROM crag.models WHERE name = 'dti'")
    .unwrap();
    assert!(two.starts_with("23505"), "two active versions: {two}");
    let overview =
        Spi::get_one::<i64>("SELECT adr_prototypes FROM crag.models_overview WHERE name = 'dti'");
    assert_eq!(overview.unwrap(), Some(8));
}

#[pg_test]
fn readers_need_no_superuser_and_cannot_write() {
    install("dti", DtiHead::Cosine, 6, true);
    Spi::run("CREATE ROLE crag_reader NOLOGIN").unwrap();
    Spi::run("SET ROLE crag_reader").unwrap();
    let p = call_dti("dti");
    assert!((0.0..=1.0).contains(&p));
    let denied = sqlstate_of("SELECT crag.activate_model('dti', 1)").unwrap();
    assert!(denied.starts_with("42501"), "{denied}");
    let denied = sqlstate_of("DELETE FROM crag.models").unwrap();
    assert!(denied.starts_with("42501"), "{denied}");
    let denied = sqlstate_of("SELECT crag.import_model('/tmp')").unwrap();
    assert!(denied.starts_with("42501"), "{denied}");
    Spi::run("RESET ROLE").unwrap();
}

#[pg_test]
fn import_model_reports_missing_directories() {
    let e = sqlstate_of("SELECT crag.import_model('/nonexistent/crag-model')").unwrap();
    assert_eq!(
        e,
        "58P01: crag: model directory /nonexistent/crag-model: no such directory"
    );
}

#[pg_test]
fn reimport_reuses_a_version_only_for_the_same_onnx_and_config() {
    let (mut art, _, _) =
        crag_core::artifacts::seeded_ner("ner_reimport", &minilm_tokenizer(), tiny_encoder(), 16, 3)
            .unwrap();
    let v1 = import_artifacts(&art, true).unwrap();
    assert_eq!(import_artifacts(&art, true).unwrap(), v1, "same bytes, same config");
    // Same ONNX bytes, another refinement setting: a new version, so stored models never change under users.
    let mut cfg = crag_core::ner::model::NerConfig::from_json(&art.meta.config).unwrap();
    cfg.refine.min_score = 0.5;
    art.meta.config = cfg.to_json();
    let v2 = import_artifacts(&art, true).unwrap();
    assert_eq!(v2, v1 + 1);
    assert_eq!(import_artifacts(&art, true).unwrap(), v2);
    let stored = Spi::get_one::<f64>(&format!(
        "SELECT (config->'refine'->>'min_score')::float8 FROM crag.models WHERE name = 'ner_reimport' AND version = {v1}"
    ))
    .unwrap()
    .unwrap();
    assert_eq!(stored, 0.0, "the first version keeps its config");
}

#[pg_test]
fn kind_mismatch_is_rejected() {
    let c = cfg(DtiHead::Cosine);
    let (mut art, _) = seeded_dti("rel", &c, 1, terms(c.n_adr), 0).unwrap();
    art.meta.kind = "relation".into();
    art.adr_terms.clear();
    art.prototypes = None;
    import_artifacts(&art, true).unwrap();
    let e = sqlstate_of(&format!(
        "SELECT crag.crag_dti({}, {}, 'rel')",
        sql_vec(&DRUG),
        sql_vec(&PROT)
    ))
    .unwrap();
    assert_eq!(
        e,
        "22023: crag: model \"rel\" is a relation model; this function needs a dti_adr model"
    );
}

/// The MiniLM tokenizer installed by scripts/setup-minilm.sh (the relation tests need a real word-piece vocabulary).
fn minilm_tokenizer() -> Vec<u8> {
    let dir = std::env::var("CRAG_MINILM_DIR").unwrap_or_else(|_| "/opt/crag/minilm".into());
    std::fs::read(format!("{dir}/tokenizer.json"))
        .unwrap_or_else(|e| panic!("{dir}/tokenizer.json: {e}; run scripts/setup-minilm.sh"))
}

fn tiny_encoder() -> crag_core::bert::BertConfig {
    crag_core::bert::BertConfig {
        vocab_size: 0,
        hidden_size: 16,
        num_layers: 1,
        num_heads: 2,
        intermediate_size: 32,
        max_position: 64,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
    }
}

/// Register a seeded relation model (max_len 24) under `name`; returns its weights, config and tokenizer.
fn install_relation(
    name: &str,
    seed: u64,
) -> (
    Weights,
    crag_core::relation::RelationConfig,
    crag_core::text::TextTokenizer,
) {
    let (art, w, cfg) = crag_core::artifacts::seeded_relation(
        name,
        &minilm_tokenizer(),
        tiny_encoder(),
        24,
        seed,
    )
    .unwrap();
    import_artifacts(&art, true).unwrap_or_else(|e| panic!("import failed: {e:?}"));
    let tok =
        crag_core::text::TextTokenizer::from_bytes(art.tokenizer.as_ref().unwrap(), 24).unwrap();
    (w, cfg, tok)
}

fn reference_score(
    cfg: &crag_core::relation::RelationConfig,
    w: &Weights,
    tok: &crag_core::text::TextTokenizer,
    drug: &str,
    adr: &str,
) -> f64 {
    let d = tok.encode_batch(&[drug]).unwrap();
    let a = tok.encode_batch(&[adr]).unwrap();
    crag_core::relation::reference_forward(cfg, w, &d, &a).unwrap()[0] as f64
}

const DRUG_CTX: &str = "Ototoxicity after intravenous [DRUG]azithromycin[/DRUG].";
const ADR_CTX: &str = "[ADR]Ototoxicity[/ADR] after intravenous azithromycin.";

#[pg_test]
fn crag_score_equals_reference_and_forms_agree() {
    let (w, cfg, tok) = install_relation("relation", 5);
    let want = reference_score(&cfg, &w, &tok, DRUG_CTX, ADR_CTX);
    let got = Spi::get_one_with_args::<f64>(
        "SELECT crag.crag_score($1, $2)",
        &[DRUG_CTX.into(), ADR_CTX.into()],
    )
    .unwrap()
    .unwrap();
    assert!((got - want).abs() < 1e-5, "crag_score {got} vs reference {want}");
    // The sentence form marks the mentions itself.
    let s = Spi::get_one::<f64>(
        "SELECT crag.crag_score_sentence('Ototoxicity after intravenous azithromycin.', 'AZITHROMYCIN', 'ototoxicity')",
    )
    .unwrap()
    .unwrap();
    assert!((s - want).abs() < 1e-5, "crag_score_sentence {s} vs {want}");
    // A long text is truncated to max_len tokens, not rejected.
    let long = format!("{DRUG_CTX} {}", "and then some more words ".repeat(40));
    let p_long = Spi::get_one_with_args::<f64>(
        "SELECT crag.crag_score($1, $2)",
        &[long.as_str().into(), ADR_CTX.into()],
    )
    .unwrap()
    .unwrap();
    let want_long = reference_score(&cfg, &w, &tok, &long, ADR_CTX);
    assert!((p_long - want_long).abs() < 1e-5);
    // Batch forms: same numbers in input order across several session calls, NULL in → NULL out.
    Spi::run("SET crag.batch_size = 2").unwrap();
    let batch = Spi::get_one::<Vec<Option<f64>>>(&format!(
        "SELECT crag.crag_score_batch(ARRAY['{DRUG_CTX}', NULL, 'Rash with [DRUG]amoxicillin[/DRUG].', '{DRUG_CTX}'], \
         ARRAY['{ADR_CTX}', 'x', '[ADR]Rash[/ADR] with amoxicillin.', 'Severe [ADR]rash[/ADR].'])"
    ))
    .unwrap()
    .unwrap();
    assert_eq!(batch.len(), 4);
    assert!((batch[0].unwrap() - want).abs() < 1e-5);
    assert_eq!(batch[1], None);
    let r2 = reference_score(
        &cfg,
        &w,
        &tok,
        "Rash with [DRUG]amoxicillin[/DRUG].",
        "[ADR]Rash[/ADR] with amoxicillin.",
    );
    let r3 = reference_score(&cfg, &w, &tok, DRUG_CTX, "Severe [ADR]rash[/ADR].");
    assert!((batch[2].unwrap() - r2).abs() < 1e-5);
    assert!((batch[3].unwrap() - r3).abs() < 1e-5);
    let sb = Spi::get_one::<Vec<Option<f64>>>(
        "SELECT crag.crag_score_sentence_batch(ARRAY['Ototoxicity after intravenous azithromycin.', 'Rash with amoxicillin.'], \
         ARRAY['azithromycin', 'amoxicillin'], ARRAY['ototoxicity', 'rash'])",
    )
    .unwrap()
    .unwrap();
    assert!((sb[0].unwrap() - want).abs() < 1e-5);
    assert!((sb[1].unwrap() - r2).abs() < 1e-5);
    Spi::run("RESET crag.batch_size").unwrap();
}

#[pg_test]
fn crag_score_bad_input_gets_clear_errors() {
    install_relation("relation", 6);
    let cases = [
        (
            "SELECT crag.crag_score('  ', 'rash')",
            "22023: crag: drug_text is empty",
        ),
        (
            "SELECT crag.crag_score_sentence('Rash with amoxicillin.', 'aspirin', 'rash')",
            "22023: crag: drug \"aspirin\" does not occur in the sentence",
        ),
        (
            "SELECT crag.crag_score_sentence('Rash with amoxicillin.', 'amoxicillin', 'fever')",
            "22023: crag: adr \"fever\" does not occur in the sentence",
        ),
        (
            "SELECT crag.crag_score_batch(ARRAY['a'], ARRAY['b', 'c'])",
            "22023: crag: array lengths differ: drug_texts has 1, adr_texts has 2; elements are paired by position",
        ),
        (
            "SELECT crag.crag_score_batch(ARRAY['a', ''], ARRAY['b', 'c'])",
            "22023: crag: drug_texts[2] is empty",
        ),
        (
            "SELECT crag.crag_score_sentence_batch(ARRAY['Rash with amoxicillin.'], ARRAY['amoxicillin'], ARRAY['itch'])",
            "22023: crag: adrs[1] \"itch\" does not occur in the sentence",
        ),
        (
            "SELECT crag.crag_score('a', 'b', 'nope')",
            "42704: crag: model \"nope\" does not exist",
        ),
    ];
    for (q, want) in cases {
        assert_eq!(sqlstate_of(q).as_deref(), Some(want), "{q}");
    }
    assert_eq!(
        Spi::get_one::<f64>("SELECT crag.crag_score(NULL, 'rash')").unwrap(),
        None,
        "strict: NULL in, NULL out"
    );
    // A relation model whose tokenizer went missing is reported as corrupt, and the backend keeps working.
    Spi::run("UPDATE crag.models SET tokenizer = NULL WHERE name = 'relation'").unwrap();
    Spi::run("SELECT crag.register_model('relation2', 'relation', onnx, config, '{}', NULL, true) FROM crag.models WHERE name = 'relation'").unwrap();
    let e = sqlstate_of("SELECT crag.crag_score('a', 'b', 'relation2')").unwrap();
    assert!(e.starts_with("XX001: crag: relation model relation2 v1 has no tokenizer"), "{e}");
    let e = sqlstate_of("SELECT crag.crag_dti(ARRAY[1]::real[], ARRAY[1]::real[], 'relation2')").unwrap();
    assert!(e.contains("is a relation model; this function needs a dti_adr model"), "{e}");
}

/// Register a seeded NER model (max_len 16, so texts span several windows) under `name`; returns its weights,
/// config and tokenizer.
fn install_ner(
    name: &str,
    seed: u64,
) -> (
    Weights,
    crag_core::ner::model::NerConfig,
    crag_core::text::TextTokenizer,
) {
    let (art, w, cfg) =
        crag_core::artifacts::seeded_ner(name, &minilm_tokenizer(), tiny_encoder(), 16, seed)
            .unwrap();
    import_artifacts(&art, true).unwrap_or_else(|e| panic!("import failed: {e:?}"));
    let tok =
        crag_core::text::TextTokenizer::from_bytes_plain(art.tokenizer.as_ref().unwrap(), 16)
            .unwrap();
    (w, cfg, tok)
}

/// `(start, end, type, mention, score)` rows of a query over crag_extract_entities(_batch), via jsonb.
fn ner_rows(query: &str, text: &str) -> Vec<(i64, i64, String, String, f64, i64)> {
    let q = format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY {}start_pos), '[]') FROM ({query}) t",
        if query.contains("_batch") { "doc, " } else { "" }
    );
    let j = Spi::get_one_with_args::<pgrx::JsonB>(&q, &[text.into()])
        .unwrap()
        .unwrap()
        .0;
    j.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["start_pos"].as_i64().unwrap(),
                r["end_pos"].as_i64().unwrap(),
                r["entity_type"].as_str().unwrap().to_string(),
                r["mention"].as_str().unwrap().to_string(),
                r["score"].as_f64().unwrap(),
                r.get("doc").and_then(|d| d.as_i64()).unwrap_or(1),
            )
        })
        .collect()
}

fn ner_reference(
    cfg: &crag_core::ner::model::NerConfig,
    w: &Weights,
    tok: &crag_core::text::TextTokenizer,
    text: &str,
) -> Vec<crag_core::ner::tagging::Mention> {
    crag_core::ner::tagging::extract(tok, cfg, &[text], 4, |i, m, b, l| {
        crag_core::ner::model::reference_forward(cfg, w, i, m, b, l)
    })
    .unwrap()
    .remove(0)
}

const NER_TEXT: &str = "A 54-year-old woman developed severe hyponatremia while taking carbamazepine for trigeminal \
     neuralgia; sodium returned to normal after the drug was stopped and fluids were given.";

#[pg_test]
fn crag_extract_entities_equals_reference_decoding() {
    let (w, cfg, tok) = install_ner("ner", 7);
    let want = ner_reference(&cfg, &w, &tok, NER_TEXT);
    assert!(!want.is_empty(), "a seeded model tags something");
    Spi::run("SET crag.batch_size = 2").unwrap();
    let got = ner_rows("SELECT * FROM crag.crag_extract_entities($1)", NER_TEXT);
    assert_eq!(got.len(), want.len());
    for (g, m) in got.iter().zip(&want) {
        assert_eq!((g.0, g.1), (m.start as i64, m.end as i64));
        assert_eq!(g.2, m.entity_type.to_string());
        assert_eq!(g.3, m.text);
        assert!((g.4 - m.score).abs() < 1e-4, "score {} vs {}", g.4, m.score);
    }
    // The batch form gives the same rows per document; NULL elements give none.
    let batch = ner_rows(
        "SELECT * FROM crag.crag_extract_entities_batch(ARRAY[$1, NULL, 'Rash with amoxicillin.'])",
        NER_TEXT,
    );
    let first: Vec<_> = batch.iter().filter(|r| r.5 == 1).map(|r| (r.0, r.1, r.2.clone())).collect();
    let row: Vec<_> = got.iter().map(|r| (r.0, r.1, r.2.clone())).collect();
    assert_eq!(first, row);
    assert!(batch.iter().all(|r| r.5 == 1 || r.5 == 3));
    let third = ner_reference(&cfg, &w, &tok, "Rash with amoxicillin.");
    assert_eq!(batch.iter().filter(|r| r.5 == 3).count(), third.len());
    Spi::run("RESET crag.batch_size").unwrap();
}

#[pg_test]
fn crag_extract_entities_offsets_are_char_offsets() {
    install_ner("ner", 8);
    let text = "Fièvre 🤒 après β-bloquant chez une patiente âgée; hépatite et éruption cutanée 😀 sous amoxicilline.";
    let rows = ner_rows("SELECT * FROM crag.crag_extract_entities($1)", text);
    assert!(!rows.is_empty());
    for r in &rows {
        let s: String = text
            .chars()
            .skip(r.0 as usize)
            .take((r.1 - r.0) as usize)
            .collect();
        assert_eq!(s, r.3);
    }
    let ok = Spi::get_one_with_args::<bool>(
        "SELECT bool_and(substr($1, start_pos + 1, end_pos - start_pos) = mention) \
         FROM crag.crag_extract_entities($1)",
        &[text.into()],
    )
    .unwrap();
    assert_eq!(ok, Some(true));
}

#[pg_test]
fn crag_extract_entities_bad_input_gets_clear_errors() {
    install_ner("ner", 9);
    install_relation("relation", 9);
    let cases = [
        ("SELECT * FROM crag.crag_extract_entities('')", "22023: crag: text is empty"),
        ("SELECT * FROM crag.crag_extract_entities('   ')", "22023: crag: text is empty"),
        (
            "SELECT * FROM crag.crag_extract_entities_batch(ARRAY['ok', ''])",
            "22023: crag: texts[2] is empty",
        ),
        (
            "SELECT * FROM crag.crag_extract_entities('fever', 'nope')",
            "42704: crag: model \"nope\" does not exist",
        ),
        (
            "SELECT * FROM crag.crag_extract_entities('fever', 'relation')",
            "22023: crag: model \"relation\" is a relation model; this function needs a ner model",
        ),
    ];
    for (q, want) in cases {
        assert_eq!(sqlstate_of(q).as_deref(), Some(want), "{q}");
    }
    assert_eq!(
        Spi::get_one::<i64>("SELECT count(*) FROM crag.crag_extract_entities(NULL)").unwrap(),
        Some(0),
        "strict: NULL in, no rows"
    );
    let e = sqlstate_of("SELECT crag.crag_score('a', 'b', 'ner')").unwrap();
    assert!(e.contains("is a ner model; this function needs a relation model"), "{e}");
}

/// Register a seeded extractor (NER + relation head, windows of 64 so marked pairs fit) under `name`.
fn install_extractor(
    name: &str,
    seed: u64,
) -> (
    Weights,
    crag_core::ner::model::NerConfig,
    crag_core::text::TextTokenizer,
) {
    let head = crag_core::ner::model::RelationHead {
        threshold: 0.2,
        ..crag_core::ner::model::RelationHead::new(8)
    };
    let (art, w, cfg) = crag_core::artifacts::seeded_extractor(
        name,
        &minilm_tokenizer(),
        tiny_encoder(),
        64,
        Some(head),
        seed,
    )
    .unwrap();
    import_artifacts(&art, true).unwrap_or_else(|e| panic!("import failed: {e:?}"));
    let tok =
        crag_core::text::TextTokenizer::from_bytes_plain(art.tokenizer.as_ref().unwrap(), 64)
            .unwrap();
    (w, cfg, tok)
}

/// Relations by the ndarray reference (entities, then pairs), as SQL rows would give them.
fn relation_reference(
    cfg: &crag_core::ner::model::NerConfig,
    w: &Weights,
    tok: &crag_core::text::TextTokenizer,
    texts: &[&str],
) -> Vec<Vec<crag_core::ner::relate::FoundRelation>> {
    let ms = crag_core::ner::tagging::extract(tok, cfg, texts, 4, |i, m, b, l| {
        crag_core::ner::model::reference_forward(cfg, w, i, m, b, l)
    })
    .unwrap();
    crag_core::ner::relate::extract_relations(tok, cfg, texts, &ms, 3, |i, m, p, _, l| {
        crag_core::ner::model::reference_relation_logits(cfg, w, i, m, p, l)
    })
    .unwrap()
}

const RE_TEXTS: [&str; 2] = [
    "Hépatite sévère après amoxicilline 😀; the rash resolved when carbamazepine was stopped. Fever indicated \
     pneumonia and aspirin was given.",
    "Lithium toxicity with tremor and renal failure was treated with haemodialysis. Creatinine rose.",
];

#[pg_test]
fn crag_extract_relations_equals_reference_pipeline() {
    // A seed whose untrained model finds relations in both texts, so the comparison is not vacuous.
    let (mut w, mut cfg, mut tok) = install_extractor("ner", 1);
    let mut want = relation_reference(&cfg, &w, &tok, &RE_TEXTS);
    for seed in 2..40 {
        if want.iter().all(|r| !r.is_empty()) {
            break;
        }
        (w, cfg, tok) = install_extractor("ner", seed);
        want = relation_reference(&cfg, &w, &tok, &RE_TEXTS);
    }
    assert!(want.iter().all(|r| !r.is_empty()), "no seed gave relations");
    Spi::run("SET crag.batch_size = 3").unwrap();
    for (d, text) in RE_TEXTS.iter().enumerate() {
        let j = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM crag.crag_extract_relations($1) t",
            &[(*text).into()],
        )
        .unwrap()
        .unwrap()
        .0;
        let got = j.as_array().unwrap();
        assert_eq!(got.len(), want[d].len(), "text {d}: {j}");
        for (g, r) in got.iter().zip(&want[d]) {
            assert_eq!(g["head"], r.head.text.as_str());
            assert_eq!(g["head_type"], r.head.entity_type.as_str());
            assert_eq!(g["relation"], r.relation.as_str());
            assert_eq!(g["tail"], r.tail.text.as_str());
            assert_eq!(g["tail_type"], r.tail.entity_type.as_str());
            assert_eq!(g["head_start"].as_u64(), Some(r.head.start as u64));
            assert_eq!(g["tail_end"].as_u64(), Some(r.tail.end as u64));
            assert!((g["score"].as_f64().unwrap() - f64::from(r.score)).abs() < 1e-4);
            assert!(r.relation.allows(r.head.entity_type, r.tail.entity_type));
        }
        // Char offsets: the mentions are the substrings they name.
        let ok = Spi::get_one_with_args::<bool>(
            "SELECT bool_and(substr($1, head_start + 1, head_end - head_start) = head \
                 AND substr($1, tail_start + 1, tail_end - tail_start) = tail) \
             FROM crag.crag_extract_relations($1)",
            &[(*text).into()],
        )
        .unwrap();
        assert_eq!(ok, Some(true));
    }
    // Batch form: the same rows per document; NULL elements give none.
    let n = |q: &str| Spi::get_one_with_args::<i64>(q, &[RE_TEXTS[0].into(), RE_TEXTS[1].into()]).unwrap();
    assert_eq!(
        n("SELECT count(*) FROM crag.crag_extract_relations_batch(ARRAY[$1, NULL, $2]) WHERE doc = 1"),
        Some(want[0].len() as i64)
    );
    assert_eq!(
        n("SELECT count(*) FROM crag.crag_extract_relations_batch(ARRAY[$1, NULL, $2]) WHERE doc = 3"),
        Some(want[1].len() as i64)
    );
    assert_eq!(
        n("SELECT count(*) FROM crag.crag_extract_relations_batch(ARRAY[$1, NULL, $2]) WHERE doc = 2"),
        Some(0)
    );
    Spi::run("RESET crag.batch_size").unwrap();
}

#[pg_test]
fn crag_extract_relations_bad_input_gets_clear_errors() {
    install_extractor("ner", 3);
    install_ner("tagger", 3);
    let cases = [
        ("SELECT * FROM crag.crag_extract_relations('')", "22023: crag: text is empty"),
        (
            "SELECT * FROM crag.crag_extract_relations_batch(ARRAY['ok', ' '])",
            "22023: crag: texts[2] is empty",
        ),
        (
            "SELECT * FROM crag.crag_extract_relations('fever', 'nope')",
            "42704: crag: model \"nope\" does not exist",
        ),
        (
            "SELECT * FROM crag.crag_extract_relations('fever after aspirin', 'tagger')",
            "0A000: crag: NER model \"tagger\" has no relation head",
        ),
    ];
    for (q, want) in cases {
        assert_eq!(sqlstate_of(q).as_deref(), Some(want), "{q}");
    }
    assert_eq!(
        Spi::get_one::<i64>("SELECT count(*) FROM crag.crag_extract_relations(NULL)").unwrap(),
        Some(0),
        "strict: NULL in, no rows"
    );
    // The entity-only model still extracts entities.
    assert!(
        Spi::get_one::<i64>("SELECT count(*) FROM crag.crag_extract_entities('fever after aspirin', 'tagger')")
            .unwrap()
            .is_some()
    );
}

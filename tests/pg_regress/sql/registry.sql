SET search_path = public, crag;
\set VERBOSITY terse
SELECT round(crag_dti(drug_vec, prot_vec)::numeric, 4) AS v1 FROM pairs WHERE id = 1;
-- Register a second version (same graph, different ADR prototypes) without activating it.
SELECT crag.register_model('dti', 'dti_adr', onnx, config, '{"note": "regression copy"}') AS new_version
  FROM crag.models WHERE name = 'dti' AND version = 1;
SELECT crag.set_adr_vocabulary('dti', 2,
         (SELECT array_agg(term ORDER BY adr_index) FROM crag.adr_terms WHERE model = 'dti' AND version = 1),
         (SELECT array_agg(coalesce(meddra_id, '') ORDER BY adr_index) FROM crag.adr_terms WHERE model = 'dti' AND version = 1),
         (SELECT array_agg(-x ORDER BY p.adr_index, u.ord) FROM crag.adr_prototypes p, unnest(p.prototype) WITH ORDINALITY u(x, ord)
           WHERE p.model = 'dti' AND p.version = 1),
         (SELECT array_length(prototype, 1) FROM crag.adr_prototypes WHERE model = 'dti' AND version = 1 LIMIT 1)) AS adr_terms_stored;
-- Vocabulary and prototypes must agree.
SELECT crag.set_adr_vocabulary('dti', 2, ARRAY['a', 'b'], ARRAY['C1'], ARRAY[1, 2]::real[], 1);
SELECT crag.set_adr_vocabulary('dti', 2, ARRAY['a', 'b'], ARRAY['C1', 'C2'], ARRAY[1, 2, 3]::real[], 2);
SELECT crag.set_adr_vocabulary('dti', 9, ARRAY['a'], ARRAY['C1'], ARRAY[1]::real[], 1);
SELECT name, version, active FROM crag.models_overview;
-- Activate v2: the same backend follows it (negated prototypes reverse the ADR ranking).
SELECT crag.activate_model('dti', 2);
SELECT t.rank, t.adr_index FROM pairs p, crag_topk_adr(p.drug_vec, p.prot_vec, 3) t WHERE p.id = 1 ORDER BY t.rank;
SELECT crag.rollback_model('dti');
SELECT t.rank, t.adr_index FROM pairs p, crag_topk_adr(p.drug_vec, p.prot_vec, 3) t WHERE p.id = 1 ORDER BY t.rank;
SELECT name, version, active FROM crag.models_overview;
-- Registry rules.
SELECT crag.drop_model('dti', 1);
SELECT crag.activate_model('dti', 7);
SELECT crag.activate_model('nosuch');
SELECT crag.rollback_model('dti');
UPDATE crag.models SET active = true WHERE name = 'dti' AND version = 2;
UPDATE crag.models SET sha256 = repeat('0', 64) WHERE name = 'dti' AND version = 2;
SELECT crag.register_model('Bad Name', 'dti_adr', '\x00'::bytea, '{}');
SELECT crag.register_model('other', 'unknown_kind', '\x00'::bytea, '{}');
SELECT crag.drop_model('dti', 2);
SELECT name, version, active FROM crag.models_overview;
SELECT count(*) AS orphan_prototypes FROM crag.adr_prototypes WHERE version = 2;

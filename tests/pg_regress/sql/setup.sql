-- Shared setup: the extension and its default models.
CREATE EXTENSION crag;
SELECT extversion FROM pg_extension WHERE extname = 'crag';
SELECT * FROM crag.import_default_models();
-- Importing again is idempotent: same version, still active.
SELECT * FROM crag.import_default_models();
SELECT name, version, kind, active, adr_terms, adr_prototypes FROM crag.models_overview;
-- Deterministic inputs shared by the other files.
CREATE TABLE pairs AS
SELECT i AS id,
       ARRAY(SELECT ((j * 7 + i * 13) % 11 = 0)::int::real FROM generate_series(1, 2048) j) AS drug_vec,
       ARRAY(SELECT (((j + i) % 17) / 170.0)::real FROM generate_series(1, 420) j) AS prot_vec
  FROM generate_series(1, 40) i;
GRANT SELECT ON pairs TO PUBLIC;

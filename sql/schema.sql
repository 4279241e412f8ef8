-- CRAG model registry. Created by CREATE EXTENSION crag in the schema crag.
-- Writers: the extension owner (and roles it grants to). Readers: everyone with USAGE on the schema.

GRANT USAGE ON SCHEMA crag TO PUBLIC;

CREATE TABLE crag.models (
    name        text        NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    version     integer     NOT NULL CHECK (version > 0),
    kind        text        NOT NULL CHECK (kind IN ('dti_adr', 'relation', 'ner')),
    onnx        bytea       NOT NULL,
    tokenizer   bytea,
    config      jsonb       NOT NULL DEFAULT '{}',
    metrics     jsonb       NOT NULL DEFAULT '{}',
    sha256      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  name        NOT NULL DEFAULT current_user,
    active      boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (name, version),
    CONSTRAINT models_sha256_matches CHECK (sha256 = encode(sha256(onnx), 'hex'))
);
COMMENT ON TABLE crag.models IS 'CRAG model registry: ONNX graphs with tokenizer, config and metrics; one active version per name.';
-- ONNX weights do not compress: store them out of line without pglz.
ALTER TABLE crag.models ALTER COLUMN onnx SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX models_one_active ON crag.models (name) WHERE active;

CREATE TABLE crag.adr_terms (
    model      text    NOT NULL,
    version    integer NOT NULL,
    adr_index  integer NOT NULL CHECK (adr_index >= 0),
    term       text    NOT NULL,
    meddra_id  text,
    PRIMARY KEY (model, version, adr_index),
    FOREIGN KEY (model, version) REFERENCES crag.models (name, version) ON DELETE CASCADE
);
COMMENT ON TABLE crag.adr_terms IS 'ADR vocabulary (TF-IDF column order) of each DTI/ADR model version.';

CREATE TABLE crag.adr_prototypes (
    model      text    NOT NULL,
    version    integer NOT NULL,
    adr_index  integer NOT NULL,
    prototype  real[]  NOT NULL CHECK (array_ndims(prototype) = 1 AND array_position(prototype, NULL) IS NULL),
    PRIMARY KEY (model, version, adr_index),
    FOREIGN KEY (model, version, adr_index) REFERENCES crag.adr_terms (model, version, adr_index) ON DELETE CASCADE
);
COMMENT ON TABLE crag.adr_prototypes IS 'ADR prototypes C (mean ADR-adapter embedding of train drugs); an all-zero row is masked.';

GRANT SELECT ON crag.models, crag.adr_terms, crag.adr_prototypes TO PUBLIC;

-- User-registered models survive pg_dump / pg_restore.
SELECT pg_catalog.pg_extension_config_dump('crag.models', '');
SELECT pg_catalog.pg_extension_config_dump('crag.adr_terms', '');
SELECT pg_catalog.pg_extension_config_dump('crag.adr_prototypes', '');

CREATE VIEW crag.models_overview AS
SELECT m.name,
       m.version,
       m.kind,
       m.active,
       octet_length(m.onnx) + coalesce(octet_length(m.tokenizer), 0) AS size_bytes,
       pg_size_pretty((octet_length(m.onnx) + coalesce(octet_length(m.tokenizer), 0))::bigint) AS size,
       m.sha256,
       m.created_at,
       m.created_by,
       (SELECT count(*) FROM crag.adr_terms t WHERE t.model = m.name AND t.version = m.version) AS adr_terms,
       (SELECT count(*) FROM crag.adr_prototypes p WHERE p.model = m.name AND p.version = m.version
          AND EXISTS (SELECT 1 FROM unnest(p.prototype) x WHERE x <> 0)) AS adr_prototypes,
       m.metrics
  FROM crag.models m
 ORDER BY m.name, m.version;
GRANT SELECT ON crag.models_overview TO PUBLIC;

CREATE FUNCTION crag.register_model(
    name text, kind text, onnx bytea, config jsonb,
    metrics jsonb DEFAULT '{}', tokenizer bytea DEFAULT NULL, activate boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v integer;
BEGIN
    IF name IS NULL OR kind IS NULL OR onnx IS NULL OR config IS NULL THEN
        RAISE EXCEPTION 'crag: name, kind, onnx and config must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'crag: invalid model name "%"', name USING ERRCODE = '22023',
            HINT = 'Model names are lower-case identifiers: a letter, then letters, digits or underscores.';
    END IF;
    IF kind NOT IN ('dti_adr', 'relation', 'ner') THEN
        RAISE EXCEPTION 'crag: unknown model kind "%"', kind USING ERRCODE = '22023',
            HINT = 'Kinds are dti_adr, relation and ner.';
    END IF;
    -- Serialise concurrent registrations of the same name.
    PERFORM pg_advisory_xact_lock(hashtext('crag.models'), hashtext(name));
    SELECT coalesce(max(m.version), 0) + 1 INTO v FROM crag.models m WHERE m.name = register_model.name;
    INSERT INTO crag.models (name, version, kind, onnx, tokenizer, config, metrics, sha256)
    VALUES (register_model.name, v, register_model.kind, register_model.onnx, register_model.tokenizer,
            register_model.config, coalesce(register_model.metrics, '{}'), encode(sha256(register_model.onnx), 'hex'));
    IF activate THEN
        PERFORM crag.activate_model(register_model.name, v);
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION crag.register_model(text, text, bytea, jsonb, jsonb, bytea, boolean) IS
    'Store a model as the next version of name; returns the version. ADR terms/prototypes go in their tables.';

CREATE FUNCTION crag.set_adr_vocabulary(
    model text, version integer, terms text[], meddra_ids text[], prototypes real[], dim integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k integer := coalesce(array_length(terms, 1), 0);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM crag.models m WHERE m.name = set_adr_vocabulary.model AND m.version = set_adr_vocabulary.version) THEN
        RAISE EXCEPTION 'crag: model "%" has no version %', model, version USING ERRCODE = '42704';
    END IF;
    IF k = 0 OR coalesce(array_length(meddra_ids, 1), 0) <> k THEN
        RAISE EXCEPTION 'crag: % ADR terms but % MedDRA ids', k, coalesce(array_length(meddra_ids, 1), 0)
            USING ERRCODE = '22023';
    END IF;
    IF dim IS NULL OR dim <= 0 OR coalesce(array_length(prototypes, 1), 0) <> k * dim THEN
        RAISE EXCEPTION 'crag: prototypes hold % values, expected % ADRs x % dimensions',
            coalesce(array_length(prototypes, 1), 0), k, dim USING ERRCODE = '22023';
    END IF;
    INSERT INTO crag.adr_terms (model, version, adr_index, term, meddra_id)
    SELECT set_adr_vocabulary.model, set_adr_vocabulary.version, (x.i - 1)::integer, x.t, nullif(x.m, '')
      FROM unnest(terms, meddra_ids) WITH ORDINALITY AS x(t, m, i);
    INSERT INTO crag.adr_prototypes (model, version, adr_index, prototype)
    SELECT set_adr_vocabulary.model, set_adr_vocabulary.version, j, prototypes[j * dim + 1 : (j + 1) * dim]
      FROM generate_series(0, k - 1) AS j;
    RETURN k;
END
$$;
COMMENT ON FUNCTION crag.set_adr_vocabulary(text, integer, text[], text[], real[], integer) IS
    'Store the ADR terms (TF-IDF column order) and the row-major [K, dim] prototypes of a DTI/ADR model version.';

CREATE FUNCTION crag.activate_model(name text, version integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v integer := version;
    known text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('crag.models'), hashtext(name));
    IF v IS NULL THEN
        SELECT max(m.version) INTO v FROM crag.models m WHERE m.name = activate_model.name;
    END IF;
    IF v IS NULL OR NOT EXISTS (SELECT 1 FROM crag.models m WHERE m.name = activate_model.name AND m.version = v) THEN
        SELECT string_agg(m.version::text, ', ' ORDER BY m.version) INTO known
          FROM crag.models m WHERE m.name = activate_model.name;
        IF known IS NULL THEN
            RAISE EXCEPTION 'crag: model "%" does not exist', name USING ERRCODE = '42704';
        END IF;
        RAISE EXCEPTION 'crag: model "%" has no version %', name, v
            USING ERRCODE = '42704', DETAIL = 'Registered versions: ' || known || '.';
    END IF;
    -- Two statements: the partial unique index allows one active row per name at every moment.
    UPDATE crag.models m SET active = false WHERE m.name = activate_model.name AND m.active AND m.version <> v;
    UPDATE crag.models m SET active = true WHERE m.name = activate_model.name AND m.version = v AND NOT m.active;
    RETURN v;
END
$$;
COMMENT ON FUNCTION crag.activate_model(text, integer) IS
    'Make version (default: the latest) the active version of name; returns it.';

CREATE FUNCTION crag.rollback_model(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur integer;
    prev integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('crag.models'), hashtext(name));
    SELECT m.version INTO cur FROM crag.models m WHERE m.name = rollback_model.name AND m.active;
    IF cur IS NULL THEN
        RAISE EXCEPTION 'crag: model "%" has no active version to roll back from', name USING ERRCODE = '55000';
    END IF;
    SELECT max(m.version) INTO prev FROM crag.models m WHERE m.name = rollback_model.name AND m.version < cur;
    IF prev IS NULL THEN
        RAISE EXCEPTION 'crag: model "%" has no version older than the active version %', name, cur
            USING ERRCODE = '55000';
    END IF;
    RETURN crag.activate_model(name, prev);
END
$$;
COMMENT ON FUNCTION crag.rollback_model(text) IS 'Activate the newest version older than the active one; returns it.';

CREATE FUNCTION crag.drop_model(name text, version integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('crag.models'), hashtext(name));
    IF EXISTS (SELECT 1 FROM crag.models m WHERE m.name = drop_model.name AND m.version = drop_model.version AND m.active) THEN
        RAISE EXCEPTION 'crag: version % of model "%" is active', version, name
            USING ERRCODE = '55006', HINT = 'Activate or roll back to another version first.';
    END IF;
    DELETE FROM crag.models m WHERE m.name = drop_model.name AND m.version = drop_model.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'crag: model "%" has no version %', name, version USING ERRCODE = '42704';
    END IF;
END
$$;
COMMENT ON FUNCTION crag.drop_model(text, integer) IS 'Delete an inactive model version with its ADR terms and prototypes.';

-- Writing the registry is for the extension owner; readers need nothing more than SELECT.
REVOKE ALL ON FUNCTION crag.register_model(text, text, bytea, jsonb, jsonb, bytea, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crag.set_adr_vocabulary(text, integer, text[], text[], real[], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION crag.activate_model(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION crag.rollback_model(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION crag.drop_model(text, integer) FROM PUBLIC;

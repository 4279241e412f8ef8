-- 1,000,000-report FAERS-like benchmark of crag_signals against a plain SQL GROUP BY + formula query.
-- Run by scripts/bench-signals.sh. Drugs (3,000) and events (5,000) are drawn log-uniformly (few very common, long
-- tail); 1-4 drugs and 1-5 events per report; sex as a stratum. Seeded with setseed.
\set ON_ERROR_STOP 1
SET search_path = public, crag;
SET client_min_messages = warning;
DROP TABLE IF EXISTS faers_like;
SELECT setseed(0.42);
CREATE UNLOGGED TABLE faers_like AS
WITH r AS (SELECT id, 1 + floor(random() * 4)::int AS nd, 1 + floor(random() * 5)::int AS ne,
                  CASE WHEN random() < 0.55 THEN 'F' ELSE 'M' END AS sex
             FROM generate_series(1, :n_reports) id)
SELECT r.id AS report_id, 'drug_' || floor(exp(random() * ln(3000)))::int AS drug,
       'event_' || floor(exp(random() * ln(5000)))::int AS event, r.sex
  FROM r, generate_series(1, r.nd) d, LATERAL (SELECT generate_series(1, r.ne) + d * 0 AS e) ev;
ANALYZE faers_like;
SELECT count(*) AS rows, count(DISTINCT report_id) AS reports, count(DISTINCT drug) AS drugs, count(DISTINCT event) AS events
  FROM faers_like;
SELECT pg_backend_pid() AS pid \gset
\setenv CRAG_BENCH_PID :pid
\echo '-- backend peak memory before crag_signals'
\! grep VmHWM /proc/$CRAG_BENCH_PID/status
\timing on
\echo '-- crag_signals: all pairs (min_count 3), EBGM prior fit, BH, flags'
SELECT count(*) AS pairs, count(*) FILTER (WHERE 'PRR' = ANY(flags)) AS prr_flags, count(*) FILTER (WHERE 'EBGM' = ANY(flags)) AS ebgm_flags
  FROM crag_signals('faers_like');
\timing off
\echo '-- backend peak memory after crag_signals'
\! grep VmHWM /proc/$CRAG_BENCH_PID/status
\timing on
\echo '-- crag_signals stratified by sex (Mantel-Haenszel)'
SELECT count(*) AS pairs FROM crag_signals('faers_like', strata => ARRAY['sex']);
\echo '-- plain SQL: distinct-report counts, PRR, ROR with CI, Yates chi2 (no EBGM, no FDR, no strata)'
WITH pr AS (SELECT DISTINCT report_id, drug, event FROM faers_like),
     n AS (SELECT count(DISTINCT report_id)::float8 AS n FROM faers_like),
     d AS (SELECT drug, count(DISTINCT report_id)::float8 AS nd FROM faers_like GROUP BY drug),
     e AS (SELECT event, count(DISTINCT report_id)::float8 AS ne FROM faers_like GROUP BY event),
     p AS (SELECT drug, event, count(*)::float8 AS a FROM pr GROUP BY drug, event HAVING count(*) >= 3),
     t AS (SELECT p.drug, p.event, a, nd - a AS b, ne - a AS c, n - nd - ne + a AS dd FROM p JOIN d USING (drug) JOIN e USING (event), n)
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE (a / (a + b)) / nullif(c / nullif(c + dd, 0), 0) >= 2
                          AND (a + b + c + dd) * power(greatest(abs(a * dd - b * c) - (a + b + c + dd) / 2, 0), 2)
                              / nullif((a + b) * (c + dd) * (a + c) * (b + dd), 0) >= 4) AS prr_flags,
       max(exp(ln(nullif(a * dd, 0) / nullif(b * c, 0)) - 1.96 * sqrt(1 / a + 1 / nullif(b, 0) + 1 / nullif(c, 0) + 1 / nullif(dd, 0)))) AS max_ror_lo
  FROM t;
\timing off
DROP TABLE faers_like;

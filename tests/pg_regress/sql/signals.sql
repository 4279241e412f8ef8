SET search_path = public, crag;
\set VERBOSITY terse
-- One 2x2 table worked by hand: n11 = 20, n10 = 80, n01 = 100, n00 = 9800 (N = 10000).
-- PRR = (20/100) / (100/9900) = 19.8; ROR = 20*9800 / (80*100) = 24.5; E11 = 100*120/10000 = 1.2;
-- IC = log2(20.5 / 1.7) = 3.5920.
SELECT n11, round(expected::numeric, 6) AS expected, round(prr::numeric, 6) AS prr, round(prr_lo::numeric, 4) AS prr_lo,
       round(prr_hi::numeric, 4) AS prr_hi, round(ror::numeric, 6) AS ror, round(ror_lo::numeric, 4) AS ror_lo,
       round(ror_hi::numeric, 4) AS ror_hi, round(chi2::numeric, 4) AS chi2, round(ic::numeric, 4) AS ic,
       round(ic025::numeric, 4) AS ic025, round(ic975::numeric, 4) AS ic975
  FROM crag_disproportionality(20, 80, 100, 9800);
-- Zero cells do not crash: ROR with n10 = 0 is infinite.
SELECT prr, ror, ror_lo FROM crag_disproportionality(5, 0, 10, 100);
SELECT * FROM crag_disproportionality(-1, 0, 0, 0);
SELECT * FROM crag_disproportionality(0, 0, 0, 0);
SELECT count(*) AS rows_for_null_input FROM crag_disproportionality(NULL, 1, 1, 1);

-- A small report table: drug X with nausea in 8 of its 10 reports, background nausea 2%.
CREATE TABLE reports_demo (report_id int, drug text, event text, sex text);
INSERT INTO reports_demo
SELECT r, CASE WHEN r <= 10 THEN 'drug_x' ELSE 'drug_' || (r % 7) END,
       CASE WHEN (r <= 10 AND r <= 8) OR (r > 10 AND r % 50 = 0) THEN 'nausea' ELSE 'headache' END,
       CASE WHEN r % 2 = 0 THEN 'F' ELSE 'M' END
  FROM generate_series(1, 1000) r;
-- Duplicate rows of one report count once.
INSERT INTO reports_demo SELECT * FROM reports_demo WHERE report_id <= 5;
SET client_min_messages = warning;
SELECT drug, event, n11, round(expected::numeric, 3) AS expected, round(prr::numeric, 3) AS prr,
       round(ror_lo::numeric, 3) AS ror_lo, round(ic025::numeric, 3) AS ic025, round(eb05::numeric, 3) AS eb05,
       round(q_value::numeric, 6) AS q, flags
  FROM crag_signals('reports_demo') WHERE event = 'nausea' ORDER BY drug;
-- Stratified by sex (Mantel-Haenszel), and from a query instead of a table.
SELECT drug, n11, round(prr::numeric, 3) AS prr_mh, round(ror::numeric, 3) AS ror_mh, flags
  FROM crag_signals('reports_demo', strata => ARRAY['sex']) WHERE event = 'nausea' AND drug = 'drug_x';
SELECT count(*) AS pairs FROM crag_signals('SELECT report_id AS id, drug, event FROM reports_demo', 'id', min_count => 1);
RESET client_min_messages;
-- Input errors.
SELECT * FROM crag_signals('no_such_table');
SELECT * FROM crag_signals('reports_demo', 'no_such_column');
SELECT * FROM crag_signals('reports_demo', min_count => 0);
DROP TABLE reports_demo;

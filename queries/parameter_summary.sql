-- Summary statistics per drug × parameter × measurement type × canonical unit, over point
-- estimates in canonical units: articles, values, median, IQR (q1, q3), geometric mean and
-- geometric CV in percent (over positive values only), min, max. Values whose flags leave them
-- out (in_vitro, cited, drug_from_query, negative_value, unit problems; see pkharvest.flags) are
-- counted in n_left_out and kept out of the statistics unless $flagged is 1.
-- $drug       drug name, case-insensitive; empty = all drugs [default: '']
-- $parameter  canonical parameter key, e.g. CL; empty = all parameters [default: '']
-- $flagged    1 to include values whose flags leave them out by default [default: '0']
WITH s AS (
    SELECT * FROM parameter_summary WHERE $flagged <> '1'
    UNION ALL
    SELECT * FROM parameter_summary_all WHERE $flagged = '1'
)
SELECT *
FROM s
WHERE ($drug = '' OR drug = lower($drug))
  AND ($parameter = '' OR parameter = $parameter)
ORDER BY drug NULLS LAST, parameter, n_values DESC, measurement_type NULLS LAST, unit NULLS LAST;

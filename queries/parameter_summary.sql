-- Summary statistics per drug × parameter × measurement type × canonical unit, over point
-- estimates in canonical units: articles, values, median, IQR (q1, q3), geometric mean and
-- geometric CV in percent (over positive values only), min, max. Without filters the rows are
-- those of the parameter_summary view; the study-context filters keep the values of one
-- population, age group, species, route or condition. Values whose flags leave them out
-- (in_vitro, cited, drug_from_query, negative_value, unit problems; see pkharvest.flags) are
-- counted in n_left_out and kept out of the statistics unless $flagged is 1
-- (parameter_summary_all).
-- $drug        drug name, case-insensitive; empty = all drugs [default: '']
-- $parameter   canonical parameter key, e.g. CL; empty = all parameters [default: '']
-- $population  healthy or patients; empty = any [default: '']
-- $age_group   neonate, infant, child, adolescent, adult or elderly; empty = any [default: '']
-- $species     human, rat, mouse, dog, ...; empty = any [default: '']
-- $route       intravenous, oral, subcutaneous, intramuscular, ...; empty = any [default: '']
-- $condition   pregnancy, renal_impairment, hepatic_impairment, critical_illness or obesity; empty = any [default: '']
-- $flagged     1 to include values whose flags leave them out by default [default: '0']
WITH v AS (
    SELECT lower(drug) AS drug, parameter, measurement_type, unit, pmid, flags,
           value_canonical AS x,
           CASE WHEN value_canonical > 0 THEN ln(value_canonical) END AS lx,
           ($flagged = '1' OR NOT left_out_by_flags) AS kept
    FROM evidence
    WHERE parameter IS NOT NULL
      AND value_canonical IS NOT NULL AND isfinite(value_canonical)
      AND (comparator IS NULL OR comparator NOT IN ('<', '>', '<=', '>=', '≤', '≥', '=<', '=>'))
      AND ($drug = '' OR lower(drug) = lower($drug))
      AND ($parameter = '' OR parameter = $parameter)
      AND ($population = '' OR population = lower($population))
      AND ($age_group = '' OR age_group = lower($age_group))
      AND ($species = '' OR species = lower($species))
      AND ($route = '' OR route = lower($route))
      AND ($condition = '' OR list_contains(conditions, lower($condition)))
)
SELECT
    drug, parameter, measurement_type, unit,
    count(DISTINCT pmid) FILTER (WHERE kept) AS n_articles,
    count(*) FILTER (WHERE kept) AS n_values,
    quantile_cont(x, 0.5) FILTER (WHERE kept) AS median,
    quantile_cont(x, 0.25) FILTER (WHERE kept) AS q1,
    quantile_cont(x, 0.75) FILTER (WHERE kept) AS q3,
    count(lx) FILTER (WHERE kept) AS n_positive,
    exp(avg(lx) FILTER (WHERE kept)) AS geo_mean,
    100 * sqrt(exp(var_samp(lx) FILTER (WHERE kept)) - 1) AS geo_cv_pct,
    min(x) FILTER (WHERE kept) AS min,
    max(x) FILTER (WHERE kept) AS max,
    count(*) FILTER (WHERE kept AND len(flags) > 0) AS n_flagged,
    count(*) FILTER (WHERE NOT kept) AS n_left_out
FROM v
GROUP BY drug, parameter, measurement_type, unit
HAVING count(*) FILTER (WHERE kept) > 0
ORDER BY drug NULLS LAST, parameter, n_values DESC, measurement_type NULLS LAST, unit NULLS LAST;

-- Summary statistics per drug × parameter × measurement type × canonical unit, over point
-- estimates in canonical units: articles, values, median, IQR (q1, q3), geometric mean and
-- geometric CV (over positive values only), min, max, flagged values. Without filters the rows
-- are those of the parameter_summary view; the study-context filters keep the values of one
-- population, age group, species, route or condition.
-- $drug        drug name, case-insensitive; empty = all drugs [default: '']
-- $parameter   canonical parameter key, e.g. clearance; empty = all parameters [default: '']
-- $population  healthy or patients; empty = any [default: '']
-- $age_group   neonate, infant, child, adolescent, adult or elderly; empty = any [default: '']
-- $species     human, rat, mouse, dog, ...; empty = any [default: '']
-- $route       intravenous, oral, subcutaneous, intramuscular, ...; empty = any [default: '']
-- $condition   pregnancy, renal_impairment, hepatic_impairment, critical_illness or obesity; empty = any [default: '']
WITH v AS (
    SELECT lower(drug) AS drug, parameter, measurement_type, unit, pmid, flags,
           value_canonical AS x,
           CASE WHEN value_canonical > 0 THEN ln(value_canonical) END AS lx
    FROM measurements
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
    count(DISTINCT pmid) AS n_articles,
    count(*) AS n_values,
    quantile_cont(x, 0.5) AS median,
    quantile_cont(x, 0.25) AS q1,
    quantile_cont(x, 0.75) AS q3,
    count(lx) AS n_positive,
    exp(avg(lx)) AS geo_mean,
    sqrt(exp(var_samp(lx)) - 1) AS geo_cv,
    min(x) AS min,
    max(x) AS max,
    count(*) FILTER (WHERE len(flags) > 0) AS n_flagged
FROM v
GROUP BY drug, parameter, measurement_type, unit
ORDER BY drug NULLS LAST, parameter, n_values DESC, measurement_type NULLS LAST, unit NULLS LAST;

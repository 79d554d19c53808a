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
-- (the summary itself is the store's table macro summarise_parameters, as the views use it)
SELECT *
FROM summarise_parameters($drug, $parameter, $population, $age_group, $species, $route,
                          $condition, $flagged)
ORDER BY drug NULLS LAST, parameter, n_values DESC, measurement_type NULLS LAST, unit NULLS LAST;

-- The evidence for one drug and parameter: each value with its unit, the sentence it was read
-- from (a table cell's evidence text for a table value), PMID, PubMed link, character offsets
-- (relative to the sentence), where it was read (source, table), the group it describes, its
-- study context (n, statistic, age group, population, conditions, species, route, dose), the
-- deviation in the canonical unit, and whether its flags leave it out of summaries and pooling.
-- $drug        drug name, case-insensitive
-- $parameter   canonical parameter key, e.g. clearance
-- $population  healthy or patients; empty = any [default: '']
-- $age_group   neonate, infant, child, adolescent, adult or elderly; empty = any [default: '']
-- $species     human, rat, mouse, dog, ...; empty = any [default: '']
-- $route       intravenous, oral, subcutaneous, intramuscular, ...; empty = any [default: '']
-- $condition   pregnancy, renal_impairment, hepatic_impairment, critical_illness or obesity; empty = any [default: '']
SELECT pmid, drug, parameter, measurement_type, comparator, value_text, value, value_low,
       value_high, unit_text, value_canonical, unit, deviation_text, deviation_type,
       deviation_canonical,
       parameter_text, sentence, sentence_idx, section, parameter_start, parameter_end,
       value_start, value_end, pubmed_url, flags, measurement_id, source, table_label,
       group_label, n, statistic, age_group, population, conditions, species, route, dose_text,
       left_out_by_flags
FROM evidence
WHERE lower(drug) = lower($drug)
  AND parameter = $parameter
  AND ($population = '' OR population = lower($population))
  AND ($age_group = '' OR age_group = lower($age_group))
  AND ($species = '' OR species = lower($species))
  AND ($route = '' OR route = lower($route))
  AND ($condition = '' OR list_contains(conditions, lower($condition)))
ORDER BY pmid, sentence_idx, parameter_start, table_id, "row", col;

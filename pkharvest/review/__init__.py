"""Review of extracted measurements: decisions (accept / reject / correct, entity span fixes)
checked here, kept in the store's ``review_decisions`` table, served by a local web app
(:mod:`pkharvest.review.app`) and turned into corpus lines (:mod:`pkharvest.review.export`)."""

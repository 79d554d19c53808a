# Reference numbers for tests/test_pool_reference.py, computed with R metafor (rma).
#
# Reads the study CSVs of tests/data/pool/, derives each row's log-scale effect y and variance v
# from the formulas of docs/pooling.md independently of pkharvest (the unit factors below are
# written by hand), pools them with metafor::rma for REML, DL and PM, and writes
# tests/reference/metafor_reference.json.
#
# Regenerate (Debian: apt-get install r-cran-metafor r-cran-jsonlite), from the repository root:
#   Rscript tests/reference/metafor_reference.R
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

data_dir <- "tests/data/pool"
out_file <- "tests/reference/metafor_reference.json"

# unit as written -> canonical unit and the factor into it
units <- list(
  "L/h" = list("L/h", 1), "mL/min" = list("L/h", 0.06), "mL/h" = list("L/h", 0.001),
  "L/min" = list("L/h", 60), "mL/min/kg" = list("L/h/kg", 0.06), "h" = list("h", 1),
  "mg/L" = list("mg/L", 1), "ng/mL" = list("mg/L", 0.001), "ug/mL" = list("mg/L", 1)
)
z <- qnorm(0.975)

# y and v of one row, or NULL when the row is excluded
effect <- function(r) {
  u <- units[[r$unit]]
  f <- u[[2]]
  m <- r$estimate * f
  n <- r$n
  dt <- r$deviation_type
  if (is.na(m) || m <= 0 || is.na(n) || n < 1 || is.na(dt) || dt == "") return(NULL)
  lo <- r$low * f
  hi <- r$high * f
  if (r$statistic == "mean") {
    s <- switch(dt,
      sd = r$deviation * f,
      se = r$deviation * f * sqrt(n),
      cv = m * r$deviation / 100,
      ci95 = if (!is.na(lo) && !is.na(hi) && hi > lo && lo <= m && m <= hi)
        (hi - lo) / (2 * z) * sqrt(n) else NA,
      NA)
    if (is.null(s) || is.na(s) || s <= 0) return(NULL)
    s2 <- log(1 + s^2 / m^2)
    return(c(log(m) - s2 / 2, s2 / n))
  }
  if (r$statistic == "geometric_mean") {
    if (dt == "cv" && !is.na(r$deviation) && r$deviation > 0)
      return(c(log(m), log(1 + (r$deviation / 100)^2) / n))
    if (dt == "ci95" && !is.na(lo) && lo > 0 && hi > lo && lo <= m && m <= hi)
      return(c(log(m), ((log(hi) - log(lo)) / (2 * z))^2))
    return(NULL)
  }
  if (r$statistic == "median") {
    if (n < 2 || !(dt %in% c("iqr", "range")) || is.na(lo) || lo <= 0 || !(hi > lo) ||
        m < lo || m > hi) return(NULL)
    xi <- if (dt == "iqr") qnorm((0.75 * n - 0.125) / (n + 0.25)) else
      qnorm((n - 0.375) / (n + 0.25))
    sigma <- (log(hi) - log(lo)) / (2 * xi)
    return(c(log(m), sigma^2 / n))
  }
  NULL
}

pool_one <- function(d, method) {
  inc <- d$included
  k <- sum(inc)
  fit <- rma(yi = d$y[inc], vi = d$v[inc], method = method,
             control = list(threshold = 1e-12, maxiter = 1000, tol = 1e-12))
  p <- predict(fit)
  w <- rep(NA_real_, nrow(d))
  w[inc] <- weights(fit)
  list(
    method = method, k = k, unit = d$canonical[inc][1],
    estimate = exp(p$pred), ci_low = exp(p$ci.lb), ci_high = exp(p$ci.ub),
    tau2 = fit$tau2, i2 = fit$I2, q = fit$QE, q_p = fit$QEp,
    pi_low = exp(p$pi.lb), pi_high = exp(p$pi.ub),
    studies = data.frame(study = d$study, included = d$included, y = d$y, v = d$v,
                         weight = w)
  )
}

cases <- list(
  list(file = "all_types.csv", by = NA),
  list(file = "all_types.csv", by = "group"),
  list(file = "units_exclusions.csv", by = "unit"),
  list(file = "single.csv", by = NA),
  list(file = "homogeneous.csv", by = NA)
)

out <- list()
for (case in cases) {
  d <- read.csv(file.path(data_dir, case$file), stringsAsFactors = FALSE,
                na.strings = "", colClasses = c(group = "character", unit = "character"))
  d$y <- NA_real_
  d$v <- NA_real_
  d$canonical <- vapply(d$unit, function(u) units[[u]][[1]], "")
  for (i in seq_len(nrow(d))) {
    e <- effect(d[i, ])
    if (!is.null(e)) { d$y[i] <- e[1]; d$v[i] <- e[2] }
  }
  d$included <- !is.na(d$y)
  key <- if (is.na(case$by)) rep("", nrow(d)) else if (case$by == "unit") d$canonical else
    d[[case$by]]
  for (g in unique(key)) {
    part <- d[key == g, ]
    for (method in c("REML", "DL", "PM")) {
      r <- pool_one(part, method)
      r$file <- case$file
      r$by <- if (is.na(case$by)) NULL else case$by
      r$subgroup <- if (is.na(case$by)) NULL else g
      out[[length(out) + 1]] <- r
    }
  }
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_file)
cat("wrote", out_file, "with", length(out), "pools\n")

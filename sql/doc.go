// Package warehousesql embeds the warehouse's SQL: the views analysts query
// (views/*.sql, one CREATE OR REPLACE VIEW per file) and ready-made reports
// (reports/*.sql, one SELECT per file, run with
// `syncd query --file sql/reports/x.sql`).
//
// Each view file declares what it reads in header comments of the form
//
//	-- requires: table(column, column, ...)
//
// so a sink creates a view only once every table and column it needs exists
// (stats_daily's columns depend on the configured slices, and a stream may be
// disabled). The package is not called sql because that would shadow
// database/sql in every file that imports both.
//
// Money rules shared by the views:
//   - revenue is what the advertiser pays (conversions.revenue,
//     stats_daily.*_charge), payouts is what the affiliate earns
//     (conversions.payouts, stats_daily.*_revenue), profit = revenue - payouts.
//   - Money counts conversions whose status is confirmed, pending or hold.
//     Declined and not_found conversions are counted in their status column
//     but add no revenue, payouts or profit.
//   - What "conversions" counts: in views over the conversions table
//     (daily_revenue, daily_revenue_rc, conversions_by_status and the reports
//     over them) every status, not_found included, with a column per status
//     that adds up to it. In the cr_epc_* views (Affise's stats_daily)
//     confirmed + pending + hold, the conversions CR is computed from;
//     declined is a column of its own and not_found is not in stats_daily's
//     actions.
//   - Days are UTC days: conversions by CAST(created_at AS DATE), stats_daily
//     by its day column.
//   - CR = conversions / clicks (raw clicks; cr_unique uses unique clicks).
//     EPC = payouts / clicks (earnings per click as an affiliate sees it);
//     revenue_per_click = revenue / clicks. Ratios are NULL when there are no
//     clicks.
package warehousesql

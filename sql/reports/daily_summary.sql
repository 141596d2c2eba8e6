-- Revenue, payouts, profit and conversions per network, UTC day and currency
-- over the last 30 days (money of confirmed + pending + hold conversions, in the row's
-- currency; see the daily_revenue view). conversions counts every status:
-- confirmed + pending + declined + hold + not_found.
SELECT
    network,
    day,
    currency,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    sum(pending) AS pending,
    sum(declined) AS declined,
    sum(hold) AS hold,
    sum(not_found) AS not_found,
    CAST(sum(revenue) AS DECIMAL(18,2)) AS revenue,
    CAST(sum(payouts) AS DECIMAL(18,2)) AS payouts,
    CAST(sum(profit) AS DECIMAL(18,2)) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY network, day, currency
ORDER BY network, day DESC, currency;

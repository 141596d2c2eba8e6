-- Revenue, payouts, profit and conversions per UTC day over the last 30 days
-- (money of confirmed + pending + hold conversions; see the daily_revenue view).
SELECT
    day,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    sum(pending) AS pending,
    sum(declined) AS declined,
    sum(hold) AS hold,
    CAST(sum(revenue) AS DECIMAL(18,2)) AS revenue,
    CAST(sum(payouts) AS DECIMAL(18,2)) AS payouts,
    CAST(sum(profit) AS DECIMAL(18,2)) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY day
ORDER BY day DESC;

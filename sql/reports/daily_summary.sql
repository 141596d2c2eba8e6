-- Revenue, payouts, profit and conversions per UTC day over the last 30 days
-- (money of confirmed + pending + hold conversions; see the daily_revenue view).
SELECT
    day,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    sum(pending) AS pending,
    sum(declined) AS declined,
    sum(hold) AS hold,
    sum(revenue) AS revenue,
    sum(payouts) AS payouts,
    sum(profit) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY day
ORDER BY day DESC;

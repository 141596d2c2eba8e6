-- The 20 offers with the most revenue over the last 30 UTC days.
SELECT
    offer_id,
    any_value(offer_title) AS offer_title,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    CAST(sum(revenue) AS DECIMAL(18,2)) AS revenue,
    CAST(sum(payouts) AS DECIMAL(18,2)) AS payouts,
    CAST(sum(profit) AS DECIMAL(18,2)) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY offer_id
ORDER BY revenue DESC, offer_id
LIMIT 20;

-- The 20 offers with the most revenue over the last 30 UTC days.
SELECT
    offer_id,
    any_value(offer_title) AS offer_title,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    sum(revenue) AS revenue,
    sum(payouts) AS payouts,
    sum(profit) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY offer_id
ORDER BY revenue DESC, offer_id
LIMIT 20;

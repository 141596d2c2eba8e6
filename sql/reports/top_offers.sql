-- The 20 offers with the most revenue over the last 30 UTC days,
-- in each network and currency (amounts of different currencies are never
-- compared; ids are each network's own).
SELECT
    network,
    offer_id,
    currency,
    any_value(offer_title) AS offer_title,
    sum(conversions) AS conversions,
    sum(confirmed) AS confirmed,
    CAST(sum(revenue) AS DECIMAL(18,2)) AS revenue,
    CAST(sum(payouts) AS DECIMAL(18,2)) AS payouts,
    CAST(sum(profit) AS DECIMAL(18,2)) AS profit
FROM daily_revenue
WHERE day >= current_date - 30
GROUP BY network, offer_id, currency
QUALIFY row_number() OVER (PARTITION BY network, currency ORDER BY sum(revenue) DESC, offer_id) <= 20
ORDER BY network, currency, revenue DESC, offer_id;

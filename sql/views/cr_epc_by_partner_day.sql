-- cr_epc_by_partner_day: clicks, conversions, CR and EPC per network, day and partner_id, from
-- stats_daily (Affise's own aggregates). conversions = confirmed + pending +
-- hold (declined excluded); payouts = affiliate payouts (*_revenue columns),
-- revenue = advertiser revenue (*_charge columns), profit = revenue - payouts.
-- cr = conversions / clicks_raw, cr_unique = conversions / clicks_uniq,
-- epc = payouts / clicks_raw (EPC as affiliates see it),
-- revenue_per_click = revenue / clicks_raw; NULL when there are no clicks.
-- Per currency (stats_daily's currency; '' where Affise's numbers mix them):
-- money is in that currency; clicks are the partner's whole in each currency's
-- row (clicks carry no currency), so cr and epc are that currency's share,
-- and the currencies' cr add up to the partner's.
-- requires: stats_daily(network, day, partner_id, currency, clicks_raw, clicks_uniq, confirmed_count, pending_count, hold_count, declined_count, confirmed_revenue, pending_revenue, hold_revenue, confirmed_charge, pending_charge, hold_charge)
CREATE OR REPLACE VIEW cr_epc_by_partner_day AS
WITH s AS (
    SELECT
        network,
        day,
        partner_id,
        currency,
        coalesce(sum(clicks_raw), 0) AS clicks,
        coalesce(sum(clicks_uniq), 0) AS unique_clicks,
        coalesce(sum(coalesce(confirmed_count, 0) + coalesce(pending_count, 0) + coalesce(hold_count, 0)), 0) AS conversions,
        coalesce(sum(confirmed_count), 0) AS confirmed,
        coalesce(sum(declined_count), 0) AS declined,
        coalesce(sum(coalesce(confirmed_charge, 0) + coalesce(pending_charge, 0) + coalesce(hold_charge, 0)), 0) AS revenue,
        coalesce(sum(coalesce(confirmed_revenue, 0) + coalesce(pending_revenue, 0) + coalesce(hold_revenue, 0)), 0) AS payouts
    FROM stats_daily
    GROUP BY 1, 2, 3, 4
)
SELECT
    network,
    day,
    partner_id,
    currency,
    clicks,
    unique_clicks,
    conversions,
    confirmed,
    declined,
    revenue,
    payouts,
    revenue - payouts AS profit,
    CAST(conversions AS DOUBLE) / NULLIF(clicks, 0) AS cr,
    CAST(conversions AS DOUBLE) / NULLIF(unique_clicks, 0) AS cr_unique,
    CAST(payouts AS DOUBLE) / NULLIF(clicks, 0) AS epc,
    CAST(revenue AS DOUBLE) / NULLIF(clicks, 0) AS revenue_per_click
FROM s;

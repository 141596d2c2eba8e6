-- daily_revenue: conversions per network, UTC day (of created_at), offer,
-- partner and currency (offer and partner ids are the network's own): money is never added across currencies (revenue, payouts and
-- profit are in the row's currency).
-- conversions counts every status, and confirmed + pending + declined + hold +
-- not_found add up to it (not_found: conversions Affise could not match).
-- Money rule: revenue (advertiser revenue), payouts (affiliate payouts) and
-- profit (revenue - payouts) sum conversions whose status is confirmed,
-- pending or hold; declined and not_found conversions add no money.
-- Offers and partners are LEFT JOINed: a missing offer or partner row leaves
-- offer_title / partner_email NULL but keeps the money.
-- requires: conversions(network, status, offer_id, partner_id, currency, revenue, payouts, created_at)
-- requires: offers(network, id, title)
-- requires: partners(network, id, email)
CREATE OR REPLACE VIEW daily_revenue AS
WITH c AS (
    SELECT
        network,
        CAST(created_at AS DATE) AS day,
        offer_id,
        partner_id,
        currency,
        count(*) AS conversions,
        count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
        count(*) FILTER (WHERE status = 'pending') AS pending,
        count(*) FILTER (WHERE status = 'declined') AS declined,
        count(*) FILTER (WHERE status = 'hold') AS hold,
        count(*) FILTER (WHERE status = 'not_found') AS not_found,
        coalesce(sum(revenue) FILTER (WHERE status IN ('confirmed', 'pending', 'hold')), 0) AS revenue,
        coalesce(sum(payouts) FILTER (WHERE status IN ('confirmed', 'pending', 'hold')), 0) AS payouts
    FROM conversions
    GROUP BY 1, 2, 3, 4, 5
)
SELECT
    c.network,
    c.day,
    c.offer_id,
    o.title AS offer_title,
    c.partner_id,
    p.email AS partner_email,
    c.currency,
    c.conversions,
    c.confirmed,
    c.pending,
    c.declined,
    c.hold,
    c.not_found,
    c.revenue,
    c.payouts,
    c.revenue - c.payouts AS profit
FROM c
LEFT JOIN offers o ON o.network = c.network AND o.id = c.offer_id
LEFT JOIN partners p ON p.network = c.network AND p.id = c.partner_id;

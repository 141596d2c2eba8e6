-- Trino, Hive connector: catalog hive, schema affise (rename both throughout
-- to yours). Every table is partitioned by network (the Affise network's name),
-- and tables with a day column by date below it (the UTC day, YYYY-MM-DD text):
-- filter on them to read fewer files. New days and networks are seen once the
-- partitions are synced again: re-run this script (or its CALL statements)
-- after each sync.
-- Tables that have a date column of their own name their day partition
-- partition_date instead, projected from the directories with the networks
-- listed in the script: that needs hive.partition-projection-enabled=true in
-- the catalog, and no CALL.
--
-- The lake's timestamps are microseconds: the connector accepts timestamp(6)
-- columns only at that precision. The SET SESSION below covers this script;
-- set hive.timestamp-precision=MICROSECONDS in the catalog so that queries
-- read microseconds too.
-- Lake: s3://example-bucket/affise-lake

SET SESSION hive.timestamp_precision = 'MICROSECONDS';

CREATE SCHEMA IF NOT EXISTS hive.affise;

CREATE TABLE IF NOT EXISTS hive.affise."conversions" (
  "id" varchar,
  "status" varchar,
  "offer_id" bigint,
  "partner_id" bigint,
  "advertiser_id" varchar,
  "goal" varchar,
  "currency" varchar,
  "revenue" decimal(18,4),
  "payouts" decimal(18,4),
  "earnings" decimal(18,4),
  "country" varchar,
  "city" varchar,
  "os" varchar,
  "device" varchar,
  "browser" varchar,
  "clickid" varchar,
  "action_id" varchar,
  "sub1" varchar,
  "sub2" varchar,
  "sub3" varchar,
  "sub4" varchar,
  "sub5" varchar,
  "sub6" varchar,
  "sub7" varchar,
  "sub8" varchar,
  "created_at" timestamp(6),
  "click_time" timestamp(6),
  "updated_at" timestamp(6),
  "payment_status" varchar,
  "conversion_id" varchar,
  "cbid" varchar,
  "ip" varchar,
  "ua" varchar,
  "country_name" varchar,
  "isp_code" varchar,
  "device_type" varchar,
  "goal_value" varchar,
  "payment_type" varchar,
  "is_paid" varchar,
  "fraud_risk_level" varchar,
  "decline_reason" varchar,
  "supplier_id" varchar,
  "referrer" varchar,
  "ref_id" varchar,
  "comment" varchar,
  "city_id" bigint,
  "landing_id" bigint,
  "prelanding_id" bigint,
  "sum" decimal(18,4),
  "custom_field_1" varchar,
  "custom_field_2" varchar,
  "custom_field_3" varchar,
  "custom_field_4" varchar,
  "custom_field_5" varchar,
  "custom_field_6" varchar,
  "custom_field_7" varchar,
  "offer" varchar,
  "partner" varchar,
  "advertiser" varchar,
  "fraud_type" varchar,
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar,
  "date" varchar
)
WITH (
  external_location = 's3://example-bucket/affise-lake/conversions',
  format = 'PARQUET',
  partitioned_by = ARRAY['network', 'date']
);

CALL hive.system.sync_partition_metadata(schema_name => 'affise', table_name => 'conversions', mode => 'FULL');

CREATE TABLE IF NOT EXISTS hive.affise."clicks" (
  "id" varchar,
  "offer_id" bigint,
  "partner_id" bigint,
  "country" varchar,
  "os" varchar,
  "device_type" varchar,
  "browser" varchar,
  "sub1" varchar,
  "sub2" varchar,
  "sub3" varchar,
  "sub4" varchar,
  "sub5" varchar,
  "sub6" varchar,
  "sub7" varchar,
  "sub8" varchar,
  "created_at" timestamp(6),
  "has_conversions" boolean,
  "conversion_id" varchar,
  "click_id" varchar,
  "cbid" varchar,
  "ua" varchar,
  "country_name" varchar,
  "city" varchar,
  "region_name" varchar,
  "isp_code" varchar,
  "device" varchar,
  "device_fullname" varchar,
  "device_model" varchar,
  "os_version" varchar,
  "os_fullname" varchar,
  "browser_version" varchar,
  "browser_fullname" varchar,
  "connection_type" varchar,
  "referrer" varchar,
  "idfa" varchar,
  "smart_id" varchar,
  "ref_id" varchar,
  "os_id" varchar,
  "user_id" varchar,
  "ext1" varchar,
  "ext2" varchar,
  "ext3" varchar,
  "unid" varchar,
  "supplier_manager_id" varchar,
  "city_id" bigint,
  "region_id" bigint,
  "isp" bigint,
  "offer" varchar,
  "partner" varchar,
  "landing" varchar,
  "prelanding" varchar,
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar,
  "date" varchar
)
WITH (
  external_location = 's3://example-bucket/affise-lake/clicks',
  format = 'PARQUET',
  partitioned_by = ARRAY['network', 'date']
);

CALL hive.system.sync_partition_metadata(schema_name => 'affise', table_name => 'clicks', mode => 'FULL');

-- server_postbacks has a column named date: its partitions are projected, the day as partition_date,
-- the networks from partition_projection_values: list every network of the lake there.
CREATE TABLE IF NOT EXISTS hive.affise."server_postbacks" (
  "id" varchar,
  "date" timestamp(6),
  "click_id" varchar,
  "offer_id" bigint,
  "partner_id" bigint,
  "conversion_id" varchar,
  "get" varchar,
  "post" varchar,
  "server" varchar,
  "response" varchar,
  "_get" varchar,
  "_post" varchar,
  "track" varchar,
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar WITH (
    partition_projection_type = 'ENUM',
    partition_projection_values = ARRAY['default']
  ),
  "partition_date" varchar WITH (
    partition_projection_type = 'DATE',
    partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['2015-01-01', 'NOW'],
    partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS'
  )
)
WITH (
  external_location = 's3://example-bucket/affise-lake/server_postbacks',
  format = 'PARQUET',
  partitioned_by = ARRAY['network', 'partition_date'],
  partition_projection_enabled = true,
  partition_projection_location_template = 's3://example-bucket/affise-lake/server_postbacks/network=${network}/date=${partition_date}'
);

-- affiliate_postbacks has a column named date: its partitions are projected, the day as partition_date,
-- the networks from partition_projection_values: list every network of the lake there.
CREATE TABLE IF NOT EXISTS hive.affise."affiliate_postbacks" (
  "id" varchar,
  "date" timestamp(6),
  "pid" bigint,
  "lead_id" varchar,
  "http_code" integer,
  "offer_id" bigint,
  "goal" varchar,
  "status" integer,
  "postback_url" varchar,
  "job_id" varchar,
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar WITH (
    partition_projection_type = 'ENUM',
    partition_projection_values = ARRAY['default']
  ),
  "partition_date" varchar WITH (
    partition_projection_type = 'DATE',
    partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['2015-01-01', 'NOW'],
    partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS'
  )
)
WITH (
  external_location = 's3://example-bucket/affise-lake/affiliate_postbacks',
  format = 'PARQUET',
  partitioned_by = ARRAY['network', 'partition_date'],
  partition_projection_enabled = true,
  partition_projection_location_template = 's3://example-bucket/affise-lake/affiliate_postbacks/network=${network}/date=${partition_date}'
);

CREATE TABLE IF NOT EXISTS hive.affise."stats_daily" (
  "day" date,
  "offer_id" bigint,
  "partner_id" bigint,
  "country" varchar,
  "currency" varchar,
  "clicks_raw" bigint,
  "clicks_uniq" bigint,
  "total_count" bigint,
  "total_revenue" decimal(18,4),
  "total_charge" decimal(18,4),
  "total_earning" decimal(18,4),
  "confirmed_count" bigint,
  "confirmed_revenue" decimal(18,4),
  "confirmed_charge" decimal(18,4),
  "confirmed_earning" decimal(18,4),
  "pending_count" bigint,
  "pending_revenue" decimal(18,4),
  "pending_charge" decimal(18,4),
  "pending_earning" decimal(18,4),
  "declined_count" bigint,
  "declined_revenue" decimal(18,4),
  "declined_charge" decimal(18,4),
  "declined_earning" decimal(18,4),
  "hold_count" bigint,
  "hold_revenue" decimal(18,4),
  "hold_charge" decimal(18,4),
  "hold_earning" decimal(18,4),
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar,
  "date" varchar
)
WITH (
  external_location = 's3://example-bucket/affise-lake/stats_daily',
  format = 'PARQUET',
  partitioned_by = ARRAY['network', 'date']
);

CALL hive.system.sync_partition_metadata(schema_name => 'affise', table_name => 'stats_daily', mode => 'FULL');

CREATE TABLE IF NOT EXISTS hive.affise."offers" (
  "id" bigint,
  "offer_id" varchar,
  "title" varchar,
  "advertiser_id" varchar,
  "status" varchar,
  "privacy" varchar,
  "currency" varchar,
  "created_at" timestamp(6),
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar
)
WITH (
  external_location = 's3://example-bucket/affise-lake/offers',
  format = 'PARQUET',
  partitioned_by = ARRAY['network']
);

CALL hive.system.sync_partition_metadata(schema_name => 'affise', table_name => 'offers', mode => 'FULL');

CREATE TABLE IF NOT EXISTS hive.affise."partners" (
  "id" bigint,
  "email" varchar,
  "login" varchar,
  "name" varchar,
  "status" varchar,
  "manager_id" varchar,
  "country" varchar,
  "created_at" timestamp(6),
  "updated_at" timestamp(6),
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar
)
WITH (
  external_location = 's3://example-bucket/affise-lake/partners',
  format = 'PARQUET',
  partitioned_by = ARRAY['network']
);

CALL hive.system.sync_partition_metadata(schema_name => 'affise', table_name => 'partners', mode => 'FULL');

CREATE TABLE IF NOT EXISTS hive.affise."advertisers" (
  "id" varchar,
  "title" varchar,
  "email" varchar,
  "country" varchar,
  "manager" varchar,
  "created_at" timestamp(6),
  "updated_at" timestamp(6),
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar
)
WITH (
  external_location = 's3://example-bucket/affise-lake/advertisers',
  format = 'PARQUET',
  partitioned_by = ARRAY['network']
);

CALL hive.system.sync_partition_metadata(schema_name => 'affise', table_name => 'advertisers', mode => 'FULL');

-- currency_rates has a column named date: its partitions are projected, the day as partition_date,
-- the networks from partition_projection_values: list every network of the lake there.
CREATE TABLE IF NOT EXISTS hive.affise."currency_rates" (
  "date" date,
  "currency" varchar,
  "rate_per_usd" double,
  "raw" varchar,
  "_synced_at" timestamp(6),
  "network" varchar WITH (
    partition_projection_type = 'ENUM',
    partition_projection_values = ARRAY['default']
  ),
  "partition_date" varchar WITH (
    partition_projection_type = 'DATE',
    partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['2015-01-01', 'NOW'],
    partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS'
  )
)
WITH (
  external_location = 's3://example-bucket/affise-lake/currency_rates',
  format = 'PARQUET',
  partitioned_by = ARRAY['network', 'partition_date'],
  partition_projection_enabled = true,
  partition_projection_location_template = 's3://example-bucket/affise-lake/currency_rates/network=${network}/date=${partition_date}'
);

-- Amazon Athena: external tables in database affise. Athena runs one statement
-- at a time: run each below on its own. Every table is partitioned by network
-- (the Affise network's name), tables with a day column by date below it (the
-- UTC day, YYYY-MM-DD text; partition_date in tables that have a date
-- column of their own), with partition projection: new days are seen without
-- MSCK REPAIR TABLE, and filtering on a partition reads fewer files. Only the
-- networks in projection.network.values are read: default; add
-- every network of the lake (comma-separated). Projected days start at 2015-01-01: move
-- the range's start to your earliest start_date (earlier days are not read;
-- a later start makes unfiltered queries probe fewer days).
-- Athena reads these timestamps to the millisecond: the lake's microseconds
-- are cut.
-- Lake: s3://example-bucket/affise-lake

CREATE DATABASE IF NOT EXISTS `affise`;

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`conversions` (
  `id` string,
  `status` string,
  `offer_id` bigint,
  `partner_id` bigint,
  `advertiser_id` string,
  `goal` string,
  `currency` string,
  `revenue` decimal(18,4),
  `payouts` decimal(18,4),
  `earnings` decimal(18,4),
  `country` string,
  `city` string,
  `os` string,
  `device` string,
  `browser` string,
  `clickid` string,
  `action_id` string,
  `sub1` string,
  `sub2` string,
  `sub3` string,
  `sub4` string,
  `sub5` string,
  `sub6` string,
  `sub7` string,
  `sub8` string,
  `created_at` timestamp,
  `click_time` timestamp,
  `updated_at` timestamp,
  `payment_status` string,
  `conversion_id` string,
  `cbid` string,
  `ip` string,
  `ua` string,
  `country_name` string,
  `isp_code` string,
  `device_type` string,
  `goal_value` string,
  `payment_type` string,
  `is_paid` string,
  `fraud_risk_level` string,
  `decline_reason` string,
  `supplier_id` string,
  `referrer` string,
  `ref_id` string,
  `comment` string,
  `city_id` bigint,
  `landing_id` bigint,
  `prelanding_id` bigint,
  `sum` decimal(18,4),
  `custom_field_1` string,
  `custom_field_2` string,
  `custom_field_3` string,
  `custom_field_4` string,
  `custom_field_5` string,
  `custom_field_6` string,
  `custom_field_7` string,
  `offer` string,
  `partner` string,
  `advertiser` string,
  `fraud_type` string,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string, `date` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/conversions/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy-MM-dd',
  'projection.date.range' = '2015-01-01,NOW',
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://example-bucket/affise-lake/conversions/network=${network}/date=${date}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`clicks` (
  `id` string,
  `offer_id` bigint,
  `partner_id` bigint,
  `country` string,
  `os` string,
  `device_type` string,
  `browser` string,
  `sub1` string,
  `sub2` string,
  `sub3` string,
  `sub4` string,
  `sub5` string,
  `sub6` string,
  `sub7` string,
  `sub8` string,
  `created_at` timestamp,
  `has_conversions` boolean,
  `conversion_id` string,
  `click_id` string,
  `cbid` string,
  `ua` string,
  `country_name` string,
  `city` string,
  `region_name` string,
  `isp_code` string,
  `device` string,
  `device_fullname` string,
  `device_model` string,
  `os_version` string,
  `os_fullname` string,
  `browser_version` string,
  `browser_fullname` string,
  `connection_type` string,
  `referrer` string,
  `idfa` string,
  `smart_id` string,
  `ref_id` string,
  `os_id` string,
  `user_id` string,
  `ext1` string,
  `ext2` string,
  `ext3` string,
  `unid` string,
  `supplier_manager_id` string,
  `city_id` bigint,
  `region_id` bigint,
  `isp` bigint,
  `offer` string,
  `partner` string,
  `landing` string,
  `prelanding` string,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string, `date` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/clicks/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy-MM-dd',
  'projection.date.range' = '2015-01-01,NOW',
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://example-bucket/affise-lake/clicks/network=${network}/date=${date}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`server_postbacks` (
  `id` string,
  `date` timestamp,
  `click_id` string,
  `offer_id` bigint,
  `partner_id` bigint,
  `conversion_id` string,
  `get` string,
  `post` string,
  `server` string,
  `response` string,
  `_get` string,
  `_post` string,
  `track` string,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string, `partition_date` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/server_postbacks/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'projection.partition_date.type' = 'date',
  'projection.partition_date.format' = 'yyyy-MM-dd',
  'projection.partition_date.range' = '2015-01-01,NOW',
  'projection.partition_date.interval' = '1',
  'projection.partition_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://example-bucket/affise-lake/server_postbacks/network=${network}/date=${partition_date}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`affiliate_postbacks` (
  `id` string,
  `date` timestamp,
  `pid` bigint,
  `lead_id` string,
  `http_code` int,
  `offer_id` bigint,
  `goal` string,
  `status` int,
  `postback_url` string,
  `job_id` string,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string, `partition_date` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/affiliate_postbacks/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'projection.partition_date.type' = 'date',
  'projection.partition_date.format' = 'yyyy-MM-dd',
  'projection.partition_date.range' = '2015-01-01,NOW',
  'projection.partition_date.interval' = '1',
  'projection.partition_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://example-bucket/affise-lake/affiliate_postbacks/network=${network}/date=${partition_date}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`stats_daily` (
  `day` date,
  `offer_id` bigint,
  `partner_id` bigint,
  `country` string,
  `currency` string,
  `clicks_raw` bigint,
  `clicks_uniq` bigint,
  `total_count` bigint,
  `total_revenue` decimal(18,4),
  `total_charge` decimal(18,4),
  `total_earning` decimal(18,4),
  `confirmed_count` bigint,
  `confirmed_revenue` decimal(18,4),
  `confirmed_charge` decimal(18,4),
  `confirmed_earning` decimal(18,4),
  `pending_count` bigint,
  `pending_revenue` decimal(18,4),
  `pending_charge` decimal(18,4),
  `pending_earning` decimal(18,4),
  `declined_count` bigint,
  `declined_revenue` decimal(18,4),
  `declined_charge` decimal(18,4),
  `declined_earning` decimal(18,4),
  `hold_count` bigint,
  `hold_revenue` decimal(18,4),
  `hold_charge` decimal(18,4),
  `hold_earning` decimal(18,4),
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string, `date` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/stats_daily/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy-MM-dd',
  'projection.date.range' = '2015-01-01,NOW',
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://example-bucket/affise-lake/stats_daily/network=${network}/date=${date}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`offers` (
  `id` bigint,
  `offer_id` string,
  `title` string,
  `advertiser_id` string,
  `status` string,
  `privacy` string,
  `currency` string,
  `created_at` timestamp,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/offers/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'storage.location.template' = 's3://example-bucket/affise-lake/offers/network=${network}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`partners` (
  `id` bigint,
  `email` string,
  `login` string,
  `name` string,
  `status` string,
  `manager_id` string,
  `country` string,
  `created_at` timestamp,
  `updated_at` timestamp,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/partners/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'storage.location.template' = 's3://example-bucket/affise-lake/partners/network=${network}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`advertisers` (
  `id` string,
  `title` string,
  `email` string,
  `country` string,
  `manager` string,
  `created_at` timestamp,
  `updated_at` timestamp,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/advertisers/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'storage.location.template' = 's3://example-bucket/affise-lake/advertisers/network=${network}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `affise`.`currency_rates` (
  `date` date,
  `currency` string,
  `rate_per_usd` double,
  `raw` string,
  `_synced_at` timestamp
)
PARTITIONED BY (`network` string, `partition_date` string)
STORED AS PARQUET
LOCATION 's3://example-bucket/affise-lake/currency_rates/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.network.type' = 'enum',
  'projection.network.values' = 'default',
  'projection.partition_date.type' = 'date',
  'projection.partition_date.format' = 'yyyy-MM-dd',
  'projection.partition_date.range' = '2015-01-01,NOW',
  'projection.partition_date.interval' = '1',
  'projection.partition_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://example-bucket/affise-lake/currency_rates/network=${network}/date=${partition_date}/'
);

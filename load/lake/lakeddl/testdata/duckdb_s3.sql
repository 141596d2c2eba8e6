-- DuckDB: one view per lake table, with the columns and types of the DuckDB
-- warehouse's table. A view reads the files at each query, so new days show
-- without running this again. Creating a view reads its files' schema: one
-- over a table with no file yet fails ("No files found"); run this again after
-- that stream's first sync. Files written before a column was added read as
-- NULL there (union_by_name).
-- Lake: s3://example-bucket/affise-lake
--
-- DuckDB reads s3:// through its httpfs extension (recent versions load it
-- on first use) and a secret for the bucket. Run, before the views:
--   INSTALL httpfs; LOAD httpfs;
-- and one of
--   CREATE SECRET syncd_lake (TYPE s3, PROVIDER credential_chain);
--   CREATE SECRET syncd_lake (TYPE s3, KEY_ID '<access key id>', SECRET '<secret access key>', REGION '<region>');

CREATE OR REPLACE VIEW "conversions" AS
SELECT
  "network",
  "id",
  "status",
  "offer_id",
  "partner_id",
  "advertiser_id",
  "goal",
  "currency",
  "revenue",
  "payouts",
  "earnings",
  "country",
  "city",
  "os",
  "device",
  "browser",
  "clickid",
  "action_id",
  "sub1",
  "sub2",
  "sub3",
  "sub4",
  "sub5",
  "sub6",
  "sub7",
  "sub8",
  "created_at",
  "click_time",
  "updated_at",
  "payment_status",
  "conversion_id",
  "cbid",
  "ip",
  "ua",
  "country_name",
  "isp_code",
  "device_type",
  "goal_value",
  "payment_type",
  "is_paid",
  "fraud_risk_level",
  "decline_reason",
  "supplier_id",
  "referrer",
  "ref_id",
  "comment",
  "city_id",
  "landing_id",
  "prelanding_id",
  "sum",
  "custom_field_1",
  "custom_field_2",
  "custom_field_3",
  "custom_field_4",
  "custom_field_5",
  "custom_field_6",
  "custom_field_7",
  "offer",
  "partner",
  "advertiser",
  "fraud_type",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/conversions/network=*/date=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "clicks" AS
SELECT
  "network",
  "id",
  "offer_id",
  "partner_id",
  "country",
  "os",
  "device_type",
  "browser",
  "sub1",
  "sub2",
  "sub3",
  "sub4",
  "sub5",
  "sub6",
  "sub7",
  "sub8",
  "created_at",
  "has_conversions",
  "conversion_id",
  "click_id",
  "cbid",
  "ua",
  "country_name",
  "city",
  "region_name",
  "isp_code",
  "device",
  "device_fullname",
  "device_model",
  "os_version",
  "os_fullname",
  "browser_version",
  "browser_fullname",
  "connection_type",
  "referrer",
  "idfa",
  "smart_id",
  "ref_id",
  "os_id",
  "user_id",
  "ext1",
  "ext2",
  "ext3",
  "unid",
  "supplier_manager_id",
  "city_id",
  "region_id",
  "isp",
  "offer",
  "partner",
  "landing",
  "prelanding",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/clicks/network=*/date=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "server_postbacks" AS
SELECT
  "network",
  "id",
  "date",
  "click_id",
  "offer_id",
  "partner_id",
  "conversion_id",
  "get",
  "post",
  "server",
  "response",
  "_get",
  "_post",
  "track",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/server_postbacks/network=*/date=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "affiliate_postbacks" AS
SELECT
  "network",
  "id",
  "date",
  "pid",
  "lead_id",
  "http_code",
  "offer_id",
  "goal",
  "status",
  "postback_url",
  "job_id",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/affiliate_postbacks/network=*/date=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "stats_daily" AS
SELECT
  "network",
  "day",
  "offer_id",
  "partner_id",
  "country",
  "currency",
  "clicks_raw",
  "clicks_uniq",
  "total_count",
  "total_revenue",
  "total_charge",
  "total_earning",
  "confirmed_count",
  "confirmed_revenue",
  "confirmed_charge",
  "confirmed_earning",
  "pending_count",
  "pending_revenue",
  "pending_charge",
  "pending_earning",
  "declined_count",
  "declined_revenue",
  "declined_charge",
  "declined_earning",
  "hold_count",
  "hold_revenue",
  "hold_charge",
  "hold_earning",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/stats_daily/network=*/date=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "offers" AS
SELECT
  "network",
  "id",
  "offer_id",
  "title",
  "advertiser_id",
  "status",
  "privacy",
  "currency",
  "created_at",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/offers/network=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "partners" AS
SELECT
  "network",
  "id",
  "email",
  "login",
  "name",
  "status",
  "manager_id",
  "country",
  "created_at",
  "updated_at",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/partners/network=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "advertisers" AS
SELECT
  "network",
  "id",
  "title",
  "email",
  "country",
  "manager",
  "created_at",
  "updated_at",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/advertisers/network=*/*.parquet', hive_partitioning = false, union_by_name = true);

CREATE OR REPLACE VIEW "currency_rates" AS
SELECT
  "network",
  "date",
  "currency",
  "rate_per_usd",
  "raw",
  "_synced_at"
FROM read_parquet('s3://example-bucket/affise-lake/currency_rates/network=*/date=*/*.parquet', hive_partitioning = false, union_by_name = true);

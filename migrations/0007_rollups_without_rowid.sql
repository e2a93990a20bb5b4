-- Written by hand (drizzle-kit cannot express WITHOUT ROWID; its snapshot 0007 matches the
-- schema, so `db:generate` sees no change). The rollup tables become WITHOUT ROWID with the
-- rollup key as primary key: rows live in the key's B-tree, so a range read needs no second
-- lookup per row. Latency rows are keyed channel before hour (the query reads one channel's
-- histogram over a range of hours). Each table is rebuilt: create new, copy in key order, drop,
-- rename. The old unique key indexes go with the old tables (the primary key replaces them);
-- there is no other index to recreate. Foreign keys are off while migrating
-- (src/store/migrate.ts), then checked.
CREATE TABLE `__new_message_rollups` (
	`namespace_id` text NOT NULL,
	`granularity` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`channel_id` text NOT NULL,
	`application_id` text DEFAULT '' NOT NULL,
	`direction` text NOT NULL,
	`status` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`namespace_id`, `granularity`, `bucket_start`, `channel_id`, `application_id`, `direction`, `status`),
	FOREIGN KEY (`namespace_id`) REFERENCES `namespaces`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_message_rollups` ("namespace_id", "granularity", "bucket_start", "channel_id", "application_id", "direction", "status", "count")
	SELECT "namespace_id", "granularity", "bucket_start", "channel_id", "application_id", "direction", "status", "count" FROM `message_rollups`
	ORDER BY "namespace_id", "granularity", "bucket_start", "channel_id", "application_id", "direction", "status";
--> statement-breakpoint
DROP TABLE `message_rollups`;
--> statement-breakpoint
ALTER TABLE `__new_message_rollups` RENAME TO `message_rollups`;
--> statement-breakpoint
CREATE TABLE `__new_latency_rollups` (
	`namespace_id` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`channel_id` text NOT NULL,
	`kind` text NOT NULL,
	`le` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`namespace_id`, `channel_id`, `bucket_start`, `kind`, `le`),
	FOREIGN KEY (`namespace_id`) REFERENCES `namespaces`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_latency_rollups` ("namespace_id", "bucket_start", "channel_id", "kind", "le", "count")
	SELECT "namespace_id", "bucket_start", "channel_id", "kind", "le", "count" FROM `latency_rollups`
	ORDER BY "namespace_id", "channel_id", "bucket_start", "kind", "le";
--> statement-breakpoint
DROP TABLE `latency_rollups`;
--> statement-breakpoint
ALTER TABLE `__new_latency_rollups` RENAME TO `latency_rollups`;
--> statement-breakpoint
CREATE TABLE `__new_failure_rollups` (
	`namespace_id` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`channel_id` text NOT NULL,
	`error_code` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`namespace_id`, `bucket_start`, `channel_id`, `error_code`),
	FOREIGN KEY (`namespace_id`) REFERENCES `namespaces`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_failure_rollups` ("namespace_id", "bucket_start", "channel_id", "error_code", "count")
	SELECT "namespace_id", "bucket_start", "channel_id", "error_code", "count" FROM `failure_rollups`
	ORDER BY "namespace_id", "bucket_start", "channel_id", "error_code";
--> statement-breakpoint
DROP TABLE `failure_rollups`;
--> statement-breakpoint
ALTER TABLE `__new_failure_rollups` RENAME TO `failure_rollups`;

CREATE TABLE `email_verifications` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`request` text DEFAULT '{}' NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `email_verifications_token_hash_unique` ON `email_verifications` (`token_hash`);--> statement-breakpoint
CREATE TABLE `failure_rollups` (
	`namespace_id` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`channel_id` text NOT NULL,
	`error_code` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`namespace_id`) REFERENCES `namespaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `failure_rollups_key` ON `failure_rollups` (`namespace_id`,`bucket_start`,`channel_id`,`error_code`);--> statement-breakpoint
CREATE TABLE `job_runs` (
	`name` text PRIMARY KEY NOT NULL,
	`lease_owner` text,
	`lease_until` integer,
	`last_started_at` integer,
	`last_finished_at` integer,
	`last_status` text,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `latency_rollups` (
	`namespace_id` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`channel_id` text NOT NULL,
	`kind` text NOT NULL,
	`le` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`namespace_id`) REFERENCES `namespaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `latency_rollups_key` ON `latency_rollups` (`namespace_id`,`bucket_start`,`channel_id`,`kind`,`le`);--> statement-breakpoint
CREATE TABLE `message_rollups` (
	`namespace_id` text NOT NULL,
	`granularity` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`channel_id` text NOT NULL,
	`application_id` text DEFAULT '' NOT NULL,
	`direction` text NOT NULL,
	`status` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`namespace_id`) REFERENCES `namespaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_rollups_key` ON `message_rollups` (`namespace_id`,`granularity`,`bucket_start`,`channel_id`,`application_id`,`direction`,`status`);--> statement-breakpoint
CREATE TABLE `provisioning_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`namespace_id` text,
	`slug` text NOT NULL,
	`user_id` text,
	`plan` text,
	`step` text NOT NULL,
	`status` text NOT NULL,
	`state_enc` text,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`lease_owner` text,
	`lease_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `provisioning_jobs_due` ON `provisioning_jobs` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `provisioning_jobs_slug` ON `provisioning_jobs` (`slug`);--> statement-breakpoint
ALTER TABLE `channels` ADD `last_error_code` text;--> statement-breakpoint
ALTER TABLE `channels` ADD `last_error_message` text;--> statement-breakpoint
ALTER TABLE `channels` ADD `last_error_at` integer;--> statement-breakpoint
ALTER TABLE `namespaces` ADD `plan` text;--> statement-breakpoint
ALTER TABLE `namespaces` ADD `disabled_at` integer;--> statement-breakpoint
ALTER TABLE `namespaces` ADD `purge_after` integer;
CREATE TABLE `pending_statuses` (
	`id` text PRIMARY KEY NOT NULL,
	`channel_id` text NOT NULL,
	`provider_message_id` text NOT NULL,
	`status` text NOT NULL,
	`error_code` text,
	`error_message` text,
	`occurred_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `pending_statuses_provider` ON `pending_statuses` (`channel_id`,`provider_message_id`);--> statement-breakpoint
CREATE INDEX `pending_statuses_created` ON `pending_statuses` (`created_at`);--> statement-breakpoint
CREATE TABLE `suppressions` (
	`namespace_id` text NOT NULL,
	`channel_type` text NOT NULL,
	`recipient` text NOT NULL,
	`reason` text NOT NULL,
	`detail` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`namespace_id`) REFERENCES `namespaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `suppressions_key` ON `suppressions` (`namespace_id`,`channel_type`,`recipient`);--> statement-breakpoint
CREATE INDEX `messages_provider_id` ON `messages` (`channel_id`,`provider_message_id`) WHERE provider_message_id IS NOT NULL;
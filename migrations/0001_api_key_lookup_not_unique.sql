DROP INDEX `api_keys_lookup_unique`;--> statement-breakpoint
CREATE INDEX `api_keys_lookup` ON `api_keys` (`lookup`);
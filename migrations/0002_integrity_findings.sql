CREATE TABLE `integrity_findings` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`kind` text NOT NULL,
	`entity_type` text NOT NULL,
	`entity_id` text NOT NULL,
	`field` text NOT NULL,
	`detail` text NOT NULL,
	`first_seen_at` text NOT NULL,
	`last_seen_at` text NOT NULL,
	`resolved_at` text,
	PRIMARY KEY(`session_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `integrity_findings_open` ON `integrity_findings` (`session_id`,`resolved_at`);--> statement-breakpoint
CREATE TABLE `integrity_runs` (
	`session_id` text PRIMARY KEY NOT NULL,
	`checked_at` text NOT NULL,
	`open_findings` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `metric_counters` (
	`name` text NOT NULL,
	`labels` text NOT NULL,
	`bucket` text NOT NULL,
	`value` real NOT NULL,
	PRIMARY KEY(`name`, `labels`, `bucket`)
);

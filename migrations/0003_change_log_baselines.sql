CREATE TABLE `entity_baselines` (
	`session_id` text NOT NULL,
	`entity_type` text NOT NULL,
	`entity_id` text NOT NULL,
	`version` integer NOT NULL,
	`seq` integer NOT NULL,
	`state` text NOT NULL,
	`updated_by` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `entity_type`, `entity_id`)
);

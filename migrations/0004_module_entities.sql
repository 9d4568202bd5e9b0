CREATE TABLE `module_entities` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`updated_by` text NOT NULL,
	`archived_at` text,
	`entity_type` text NOT NULL,
	`scene_id` text,
	`data` text NOT NULL,
	PRIMARY KEY(`session_id`, `entity_type`, `id`)
);
--> statement-breakpoint
CREATE INDEX `module_entities_scene` ON `module_entities` (`session_id`,`entity_type`,`scene_id`);
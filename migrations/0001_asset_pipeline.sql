CREATE TABLE `asset_deletions` (
	`session_id` text NOT NULL,
	`hash` text NOT NULL,
	`r2_key` text NOT NULL,
	`row` text NOT NULL,
	`queued_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `hash`)
);
--> statement-breakpoint
CREATE INDEX `asset_deletions_queued` ON `asset_deletions` (`queued_at`);--> statement-breakpoint
CREATE TABLE `asset_upload_windows` (
	`user_id` text PRIMARY KEY NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `assets` ADD `original_hash` text;--> statement-breakpoint
CREATE INDEX `assets_original` ON `assets` (`session_id`,`original_hash`);--> statement-breakpoint
CREATE INDEX `scenes_map_asset` ON `scenes` (`session_id`,`map_asset`);--> statement-breakpoint
CREATE INDEX `token_art_image_asset` ON `token_art` (`session_id`,`image_asset`);
CREATE TABLE `acknowledgements` (
	`session_id` text NOT NULL,
	`client_id` text NOT NULL,
	`event_id` integer NOT NULL,
	`user_id` text NOT NULL,
	`acked_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `client_id`, `event_id`)
);
--> statement-breakpoint
CREATE TABLE `activation_timeline` (
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`kind` text NOT NULL,
	`scene_id` text,
	`map_asset` text,
	`user_id` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `seq`, `kind`)
);
--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` text NOT NULL,
	`last_used_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `api_tokens_user` ON `api_tokens` (`user_id`);--> statement-breakpoint
CREATE TABLE `applied_ops` (
	`session_id` text NOT NULL,
	`op_id` text NOT NULL,
	`seq` integer NOT NULL,
	`entity_type` text NOT NULL,
	`entity_id` text NOT NULL,
	`result` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `op_id`)
);
--> statement-breakpoint
CREATE TABLE `assets` (
	`session_id` text NOT NULL,
	`hash` text NOT NULL,
	`kind` text NOT NULL,
	`mime` text NOT NULL,
	`size` integer NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`r2_key` text NOT NULL,
	`uploaded_by` text NOT NULL,
	`created_at` text NOT NULL,
	`last_referenced_at` text,
	`mirrored_at` text,
	PRIMARY KEY(`session_id`, `hash`)
);
--> statement-breakpoint
CREATE INDEX `assets_r2_key` ON `assets` (`r2_key`);--> statement-breakpoint
CREATE TABLE `change_log` (
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`entity_type` text NOT NULL,
	`entity_id` text NOT NULL,
	`version` integer NOT NULL,
	`op` text NOT NULL,
	`diff` text NOT NULL,
	`payload_hash` text NOT NULL,
	`visible_before` integer NOT NULL,
	`visible_after` integer NOT NULL,
	`updated_by` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `change_log_entity` ON `change_log` (`session_id`,`entity_type`,`entity_id`,`seq`);--> statement-breakpoint
CREATE TABLE `folders` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`updated_by` text NOT NULL,
	`archived_at` text,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`parent_id` text,
	`sort` real NOT NULL,
	PRIMARY KEY(`session_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `folders_parent` ON `folders` (`session_id`,`parent_id`);--> statement-breakpoint
CREATE TABLE `game_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`invite_code` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text NOT NULL,
	`seq` integer DEFAULT 0 NOT NULL,
	`log_floor` integer DEFAULT 0 NOT NULL,
	`settings` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `game_sessions_invite_code_unique` ON `game_sessions` (`invite_code`);--> statement-breakpoint
CREATE TABLE `login_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`csrf_token` text NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `login_sessions_user` ON `login_sessions` (`user_id`);--> statement-breakpoint
CREATE INDEX `login_sessions_expiry` ON `login_sessions` (`expires_at`);--> statement-breakpoint
CREATE TABLE `scene_layers` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`updated_by` text NOT NULL,
	`archived_at` text,
	`scene_id` text NOT NULL,
	`layer_type` text NOT NULL,
	`payload` text NOT NULL,
	`z_index` integer NOT NULL,
	PRIMARY KEY(`session_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `scene_layers_scene` ON `scene_layers` (`session_id`,`scene_id`);--> statement-breakpoint
CREATE TABLE `scenes` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`updated_by` text NOT NULL,
	`archived_at` text,
	`name` text NOT NULL,
	`description` text NOT NULL,
	`map_asset` text,
	`grid_scale` real NOT NULL,
	`grid_units` text NOT NULL,
	`accent_color` text,
	`folder_id` text,
	`sort` real NOT NULL,
	`metadata` text NOT NULL,
	PRIMARY KEY(`session_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `scenes_folder` ON `scenes` (`session_id`,`folder_id`);--> statement-breakpoint
CREATE TABLE `session_clients` (
	`client_id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`connected_at` text NOT NULL,
	`last_seen` text NOT NULL,
	`disconnected_at` text,
	`capabilities` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `session_clients_session` ON `session_clients` (`session_id`,`disconnected_at`);--> statement-breakpoint
CREATE TABLE `session_locks` (
	`session_id` text NOT NULL,
	`scene_id` text NOT NULL,
	`holder_user_id` text NOT NULL,
	`acquired_at` text NOT NULL,
	`expires_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `scene_id`)
);
--> statement-breakpoint
CREATE TABLE `session_members` (
	`session_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`joined_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `session_members_user` ON `session_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `session_state` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`updated_by` text NOT NULL,
	`archived_at` text,
	`active_scene_id` text,
	`flags` text NOT NULL,
	`gm_user_ids` text NOT NULL,
	PRIMARY KEY(`session_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `session_state_one` ON `session_state` (`session_id`);--> statement-breakpoint
CREATE TABLE `token_art` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`updated_by` text NOT NULL,
	`archived_at` text,
	`token_id` text NOT NULL,
	`image_asset` text NOT NULL,
	`crop` text NOT NULL,
	PRIMARY KEY(`session_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `token_art_token` ON `token_art` (`session_id`,`token_id`);--> statement-breakpoint
CREATE TABLE `tokens` (
	`session_id` text NOT NULL,
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`updated_by` text NOT NULL,
	`archived_at` text,
	`scene_id` text,
	`name` text NOT NULL,
	`folder_id` text,
	`stats` text NOT NULL,
	`width` real NOT NULL,
	`height` real NOT NULL,
	`x` real NOT NULL,
	`y` real NOT NULL,
	`rotation` real NOT NULL,
	`hidden` integer NOT NULL,
	`stamina` real,
	`school` text,
	`owner_user_ids` text NOT NULL,
	`created_by` text NOT NULL,
	PRIMARY KEY(`session_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `tokens_scene` ON `tokens` (`session_id`,`scene_id`);--> statement-breakpoint
CREATE INDEX `tokens_folder` ON `tokens` (`session_id`,`folder_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_unique` ON `users` (`username`);
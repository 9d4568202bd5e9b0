-- The session directory (worker/db/shards.ts): which database holds each session's rows. It lives
-- in the directory database (binding DB) beside users, logins, API tokens and memberships; every
-- per-session table lives on the session's shard. The same migrations apply to every database, so
-- each has every table; the ones a database does not serve stay empty.
CREATE TABLE `session_directory` (
	`session_id` text PRIMARY KEY NOT NULL,
	`shard` text NOT NULL,
	`region` text NOT NULL,
	`state` text DEFAULT 'active' NOT NULL,
	`name` text NOT NULL,
	`invite_code` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text NOT NULL,
	`moved_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `session_directory_invite_code_unique` ON `session_directory` (`invite_code`);--> statement-breakpoint
CREATE INDEX `session_directory_shard` ON `session_directory` (`shard`);--> statement-breakpoint
-- Sessions created before shards existed stay where they are: on the directory database itself,
-- shard "DB", until an operator moves them (POST /api/vtt/admin/sessions/{sid}/move).
INSERT INTO `session_directory` (`session_id`, `shard`, `region`, `state`, `name`, `invite_code`, `created_by`, `created_at`)
SELECT `id`, 'DB', '', 'active', `name`, `invite_code`, `created_by`, `created_at` FROM `game_sessions`;

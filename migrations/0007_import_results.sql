CREATE TABLE `import_results` (
	`session_id` text NOT NULL,
	`user_id` text NOT NULL,
	`idempotency_key` text NOT NULL,
	`body_sha256` text NOT NULL,
	`result` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`session_id`, `user_id`, `idempotency_key`)
);

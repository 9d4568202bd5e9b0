ALTER TABLE `scenes` ADD `grid_type` text DEFAULT 'square' NOT NULL;--> statement-breakpoint
ALTER TABLE `scenes` ADD `grid_size` real DEFAULT 64 NOT NULL;--> statement-breakpoint
ALTER TABLE `scenes` ADD `grid_offset_x` real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `scenes` ADD `grid_offset_y` real DEFAULT 0 NOT NULL;
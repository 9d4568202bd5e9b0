ALTER TABLE `applied_ops` ADD `user_id` text;--> statement-breakpoint
ALTER TABLE `applied_ops` ADD `op` text;--> statement-breakpoint
-- Rows stored before: verified from the change log. The change at the op's seq must be of the
-- same entity, at the version and by the user of the stored result; then its author is the op's
-- actor and its op the op (a revert is recorded as the update, archive or restore it made). Rows
-- without such a change (compacted away, or an archive of what was archived) stay unverified:
-- their op id answers no replay.
UPDATE `applied_ops` SET
  `user_id` = (
    SELECT c.`updated_by` FROM `change_log` c
    WHERE c.`session_id` = `applied_ops`.`session_id` AND c.`seq` = `applied_ops`.`seq`
      AND c.`entity_type` = `applied_ops`.`entity_type` AND c.`entity_id` = `applied_ops`.`entity_id`
      AND c.`version` = json_extract(`applied_ops`.`result`, '$.version')
      AND c.`updated_by` = json_extract(`applied_ops`.`result`, '$.updated_by')
  ),
  `op` = (
    SELECT c.`op` FROM `change_log` c
    WHERE c.`session_id` = `applied_ops`.`session_id` AND c.`seq` = `applied_ops`.`seq`
      AND c.`entity_type` = `applied_ops`.`entity_type` AND c.`entity_id` = `applied_ops`.`entity_id`
      AND c.`version` = json_extract(`applied_ops`.`result`, '$.version')
      AND c.`updated_by` = json_extract(`applied_ops`.`result`, '$.updated_by')
  );

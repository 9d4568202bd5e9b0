import { createSubmitter } from "../lib/submit";
import { ErrorMessage } from "./ErrorMessage";

/**
 * Said right after the GM archived something: what went to the archive, with Undo (a restore,
 * queued like any edit) and Dismiss. Archiving erases nothing; the archive bin restores later too.
 */
export function ArchivedNotice(props: {
  label: string;
  /** What was done ("Archived" unless told: a note is "Deleted"). */
  verb?: string;
  onUndo: () => Promise<unknown>;
  onDismiss: () => void;
}) {
  const undoing = createSubmitter(async () => {
    await props.onUndo();
    props.onDismiss();
  });
  return (
    <div class="undo-message archived-notice" role="status">
      {props.verb ?? "Archived"} {props.label}.{" "}
      <button type="button" class="button-small" disabled={undoing.pending()} onClick={() => void undoing.run()}>
        Undo
      </button>{" "}
      <button type="button" class="button-small button-quiet" onClick={() => props.onDismiss()}>
        Dismiss
      </button>
      <ErrorMessage message={undoing.error()} />
    </div>
  );
}

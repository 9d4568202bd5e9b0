import StickyNote from "lucide-solid/icons/sticky-note";
import { createSignal, For, onMount, Show } from "solid-js";
import { MAX_NOTE_LENGTH, type Note } from "../lib/drawing";
import type { LayerTool } from "./LayerToolbar";

/**
 * The GM's notes on the table: a pin with the start of its text at each note, above the tokens.
 * A pin opens its note for editing (or, with the eraser, deletes it); the note tool places a new
 * one (`draft`). Players never receive notes layers (the server filters them out).
 */
export function NotesLayer(props: {
  notes: Note[];
  tool: LayerTool;
  draft: { x: number; y: number } | null;
  onDraftClosed: () => void;
  onSave: (note: Note) => void;
  onDelete: (id: string) => void;
  newId: () => string;
  now: () => number;
}) {
  const [editingId, setEditingId] = createSignal<string | null>(null);
  const editing = () => props.notes.find((n) => n.id === editingId());

  return (
    <div class="notes-layer">
      <For each={props.notes}>
        {(note) => (
          <button
            type="button"
            class="note-pin"
            classList={{ open: editingId() === note.id }}
            style={{ left: `${note.x}px`, top: `${note.y}px` }}
            aria-label={`Note: ${note.text || "(empty)"}`}
            title={props.tool === "erase" ? "Delete this note" : note.text}
            data-note-id={note.id}
            onPointerDown={(event) => event.stopPropagation()}
            onClick={(event) => {
              event.stopPropagation();
              if (props.tool === "erase") props.onDelete(note.id);
              else {
                props.onDraftClosed();
                setEditingId(note.id);
              }
            }}
          >
            <span class="note-mark" aria-hidden="true">
              <StickyNote size={14} />
            </span>
            <span class="note-text">{preview(note.text)}</span>
          </button>
        )}
      </For>
      <Show when={editing()} keyed>
        {(note) => (
          <NoteEditor
            x={note.x}
            y={note.y}
            text={note.text}
            onSave={(text) => {
              props.onSave({ ...note, text });
              setEditingId(null);
            }}
            onDelete={() => {
              props.onDelete(note.id);
              setEditingId(null);
            }}
            onCancel={() => setEditingId(null)}
          />
        )}
      </Show>
      <Show when={props.draft} keyed>
        {(draft) => (
          <NoteEditor
            x={draft.x}
            y={draft.y}
            text=""
            onSave={(text) => {
              if (text.trim() !== "") props.onSave({ id: props.newId(), x: draft.x, y: draft.y, text, at: props.now() });
              props.onDraftClosed();
            }}
            onCancel={() => props.onDraftClosed()}
          />
        )}
      </Show>
    </div>
  );
}

function preview(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 40 ? `${line.slice(0, 39)}…` : line;
}

function NoteEditor(props: {
  x: number;
  y: number;
  text: string;
  onSave: (text: string) => void;
  onDelete?: () => void;
  onCancel: () => void;
}) {
  const [text, setText] = createSignal(props.text);
  let area: HTMLTextAreaElement | undefined;
  onMount(() => area?.focus());

  return (
    <form
      class="note-editor"
      style={{ left: `${props.x}px`, top: `${props.y}px` }}
      aria-label="Note"
      onPointerDown={(event) => event.stopPropagation()}
      onSubmit={(event) => {
        event.preventDefault();
        props.onSave(text());
      }}
    >
      <textarea
        ref={area}
        aria-label="Note text"
        rows="3"
        maxLength={MAX_NOTE_LENGTH}
        value={text()}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === "Escape") props.onCancel();
          if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            props.onSave(text());
          }
        }}
      />
      <div class="button-row">
        <button type="submit" class="button-small">
          Save note
        </button>
        <Show when={props.onDelete}>
          {(remove) => (
            <button type="button" class="button-small button-quiet" onClick={() => remove()()}>
              Delete note
            </button>
          )}
        </Show>
        <button type="button" class="button-small button-quiet" onClick={() => props.onCancel()}>
          Cancel
        </button>
      </div>
    </form>
  );
}

import { formatClock } from "../lib/clock";
import type { SceneLock } from "../lib/types";

/** Who holds a scene's lock and until when; mine reads differently from another GM's. */
export function LockBadge(props: { lock: SceneLock; mine: boolean; holderName: string | undefined }) {
  const who = () => (props.mine ? "you" : (props.holderName ?? "another GM"));
  const until = () => formatClock(props.lock.expires_at);
  return (
    <span
      class="lock-badge"
      classList={{ "lock-badge-mine": props.mine }}
      title={`Locked for editing by ${who()} until ${until()}${props.mine ? "; it stays yours while you work" : ""}`}
    >
      <span class="lock-icon" aria-hidden="true" />
      Locked by {who()} <span class="lock-until">until {until()}</span>
    </span>
  );
}

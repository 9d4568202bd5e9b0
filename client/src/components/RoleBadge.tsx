import type { Role } from "../lib/types";

const labels: Record<Role, string> = { gm: "GM", player: "Player" };

export function RoleBadge(props: { role: Role }) {
  return <span class={`badge badge-${props.role}`}>{labels[props.role]}</span>;
}

/**
 * How a wire identity (`Principal.who`, an assignee, a message's sender) reads in event summaries and
 * notifications (spec 03 §0.4): the system and admin placeholders by name, operators without their
 * `__user:` prefix, agents by id; nothing reads as ''.
 */
export function displayName(id: string | null | undefined): string {
  if (!id) return '';
  if (id === '__system__') return 'System';
  if (id === '__admin__') return 'Admin';
  if (id.startsWith('__user:')) return id.slice('__user:'.length);
  return id;
}

/**
 * Text → HTML-safe text (`& < > " '`). One helper for every place that writes HTML or, as the
 * original did, stores a field escaped: e-mail bodies (every interpolated value in HTML mail goes
 * through it, spec 07 SEC-45), event summaries, asset names, drone job titles.
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

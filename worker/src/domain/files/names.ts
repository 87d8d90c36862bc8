/**
 * File names for uploads (spec 05 §0.4, spec 07 SEC-23). Names shown to clients are derived from
 * the client's file name but never used to reach storage: blobs are keyed by server-chosen ids.
 */

/** Extensions stored inert as `.blocked` (executable or scriptable in a browser or shell). */
const BLOCKED_EXTENSIONS = new Set([
  '.exe',
  '.bat',
  '.cmd',
  '.sh',
  '.ps1',
  '.msi',
  '.dll',
  '.com',
  '.scr',
  '.pif',
  '.vbs',
  '.js',
  '.wsh',
  '.wsf',
  '.html',
  '.htm',
  '.xhtml',
  '.svg',
  '.php',
  '.jsp',
  '.asp',
  '.aspx',
  '.cgi',
]);

/**
 * `<base>_<epochMillis>_<random><ext>`: base with every char outside [A-Za-z0-9_-] replaced by `_`,
 * extension lower-cased and neutered to `.blocked` when in the blocklist. The random part keeps
 * two uploads in the same millisecond apart and the names unguessable (spec 05 §17.3).
 */
export function storedFileName(original: string, nowMs: number): string {
  const leaf = original.split(/[\\/]/).pop() ?? '';
  const dot = leaf.lastIndexOf('.');
  const rawExt = dot > 0 ? leaf.slice(dot).toLowerCase() : '';
  const ext = !rawExt ? '' : BLOCKED_EXTENSIONS.has(rawExt) || !/^\.[a-z0-9]{1,16}$/.test(rawExt) ? '.blocked' : rawExt;
  const base = (dot > 0 ? leaf.slice(0, dot) : leaf).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100) || 'file';
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${base}_${nowMs}_${rand}${ext}`;
}

/** A name from a URL parameter reduced to [A-Za-z0-9_.-]; `.`, `..` and empty are refused (null). */
export function urlFileName(raw: string): string | null {
  const name = raw.replace(/[^A-Za-z0-9_.-]/g, '');
  if (!name || /^\.+$/.test(name) || name.length > 255) return null;
  return name;
}

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.mp4': 'video/mp4',
  '.glb': 'model/gltf-binary',
  '.gltf': 'model/gltf+json',
};

/** Content-Type by extension; unknown and `.blocked` are opaque bytes. */
function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && MIME[name.slice(dot).toLowerCase()]) || 'application/octet-stream';
}

/** A download response: always an attachment, never rendered by the browser (SEC-23). */
export function attachment(body: ReadableStream<Uint8Array>, size: number, name: string): Response {
  const safe = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return new Response(body, {
    status: 200,
    headers: {
      'Content-Type': contentTypeFor(name),
      'Content-Length': String(size),
      'Content-Disposition': `attachment; filename="${safe}"`,
      'Cache-Control': 'private, no-store',
    },
  });
}

/**
 * Splits a document into chunks of at most `size` characters, losslessly (the chunks joined are
 * the text). A cut prefers, inside the second half of the window, the last blank line, then the
 * last line break, then the last space; otherwise it is a hard cut (spec 06 §5.4 chunking).
 */
export function chunkText(text: string, size: number): string[] {
  if (text.length <= size) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > size) {
    const window = rest.slice(0, size);
    const half = Math.floor(size / 2);
    let cut = -1;
    for (const sep of ['\n\n', '\n', ' ']) {
      const at = window.lastIndexOf(sep);
      if (at >= half) {
        cut = at + sep.length; // the separator stays with the preceding chunk
        break;
      }
    }
    if (cut <= 0) cut = size;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length) out.push(rest);
  return out;
}

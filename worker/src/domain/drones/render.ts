/**
 * Template rendering for drone jobs (spec 05 §5.3, §17.1 C-2, spec 07 SEC-25).
 *
 * A template's `command_template` is written by an admin; the `{{var}}` values come from the
 * job's `input_data`, i.e. from whoever queued it (often an LLM agent). So values are data,
 * never syntax:
 *  - the template is split ONCE into an argument vector (quotes group words, as a shell would),
 *    and a value only ever fills its own argument — a worker that execs `command_argv` without a
 *    shell cannot be steered by any value at all;
 *  - for workers that still run the `command` string through a shell, values are also refused
 *    when they hold shell syntax (`$ \` ; | & < > " \`, CR, LF, NUL), or whitespace where the
 *    placeholder is not inside quotes (argument injection such as `30 --out /etc/x`);
 *  - substitution is literal (no regular expression is ever built from a key or value);
 *  - input keys never override the platform variables, and only strings, numbers and booleans
 *    fill a placeholder.
 */

const PLATFORM_VARS = ['python', 'home', 'workspace', 'null_dev', 'path_sep', 'pip_install'] as const;

/** Shell syntax a value may never carry (the first eight are the original's list, HEAD C-2). */
const FORBIDDEN = /[$`;|&<>\r\n\0"\\]/;
const PLACEHOLDER = /\{\{([A-Za-z0-9_]+)\}\}/g;

export type Segment = { text: string } | { name: string; quoted: boolean; single: boolean };
export type Token = Segment[];

/**
 * Splits a command template into argument tokens: whitespace separates arguments outside quotes;
 * `"…"` and `'…'` group (the quote characters themselves are dropped). Throws on an unbalanced
 * quote so a broken template is refused when it is saved, not when a drone runs it.
 */
export function tokenize(template: string): Token[] {
  const tokens: Token[] = [];
  let current: Token | null = null;
  let quote: '"' | "'" | null = null;
  let buf = '';
  const flushText = () => {
    if (!buf) return;
    current ??= [];
    pushText(current, buf, quote);
    buf = '';
  };
  for (const ch of template) {
    if (quote) {
      if (ch === quote) {
        flushText();
        current ??= [];
        quote = null;
      } else buf += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      flushText();
      current ??= [];
      quote = ch;
    } else if (/\s/.test(ch)) {
      flushText();
      if (current) tokens.push(current);
      current = null;
    } else buf += ch;
  }
  if (quote) throw new Error('command_template has an unbalanced quote');
  flushText();
  if (current) tokens.push(current);
  return tokens;
}

/** Splits a run of literal text into text and placeholder segments (literal scan, no user regex). */
function pushText(token: Token, text: string, quote: '"' | "'" | null) {
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m.index! > last) token.push({ text: text.slice(last, m.index) });
    token.push({ name: m[1], quoted: quote !== null, single: quote === "'" });
    last = m.index! + m[0].length;
  }
  if (last < text.length) token.push({ text: text.slice(last) });
}

/** Placeholder names of a template: whether every use is quoted, and whether any use is inside single quotes. */
function placeholders(template: string): Map<string, { quoted: boolean; single: boolean }> {
  const out = new Map<string, { quoted: boolean; single: boolean }>();
  for (const token of tokenize(template)) {
    for (const s of token) {
      if (!('name' in s)) continue;
      const prev = out.get(s.name);
      out.set(s.name, { quoted: (prev?.quoted ?? true) && s.quoted, single: (prev?.single ?? false) || s.single });
    }
  }
  return out;
}

const shellCharsError = (key: string) =>
  `Input value for "${key}" contains disallowed shell characters ($ \` ; | & < > newline)`;

/**
 * The value rules, shared by queue time (400) and claim time (skip): returns the first problem or
 * null. Keys starting with `_` are internal lineage and never substituted.
 */
export function checkInputValues(template: string, input: Record<string, unknown>): string | null {
  let used: Map<string, { quoted: boolean; single: boolean }>;
  try {
    used = placeholders(template);
  } catch (err) {
    return (err as Error).message;
  }
  for (const [key, value] of Object.entries(input)) {
    if (key.startsWith('_')) continue;
    if (typeof value === 'string' && FORBIDDEN.test(value)) return shellCharsError(key);
    const use = used.get(key);
    if (!use || (PLATFORM_VARS as readonly string[]).includes(key)) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return `Input value for "${key}" must be a string, number or boolean`;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) return `Input value for "${key}" must be a finite number`;
    // Inside '…' a shell ends the quote at the next apostrophe, so one in the value would let the rest become arguments.
    if (use.single && String(value).includes("'"))
      return `Input value for "${key}" contains an apostrophe but its placeholder is in single quotes`;
    if (!use.quoted && /\s/.test(String(value))) {
      return `Input value for "${key}" contains whitespace but its placeholder is not quoted in the template`;
    }
  }
  return null;
}

export interface TemplateForRender {
  id: string;
  requires: string;
  min_vram_gb: number;
  min_disk_gb: number;
  python_deps: string;
  python_deps_install: string;
  artifacts: string;
  setup_repo: string;
  command_template: string;
  workspace_name: string;
}

export interface Diagnostics {
  os?: unknown;
  python_path?: unknown;
  home?: unknown;
  username?: unknown;
  cuda_available?: unknown;
  gpu_name?: unknown;
  gpu_vram_gb?: unknown;
  disk_free_gb?: unknown;
}

export interface SetupStep {
  name: string;
  check: string;
  run: string;
  skip_if_check_passes: true;
}

export interface Rendered {
  command: string;
  argv: string[];
  setup_steps: SetupStep[];
  artifacts: string[];
  workspace: string;
}

function parseJsonArray(text: string | null | undefined): unknown[] {
  try {
    const v = JSON.parse(text ?? '');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Whether the drone reports any GPU (spec 05 §3 compatibility / §5.3). */
function hasGpu(d: Diagnostics): boolean {
  return d.cuda_available === true || !!str(d.gpu_name);
}

/** Hardware problems of a template on a drone, in the compatibility wording (spec 05 §3). */
export function hardwareIssues(
  t: Pick<TemplateForRender, 'requires' | 'min_vram_gb' | 'min_disk_gb'>,
  d: Diagnostics,
): string[] {
  const issues: string[] = [];
  const requires = parseJsonArray(t.requires);
  const vram = num(d.gpu_vram_gb);
  const disk = num(d.disk_free_gb);
  if (requires.includes('gpu')) {
    if (!hasGpu(d)) issues.push('Requires GPU, none detected');
    else if (t.min_vram_gb > 0 && vram !== undefined && vram < t.min_vram_gb)
      issues.push(`Requires ${t.min_vram_gb} GB VRAM, has ${vram} GB`);
  }
  if (t.min_disk_gb > 0 && disk !== undefined && disk < t.min_disk_gb)
    issues.push(`Requires ${t.min_disk_gb} GB disk, has ${disk} GB`);
  return issues;
}

/**
 * Renders a template job for one drone: `{error}` (the claim skips the job) or the command, its
 * argument vector, setup steps, artifacts and workspace (spec 05 §5.3).
 */
export function renderJobForDrone(
  t: TemplateForRender,
  droneId: string,
  diagnostics: Diagnostics | null,
  input: Record<string, unknown>,
): { error: string } | Rendered {
  if (!diagnostics) return { error: `No diagnostics available for drone ${droneId}. Drone must heartbeat first.` };
  const d = diagnostics;
  const requires = parseJsonArray(t.requires);
  const vram = num(d.gpu_vram_gb);
  const disk = num(d.disk_free_gb);
  if (requires.includes('gpu')) {
    if (!hasGpu(d)) return { error: 'Template requires GPU but drone has none' };
    if (t.min_vram_gb > 0 && vram !== undefined && vram < t.min_vram_gb)
      return { error: `Template requires ${t.min_vram_gb} GB VRAM but drone has ${vram} GB` };
  }
  if (t.min_disk_gb > 0 && disk !== undefined && disk < t.min_disk_gb)
    return { error: `Template requires ${t.min_disk_gb} GB free disk but drone has ${disk} GB` };
  const problem = checkInputValues(t.command_template, input);
  if (problem) return { error: problem };

  const windows = typeof d.os === 'string' && d.os.toLowerCase() === 'windows';
  const python = str(d.python_path) ?? (windows ? 'python' : 'python3');
  const user = str(d.username) ?? 'user';
  const home = str(d.home) ?? (windows ? `C:/Users/${user}` : `/home/${user}`);
  const workspace = `${home}/.mycelium/workspaces/${t.workspace_name || t.id}`;
  const platform: Record<string, string> = {
    python,
    home,
    workspace,
    null_dev: windows ? 'NUL' : '/dev/null',
    path_sep: windows ? ';' : ':',
    pip_install: `${python} -m pip install`,
  };
  const vars = new Map<string, string>();
  for (const [k, v] of Object.entries(input)) {
    if (k.startsWith('_') || (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) continue;
    vars.set(k, String(v));
  }
  // Platform variables win over input keys (§17.1: `{"python": "wget …"}` must not pick the program).
  for (const [k, v] of Object.entries(platform)) vars.set(k, v);

  const argv: string[] = [];
  for (const token of tokenize(t.command_template)) {
    const only = token.length === 1 && 'name' in token[0] ? token[0] : null;
    if (only && !only.quoted && only.name === 'pip_install') {
      argv.push(python, '-m', 'pip', 'install');
      continue;
    }
    argv.push(token.map((s) => ('text' in s ? s.text : (vars.get(s.name) ?? `{{${s.name}}}`))).join(''));
  }
  const command = t.command_template.replace(PLACEHOLDER, (whole, name: string) => vars.get(name) ?? whole);

  const steps: SetupStep[] = [];
  if (t.setup_repo) {
    const dir = `${workspace}/ai-toolkit`;
    steps.push({
      name: 'Clone setup repo',
      check: windows ? `if exist "${dir}" (exit /b 0) else (exit /b 1)` : `test -d "${dir}"`,
      run: `git clone "${t.setup_repo}" "${dir}"`,
      skip_if_check_passes: true,
    });
  }
  if (requires.includes('gpu')) {
    steps.push({
      name: 'Check/install CUDA PyTorch',
      check: `${python} -c "import torch; assert torch.cuda.is_available(), 'no cuda'"`,
      run: `${platform.pip_install} torch torchvision torchaudio --index-url https://download.pytorch.org/whl/cu124`,
      skip_if_check_passes: true,
    });
  }
  if (t.python_deps_install) {
    const deps = parseJsonArray(t.python_deps).filter((x): x is string => typeof x === 'string');
    steps.push({
      name: 'Install Python dependencies',
      check: `${python} -c "${deps.map((m) => `import ${m}`).join('; ')}"`,
      run: `${platform.pip_install} ${t.python_deps_install}`,
      skip_if_check_passes: true,
    });
  }
  const artifacts = parseJsonArray(t.artifacts).filter((x): x is string => typeof x === 'string');
  return { command, argv, setup_steps: steps, artifacts, workspace };
}

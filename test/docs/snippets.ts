/**
 * TypeScript snippets of Markdown documents, as the doc-snippets test compiles them: each ```ts or
 * ```typescript block becomes one module, preceded by its prelude (an HTML comment right above the
 * block that declares the reader's own names), with a map from each line of the module back to the
 * line of the Markdown file it came from.
 */

/** Code-block languages compiled as TypeScript. */
export const TS_LANGUAGES: ReadonlySet<string> = new Set(['ts', 'typescript']);

/** Opens a prelude comment; the comment ends at the first line ending with `-->`. */
export const PRELUDE_OPENER = '<!-- snippet-prelude';

/** A fenced code block of a Markdown document. */
export interface Fence {
  /** The document, as the test names it (`README.md`, `docs/local.md`). */
  readonly doc: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The info string's first word, lower-cased; empty for a bare fence. */
  readonly language: string;
}

/** One line of a prelude, with the Markdown line it is on. */
export interface SourceLine {
  readonly text: string;
  readonly line: number;
}

/** A TypeScript block of a Markdown document. */
export interface Snippet {
  readonly doc: string;
  /** 1-based line of the opening fence: what the test names the snippet by. */
  readonly line: number;
  /** The block's lines (fence indentation removed), the first on Markdown line `line + 1`. */
  readonly code: readonly string[];
  /** The prelude comment's lines; empty when the block has none. */
  readonly prelude: readonly SourceLine[];
}

/** A snippet as one TypeScript module. */
export interface SnippetModule {
  readonly text: string;
  /** `lineMap[i]` is the Markdown line of the module's line `i + 1`. */
  readonly lineMap: readonly number[];
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;

/** The fenced code blocks of `markdown` and, among them, its TypeScript snippets. */
export function extractSnippets(doc: string, markdown: string): { fences: Fence[]; snippets: Snippet[] } {
  const lines = markdown.split(/\r?\n/);
  const fences: Fence[] = [];
  const snippets: Snippet[] = [];
  let index = 0;
  while (index < lines.length) {
    const open = FENCE.exec(lines[index] ?? '');
    if (open === null) {
      index += 1;
      continue;
    }
    const [, indent = '', marker = '', info = ''] = open;
    const closing = new RegExp(`^\\s*${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
    let end = index + 1;
    while (end < lines.length && !closing.test(lines[end] ?? '')) end += 1;
    const language = info.toLowerCase();
    fences.push({ doc, line: index + 1, language });
    if (TS_LANGUAGES.has(language)) {
      const code = lines.slice(index + 1, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
      snippets.push({ doc, line: index + 1, code, prelude: preludeAbove(lines, index) });
    }
    index = end + 1;
  }
  return { fences, snippets };
}

/** The lines of the prelude comment that ends on the line right above line index `fence`. */
function preludeAbove(lines: readonly string[], fence: number): SourceLine[] {
  const last = fence - 1;
  if (!(lines[last] ?? '').trim().endsWith('-->')) return [];
  let first = last;
  while (first >= 0 && !(lines[first] ?? '').includes('<!--')) first -= 1;
  const opener = lines[first] ?? '';
  if (first < 0 || !opener.trim().startsWith(PRELUDE_OPENER)) return [];
  const prelude: SourceLine[] = [];
  for (let index = first; index <= last; index += 1) {
    let text = lines[index] ?? '';
    if (index === first) text = text.slice(text.indexOf(PRELUDE_OPENER) + PRELUDE_OPENER.length).replace(/^:/, '');
    if (index === last) text = text.slice(0, text.lastIndexOf('-->'));
    if (text.trim() !== '') prelude.push({ text, line: index + 1 });
  }
  return prelude;
}

/** The module the compiler sees for `snippet`: its prelude, its code, and `export {}` (a module, so top-level await works). */
export function snippetModule(snippet: Snippet): SnippetModule {
  const text: string[] = [];
  const lineMap: number[] = [];
  for (const { text: line, line: at } of snippet.prelude) {
    text.push(line);
    lineMap.push(at);
  }
  snippet.code.forEach((line, offset) => {
    text.push(line);
    lineMap.push(snippet.line + 1 + offset);
  });
  text.push('export {};');
  lineMap.push(snippet.line);
  return { text: `${text.join('\n')}\n`, lineMap };
}

/** A name brought in by a value import, with its module: `JobSystem from hopper-jobs/infra`. */
export type ImportedName = string;

const IMPORT = /^\s*import\s+(type\s+)?([\s\S]*?)\s+from\s+['"]([^'"]+)['"]/gm;

/** The names `code` imports as values (type-only imports and specifiers left out). */
export function valueImports(code: string): ImportedName[] {
  const names: ImportedName[] = [];
  for (const [, typeOnly, clause = '', module = ''] of code.matchAll(IMPORT)) {
    if (typeOnly !== undefined) continue;
    const namespace = /^\*\s+as\s+([\w$]+)$/.exec(clause.trim());
    if (namespace !== null) {
      names.push(`${namespace[1]} from ${module}`);
      continue;
    }
    const braces = clause.indexOf('{');
    const defaultName = (braces === -1 ? clause : clause.slice(0, braces)).replace(',', '').trim();
    if (defaultName !== '') names.push(`${defaultName} from ${module}`);
    if (braces === -1) continue;
    for (const specifier of clause.slice(braces + 1, clause.lastIndexOf('}')).split(',')) {
      const trimmed = specifier.trim();
      if (trimmed === '' || trimmed.startsWith('type ')) continue;
      const local = trimmed.split(/\s+as\s+/).at(-1) ?? trimmed;
      names.push(`${local} from ${module}`);
    }
  }
  return names;
}

/**
 * What is wrong with the preludes of one document's snippets (in document order), as
 * `doc:line: message`. A prelude only declares (`declare …`) the reader's own names and imports
 * (`import …`); a value it imports must be imported visibly by an earlier snippet of the same
 * document, so a reader who follows the document top to bottom has seen where it comes from.
 */
export function preludeProblems(snippets: readonly Snippet[]): string[] {
  const problems: string[] = [];
  const shown = new Set<ImportedName>();
  for (const snippet of snippets) {
    for (const { text, line } of snippet.prelude) {
      const statement = /^(import|declare)\s/.test(text) || /^(\s|\}|\)|\/\/)/.test(text);
      if (!statement) problems.push(`${snippet.doc}:${line}: a prelude only imports and declares, but has: ${text.trim()}`);
    }
    const preludeText = snippet.prelude.map(({ text }) => text).join('\n');
    for (const name of valueImports(preludeText)) {
      if (!shown.has(name)) {
        const at = snippet.prelude[0]?.line ?? snippet.line;
        problems.push(`${snippet.doc}:${at}: the prelude imports ${name}, which no earlier snippet of ${snippet.doc} imports`);
      }
    }
    for (const name of valueImports(snippet.code.join('\n'))) shown.add(name);
  }
  return problems;
}

/** One compiler error, as `tsc --pretty false` prints it. */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly message: string;
}

const DIAGNOSTIC = /^(?:(.+?)\((\d+),\d+\): )?error (TS\d+): (.*)$/;

/**
 * The errors in `tsc --pretty false` output (a message's indented continuation lines joined to it);
 * an error of no file (a bad option) has file `''` and line 0.
 */
export function parseDiagnostics(output: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = DIAGNOSTIC.exec(line);
    if (match !== null) {
      const [, file = '', at = '0', code = '', message = ''] = match;
      diagnostics.push({ file, line: Number(at), code, message });
      continue;
    }
    const previous = diagnostics.pop();
    if (previous === undefined) continue;
    diagnostics.push(line.trim() === '' ? previous : { ...previous, message: `${previous.message} ${line.trim()}` });
  }
  return diagnostics;
}

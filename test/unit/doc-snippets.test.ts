/**
 * Every TypeScript snippet of README.md and docs/*.md compiles against Hopper's entry points
 * (`hopper-jobs/infra`, `/worker`, `/client`, `/api-client`, `/errors`, `/local`, mapped to their
 * sources by test/docs/tsconfig.json), with the repository's strict compiler options. A snippet's
 * free names (`stack`, `sendEmail`) come from its prelude, an HTML comment right above the block:
 *
 *     <!-- snippet-prelude
 *     declare const stack: import('aws-cdk-lib').Stack;
 *     -->
 *
 * A failure names the Markdown file and line.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  extractSnippets, parseDiagnostics, preludeProblems, snippetModule, type Diagnostic, type Fence, type Snippet, type SnippetModule,
} from '../docs/snippets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The documents whose snippets are the user's truth: README.md and docs/*.md. */
const DOCUMENTS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];

/** A document made up for checking the checker: its line 8 is wrong, the rest is right. */
const FIXTURE_DOC = 'fixture.md';
const FIXTURE = [
  '# Fixture',
  '',
  '<!-- snippet-prelude',
  'declare const count: number;',
  '-->',
  '```ts',
  'const doubled: number = count * 2;',
  "const label: number = 'two';",
  '```',
  '',
  '```typescript',
  "import { Duration } from 'aws-cdk-lib';",
  'Duration.seconds(1);',
  '```',
  '<!-- snippet-prelude',
  "import { Duration } from 'aws-cdk-lib';",
  "import { Stack } from 'aws-cdk-lib';",
  'const leaked = 1;',
  '-->',
  '```ts',
  'Duration.minutes(leaked);',
  '```',
].join('\n');

const documents = DOCUMENTS.map((doc) => extractSnippets(doc, readFileSync(join(ROOT, doc), 'utf8')));
const fences: Fence[] = documents.flatMap((document) => document.fences);
const snippets: Snippet[] = documents.flatMap((document) => document.snippets);
const fixture = extractSnippets(FIXTURE_DOC, FIXTURE);

interface Compiled {
  /** Errors inside each snippet, as `doc:line: TSnnnn message`, by `doc:line` of the snippet. */
  readonly bySnippet: ReadonlyMap<string, string[]>;
  /** Errors in files that are not snippets (Hopper's own sources), as tsc prints them. */
  readonly elsewhere: string[];
}

const name = (snippet: Snippet): string => `${snippet.doc}:${snippet.line}`;

/** Compiles every snippet (and the fixture's) in one `tsc --noEmit` run over a scratch project. */
async function compile(all: readonly Snippet[]): Promise<Compiled> {
  const dir = mkdtempSync(join(tmpdir(), 'hopper-doc-snippets-'));
  try {
    // Bare imports (aws-cdk-lib, constructs, @types/node) resolve from the scratch directory too.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    // Snippets are ES modules, as in a team's app with "type": "module" (NodeNext resolution).
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const modules = new Map<string, { snippet: Snippet; module: SnippetModule }>();
    all.forEach((snippet, index) => {
      const file = join(dir, `snippet-${index}.ts`);
      const module = snippetModule(snippet);
      writeFileSync(file, module.text);
      modules.set(file, { snippet, module });
    });
    const config = { extends: join(ROOT, 'test', 'docs', 'tsconfig.json'), files: [...modules.keys()], include: [] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
    const { status, output } = await tsc(dir);
    const bySnippet = new Map<string, string[]>(all.map((snippet) => [name(snippet), []]));
    const elsewhere: string[] = [];
    const diagnostics = parseDiagnostics(output);
    // A compiler that fails without an error to show (it did not start, it crashed) fails the run.
    if (status !== 0 && diagnostics.length === 0) elsewhere.push(`tsc exited with ${status}: ${output}`);
    for (const diagnostic of diagnostics) {
      const owner = modules.get(resolve(dir, diagnostic.file));
      if (owner === undefined) {
        elsewhere.push(`${diagnostic.file}(${diagnostic.line}): ${diagnostic.code} ${diagnostic.message}`);
        continue;
      }
      bySnippet.get(name(owner.snippet))?.push(located(owner.snippet, owner.module, diagnostic));
    }
    return { bySnippet, elsewhere };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `tsc --noEmit` on the project in `dir`; its exit status and what it printed. */
function tsc(dir: string): Promise<{ status: number; output: string }> {
  return new Promise((done) => {
    const args = [TSC, '--noEmit', '--pretty', 'false', '-p', join(dir, 'tsconfig.json')];
    execFile(process.execPath, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}` });
    });
  });
}

function located(snippet: Snippet, module: SnippetModule, diagnostic: Diagnostic): string {
  const line = module.lineMap[diagnostic.line - 1] ?? snippet.line;
  return `${snippet.doc}:${line}: ${diagnostic.code} ${diagnostic.message}`;
}

let compiled: Compiled;

beforeAll(async () => {
  compiled = await compile([...snippets, ...fixture.snippets]);
}, 120_000);

describe('the checker', () => {
  it('reports a wrong line of a snippet at its Markdown line, and nothing for right ones', () => {
    expect(fixture.snippets.map(name)).toEqual(['fixture.md:6', 'fixture.md:11', 'fixture.md:20']);
    expect(compiled.bySnippet.get('fixture.md:6')).toEqual(["fixture.md:8: TS2322 Type 'string' is not assignable to type 'number'."]);
    expect(compiled.bySnippet.get('fixture.md:11')).toEqual([]);
  });

  it('refuses a prelude that runs code or imports what no earlier snippet showed', () => {
    expect(preludeProblems(fixture.snippets)).toEqual([
      'fixture.md:18: a prelude only imports and declares, but has: const leaked = 1;',
      'fixture.md:16: the prelude imports Stack from aws-cdk-lib, which no earlier snippet of fixture.md imports',
    ]);
  });
});

describe('the documentation', () => {
  it('says the language of every code block (so no TypeScript hides from the compiler)', () => {
    expect(fences.filter((fence) => fence.language === '').map((fence) => `${fence.doc}:${fence.line}`)).toEqual([]);
  });

  it('has preludes that only import what it showed and declare the reader\'s own names', () => {
    expect(documents.flatMap((document) => preludeProblems(document.snippets))).toEqual([]);
  });

  it('compiles with no error in Hopper\'s own sources', () => {
    expect(compiled.elsewhere).toEqual([]);
  });

  it.each(snippets.map((snippet) => ({ snippet: name(snippet) })))('$snippet compiles', ({ snippet }) => {
    expect(compiled.bySnippet.get(snippet)).toEqual([]);
  });
});

/** An admin command run against an API that answers from a script: what the CLI tests share. */
import type { ApiClientResponse } from '../../lib/api-client/index.js';
import { findCommand, runCommand } from '../../cli/commands/index.js';
import type { ApiCaller } from '../../cli/commands/io.js';

/** An API that answers from a script, in order, and records the calls. */
export class ScriptedApi implements ApiCaller {
  readonly calls: { method: string; path: string; body: unknown }[] = [];

  constructor(private readonly answers: { status: number; body?: unknown }[]) {}

  async request(method: string, path: string, body?: unknown): Promise<ApiClientResponse> {
    this.calls.push({ method, path, body });
    const answer = this.answers.shift() ?? { status: 500, body: { error: { code: 'internal_error', message: 'no more answers' } } };
    return { status: answer.status, headers: new Headers(), body: answer.body };
  }
}

/** Runs `hopper <args>` against a {@link ScriptedApi}; resolves its exit code, output, calls and targets. */
export async function runCli(args: string[], answers: { status: number; body?: unknown }[] = [], options: { stderrIsTTY?: boolean; nowMs?: number } = {}) {
  const [name, ...rest] = args;
  const command = findCommand(name ?? '');
  if (command === undefined) throw new Error(`no command ${name}`);
  const out: string[] = [];
  const err: string[] = [];
  const api = new ScriptedApi(answers);
  const targets: unknown[] = [];
  const code = await runCommand(command, rest, {
    io: { stdout: (text) => out.push(text), stderr: (text) => err.push(text), stderrIsTTY: options.stderrIsTTY ?? false, env: {} },
    connect: async (target) => { targets.push(target); return api; },
    now: () => options.nowMs ?? 0,
  });
  return { code, stdout: out.join(''), stderr: err.join(''), calls: api.calls, targets };
}

/**
 * Command-line options shared by the admin commands (the target and `--json`), parsed with
 * node:util's parseArgs so unknown options are errors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './io.js';

/** How to reach the API. */
export interface TargetOptions {
  /** The API's base URL (a `hopper dev` URL, or a deployed Function URL). */
  readonly url?: string;
  /** A deployed stack whose `<id>ApiUrl` output names the API. */
  readonly stack?: string;
  /** Region of the stack. @default - AWS_REGION, the profile's region, us-east-1 */
  readonly region?: string;
}

/** The environment variables that name a target when no option does. */
export const TARGET_ENV = {
  /** The API's URL, as `--url` (`hopper dev` prints it among the variables to export). */
  url: 'HOPPER_API_URL',
  /** A deployed stack, as `--stack`. */
  stack: 'HOPPER_STACK',
} as const;

/** The options every admin command takes. */
export const COMMON_OPTIONS = {
  url: { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

/** Help text of the common options. */
export const COMMON_USAGE = `Target (one of):
  --url <url>          the API's URL (hopper dev prints it)         (env HOPPER_API_URL)
  --stack <name>       a deployed stack: its <id>ApiUrl output; requests are signed with your
                       AWS credentials (default provider chain)     (env HOPPER_STACK)
  --region <region>    the stack's region (default: AWS_REGION, else us-east-1)
Output:
  --json               print the API's JSON answer instead of a table
  -h, --help           show this help
`;

type Extra = NonNullable<ParseArgsConfig['options']>;

/** Parses `args` with the common options and `extra`. @throws CliError (usage) naming the option. */
export function parseCommand<const E extends Extra>(args: readonly string[], extra: E) {
  try {
    return parseArgs({ args: [...args], options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
}

/** Reads an optional integer option. @throws CliError (usage) naming it. */
export function intOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) throw usageError(`--${name} must be an integer from ${min} to ${max}, but ${JSON.stringify(value)} was provided`);
  return number;
}

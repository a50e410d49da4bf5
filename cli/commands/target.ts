/**
 * Finds the API a command talks to: `--url` as given (a `hopper dev` URL needs no signature), or
 * `--stack`, whose CloudFormation outputs name the JobSystem's Function URL (`<id>ApiUrl`);
 * requests to it are signed with the user's AWS credentials from the default provider chain.
 */
import { ApiClient, type AwsCredentials, type CredentialSource } from '../../lib/api-client/index.js';
import { CliError, usageError, type CliIO } from './io.js';
import { TARGET_ENV, type TargetOptions } from './options.js';

/** A stack's outputs, by key. */
export type StackOutputs = (stack: string, region: string) => Promise<Readonly<Record<string, string>>>;

/** What {@link resolveTarget} needs from AWS; tests pass fakes. */
export interface TargetDeps {
  readonly stackOutputs: StackOutputs;
  readonly credentials: () => CredentialSource;
}

/** Reads a stack's outputs with CloudFormation's DescribeStacks (the SDK is loaded only here). */
export const describeStackOutputs: StackOutputs = async (stack, region) => {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient({ region });
  try {
    const output = await client.send(new DescribeStacksCommand({ StackName: stack }));
    const outputs: Record<string, string> = {};
    for (const entry of output.Stacks?.[0]?.Outputs ?? []) {
      if (entry.OutputKey !== undefined && entry.OutputValue !== undefined) outputs[entry.OutputKey] = entry.OutputValue;
    }
    return outputs;
  } finally {
    client.destroy();
  }
};

/** The default credential provider chain (environment, profile, SSO, instance role…). */
export function defaultCredentials(): CredentialSource {
  let provider: Promise<() => Promise<AwsCredentials>> | undefined;
  return async () => {
    // The provider caches and refreshes credentials itself; it is built once, on the first signature.
    provider ??= import('@aws-sdk/credential-provider-node').then((module) => module.defaultProvider());
    return (await provider)();
  };
}

/** The real AWS. */
export const AWS_TARGET_DEPS: TargetDeps = { stackOutputs: describeStackOutputs, credentials: defaultCredentials };

/**
 * The output that names the API: the one key ending in `ApiUrl` (a JobSystem with id `Jobs`
 * exports `JobsApiUrl`).
 *
 * @throws CliError naming the stack when there is none, or several.
 */
export function apiUrlOutput(stack: string, outputs: Readonly<Record<string, string>>): string {
  const keys = Object.keys(outputs).filter((key) => key.endsWith('ApiUrl'));
  const [key] = keys;
  if (key === undefined) throw new CliError(`stack ${stack} has no output ending in ApiUrl (outputs: ${Object.keys(outputs).join(', ') || 'none'}); is it a stack with a JobSystem?`);
  if (keys.length > 1) throw new CliError(`stack ${stack} has several API outputs (${keys.join(', ')}); pass the one you mean with --url`);
  return outputs[key] ?? '';
}

/** The API client for the command's target. @throws CliError when no target is given or it cannot be found. */
export async function resolveTarget(options: TargetOptions, io: CliIO, deps: TargetDeps = AWS_TARGET_DEPS): Promise<ApiClient> {
  const url = options.url ?? (options.stack === undefined ? io.env[TARGET_ENV.url] : undefined);
  const stack = options.stack ?? io.env[TARGET_ENV.stack];
  if (options.url !== undefined && options.stack !== undefined) throw usageError('--url and --stack name two targets; pass one');
  if (url !== undefined && url !== '') {
    if (!/^https?:\/\//.test(url)) throw usageError(`--url must be an http(s) URL, but ${JSON.stringify(url)} was provided`);
    // Only a deployed Function URL checks signatures; a local one is plain http on localhost.
    const signed = new URL(url).hostname.endsWith('.on.aws');
    return new ApiClient({ url, ...(signed ? { credentials: deps.credentials() } : {}), ...(options.region === undefined ? {} : { region: options.region }) });
  }
  if (stack === undefined || stack === '') throw usageError('no target: pass --url <url> (hopper dev prints it) or --stack <name>');
  const region = options.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  let outputs: Readonly<Record<string, string>>;
  try {
    outputs = await deps.stackOutputs(stack, region);
  } catch (error) {
    throw new CliError(`cannot read the outputs of stack ${stack} in ${region}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return new ApiClient({ url: apiUrlOutput(stack, outputs), credentials: deps.credentials(), region });
}

/**
 * The environment a function instance starts with, before the function's own variables: what
 * Lambda's Node.js runtime sets, the local AWS endpoints and identity, and nothing from the
 * developer's shell (so a function never reaches real AWS with the developer's credentials).
 */
import { join } from 'node:path';
import { localAwsEnv, type EmulatorEndpoints } from '../emulators.js';
import type { FunctionSpec } from '../resources/function.js';

/** Set to `true` in every local function, for code that must know it runs under `hopper dev`. */
export const LOCAL_MARKER_ENV = 'HOPPER_LOCAL';

/** Base environment of `spec`'s instances. */
export function functionBaseEnv(spec: FunctionSpec, endpoints: EmulatorEndpoints & { readonly lambda?: string }, projectDir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: 'UTC',
    ...localAwsEnv(endpoints),
    ...(endpoints.lambda === undefined ? {} : { AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda }),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
    AWS_LAMBDA_FUNCTION_NAME: spec.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySizeMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.name}`,
    AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
    LAMBDA_TASK_ROOT: spec.codeDir,
    LAMBDA_RUNTIME_DIR: spec.codeDir,
    _HANDLER: spec.handler,
    // CommonJS bundles find the external AWS SDK here even when the assembly is outside the project.
    NODE_PATH: join(projectDir, 'node_modules'),
    [LOCAL_MARKER_ENV]: 'true',
  };
}

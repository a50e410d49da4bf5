/** `AWS::Lambda::Url` → a localhost HTTP endpoint for a function. */
import type { Properties } from '../template/properties.js';

/** CORS settings of a function URL (as the template writes them). */
export interface CorsSpec {
  readonly allowCredentials: boolean;
  readonly allowHeaders: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowOrigins: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeSeconds: number | undefined;
}

/** A function URL to serve. */
export interface FunctionUrlSpec {
  readonly logicalId: string;
  /** The target function as the template names it (name or ARN). */
  readonly targetFunction: string;
  readonly authType: 'NONE' | 'AWS_IAM';
  readonly cors: CorsSpec | undefined;
  readonly streaming: boolean;
}

/** Parses a function URL's properties. */
export function parseFunctionUrl(props: Properties): FunctionUrlSpec {
  const cors = props.object('Cors');
  return {
    logicalId: props.logicalId,
    targetFunction: props.string('TargetFunctionArn'),
    authType: props.optionalEnum('AuthType', ['NONE', 'AWS_IAM']) ?? props.fail(`${props.pathOf('AuthType')} is required`),
    streaming: props.optionalEnum('InvokeMode', ['BUFFERED', 'RESPONSE_STREAM']) === 'RESPONSE_STREAM',
    cors:
      cors === undefined
        ? undefined
        : {
            allowCredentials: cors.boolean('AllowCredentials') ?? false,
            allowHeaders: cors.strings('AllowHeaders'),
            allowMethods: cors.strings('AllowMethods'),
            allowOrigins: cors.strings('AllowOrigins'),
            exposeHeaders: cors.strings('ExposeHeaders'),
            maxAgeSeconds: cors.integer('MaxAge', { min: 0, max: 86_400 }),
          },
  };
}

/** The CDK app (`npx cdk synth`): the demo stack, checked by cdk-nag's AWS Solutions rules. */
import { App } from 'aws-cdk-lib';
import { configureDemoApp } from './demo-stack.js';

const app = new App();
configureDemoApp(app);
app.synth();

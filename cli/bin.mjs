#!/usr/bin/env node
// The `hopper` executable: loads the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('./hopper.ts');

#!/usr/bin/env node
// The `hopper` executable. In the package it runs the built CLI on plain Node.js; in a checkout of
// Hopper's repository (where the TypeScript sources sit next to this file) it runs the sources
// through tsx's loader, so that a change needs no build.
import { existsSync } from 'node:fs';

const source = new URL('./hopper.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/esm/cli/hopper.js', import.meta.url).href);
}

/**
 * Runs the Python client's own unit tests (standard library only) under `npm test`, with Debian's
 * Python rather than whatever `python3` a version manager puts first on PATH.
 */
import { describe, expect, it } from 'vitest';
import { processEnv, PYTHON, PYTHON_CLIENT_DIR, run } from './polyglot-process.js';

describe('clients/python unit tests', () => {
  it('pass under python3 -m unittest', async () => {
    // A failing test exits non-zero, which rejects with unittest's report.
    const { stderr } = await run(PYTHON, ['-m', 'unittest', 'discover', '-s', `${PYTHON_CLIENT_DIR}/tests`, '-t', PYTHON_CLIENT_DIR], { env: processEnv({}) });
    expect(stderr).toMatch(/Ran [1-9]\d* tests/);
    expect(stderr).toMatch(/\nOK\s*$/);
  });
});

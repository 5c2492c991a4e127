/**
 * `npm run local:<step>` and `npm run demo`:
 *   install   the pinned emulator into .venv
 *   up        start it on 127.0.0.1:4566 (or use AWS_ENDPOINT_URL's)
 *   deploy    bootstrap and deploy every stack into it
 *   down      stop the emulator this project started
 *   demo      all of it, end to end: up, deploy, a market-data run through the control API, a DAG run
 *             with one failing branch and its dead letter, down
 */
import { PhiClient } from '../client/client.ts';
import { waitForDeadLetter } from '../client/dead-letters.ts';
import { formatRunView } from '../cli/format.ts';
import { PhiError } from '../model/errors.ts';
import { DEFAULT_ENDPOINT, deployLocal, EmulatorError, EmulatorErrorCode, emulatorEnv, installEmulator, startEmulator, stopEmulator } from './emulator.ts';

const say = (line: string): void => console.log(line);

async function demo(): Promise<void> {
  const started = Date.now();
  const emulator = await startEmulator(say);
  try {
    Object.assign(process.env, emulatorEnv(emulator.endpoint));
    say('\n== deploying the example pipelines with cdklocal');
    deployLocal(emulator.endpoint, { quiet: true });
    say('deployed: PhiPlatform, Phi-dag-drill, Phi-etl-fanout, Phi-failure-drill, Phi-market-data');

    const client = await PhiClient.connect();
    say(`control API: ${client.baseUrl}`);
    const unsigned = await client.request('POST', '/pipelines/market-data/runs', {}, { signed: false });
    say(`an unsigned request is refused: HTTP ${unsigned.status}`);

    say('\n== market-data: POST /pipelines/market-data/runs');
    const { run } = await client.startRun('market-data', { parameters: { lookbackDays: 10 }, idempotencyKey: `demo-${new Date().toISOString().slice(0, 10)}-${Date.now()}` });
    say(`run ${run.runId} queued; job states as they change:`);
    const view = await client.waitForRun(run.runId, { onChange: (v) => say(formatRunView(v, { brief: true })) });
    say('\nfinal records (GET /runs/{runId}):');
    say(formatRunView(view));
    if (view.run.status !== 'SUCCEEDED') throw new EmulatorError(EmulatorErrorCode.DEMO_FAILED, `the market-data run ended ${view.run.status}`);

    say('\n== dag-drill: a → c, b → c, b → d, d →(COMPLETION) e, b →(DATA_READY rows > 0) f, c → g, f → g');
    say('   with a failing permanently and b, d taking 2 s: only c and g (which need a) are skipped');
    const failing = await client.startRun('dag-drill', { parameters: { fail: ['a'], sleepMs: { b: 2000, d: 2000 } } });
    const failed = await client.waitForRun(failing.run.runId, { onChange: (v) => say(formatRunView(v, { brief: true })) });
    say(formatRunView(failed));
    const letter = await waitForDeadLetter(failing.run.runId);
    say('\nits dead-letter message:');
    say(JSON.stringify(letter, null, 2));
    if (failed.run.status !== 'FAILED') throw new EmulatorError(EmulatorErrorCode.DEMO_FAILED, `the failing run ended ${failed.run.status}`);
    say(`\ndemo finished in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    if (emulator.started) stopEmulator(say);
  }
}

async function main(step: string | undefined): Promise<void> {
  switch (step) {
    case 'install':
      installEmulator(say);
      return;
    case 'up': {
      const handle = await startEmulator(say);
      say(handle.started ? `stop it with: npm run local:down` : 'nothing started');
      return;
    }
    case 'deploy': {
      const endpoint = process.env.AWS_ENDPOINT_URL ?? DEFAULT_ENDPOINT;
      deployLocal(endpoint);
      return;
    }
    case 'down':
      if (!stopEmulator(say)) say('no emulator started by this project is running');
      return;
    case 'demo':
      await demo();
      return;
    default:
      throw new PhiError('CLI_000_USAGE', `unknown step "${step}": install | up | deploy | down | demo`);
  }
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(`\n✗ ${(err as Error).message}`);
  process.exitCode = 1;
});

/**
 * The local emulator: installs the pinned MiniStack into the project's own virtualenv, starts it bound
 * to 127.0.0.1 only, deploys the app into it with cdklocal, and stops only what it started. When
 * AWS_ENDPOINT_URL is already set (LocalStack, or an emulator you run yourself) that endpoint is used
 * and nothing is installed, started or stopped.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhiError } from '../model/errors.ts';

/** The project root: where `.venv/`, `.phi/` and `node_modules/` live. */
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const MINISTACK_VERSION = '1.5.33';
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4566';
const STATE_DIR = path.join(PROJECT_ROOT, '.phi');
const VENV = path.join(PROJECT_ROOT, '.venv');
const PID_FILE = path.join(STATE_DIR, 'emulator.pid');
export const EMULATOR_LOG = path.join(STATE_DIR, 'emulator.log');

export const EmulatorErrorCode = {
  /** A tool the emulator needs (python3, pip, cdklocal) could not run or failed. */
  COMMAND_FAILED: 'EMU_001_COMMAND_FAILED',
  /** AWS_ENDPOINT_URL is set but nothing answers there. */
  NOT_ANSWERING: 'EMU_002_NOT_ANSWERING',
  /** MiniStack was started but did not come up. */
  START_FAILED: 'EMU_003_START_FAILED',
  /** The demo saw an outcome other than the one it shows. */
  DEMO_FAILED: 'EMU_004_DEMO_FAILED',
} as const;

export class EmulatorError extends PhiError {}

/** The environment every AWS client and cdklocal needs to talk to the emulator. */
export function emulatorEnv(endpoint: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: base.AWS_ENDPOINT_URL_S3 ?? endpoint,
    AWS_ACCESS_KEY_ID: base.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: base.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_REGION: base.AWS_REGION ?? 'us-east-1',
    AWS_DEFAULT_REGION: base.AWS_DEFAULT_REGION ?? base.AWS_REGION ?? 'us-east-1',
    // The SDK pins in package-lock.json run on Node 20; its notice about future releases is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** Whether an emulator answers at `endpoint` (MiniStack's or LocalStack's health path). */
export async function isHealthy(endpoint: string): Promise<boolean> {
  for (const probe of ['/_ministack/health', '/_localstack/health']) {
    try {
      const response = await fetch(`${endpoint}${probe}`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return true;
    } catch {
      // not up (yet), or not this kind of emulator
    }
  }
  return false;
}

/**
 * Whether the emulator at `endpoint` verifies signatures and evaluates IAM policies (MiniStack started
 * with AUTH=true, as `startEmulator` starts it). LocalStack's health answer does not say: false.
 */
export async function enforcesAuth(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/_ministack/health`, { signal: AbortSignal.timeout(2000) });
    return response.ok && ((await response.json()) as { auth?: unknown }).auth === 'enabled';
  } catch {
    return false;
  }
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; quiet?: boolean } = {}): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd: PROJECT_ROOT, env: options.env ?? process.env, encoding: 'utf8', stdio: options.quiet ? 'pipe' : 'inherit' });
  if (result.error) throw new EmulatorError(EmulatorErrorCode.COMMAND_FAILED, `${command} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    const output = options.quiet ? `\n${(result.stdout ?? '').slice(-3000)}${(result.stderr ?? '').slice(-3000)}` : '';
    throw new EmulatorError(EmulatorErrorCode.COMMAND_FAILED, `${command} ${args.join(' ')} exited ${result.status}${output}`);
  }
  return result;
}

/** Installs the pinned MiniStack into .venv unless it is there already. */
export function installEmulator(log: (line: string) => void = console.log): string {
  const bin = path.join(VENV, 'bin', 'ministack');
  const installed = spawnSync(path.join(VENV, 'bin', 'python'), ['-c', 'import importlib.metadata as m; print(m.version("ministack"))'], { encoding: 'utf8' });
  if (existsSync(bin) && installed.status === 0 && installed.stdout.trim() === MINISTACK_VERSION) return bin;
  log(`installing MiniStack ${MINISTACK_VERSION} into ${path.relative(process.cwd(), VENV) || '.venv'} …`);
  if (!existsSync(path.join(VENV, 'bin', 'python'))) run('python3', ['-m', 'venv', VENV], { quiet: true });
  run(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `ministack==${MINISTACK_VERSION}`], { quiet: true });
  return bin;
}

export interface EmulatorHandle {
  readonly endpoint: string;
  /** Whether this process started it (and so `stopEmulator` will stop it). */
  readonly started: boolean;
}

/** Makes sure an emulator answers; starts MiniStack on 127.0.0.1:4566 when none does. */
export async function startEmulator(log: (line: string) => void = console.log): Promise<EmulatorHandle> {
  const external = process.env.AWS_ENDPOINT_URL;
  if (external) {
    if (!(await isHealthy(external))) throw new EmulatorError(EmulatorErrorCode.NOT_ANSWERING, `AWS_ENDPOINT_URL=${external} is set, but no emulator answers there`);
    log(`using the emulator at ${external}`);
    return { endpoint: external, started: false };
  }
  if (await isHealthy(DEFAULT_ENDPOINT)) {
    log(`an emulator is already running at ${DEFAULT_ENDPOINT}; using it`);
    return { endpoint: DEFAULT_ENDPOINT, started: false };
  }
  const bin = installEmulator(log);
  mkdirSync(STATE_DIR, { recursive: true });
  const out = openSync(EMULATOR_LOG, 'w');
  const child = spawn(bin, [], {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      // Loopback only: never reachable from another machine (and no IoT mTLS listener on another port).
      BIND_HOST: '127.0.0.1',
      GATEWAY_PORT: '4566',
      IOT_MTLS_ENABLED: '0',
      // Signatures and IAM policies enforced, as on AWS: each Lambda runs with its own role's credentials,
      // so Phi's grants are exercised, and the control API evaluates callers' execute-api policies.
      // The root key (`test`) the scripts and tests deploy and inspect with is allowed everything.
      AUTH: 'true',
      LOG_LEVEL: process.env.PHI_EMULATOR_LOG_LEVEL ?? 'WARNING',
    },
  });
  closeSync(out);
  child.unref();
  writeFileSync(PID_FILE, String(child.pid));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await isHealthy(DEFAULT_ENDPOINT)) {
      log(`MiniStack ${MINISTACK_VERSION} is up at ${DEFAULT_ENDPOINT} (pid ${child.pid}, log ${path.relative(process.cwd(), EMULATOR_LOG)})`);
      return { endpoint: DEFAULT_ENDPOINT, started: true };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const tail = existsSync(EMULATOR_LOG) ? readFileSync(EMULATOR_LOG, 'utf8').slice(-2000) : '(no log)';
  stopEmulator();
  throw new EmulatorError(EmulatorErrorCode.START_FAILED, `MiniStack did not come up at ${DEFAULT_ENDPOINT} within 60 s. Its log:\n${tail}`);
}

/** Stops the emulator this project started (the pid file says which); leaves any other alone. */
export function stopEmulator(log: (line: string) => void = () => {}): boolean {
  if (!existsSync(PID_FILE)) return false;
  const pid = Number(readFileSync(PID_FILE, 'utf8'));
  rmSync(PID_FILE, { force: true });
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return false;
    }
  }
  log(`stopped MiniStack (pid ${pid})`);
  return true;
}

/**
 * CDK's own bootstrap template without the staging bucket's TLS-only policy (`Deny s3:*` when
 * `aws:SecureTransport` is false). The emulator speaks plain HTTP on loopback, so under AUTH=true that
 * statement refuses the file-publishing role cdk assumes every asset upload ("Bucket … exists, but we
 * dont have access to it"). Everything else, the roles cdk assumes and their policies included, is stock.
 */
function localBootstrapTemplate(): string {
  const stockPath = path.join(PROJECT_ROOT, 'node_modules', 'aws-cdk', 'lib', 'api', 'bootstrap', 'bootstrap-template.yaml');
  const stock = readFileSync(stockPath, 'utf8');
  const local = stock.replace(/^  StagingBucketPolicy:\n(?:(?: {4}.*)?\n)*/m, '');
  if (local === stock || local.includes('aws:SecureTransport')) {
    throw new EmulatorError(EmulatorErrorCode.COMMAND_FAILED, `${stockPath} no longer has the StagingBucketPolicy this project removes for the emulator: see localBootstrapTemplate in lib/local/emulator.ts`);
  }
  mkdirSync(STATE_DIR, { recursive: true });
  const file = path.join(STATE_DIR, 'bootstrap-template.yaml');
  writeFileSync(file, local);
  return file;
}

export interface DeployLocalOptions {
  readonly definitionsDirs?: readonly string[];
  readonly quiet?: boolean;
  readonly faultInjection?: boolean;
  /**
   * Deploys only these stacks (`cdk deploy <stacks> --exclusively`: not the stacks they depend on), e.g.
   * one pipeline's (`pipelineStackName`) after its definition changed; the app is still synthesized from
   * every definitions directory, so it holds them. @default every stack (`--all`)
   */
  readonly stacks?: readonly string[];
}

/** Bootstraps and deploys every stack of the app (or `stacks` only) into the emulator with cdklocal, then adapts it to the emulator (lib/local/adapt.ts). */
export function deployLocal(endpoint: string, options: DeployLocalOptions = {}): void {
  const env = emulatorEnv(endpoint, { ...process.env, ...(options.definitionsDirs ? { PHI_DEFINITIONS_DIR: options.definitionsDirs.join(path.delimiter) } : {}) });
  const cdklocal = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'cdklocal');
  const account = env.CDK_DEFAULT_ACCOUNT ?? '000000000000';
  run(cdklocal, ['bootstrap', `aws://${account}/${env.AWS_REGION}`, '--ci', '--template', localBootstrapTemplate()], { env, quiet: options.quiet ?? false });
  const which = options.stacks !== undefined && options.stacks.length > 0 ? [...options.stacks, '--exclusively'] : ['--all'];
  run(cdklocal, ['deploy', ...which, '--require-approval', 'never', '--ci', '--progress', 'events', '--context', 'phi:removalPolicy=destroy', ...(options.faultInjection ? ['--context', 'phi:faultInjection=true'] : [])], { env, quiet: options.quiet ?? false });
  // What AUTH=true on the emulator needs that AWS does not (plain HTTP, task tokens): see lib/local/adapt.ts.
  // A script of its own, so that deployLocal stays synchronous for its callers.
  run(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'lib', 'local', 'adapt.ts'), endpoint], { env, quiet: options.quiet ?? false });
}

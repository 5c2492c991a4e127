/**
 * Where a deploy's definitions came from (`DeploySource`: commit, author, dirty work tree), read at synth
 * for each pipeline's definition record. From the git repository that holds the definition file (the
 * definitions may lie outside this project: `cdk synth -c phi:definitions=/path/to/pipelines`), or, for
 * a CI system whose checkout has no `.git`, from `PHI_DEPLOY_COMMIT` and `PHI_DEPLOY_AUTHOR` (and
 * `PHI_DEPLOY_DIRTY=true|false`): when either is set, git is not asked at all, so the two never mix.
 * Without git, outside a repository or before its first commit, nothing is known and nothing is said.
 */
import { execFileSync } from 'node:child_process';
import type { DeploySource } from '../lib/model/contract/index.ts';

/** The environment variables that say where a deploy came from, instead of git. */
export const SOURCE_ENV = { commit: 'PHI_DEPLOY_COMMIT', author: 'PHI_DEPLOY_AUTHOR', dirty: 'PHI_DEPLOY_DIRTY' } as const;

/** What `git <args>` prints in `dir`, trimmed; undefined when it cannot run or fails (no git, not a repository, no commit). */
function git(dir: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', [...args], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

/** The commit checked out in `dir`'s repository, its author (`Name <email>`), and whether the work tree has uncommitted changes. */
export function gitSource(dir: string): DeploySource {
  const commit = git(dir, ['rev-parse', 'HEAD']);
  if (commit === undefined || commit === '') return {};
  const author = git(dir, ['log', '-1', '--format=%an <%ae>']);
  const status = git(dir, ['status', '--porcelain']);
  return { commit: commit.slice(0, 100), ...(author ? { author: author.slice(0, 300) } : {}), ...(status !== undefined ? { dirty: status !== '' } : {}) };
}

/** Where the definitions in `dir` came from: the environment's word (`SOURCE_ENV`) when it gives one, else git's. */
export function deploySource(dir: string, env: NodeJS.ProcessEnv = process.env): DeploySource {
  const commit = env[SOURCE_ENV.commit];
  const author = env[SOURCE_ENV.author];
  const dirty = env[SOURCE_ENV.dirty];
  if (!commit && !author) return gitSource(dir);
  return {
    ...(commit ? { commit: commit.slice(0, 100) } : {}),
    ...(author ? { author: author.slice(0, 300) } : {}),
    ...(dirty === 'true' || dirty === 'false' ? { dirty: dirty === 'true' } : {}),
  };
}

/** `deploySource`, read once per directory (a deployment's pipelines mostly share one). */
export function sourceReader(env: NodeJS.ProcessEnv = process.env): (dir: string) => DeploySource {
  const read = new Map<string, DeploySource>();
  return (dir) => {
    const known = read.get(dir) ?? deploySource(dir, env);
    read.set(dir, known);
    return known;
  };
}

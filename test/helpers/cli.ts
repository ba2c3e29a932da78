/**
 * Running the built `cdn-publish` binary (`dist/cli/index.js`; `npm run build` makes it) as a
 * child process with an explicit environment.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { repoRoot } from './build.js'
import type { EnvVars } from './s3.js'

export const CLI = path.join(repoRoot, 'dist/cli/index.js')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * The environment of a run: the test process's own, without any AWS_* or CDN_PUBLISH_* variable
 * (and without DEBUG, which would add stack traces), no shared AWS config files, no instance
 * metadata; then `extra`.
 */
export function cliEnv(extra: EnvVars | Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of Object.keys(env)) {
    if (k.startsWith('AWS_') || k.startsWith('CDN_PUBLISH_') || k === 'DEBUG') delete env[k]
  }
  env.AWS_EC2_METADATA_DISABLED = 'true'
  env.AWS_CONFIG_FILE = '/nonexistent/aws-config'
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials'
  return { ...env, ...extra }
}

/** Spawn the real binary (`node dist/cli/index.js …`, in the repository root unless `cwd`) and collect its output and exit code. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') })
    })
  })
}

/**
 * The framework starters under playground/<app>: each has its own package.json and lockfile, and
 * imports the built plugin (`../../dist/index.js`). `installApp` runs `npm ci` in it when its
 * node_modules is missing or was installed from another lockfile (a stamp file records which),
 * so a run after the first installs nothing. `runBuild` runs the app's own build command, as a
 * user would, in a child process with an explicit environment.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from './build.js'
import { cliEnv } from './cli.js'
import type { EnvVars } from './s3.js'

export const appDir = (app: string) => path.join(repoRoot, 'playground', app)

const STAMP = '.cdn-publish-installed'

export interface Run {
  code: number | null
  output: string
  ms: number
}

/** Run `command args` in `cwd` with `env`; stdout and stderr together, in order. */
export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => out.push(b))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output: Buffer.concat(out).toString('utf8'), ms: performance.now() - t0 }))
  })
}

/** `npm ci` in playground/<app>, unless node_modules was installed from this very lockfile. */
export async function installApp(app: string): Promise<void> {
  const dir = appDir(app)
  const lock = createHash('sha256').update(readFileSync(path.join(dir, 'package-lock.json'))).digest('hex')
  const stamp = path.join(dir, 'node_modules', STAMP)
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === lock) return
  process.stderr.write(`[test setup] installing playground/${app} (npm ci)\n`)
  const r = await run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], dir, { ...process.env, npm_config_update_notifier: 'false' })
  if (r.code !== 0) throw new Error(`npm ci in playground/${app} failed (exit ${r.code}):\n${r.output.slice(-4000)}`)
  writeFileSync(stamp, lock)
}

/** The app's `npm run build`, with no AWS_* or CDN_PUBLISH_* variable but `env`; its output removed first. */
export async function runBuild(app: string, outputs: string[], env: EnvVars | Record<string, string> = {}): Promise<Run> {
  const dir = appDir(app)
  for (const o of outputs) rmSync(path.join(dir, o), { recursive: true, force: true })
  return run('npm', ['run', 'build', '--silent'], dir, cliEnv({ NO_COLOR: '1', FORCE_COLOR: '0', ...env }))
}

/**
 * The lines of a build's output this plugin wrote: `[cdn-publish] …` info lines and `[plugin cdn-publish]`
 * warnings; the time Astro's logger puts first (`13:07:04 [cdn-publish] …`) is left out.
 */
export function pluginLines(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim().replace(/^\d\d:\d\d:\d\d /, ''))
    .filter((l) => /\[(?:plugin:? )?cdn-publish\]/.test(l))
}

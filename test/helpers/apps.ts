/**
 * The framework starters under playground/<app>: each has its own package.json and lockfile, and
 * imports the built plugin (`../../dist/index.js`). `installApp` runs `npm ci` in it when its
 * node_modules is missing or was installed from another lockfile (a stamp file records which),
 * so a run after the first installs nothing. `runBuild` runs the app's own build command, as a
 * user would, in a child process with an explicit environment.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { repoRoot } from './build.js'
import { cliEnv } from './cli.js'
import type { EnvVars } from './s3.js'

export const appDir = (app: string) => path.join(repoRoot, 'playground', app)

/**
 * The Node that runs the app: its own `node` devDependency when it has one (the starters of the
 * latest framework majors, which need Node 22, pin `node@22` from the registry; `npm run build`
 * puts that binary first on the PATH), else the Node running the tests.
 */
export function appNode(app: string): string {
  const own = path.join(appDir(app), 'node_modules', '.bin', 'node')
  return existsSync(own) ? own : process.execPath
}

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** How a starter's built app server starts (in the app's directory), given its port. */
export type AppServer = (port: number) => { cmd: string; args: string[]; env?: Record<string, string> }

/** Start the built app server (on `port`, or a free one) and wait until it answers. */
export async function startServer(dir: string, command: AppServer, port?: number): Promise<{ origin: string; stop(): Promise<void> }> {
  port ??= await freePort()
  const { cmd, args, env } = command(port)
  const child: ChildProcess = spawn(cmd, args, { cwd: dir, env: cliEnv({ PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (b) => (output += b))
  child.stderr!.on('data', (b) => (output += b))
  const origin = `http://127.0.0.1:${port}`
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the app server exited (${code}) before answering:\n${output}`))))
  // poll until it answers (the server prints no common ready line)
  const ready = (async () => {
    for (;;) {
      try {
        await fetch(origin)
        return
      } catch {
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  })()
  await Promise.race([ready, exited])
  return {
    origin,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit')
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}


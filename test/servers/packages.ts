/**
 * The Debian packages the test run needs, installed once by the globalSetup before anything
 * starts: the Ceph packages for radosgw (when radosgw is among the servers to start) and
 * Chromium for the browser test (when `CHROMIUM_PATH` is unset and /usr/bin/chromium is
 * missing). One `apt-get install` for all of them, so two installs never wait on each other's
 * dpkg lock; rgw-start.sh then finds its commands present and installs nothing.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { S3ServerName } from './index.js'

export const CHROMIUM_DEFAULT_PATH = '/usr/bin/chromium'

/** The commands rgw-start.sh checks for, and the packages that bring them. */
const RGW_COMMANDS = ['radosgw', 'ceph-mon', 'ceph-osd', 'ceph', 'radosgw-admin', 'curl']
const RGW_PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd', 'ceph-common', 'curl']

export interface Needed {
  /** Debian packages to install, in a stable order. */
  packages: string[]
  /** Why, for the progress line (e.g. `chromium (browser test)`). */
  reasons: string[]
}

/** What is missing for a run of these servers (and the browser test). */
export function missingPackages(
  servers: readonly S3ServerName[],
  env: NodeJS.ProcessEnv = process.env,
  has: (command: string) => boolean = (c) => commandPath(c, env.PATH) !== undefined,
  exists: (file: string) => boolean = isExecutable,
): Needed {
  const packages: string[] = []
  const reasons: string[] = []
  if (servers.includes('radosgw')) {
    const missing = RGW_COMMANDS.filter((c) => !has(c))
    if (missing.length > 0) {
      packages.push(...RGW_PACKAGES)
      reasons.push(`${RGW_PACKAGES.join(' ')} (S3 test server radosgw; missing: ${missing.join(', ')})`)
    }
  }
  if (!env.CHROMIUM_PATH && !exists(CHROMIUM_DEFAULT_PATH)) {
    packages.push('chromium')
    reasons.push(`chromium (browser test; ${CHROMIUM_DEFAULT_PATH} is missing and CHROMIUM_PATH is unset)`)
  }
  return { packages, reasons }
}

/**
 * Install what `missingPackages` found with apt-get (a no-op when nothing is missing). Writes one
 * progress line to stderr; throws an error saying what to do when the install fails.
 */
export async function installMissingPackages(needed: Needed, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  if (needed.packages.length === 0) return
  const what = needed.packages.join(' ')
  const byHand = `install them by hand (apt-get install ${what})` +
    (needed.packages.includes('chromium') ? ', or set CHROMIUM_PATH to a Chromium binary' : '')
  if (commandPath('apt-get', process.env.PATH) === undefined) {
    throw new Error(`[test setup] the tests need the Debian packages ${what}, and apt-get is not available here: ${byHand}`)
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`[test setup] the tests need the Debian packages ${what}; apt-get needs root: run the tests as root or ${byHand}`)
  }
  log(`[test setup] installing Debian packages with apt-get (may take a few minutes): ${needed.reasons.join('; ')}`)
  const t0 = performance.now()
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const lock = ['-o', 'DPkg::Lock::Timeout=300']
  const steps: string[][] = [
    [...lock, 'update', '-qq'],
    [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...needed.packages],
  ]
  for (const args of steps) {
    const r = await run('apt-get', args, env)
    if (r.code !== 0) {
      const tail = r.output.trim().split('\n').slice(-20).join('\n')
      throw new Error(`[test setup] apt-get ${args.slice(lock.length).join(' ')} failed (${typeof r.code === 'number' ? `exit ${r.code}` : r.code}); ${byHand}\n${tail}`)
    }
  }
  log(`[test setup] installed ${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

/** The first executable named `command` on `PATH`, or undefined. */
export function commandPath(command: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, command)
    if (isExecutable(file)) return file
  }
  return undefined
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (d: Buffer) => {
      // the tail is what explains a failure; don't let a long install grow it without bound
      output = (output + d.toString()).slice(-64_000)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.on('error', (err) => resolve({ code: err.message, output }))
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? 1, output }))
  })
}

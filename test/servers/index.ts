/**
 * Real S3-speaking servers on 127.0.0.1 for the tests: Ceph radosgw (Debian packages, a
 * single-node cluster with an in-memory OSD) and s3rver (npm, a quick fake).
 *
 * `startS3Servers()` runs in vitest's globalSetup (main process). Test files get the
 * serializable part (`S3ServerInfo`) through `inject('s3servers')` and can restart a server's
 * front process through `restartFront(info)`, which asks the globalSetup process to do it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export type S3ServerName = 'radosgw' | 's3rver'
export const ALL_SERVERS: readonly S3ServerName[] = ['radosgw', 's3rver']

export interface S3Credentials {
  accessKeyId: string
  secretAccessKey: string
}

/** What a test file needs to talk to one server (plain data; crosses to the test workers). */
export interface S3ServerInfo extends S3Credentials {
  name: S3ServerName
  /** `http://127.0.0.1:<port>`; use with `forcePathStyle: true`. */
  endpoint: string
  region: string
  /** a second user with no rights on buckets created by the first (radosgw only; undefined for s3rver) */
  deniedUser?: S3Credentials
  /** URL (loopback) that restarts the front process when POSTed to; see `restartFront()`. */
  control?: string
  /** Milliseconds the server took to come up. */
  startupMs: number
}

export interface S3Server extends Omit<S3ServerInfo, 'control'> {
  /** kill the front process (radosgw gateway / s3rver) and restart it with the same data; resolves when it answers again */
  restartFront(): Promise<void>
  stop(): Promise<void>
}

const here = dirname(fileURLToPath(import.meta.url))
const REGION = 'us-east-1'

export async function startS3Servers(which: S3ServerName[] = [...ALL_SERVERS]): Promise<S3Server[]> {
  const names = [...new Set(which)]
  const settled = await Promise.allSettled(
    names.map((name) => (name === 'radosgw' ? startRadosgw() : startS3rver())),
  )
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []))
  if (failed.length > 0) {
    await Promise.allSettled(started.map((s) => s.stop()))
    throw failed.length === 1 ? failed[0] : new AggregateError(failed, 'S3 test servers failed to start')
  }
  return started
}

/** Servers named in `CDN_TEST_SERVERS` (comma list), or all of them. */
export function serversFromEnv(value = process.env.CDN_TEST_SERVERS): S3ServerName[] {
  if (value === undefined || value.trim() === '') return [...ALL_SERVERS]
  const names = value.split(',').map((s) => s.trim()).filter(Boolean)
  for (const n of names) {
    if (!ALL_SERVERS.includes(n as S3ServerName)) {
      throw new Error(`CDN_TEST_SERVERS: unknown server "${n}" (known: ${ALL_SERVERS.join(', ')})`)
    }
  }
  return names as S3ServerName[]
}

/** From a test file: restart the front process of a server started by the globalSetup. */
export async function restartFront(info: S3ServerInfo): Promise<void> {
  if (!info.control) throw new Error(`${info.name}: no control URL to restart it`)
  const res = await fetch(info.control, { method: 'POST' })
  if (!res.ok) throw new Error(`${info.name}: restart failed: ${res.status} ${await res.text()}`)
}

// ---------------------------------------------------------------------------------------------
// radosgw

interface RgwPorts {
  RGW_PORT: number
  MON_V2: number
  MON_V1: number
  OSD_PORT_MIN: number
  OSD_PORT_MAX: number
}

/** Port block `k`: 7500+100k .. 7599+100k (outside Linux's ephemeral range, away from s3rver). */
function rgwPortBlock(k: number): RgwPorts {
  const b = 7500 + 100 * k
  return { MON_V2: b + 10, MON_V1: b + 11, OSD_PORT_MIN: b + 30, OSD_PORT_MAX: b + 70, RGW_PORT: b + 80 }
}

async function rgwPortsFree(p: RgwPorts): Promise<boolean> {
  const ports = [p.MON_V2, p.MON_V1, p.RGW_PORT]
  for (let q = p.OSD_PORT_MIN; q <= p.OSD_PORT_MAX; q++) ports.push(q)
  for (const port of ports) if (!(await canBind(port))) return false
  return true
}

async function startRadosgw(): Promise<S3Server> {
  const t0 = performance.now()
  const script = join(here, 'rgw-start.sh')
  const fixed = ['RGW_PORT', 'MON_V2', 'MON_V1', 'OSD_PORT_MIN', 'OSD_PORT_MAX'].some((k) => process.env[k])
  const dir = mkdtempSync(join(tmpdir(), 'cdn-publish-rgw-'))
  let out: Record<string, string> | undefined
  let lastError = ''
  for (let k = 0; k < 10 && out === undefined; k++) {
    const ports = rgwPortBlock(k)
    if (!fixed && !(await rgwPortsFree(ports))) continue
    const env: NodeJS.ProcessEnv = { ...process.env, RGW_DIR: dir }
    if (!fixed) for (const [key, v] of Object.entries(ports)) env[key] = String(v)
    const r = await run('bash', [script], env, 15 * 60_000)
    if (r.code === 0) out = parseKv(r.stdout)
    else {
      lastError = r.stderr.trim().split('\n').slice(-15).join('\n')
      // another cluster may have taken the ports between the check and the start: try the next block
      if (fixed || !/already in use/.test(r.stderr)) break
    }
  }
  if (out === undefined) {
    stopRadosgwSync(dir)
    throw new Error(`radosgw did not start (cluster dir ${dir}):\n${lastError}`)
  }
  const startupMs = performance.now() - t0
  const { endpoint, access_key, secret_key, denied_access_key, denied_secret_key } = out
  if (!endpoint || !access_key || !secret_key || !denied_access_key || !denied_secret_key) {
    stopRadosgwSync(dir)
    throw new Error(`rgw-start.sh printed no endpoint/keys (cluster dir ${dir})`)
  }
  let stopped = false
  const stopOnExit = () => {
    if (!stopped) stopRadosgwSync(dir)
  }
  process.once('exit', stopOnExit)
  return {
    name: 'radosgw',
    endpoint,
    region: REGION,
    accessKeyId: access_key,
    secretAccessKey: secret_key,
    deniedUser: { accessKeyId: denied_access_key, secretAccessKey: denied_secret_key },
    startupMs,
    async restartFront() {
      const r = await run('bash', [script, '--restart-gateway'], { ...process.env, RGW_DIR: dir }, 120_000)
      if (r.code !== 0) throw new Error(`radosgw restart failed:\n${r.stderr.trim()}`)
    },
    async stop() {
      if (stopped) return
      stopped = true
      process.off('exit', stopOnExit)
      await run('bash', [join(here, 'rgw-stop.sh')], { ...process.env, RGW_DIR: dir, RGW_PURGE: '1' }, 120_000)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function stopRadosgwSync(dir: string): void {
  spawnSync('bash', [join(here, 'rgw-stop.sh')], {
    env: { ...process.env, RGW_DIR: dir, RGW_PURGE: '1' },
    stdio: 'ignore',
    timeout: 60_000,
  })
  rmSync(dir, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------
// s3rver

async function startS3rver(): Promise<S3Server> {
  const t0 = performance.now()
  const dir = mkdtempSync(join(tmpdir(), 'cdn-publish-s3rver-'))
  let child: ChildProcess
  let port: number
  try {
    ;({ child, port } = await spawnS3rver(dir, 0))
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const startupMs = performance.now() - t0
  let stopped = false
  const killOnExit = () => {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)
  return {
    name: 's3rver',
    endpoint: `http://127.0.0.1:${port}`,
    region: REGION,
    // s3rver knows one account, access key `S3RVER`; it does not verify SigV4 signatures, so any
    // secret is accepted. A random one keeps "the secret never shows up in a message" meaningful.
    accessKeyId: 'S3RVER',
    secretAccessKey: randomBytes(30).toString('base64url'),
    startupMs,
    async restartFront() {
      await killAndWait(child, 'SIGKILL', 5_000)
      for (let i = 0; ; i++) {
        try {
          ;({ child } = await spawnS3rver(dir, port))
          return
        } catch (err) {
          // the port may take a moment to be released
          if (i >= 20) throw err
          await sleep(100)
        }
      }
    },
    async stop() {
      if (stopped) return
      stopped = true
      process.off('exit', killOnExit)
      child.stdin?.end()
      await killAndWait(child, 'SIGTERM', 5_000)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function spawnS3rver(dir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim()
  const child = spawn(
    process.execPath,
    [join(here, 's3rver.mjs'), '--port', String(port), '--dir', dir, '--exit-with-stdin'],
    { env: { ...process.env, NODE_OPTIONS: nodeOptions }, stdio: ['pipe', 'pipe', 'pipe'] },
  )
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`s3rver did not start within 30 s:\n${stderr}`))
    }, 30_000)
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString()
      const m = /^port=(\d+)$/m.exec(stdout)
      if (m) {
        clearTimeout(timer)
        resolve({ child, port: Number(m[1]) })
      }
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`s3rver exited (${signal ?? code}) before it was ready:\n${stderr}`))
    })
  })
}

// ---------------------------------------------------------------------------------------------
// small helpers

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      stderr += `\n(timed out after ${timeoutMs} ms)`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? 1, stdout, stderr })
    })
  })
}

function parseKv(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)=(.*)$/.exec(line.trim())
    if (m) out[m[1]] = m[2]
  }
  return out
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

function killAndWait(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill(signal)
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * A loopback HTTP proxy in front of an S3 server that injects faults, reproducibly.
 *
 * Every request is forwarded unchanged (Host header included, so SigV4 signatures stay valid)
 * unless the proxy decides to inject one of these faults:
 *
 * - `error500`    answer `500 InternalError` (S3 XML error body), nothing forwarded
 * - `error503`    answer `503 SlowDown` (S3 XML error body), nothing forwarded
 * - `resetBefore` destroy the connection while the request (body) is coming in, nothing forwarded
 * - `resetAfter`  forward, let the server carry the request out, relay the response head and part
 *                 of its body, then destroy the connection (the client never learns it succeeded)
 * - `latency`     forward after an injected delay
 * - `stall`       never answer (the request is swallowed): only the client's timeout ends it
 *
 * Decisions are seeded. Each request draws from its own mulberry32 stream, seeded from the run's
 * seed and the request's identity (method, key, query and how many times that same request was
 * seen before; not the bucket, whose name is random). Concurrent requests arriving in another order
 * therefore get the same faults in a replay with the same seed.
 */
import { createServer, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { randomInt } from 'node:crypto'
import type { Socket } from 'node:net'
import { answerS3Error, forwardRequest, listenLoopback, parseS3Path, type S3ErrorAnswer } from '../helpers/proxy.js'

export const FAULT_KINDS = ['error500', 'error503', 'resetBefore', 'resetAfter', 'latency', 'stall'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]
/** Probability (0..1) of each fault per request; their sum must be at most 1. */
export type FaultRates = Partial<Record<FaultKind, number>>

/** mulberry32: a tiny, good-enough 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** 32-bit FNV-1a of a string. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The seed of this run: `FAULT_SEED` when set (to replay a run), otherwise a random one. */
export function runSeed(name = 'FAULT_SEED'): number {
  const v = process.env[name]
  if (v !== undefined && v !== '') {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`${name}: expected an integer 0..4294967295, got ${JSON.stringify(v)}`)
    return n
  }
  return randomInt(0, 0x7fffffff)
}

/** What the proxy knows of a request when it decides. */
export interface RequestInfo {
  /** Arrival order on this proxy, from 0. */
  seq: number
  method: string
  bucket: string
  /** Decoded object key ('' for bucket-level requests such as a listing). */
  key: string
  query: string
}

/** One request the proxy handled. */
export interface ProxiedRequest extends RequestInfo {
  fault: FaultKind | undefined
  /** HTTP status relayed (or injected); 0 when the connection was reset or nothing was answered. */
  status: number
  /** Milliseconds from arrival until the client's connection was done with it (answered or reset). */
  ms?: number
  /** Injected delay in ms (`latency`). */
  delayMs?: number
}

/** A decision forced by the test, checked before the random draw: a fault, or `'pass'` (forward, no fault). */
export type Override = (r: RequestInfo) => FaultKind | 'pass' | undefined

export interface FaultProxyOptions {
  seed: number
  rates?: FaultRates
  /** Range of an injected delay, ms. @default [5, 60] */
  latencyMs?: [number, number]
}

export interface FaultProxy {
  /** Use as the endpoint (path-style). */
  readonly endpoint: string
  readonly seed: number
  /** Change the fault rates (`{}`: no random faults). */
  setRates(rates: FaultRates): void
  /** Force decisions for some requests (`undefined` removes the override). */
  override(fn: Override | undefined): void
  /**
   * Hold matching requests until the returned promise settles, then go on with the decided fault
   * (for ordering a test step, such as a server restart, between two requests). `undefined`
   * removes it.
   */
  gate(fn: ((r: RequestInfo) => Promise<unknown> | undefined) | undefined): void
  /**
   * Called once the server has answered a forwarded request (its response head arrived), before
   * the response is relayed. Returns a function that removes the listener.
   */
  onForwarded(fn: (r: ProxiedRequest) => void): () => void
  /** Resolves once no forwarded request is in flight to the server (at once when none is). */
  idle(): Promise<void>
  /** Faults injected since the proxy started, by kind. */
  injected(): Record<FaultKind, number>
  /** Sum of `injected()`, without `latency` (which does not make a request fail). */
  failuresInjected(): number
  /** Requests since the last `clearLog()`, in arrival order. */
  requests(): ProxiedRequest[]
  clearLog(): void
  /** Connections to the server that failed (server down, e.g. while restarting). */
  upstreamErrors(): number
  close(): Promise<void>
}

const XML_ERRORS = {
  error500: { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again. (injected by the fault proxy)' },
  error503: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate. (injected by the fault proxy)' },
} as const

export async function startFaultProxy(upstream: string, options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(upstream)
  const seed = options.seed >>> 0
  const [minDelay, maxDelay] = options.latencyMs ?? [5, 60]
  let rates = checkRates(options.rates ?? {})
  let override: Override | undefined
  let gate: ((r: RequestInfo) => Promise<unknown> | undefined) | undefined
  const listeners = new Set<(r: ProxiedRequest) => void>()
  const injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>
  const seen = new Map<string, number>()
  let log: ProxiedRequest[] = []
  let seq = 0
  let upstreamErrors = 0
  const sockets = new Set<Socket>()
  let inFlight = 0
  let idleWaiters: (() => void)[] = []
  const upstreamDone = () => {
    if (--inFlight > 0) return
    const waiters = idleWaiters
    idleWaiters = []
    for (const w of waiters) w()
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })

  const decide = (info: RequestInfo): { fault: FaultKind | undefined; rng: () => number } => {
    const identity = `${info.method} ${info.key}?${info.query}`
    const n = seen.get(identity) ?? 0
    seen.set(identity, n + 1)
    const rng = mulberry32(seed ^ fnv1a(`${identity} #${n}`))
    const u = rng()
    const forced = override?.(info)
    if (forced === 'pass') return { fault: undefined, rng }
    if (forced !== undefined) return { fault: forced, rng }
    let acc = 0
    for (const kind of FAULT_KINDS) {
      acc += rates[kind] ?? 0
      if (u < acc) return { fault: kind, rng }
    }
    return { fault: undefined, rng }
  }

  const server: Server = createServer((req, res) => {
    const { bucket, key, query } = parseS3Path(req.url)
    const info: RequestInfo = { seq: seq++, method: req.method ?? 'GET', bucket, key, query }
    const { fault, rng } = decide(info)
    const entry: ProxiedRequest = { ...info, fault, status: 0 }
    const t0 = performance.now()
    res.on('close', () => {
      entry.ms = Math.round(performance.now() - t0)
    })
    log.push(entry)
    if (fault) injected[fault]++
    const held = gate?.(info)
    if (!held) return handle(req, res, entry, rng)
    req.pause()
    held.then(
      () => handle(req, res, entry, rng),
      () => req.socket.destroy(),
    )
  })

  function handle(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, rng: () => number) {
    const fault = entry.fault
    switch (fault) {
      case 'error500':
      case 'error503':
        return answerError(req, res, entry, XML_ERRORS[fault])
      case 'resetBefore':
        return resetWhileReceiving(req)
      case 'stall':
        req.resume() // swallow the body; never answer
        return
      case 'latency': {
        const delay = Math.round(minDelay + rng() * (maxDelay - minDelay))
        entry.delayMs = delay
        req.pause()
        // injected latency: the response is delayed inside the proxy
        setTimeout(() => forward(req, res, entry, false, rng), delay)
        return
      }
      default:
        return forward(req, res, entry, fault === 'resetAfter', rng)
    }
  }
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  function forward(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, cut: boolean, rng: () => number) {
    inFlight++
    forwardRequest(req, res, target, {
      agent,
      onDone: upstreamDone,
      onUpstreamError: () => {
        upstreamErrors++
      },
      onResponse: (upRes) => {
        entry.status = upRes.statusCode ?? 0
        for (const fn of listeners) fn(entry)
        if (!cut) return true
        // the server did the work; the client gets the head and part of the body, then a reset
        const chunks: Buffer[] = []
        upRes.on('data', (c: Buffer) => chunks.push(c))
        upRes.on('error', () => req.socket.destroy())
        upRes.on('end', () => {
          entry.status = 0
          const body = Buffer.concat(chunks)
          if (body.length < 2) {
            // an empty body would make the head a complete answer: reset before the head instead
            req.socket.destroy()
            return
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          const part = 1 + Math.floor(rng() * (body.length - 1))
          res.write(body.subarray(0, part), () => req.socket.destroy())
        })
        return false
      },
    })
  }

  const endpoint = await listenLoopback(server)

  return {
    endpoint,
    seed,
    setRates(r) {
      rates = checkRates(r)
    },
    override(fn) {
      override = fn
    },
    gate(fn) {
      gate = fn
    },
    onForwarded(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    injected: () => ({ ...injected }),
    failuresInjected: () => FAULT_KINDS.filter((k) => k !== 'latency').reduce((n, k) => n + injected[k], 0),
    requests: () => [...log],
    clearLog() {
      log = []
    },
    upstreamErrors: () => upstreamErrors,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.closeAllConnections()
        server.close(() => {
          agent.destroy()
          resolve()
        })
      }),
  }
}

function checkRates(r: FaultRates): FaultRates {
  let sum = 0
  for (const [k, v] of Object.entries(r)) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new Error(`unknown fault kind ${k}`)
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`fault rate ${k}: expected 0..1, got ${v}`)
    sum += v
  }
  if (sum > 1 + 1e-9) throw new Error(`fault rates add up to ${sum} > 1`)
  return { ...r }
}

function answerError(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, e: S3ErrorAnswer) {
  answerS3Error(req, res, e, {
    requestId: `FAULT${entry.seq.toString(16).toUpperCase().padStart(8, '0')}`,
    headers: e.status === 503 ? { 'retry-after': '0' } : {},
    onAnswer: () => {
      entry.status = e.status
    },
  })
}

/** Destroy the connection while the request comes in: after its first body bytes, or at once when it has none. */
function resetWhileReceiving(req: IncomingMessage) {
  const length = Number(req.headers['content-length'] ?? 0)
  const chunked = /chunked/i.test(String(req.headers['transfer-encoding'] ?? ''))
  if (length > 0 || chunked) {
    const cut = () => req.socket.destroy()
    req.once('data', cut)
    req.once('end', cut)
    req.resume()
  } else req.socket.destroy()
}

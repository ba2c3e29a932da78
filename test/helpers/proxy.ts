/**
 * The core of the tests' loopback HTTP proxies in front of an S3 server (the counting proxy of
 * test/helpers/s3.ts, the fault proxy of test/faults/fault-proxy.ts): what a path-style request
 * names, forwarding it unchanged (Host header included, so SigV4 signatures stay valid), and
 * answering it with an S3 error instead.
 */
import { request as httpRequest, type Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What a path-style request (`/<bucket>/<key>?<query>`) names. */
export interface S3Path {
  bucket: string
  /** Decoded object key ('' for bucket-level requests such as a listing). */
  key: string
  /** The raw query string, without `?`. */
  query: string
}

export function parseS3Path(url = '/'): S3Path {
  const q = url.indexOf('?')
  const pathname = q === -1 ? url : url.slice(0, q)
  const query = q === -1 ? '' : url.slice(q + 1)
  const [, bucket = '', ...rest] = pathname.split('/')
  return { bucket: safeDecode(bucket), key: safeDecode(rest.join('/')), query }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

export interface ForwardHooks {
  agent?: Agent
  /**
   * The server's response head arrived. Return `false` to relay `upRes` yourself; otherwise it is
   * relayed unchanged.
   */
  onResponse?(upRes: IncomingMessage): boolean | void
  /** The connection to the server failed; the client's connection is then destroyed. */
  onUpstreamError?(err: Error): void
  /** The exchange with the server is over (its response read, or the request failed). Called once. */
  onDone?(): void
}

/** Forward `req` unchanged to `upstream` and relay the answer (unless `onResponse` takes it over). */
export function forwardRequest(req: IncomingMessage, res: ServerResponse, upstream: URL, hooks: ForwardHooks = {}): void {
  let done = false
  const finish = () => {
    if (done) return
    done = true
    hooks.onDone?.()
  }
  const up = httpRequest(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, ...(hooks.agent ? { agent: hooks.agent } : {}) },
    (upRes) => {
      upRes.on('end', finish)
      upRes.on('close', finish)
      if (hooks.onResponse?.(upRes) === false) return
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      upRes.pipe(res)
    },
  )
  up.on('error', (err) => {
    hooks.onUpstreamError?.(err)
    finish()
    req.socket.destroy()
  })
  up.on('close', finish)
  // the client went away before the answer was relayed: drop the request to the server too
  res.on('close', () => {
    if (!res.writableFinished) up.destroy()
  })
  req.pipe(up)
}

export interface S3ErrorAnswer {
  status: number
  code: string
  message: string
}

export interface AnswerOptions {
  /** `RequestId` of the error, and its `x-amz-request-id` header. */
  requestId: string
  /** More response headers. */
  headers?: Record<string, string>
  /** Runs just before the answer is written. */
  onAnswer?(): void
}

/** Answer `req` with an S3 XML error (no body for HEAD) once its body has been read; nothing is forwarded. */
export function answerS3Error(req: IncomingMessage, res: ServerResponse, e: S3ErrorAnswer, options: AnswerOptions): void {
  const { requestId } = options
  const send = () => {
    options.onAnswer?.()
    const body =
      req.method === 'HEAD'
        ? ''
        : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${escapeXml(e.message)}</Message>` +
          `<Resource>${escapeXml(req.url ?? '/')}</Resource><RequestId>${requestId}</RequestId></Error>`
    res.writeHead(e.status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      'x-amz-request-id': requestId,
      ...options.headers,
    })
    res.end(body)
  }
  if (req.readableEnded) send()
  else {
    req.on('end', send)
    req.resume()
  }
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Listen on a free port of 127.0.0.1; resolves to the proxy's endpoint (`http://127.0.0.1:<port>`). */
export async function listenLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

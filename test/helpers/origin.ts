/**
 * A CDN in front of a bucket, on 127.0.0.1: GET /<path> answers the object `<prefix><path>`
 * (`/` is `index.html`) with its stored headers; answers the object said may be cached (public,
 * max-age > 0, not no-cache) are kept, as a CDN keeps them. A missing object is a 404. Every
 * answer allows any origin (`Access-Control-Allow-Origin: *`), as a CDN serving a site's module
 * scripts to pages of another host must.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import type { S3ServerInfo } from '../servers/index.js'
import { adminClient } from './s3.js'

export async function startOrigin(server: S3ServerInfo, bucket: string, prefix: string): Promise<{ url: string; close(): Promise<void> }> {
  const admin = adminClient(server)
  /** Answers the origin said may be cached (public, max-age > 0, not no-cache), as a CDN keeps them. */
  const cache = new Map<string, { status: number; headers: Record<string, string>; body: Buffer }>()
  const http: Server = createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://origin').pathname)
    const key = prefix + (pathname === '/' ? 'index.html' : pathname.slice(1))
    const hit = cache.get(key)
    if (hit) {
      res.writeHead(hit.status, { ...hit.headers, 'x-cache': 'HIT' }).end(hit.body)
      return
    }
    try {
      const o = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      const body = Buffer.from(await o.Body!.transformToByteArray())
      const headers: Record<string, string> = {
        'content-type': o.ContentType ?? 'application/octet-stream',
        'cache-control': o.CacheControl ?? 'no-cache',
        'access-control-allow-origin': '*',
      }
      if (o.ContentEncoding) headers['content-encoding'] = o.ContentEncoding
      if (/max-age=[1-9]/.test(headers['cache-control']) && !/no-cache|no-store|private/.test(headers['cache-control'])) {
        cache.set(key, { status: 200, headers, body })
      }
      res.writeHead(200, { ...headers, 'x-cache': 'MISS' }).end(body)
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 502
      res.writeHead(status === 403 ? 404 : status, { 'content-type': 'text/plain', 'cache-control': 'no-cache', 'access-control-allow-origin': '*' }).end(`origin: ${key}: ${status}`)
    }
  })
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections()
        http.close(() => {
          admin.destroy()
          r()
        })
      }),
  }
}


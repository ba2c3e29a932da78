/**
 * A STAND-IN for CloudFront's API, on 127.0.0.1 — not CloudFront. No CloudFront can run on these
 * machines, so this speaks the part of its REST/XML wire protocol (API version 2020-05-31) that
 * `publish.invalidate.cloudfront` uses, to the real `@aws-sdk/client-cloudfront`:
 *
 * - `POST /2020-05-31/distribution/<id>/invalidation` (CreateInvalidation): an
 *   `<InvalidationBatch>` body; answers 201 with `<Invalidation>` (Id, Status `InProgress`,
 *   CreateTime, the batch) and a Location header. The same CallerReference with the same batch
 *   answers the existing invalidation, with another batch `409 InvalidationBatchAlreadyExists`,
 *   as CloudFront does.
 * - `GET /2020-05-31/distribution/<id>/invalidation/<invalidation id>` (GetInvalidation).
 * - Errors as CloudFront writes them: `<ErrorResponse><Error><Type/><Code/><Message/></Error>`.
 *
 * Every request is recorded (with what `observe()` said when it arrived, for ordering against
 * the bucket), and a test can script answers: throttle the next N creations
 * (TooManyInvalidationsInProgress), keep invalidations in progress for N reads, or refuse a
 * distribution (NoSuchDistribution).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StandInRequest {
  method: string
  path: string
  /** The SigV4 Authorization header was there (its value is not kept). */
  signed: boolean
  distributionId: string
  /** CreateInvalidation: the batch sent. */
  batch?: { callerReference: string; paths: string[] }
  /** What `observe()` returned when the request arrived. */
  observed?: unknown
  status: number
}

export interface CloudFrontStandIn {
  /** For `CDN_PUBLISH_CLOUDFRONT_ENDPOINT`. */
  endpoint: string
  requests(): StandInRequest[]
  /** Answer the next `n` CreateInvalidation requests with 400 TooManyInvalidationsInProgress. */
  throttle(n: number): void
  /** Invalidations created from now on answer `InProgress` to this many GetInvalidation reads, then `Completed` (Infinity: never). */
  completeAfterReads(n: number): void
  /** Distribution ids that do not exist (404 NoSuchDistribution). */
  refuse(distributionId: string): void
  close(): Promise<void>
}

const XMLNS = 'http://cloudfront.amazonaws.com/doc/2020-05-31/'
const ROUTE = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation(?:\/([^/?]+))?(?:\?.*)?$/

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')

function parseBatch(xml: string): { callerReference: string; paths: string[] } {
  const callerReference = unesc(/<CallerReference>([\s\S]*?)<\/CallerReference>/.exec(xml)?.[1] ?? '')
  const paths = [...xml.matchAll(/<Path>([\s\S]*?)<\/Path>/g)].map((m) => unesc(m[1]!))
  return { callerReference, paths }
}

function batchXml(b: { callerReference: string; paths: string[] }): string {
  return `<InvalidationBatch><Paths><Quantity>${b.paths.length}</Quantity><Items>${b.paths.map((p) => `<Path>${esc(p)}</Path>`).join('')}</Items></Paths><CallerReference>${esc(b.callerReference)}</CallerReference></InvalidationBatch>`
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function startCloudFrontStandIn(opts: { observe?: () => Promise<unknown> } = {}): Promise<CloudFrontStandIn> {
  const seen: StandInRequest[] = []
  const refused = new Set<string>()
  let throttled = 0
  let readsBeforeComplete = 0
  let next = 1
  const invalidations = new Map<string, { id: string; distributionId: string; batch: { callerReference: string; paths: string[] }; created: string; readsLeft: number }>()

  const server: Server = createServer(async (req, res) => {
    const text = await body(req)
    const m = ROUTE.exec(req.url ?? '')
    const record: StandInRequest = { method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, signed: /^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? ''), distributionId: m?.[1] ?? '', status: 0 }
    if (opts.observe) record.observed = await opts.observe()
    seen.push(record)
    const answer = (status: number, xml: string, headers: Record<string, string> = {}) => {
      record.status = status
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amz-request-id': `standin-${seen.length}`, ...headers }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
    }
    const error = (status: number, code: string, message: string) =>
      answer(status, `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>standin-${seen.length}</RequestId></ErrorResponse>`)
    const invalidationXml = (inv: { id: string; created: string; batch: { callerReference: string; paths: string[] } }, status: string) =>
      `<Invalidation xmlns="${XMLNS}"><Id>${inv.id}</Id><Status>${status}</Status><CreateTime>${inv.created}</CreateTime>${batchXml(inv.batch)}</Invalidation>`

    if (!m) return error(404, 'NotFound', `the stand-in does not answer ${req.method} ${req.url}`)
    const distributionId = m[1]!
    if (refused.has(distributionId)) return error(404, 'NoSuchDistribution', 'The specified distribution does not exist.')

    if (req.method === 'POST' && !m[2]) {
      const batch = parseBatch(text)
      record.batch = batch
      if (batch.paths.length === 0 || !batch.callerReference) return error(400, 'InvalidArgument', 'The batch needs a CallerReference and paths.')
      if (throttled > 0) {
        throttled--
        return error(400, 'TooManyInvalidationsInProgress', 'Your request contains too many invalidations in progress.')
      }
      const existing = [...invalidations.values()].find((i) => i.distributionId === distributionId && i.batch.callerReference === batch.callerReference)
      if (existing) {
        if (JSON.stringify(existing.batch) !== JSON.stringify(batch)) return error(409, 'InvalidationBatchAlreadyExists', 'The CallerReference was used for another batch.')
        return answer(201, invalidationXml(existing, existing.readsLeft > 0 ? 'InProgress' : 'Completed'), { location: `${endpoint}/2020-05-31/distribution/${distributionId}/invalidation/${existing.id}` })
      }
      const inv = { id: `I${String(next++).padStart(13, '0')}`, distributionId, batch, created: new Date().toISOString(), readsLeft: readsBeforeComplete }
      invalidations.set(inv.id, inv)
      return answer(201, invalidationXml(inv, 'InProgress'), { location: `${endpoint}/2020-05-31/distribution/${distributionId}/invalidation/${inv.id}` })
    }
    if (req.method === 'GET' && m[2]) {
      const inv = invalidations.get(m[2])
      if (!inv || inv.distributionId !== distributionId) return error(404, 'NoSuchInvalidation', 'The specified invalidation does not exist.')
      const status = inv.readsLeft > 0 ? 'InProgress' : 'Completed'
      if (inv.readsLeft > 0) inv.readsLeft--
      return answer(200, invalidationXml(inv, status))
    }
    return error(405, 'MethodNotAllowed', `${req.method} is not answered here`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    endpoint,
    requests: () => seen.map((r) => ({ ...r })),
    throttle(n) {
      throttled = n
    },
    completeAfterReads(n) {
      readsBeforeComplete = n
    },
    refuse(id) {
      refused.add(id)
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

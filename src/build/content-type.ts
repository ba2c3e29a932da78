/**
 * The `Content-Type` each output file is stored with: mrmime's table (the one Vite's asset plugin
 * uses), corrected where it lacks a type the web serves or answers one that is wrong for a build
 * output, and `; charset=utf-8` on text formats.
 */
import { mimes } from 'mrmime'

const OVERRIDES: Record<string, string> = {
  // mrmime answers `application/node` for `.cjs`; every script a browser runs is `text/javascript`
  js: 'text/javascript',
  mjs: 'text/javascript',
  cjs: 'text/javascript',
  // `.ts` and its kin in a build output are TypeScript sources (copied from public/, or named by a
  // source map's `sources`), not the MPEG transport streams mrmime reads them as (video/mp2t).
  // No browser runs TypeScript, so `text/javascript` would only invite a syntax error; as plain
  // text it opens readable in a tab and in developer tools. HLS segments named `.ts` take a
  // `headers` rule setting `Content-Type: video/mp2t`.
  ts: 'text/plain',
  mts: 'text/plain',
  cts: 'text/plain',
  tsx: 'text/plain',
  map: 'application/json',
  // mrmime answers `text/xml`; `application/xml` is the registered type (RFC 7303)
  xml: 'application/xml',
  // missing from mrmime: the types browsers and font loaders expect
  ico: 'image/x-icon',
  cur: 'image/x-icon',
  flac: 'audio/flac',
  eot: 'application/vnd.ms-fontobject',
}

/** Text formats, served with `; charset=utf-8`: text/*, and JSON and XML with their `+json`, `+xml` kin. */
const TEXT_RE = /^(?:text\/|application\/(?:[\w.-]+\+)?(?:json|xml)$)/

/** The MIME type to serve a file with, from its name. */
export function contentTypeOf(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  if (dot < 0) return 'application/octet-stream'
  const ext = base.slice(dot + 1).toLowerCase()
  // own keys only: a file named `x.constructor` must not find Object.prototype's
  const type = Object.hasOwn(OVERRIDES, ext) ? OVERRIDES[ext] : Object.hasOwn(mimes, ext) ? mimes[ext] : 'application/octet-stream'
  return TEXT_RE.test(type) ? `${type}; charset=utf-8` : type
}

import { expect } from 'vitest'

/**
 * The placeholders of this plugin and of the bundler that must never reach an output file: this
 * plugin's keep-as-written token, the probe `renderBuiltUrl` is asked about, and Vite's asset,
 * public-asset and hash placeholders (which this plugin writes into stylesheets or must leave for
 * Vite to replace).
 */
export const INTERNAL_TOKEN_RE = /cdn-publish-keep-|__cdn_publish_probe__|__VITE_(?:ASSET|PUBLIC_ASSET)__|__VITE_CSS_URL__|!~\{\d+\}~/

/** Every output file of a build, of any kind, is free of internal tokens. */
export function expectNoInternalTokens(r: { files: Map<string, Buffer> }): void {
  const leaks = [...r.files].filter(([, bytes]) => INTERNAL_TOKEN_RE.test(bytes.toString('latin1'))).map(([f]) => f)
  expect(leaks, 'output files holding an internal token').toEqual([])
}
